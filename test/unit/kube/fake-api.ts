// A tiny scripted API server on 127.0.0.1 for the reflector's unit tests: discovery, paged lists
// and watch streams answer from queues the test fills, and every request is recorded.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { KubeConfig } from "@kubernetes/client-node";

export interface Reply {
  status?: number;
  body: unknown;
}

export interface WatchScript {
  /** An error status instead of a stream. */
  status?: number;
  lines?: unknown[];
  /** End the stream after the lines (default), or hold it open until the client leaves. */
  end?: "close" | "hold";
}

export interface RecordedRequest {
  path: string;
  query: URLSearchParams;
  accept: string;
  watch: boolean;
}

export class FakeApi {
  /** Served group versions, e.g. "/v1", "example.test/v1beta1", with their resource names. */
  readonly served = new Map<string, string[]>([["/v1", ["configmaps", "secrets"]]]);
  readonly requests: RecordedRequest[] = [];
  /** Per collection path (e.g. /api/v1/configmaps): list replies, the last one repeats. */
  readonly lists = new Map<string, Reply[]>();
  /** Per collection path: watch scripts, consumed in order; then watches hold. */
  readonly watches = new Map<string, WatchScript[]>();
  private readonly server: Server;
  private readonly open = new Set<ServerResponse>();

  private constructor() {
    this.server = createServer((req, res) => {
      this.handle(req, res);
    });
  }

  static async start(): Promise<FakeApi> {
    const api = new FakeApi();
    await new Promise<void>((resolve) => api.server.listen(0, "127.0.0.1", resolve));
    return api;
  }

  get url(): string {
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("not listening");
    return `http://127.0.0.1:${address.port}`;
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "fake", server: this.url, skipTLSVerify: true }],
      users: [{ name: "tester", token: "t" }],
      contexts: [{ name: "fake", cluster: "fake", user: "tester" }],
      currentContext: "fake",
    });
    return kc;
  }

  requestsTo(path: string, watch: boolean): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path && r.watch === watch);
  }

  async stop(): Promise<void> {
    for (const res of this.open) res.destroy();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://fake");
    const watch = url.searchParams.get("watch") === "1";
    const accept = req.headers.accept ?? "";
    this.requests.push({ path: url.pathname, query: url.searchParams, accept, watch });
    const gv = this.groupVersion(url.pathname);
    if (url.pathname === "/apis") send(res, { status: 200, body: this.groups() });
    else if (gv !== undefined) this.discovery(res, gv);
    else if (watch) this.watch(url.pathname, res);
    else this.list(url.pathname, res);
  }

  private list(path: string, res: ServerResponse): void {
    const queue = this.lists.get(path) ?? [];
    const reply = queue.length > 1 ? queue.shift() : queue[0];
    send(res, reply ?? { status: 404, body: status(404, "NotFound") });
  }

  private groups(): unknown {
    const byGroup = new Map<string, string[]>();
    for (const gv of this.served.keys()) {
      const [group = "", version = ""] = gv.split("/");
      if (group !== "") byGroup.set(group, [...(byGroup.get(group) ?? []), version]);
    }
    return {
      kind: "APIGroupList",
      groups: [...byGroup].map(([name, versions]) => ({
        name,
        versions: versions.map((version) => ({ groupVersion: `${name}/${version}`, version })),
      })),
    };
  }

  /** The group version a discovery path names, e.g. /api/v1 -> "/v1". */
  private groupVersion(path: string): string | undefined {
    const core = /^\/api\/([^/]+)$/.exec(path);
    if (core) return `/${core[1] ?? ""}`;
    const named = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
    return named ? `${named[1] ?? ""}/${named[2] ?? ""}` : undefined;
  }

  private discovery(res: ServerResponse, gv: string): void {
    const resources = this.served.get(gv);
    const reply =
      resources === undefined
        ? { status: 404, body: status(404, "NotFound") }
        : { status: 200, body: { resources: resources.map((name) => ({ name })) } };
    send(res, reply);
  }

  private watch(path: string, res: ServerResponse): void {
    const script = this.watches.get(path)?.shift() ?? { end: "hold" };
    if (script.status !== undefined) {
      send(res, { status: script.status, body: status(script.status, "Scripted") });
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    for (const line of script.lines ?? []) res.write(`${JSON.stringify(line)}\n`);
    if (script.end === "hold") {
      this.open.add(res);
      res.on("close", () => {
        this.open.delete(res);
      });
      return;
    }
    res.end();
  }
}

function send(res: ServerResponse, reply: Reply): void {
  res.writeHead(reply.status ?? 200, { "content-type": "application/json" });
  res.end(JSON.stringify(reply.body));
}

export function status(code: number, reason: string): unknown {
  return { kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message: reason };
}

export function list(resourceVersion: string, items: unknown[], next?: string): Reply {
  return { body: { metadata: { resourceVersion, continue: next }, items } };
}

export function object(name: string, resourceVersion: string, namespace = "ns"): unknown {
  return { metadata: { name, namespace, resourceVersion }, data: { k: "v" } };
}
