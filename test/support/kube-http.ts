// Raw calls to the test control plane as its admin, for what client-node hides: the Accept header
// of the Table output, server-side apply, dry runs and the Warning headers admission returns.
import { request } from "node:https";
import type { ControlPlane } from "../harness/index.js";

export interface KubeReply {
  status: number;
  body: Record<string, unknown>;
  warnings: string[];
}

export interface KubeCallOptions {
  body?: unknown;
  accept?: string;
  contentType?: string;
}

export function kubeCall(
  cp: ControlPlane,
  method: string,
  path: string,
  options: KubeCallOptions = {},
): Promise<KubeReply> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: Record<string, string> = { accept: options.accept ?? "application/json" };
  if (body !== undefined) headers["content-type"] = options.contentType ?? "application/json";
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, cp.server), { method, headers, ...cp.tls }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const warning = res.headers.warning;
        resolve({
          status: res.statusCode ?? 0,
          body: parseBody(text),
          warnings: warning === undefined ? [] : [warning].flat(),
        });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** JSON replies as objects; anything else (a plain-text 404) as its text in `message`. */
function parseBody(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { message: text };
  }
}
