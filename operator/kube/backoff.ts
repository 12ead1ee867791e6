// Capped exponential backoff with jitter, and an abortable sleep. Randomness is injected so tests
// can pin the delays.

export interface BackoffOptions {
  /** First delay, before jitter (default 800 ms). */
  initialMs?: number;
  /** Largest delay, before jitter (default 30 s). */
  maxMs?: number;
  /** Returns a number in [0, 1); defaults to Math.random. */
  random?: () => number;
}

export const DEFAULT_BACKOFF = { initialMs: 800, maxMs: 30_000 } as const;

/** Delays grow 0.8 s, 1.6 s, 3.2 s ... up to 30 s; each is spread over [50%, 100%] of its step. */
export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? DEFAULT_BACKOFF.initialMs;
    this.maxMs = options.maxMs ?? DEFAULT_BACKOFF.maxMs;
    this.random = options.random ?? Math.random;
  }

  next(): number {
    const step = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return Math.round(step * (0.5 + this.random() / 2));
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** Resolves after ms, or as soon as the signal aborts (never rejects). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}
