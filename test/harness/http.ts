// Minimal HTTP(S) calls for what client-node does not cover: health endpoints of the API server
// and the etcd v3 JSON gateway. Only loopback URLs are ever passed in.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface Tls {
  ca: string;
  cert: string;
  key: string;
}

export interface HttpReply {
  status: number;
  body: string;
}

export interface HttpCall {
  url: string;
  method?: "GET" | "POST";
  json?: unknown;
  tls?: Tls;
  timeoutMs?: number;
}

export function httpCall(call: HttpCall): Promise<HttpReply> {
  const url = new URL(call.url);
  const body = call.json === undefined ? undefined : JSON.stringify(call.json);
  const options = {
    method: call.method ?? (body === undefined ? "GET" : "POST"),
    headers: body === undefined ? {} : { "content-type": "application/json" },
    timeout: call.timeoutMs ?? 5_000,
    ...(call.tls ?? {}),
  };
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`timed out: ${call.url}`)));
    req.on("error", reject);
    req.end(body);
  });
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Calls probe until it returns a value other than undefined, or throws with the last reason. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "not tried";
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      last = "not yet";
    } catch (error) {
      if (error instanceof GiveUp) throw error.cause instanceof Error ? error.cause : error;
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${last}`);
    await sleep(delay);
  }
}

/** Thrown inside a waitFor probe to stop waiting at once (the process it waits on died). */
export class GiveUp extends Error {}
