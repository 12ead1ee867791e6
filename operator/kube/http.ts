// The reflectors' transport: plain node http(s) requests authenticated by a KubeConfig. Lists are
// read whole; watches are streamed line by line, so a watch can be ended by the caller or by a
// server-side timeout and the reflector sees exactly why it ended.
import http from "node:http";
import https from "node:https";
import type { IncomingMessage } from "node:http";
import type { KubeConfig } from "@kubernetes/client-node";

/** An API call that answered with an error status, or never answered. */
export class KubeApiError extends Error {
  override readonly name = "KubeApiError";
  /** HTTP status, or the code of a watch ERROR event; 0 when the server could not be reached. */
  readonly code: number;
  readonly reason: string | undefined;

  constructor(message: string, code: number, reason?: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.reason = reason;
  }
}

/** Longest a list page or discovery call may take. */
const REQUEST_TIMEOUT_MS = 60_000;

export const GONE = 410;
export const FORBIDDEN = 403;
export const NOT_FOUND = 404;

export interface StatusObject {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
}

/** The error a Kubernetes Status object describes. */
export function statusError(status: StatusObject, fallbackCode: number): KubeApiError {
  const code = typeof status.code === "number" ? status.code : fallbackCode;
  const message = status.message ?? `HTTP ${code}`;
  return new KubeApiError(message, code, status.reason);
}

export interface WatchLine {
  type: string;
  object: unknown;
}

export interface Transport {
  /** GET a path and parse the JSON body; non-2xx answers throw KubeApiError. */
  getJson(path: string, accept?: string): Promise<unknown>;
  /**
   * Streams a watch. Resolves when the server ends the stream normally, rejects with KubeApiError
   * on an error status or a broken connection. Aborting the signal ends it quietly.
   */
  watch(
    path: string,
    accept: string | undefined,
    signal: AbortSignal,
    onLine: (line: WatchLine) => void,
  ): Promise<void>;
}

export function createTransport(kubeConfig: KubeConfig): Transport {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (server === undefined || server === "") throw new Error("kubeconfig: no current cluster");
  const base = new URL(server);
  return {
    getJson: async (path, accept) => {
      // A list or discovery call that hangs (a paused API server) must fail so it is retried.
      const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
      const response = await open(kubeConfig, base, path, accept, signal);
      const body = await readBody(response);
      return parseJson(body, path);
    },
    watch: async (path, accept, signal, onLine) => {
      const response = await open(kubeConfig, base, path, accept, signal);
      await streamLines(response, signal, onLine);
    },
  };
}

async function requestOptions(
  kubeConfig: KubeConfig,
  url: URL,
  accept: string | undefined,
): Promise<https.RequestOptions> {
  const options: https.RequestOptions = {
    method: "GET",
    headers: { Accept: accept ?? "application/json" },
  };
  await kubeConfig.applyToHTTPSOptions(options);
  // The agent made for the kubeconfig speaks TLS only; a plain-http server (tests) needs none.
  if (url.protocol === "http:") delete options.agent;
  return options;
}

async function open(
  kubeConfig: KubeConfig,
  base: URL,
  path: string,
  accept: string | undefined,
  signal: AbortSignal | undefined,
): Promise<IncomingMessage> {
  const url = new URL(base.pathname.replace(/\/$/, "") + path, base);
  const options = await requestOptions(kubeConfig, url, accept);
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const client = url.protocol === "http:" ? http : https;
    const request = client.request(url, { ...options, signal }, resolve);
    request.on("error", (error) => {
      reject(
        new KubeApiError(`${path}: ${error.message}`, 0, "ConnectionFailed", { cause: error }),
      );
    });
    request.end();
  });
  const status = response.statusCode ?? 0;
  if (status >= 200 && status < 300) return response;
  const body = await readBody(response).catch(() => "");
  throw errorFromBody(body, status, path);
}

function errorFromBody(body: string, status: number, path: string): KubeApiError {
  try {
    const parsed = JSON.parse(body) as StatusObject;
    if (parsed.kind === "Status") return statusError(parsed, status);
  } catch {
    // Not a Status object (a proxy's or a test server's text): keep the text.
  }
  return new KubeApiError(`${path}: HTTP ${status} ${body.slice(0, 200)}`.trim(), status);
}

function readBody(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on("data", (chunk: Buffer) => chunks.push(chunk));
    response.on("end", () => {
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
    response.on("error", (error) => {
      reject(
        new KubeApiError(`response: ${error.message}`, 0, "ConnectionFailed", { cause: error }),
      );
    });
  });
}

function parseJson(body: string, path: string): unknown {
  try {
    return JSON.parse(body);
  } catch (error) {
    throw new KubeApiError(`${path}: the answer is not JSON`, 0, "BadResponse", { cause: error });
  }
}

function streamLines(
  response: IncomingMessage,
  signal: AbortSignal,
  onLine: (line: WatchLine) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let pending = "";
    const fail = (error: unknown): void => {
      response.destroy();
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf("\n");
      while (newline >= 0) {
        const text = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        newline = pending.indexOf("\n");
        if (text === "") continue;
        try {
          onLine(parseJson(text, "watch") as WatchLine);
        } catch (error) {
          fail(error);
          return;
        }
      }
    });
    response.on("end", () => {
      resolve();
    });
    response.on("error", (error) => {
      if (signal.aborted) resolve();
      else
        reject(
          new KubeApiError(`watch: ${error.message}`, 0, "ConnectionFailed", { cause: error }),
        );
    });
    response.on("close", () => {
      // A connection reset ends the response without "end": treat it as a broken stream.
      if (!response.complete && !signal.aborted) {
        reject(new KubeApiError("watch: connection closed", 0, "ConnectionFailed"));
      }
      resolve();
    });
  });
}
