// The operator's HTTP endpoints: /metrics for Prometheus, /healthz (the process serves),
// /readyz (the first full evaluation has finished), /report (the full, uncapped reports as JSON).
// Everything it serves comes from callbacks, so the server holds no state of its own.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface OperatorServerOptions {
  /** Host to bind, e.g. 0.0.0.0 in a pod or 127.0.0.1 in tests. */
  host: string;
  /** Port; 0 picks a free one (see `address()`). */
  port: number;
  registry: Registry;
  /** True once the first full evaluation has finished. */
  ready: () => boolean;
  /** The full reports; undefined before the first evaluation. */
  report: () => unknown;
  /** Called once per request that fails inside a handler, with the path. */
  onError?: (error: unknown, path: string) => void;
}

export interface OperatorServer {
  /** Resolves when listening; rejects when the address cannot be bound. */
  start(): Promise<void>;
  address(): { host: string; port: number };
  /** Stops accepting connections, ends idle ones and resolves when all are closed. */
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}

const TEXT = "text/plain; charset=utf-8";
const JSON_TYPE = "application/json; charset=utf-8";

async function handle(
  options: OperatorServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  if (req.method !== "GET" && req.method !== "HEAD") {
    send(res, 405, TEXT, "method not allowed\n");
    return;
  }
  switch (path) {
    case "/metrics":
      send(res, 200, options.registry.contentType, await options.registry.metrics());
      return;
    case "/healthz":
      send(res, 200, TEXT, "ok\n");
      return;
    case "/readyz":
      if (options.ready()) send(res, 200, TEXT, "ok\n");
      else send(res, 503, TEXT, "waiting for the first full evaluation\n");
      return;
    case "/report":
      sendReport(res, options.report());
      return;
    default:
      send(res, 404, TEXT, "not found\n");
  }
}

function sendReport(res: ServerResponse, report: unknown): void {
  if (report === undefined) {
    send(res, 503, JSON_TYPE, `${JSON.stringify({ error: "no evaluation yet" })}\n`);
    return;
  }
  send(res, 200, JSON_TYPE, `${JSON.stringify(report)}\n`);
}

export function createOperatorServer(options: OperatorServerOptions): OperatorServer {
  const server: Server = createServer((req, res) => {
    handle(options, req, res).catch((error: unknown) => {
      options.onError?.(error, req.url ?? "");
      if (!res.headersSent) send(res, 500, TEXT, "internal error\n");
      else res.destroy();
    });
  });
  // Prometheus keeps connections alive; a short idle timeout lets close() finish promptly.
  server.keepAliveTimeout = 5_000;

  return {
    start: () =>
      new Promise<void>((resolve, reject) => {
        // The address comes from --metrics-address: say so, since that is what to change.
        const failed = (error: Error): void => {
          const where = `${options.host}:${String(options.port)}`;
          reject(
            new Error(
              `cannot serve on ${where} (--metrics-address, MESH_COMPLIANCE_METRICS_ADDRESS): ${error.message}`,
              { cause: error },
            ),
          );
        };
        server.once("error", failed);
        server.listen(options.port, options.host, () => {
          server.off("error", failed);
          resolve();
        });
      }),
    address() {
      const a = server.address() as AddressInfo | null;
      return { host: a?.address ?? options.host, port: a?.port ?? options.port };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        if (!server.listening) {
          resolve();
          return;
        }
        server.close((err) => {
          if (err) reject(err);
          else resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
