// The controller's errors, sorted by what to do with them: a conflict is retried quietly at once, a
// transient failure is retried by the queue with backoff, a terminal one is recorded and not
// retried. Anything not recognised is terminal: retrying what we do not understand hides bugs.

import { ApiException } from "@kubernetes/client-node";

export class ConflictError extends Error {
  override readonly name = "ConflictError";
}

export class TransientError extends Error {
  override readonly name = "TransientError";
}

export class TerminalError extends Error {
  override readonly name = "TerminalError";
}

/** HTTP status of a client-node API error, or undefined for anything else. */
export function statusCode(error: unknown): number | undefined {
  return error instanceof ApiException ? (error as ApiException<unknown>).code : undefined;
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EAI_AGAIN"]);

function isNetworkError(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
    if (e.name === "FetchError" || e.name === "AbortError") return true;
  }
  return false;
}

/** Turns an API call's failure into one of the three classes above, keeping it as the cause. */
export function classify(error: unknown, doing: string): Error {
  if (error instanceof ConflictError || error instanceof TransientError) return error;
  if (error instanceof TerminalError) return error;
  const code = statusCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  const message = `${doing}: ${code === undefined ? detail : `HTTP ${code}`}`;
  if (code === 409) return new ConflictError(message, { cause: error });
  if (code === 429 || (code !== undefined && code >= 500) || isNetworkError(error)) {
    return new TransientError(message, { cause: error });
  }
  return new TerminalError(message, { cause: error });
}

export function isRetryable(error: unknown): boolean {
  return error instanceof TransientError || error instanceof ConflictError;
}
