// A work queue of keys on p-queue. A key waits a short debounce before it runs, so a burst of
// changes costs one run; a key that is waiting or queued is not added twice; a key that is running
// is run once more after it finishes; a failing key is retried with capped, jittered backoff, and
// the same key never runs twice at once.

import PQueue from "p-queue";

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

export interface QueueOptions {
  /** How long a new key waits before it runs; later adds within the wait join the same run. */
  debounceMs: number;
  /** Keys run at once (different keys only). Default 1: evaluation is CPU-bound. */
  concurrency?: number;
  backoff?: { initialMs: number; maxMs: number };
  /** Errors for which this returns false are not retried (terminal). Default: retry all. */
  retryable?: (error: unknown) => boolean;
  /** Called once per failed run, with whether and when it will be retried. */
  onFailure?: (failure: KeyFailure) => void;
  timers?: Timers;
  random?: () => number;
}

export interface KeyFailure {
  key: string;
  error: unknown;
  attempt: number;
  /** Delay before the retry; undefined when the error is terminal. */
  retryInMs: number | undefined;
}

type State = "waiting" | "queued" | "running" | "rerun";

export const DEFAULT_BACKOFF = { initialMs: 800, maxMs: 30_000 };

export class KeyQueue {
  private readonly states = new Map<string, State>();
  private readonly timers = new Map<string, unknown>();
  private readonly failures = new Map<string, number>();
  private readonly pq: PQueue;
  private stopped = false;

  constructor(
    private readonly handler: (key: string) => Promise<void>,
    private readonly options: QueueOptions,
  ) {
    this.pq = new PQueue({ concurrency: options.concurrency ?? 1 });
  }

  /** Schedules a run of `key` unless one is already pending. */
  add(key: string): void {
    if (this.stopped) return;
    const state = this.states.get(key);
    if (state === "running") this.states.set(key, "rerun");
    if (state !== undefined) return;
    this.wait(key, this.options.debounceMs);
  }

  /** Keys waiting, queued or running. */
  get size(): number {
    return this.states.size;
  }

  /** True when a key is waiting, queued or running. */
  has(key: string): boolean {
    return this.states.has(key);
  }

  /** Resolves when nothing is waiting, queued or running. */
  async idle(): Promise<void> {
    while (this.states.size > 0 && !this.stopped) {
      await new Promise((resolve) => setImmediate(resolve));
      await this.pq.onIdle();
      if (this.timers.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Drops waiting keys and lets the runs in flight finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const handle of this.timers.values()) this.timersImpl.clearTimeout(handle);
    this.timers.clear();
    this.pq.clear();
    await this.pq.onIdle();
    this.states.clear();
  }

  /** A method, not the field, so that the check after an await is not narrowed away. */
  private isStopped(): boolean {
    return this.stopped;
  }

  private get timersImpl(): Timers {
    return this.options.timers ?? realTimers;
  }

  private wait(key: string, ms: number): void {
    this.states.set(key, "waiting");
    const handle = this.timersImpl.setTimeout(() => {
      this.timers.delete(key);
      this.enqueue(key);
    }, ms);
    this.timers.set(key, handle);
  }

  private enqueue(key: string): void {
    if (this.stopped) return;
    this.states.set(key, "queued");
    void this.pq.add(() => this.run(key));
  }

  private async run(key: string): Promise<void> {
    if (this.stopped) return;
    this.states.set(key, "running");
    let retryIn: number | undefined;
    try {
      await this.handler(key);
      this.failures.delete(key);
    } catch (error) {
      retryIn = this.failed(key, error);
    }
    const again = this.states.get(key) === "rerun";
    this.states.delete(key);
    if (this.isStopped()) return;
    if (retryIn !== undefined) this.wait(key, retryIn);
    else if (again) this.wait(key, this.options.debounceMs);
  }

  private failed(key: string, error: unknown): number | undefined {
    const attempt = (this.failures.get(key) ?? 0) + 1;
    const retryable = this.options.retryable?.(error) ?? true;
    const retryInMs = retryable ? this.backoffMs(attempt) : undefined;
    if (retryable) this.failures.set(key, attempt);
    else this.failures.delete(key);
    this.options.onFailure?.({ key, error, attempt, retryInMs });
    return retryInMs;
  }

  /** Exponential from initialMs, capped at maxMs, with up to 20% taken off at random. */
  backoffMs(attempt: number): number {
    const { initialMs, maxMs } = this.options.backoff ?? DEFAULT_BACKOFF;
    const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
    const random = this.options.random ?? Math.random;
    return Math.round(base * (1 - 0.2 * random()));
  }
}
