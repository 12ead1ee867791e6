// A watch that survives API-server restarts the way an informer does: after a disconnect it
// resumes from the last resourceVersion it saw (bookmarks included); when the server answers 410
// Gone (history compacted, or a fresh watch cache after a restart) it lists again and reports
// objects it had not seen as ADDED. Tests use it to check what a real client receives.
import { Watch, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { sleep } from "./http.js";

export interface ObservedEvent {
  type: string;
  object: KubernetesObject;
  /** How the event reached us: a watch stream, or a relist after 410 Gone. */
  via: "watch" | "relist";
}

export interface ListResult {
  metadata?: { resourceVersion?: string };
  items: KubernetesObject[];
}

export interface ResumableWatchOptions {
  /** Collection path, e.g. /apis/security.istio.io/v1/namespaces/ns/peerauthentications. */
  path: string;
  kubeConfig: KubeConfig;
  list: () => Promise<ListResult>;
}

interface StatusObject {
  kind?: string;
  code?: number;
  metadata?: { resourceVersion?: string };
}

const GONE = 410;

export class ResumableWatch {
  readonly events: ObservedEvent[] = [];
  /** Attempts to open a watch stream again after a disconnect. */
  reconnects = 0;
  relists = 0;
  resourceVersion = "";
  private readonly seen = new Set<string>();
  private abort: AbortController | undefined;
  private stopped = false;
  private gone = false;
  private waiters: (() => void)[] = [];

  private constructor(private readonly options: ResumableWatchOptions) {}

  static async start(options: ResumableWatchOptions): Promise<ResumableWatch> {
    const watch = new ResumableWatch(options);
    await watch.relist(false);
    await watch.open();
    return watch;
  }

  private async relist(report: boolean): Promise<void> {
    const list = await this.options.list();
    for (const object of list.items) {
      const uid = object.metadata?.uid ?? "";
      if (!this.seen.has(uid) && report) this.record({ type: "ADDED", object, via: "relist" });
      this.seen.add(uid);
    }
    this.resourceVersion = list.metadata?.resourceVersion ?? "";
  }

  private record(event: ObservedEvent): void {
    this.events.push(event);
    for (const wake of this.waiters.splice(0)) wake();
  }

  private onEvent(type: string, object: unknown): void {
    const status = object as StatusObject;
    if (type === "ERROR") {
      if (status.code === GONE) this.gone = true;
      return;
    }
    const rv = status.metadata?.resourceVersion;
    if (rv !== undefined) this.resourceVersion = rv;
    if (type === "BOOKMARK") return;
    const obj = object as KubernetesObject;
    this.seen.add(obj.metadata?.uid ?? "");
    this.record({ type, object: obj, via: "watch" });
  }

  private async open(): Promise<void> {
    const watch = new Watch(this.options.kubeConfig);
    this.abort = await watch.watch(
      this.options.path,
      { resourceVersion: this.resourceVersion, allowWatchBookmarks: true },
      (type: string, object: unknown) => {
        this.onEvent(type, object);
      },
      (error: unknown) => {
        const code = (error as { statusCode?: number } | null)?.statusCode;
        if (code === GONE) this.gone = true;
        void this.reconnect();
      },
    );
  }

  /** Retries until a stream is open again; the API server may be down for a while. */
  private async reconnect(): Promise<void> {
    for (let delay = 100; ; delay = Math.min(delay * 2, 1_000)) {
      await sleep(delay);
      if (this.stopped) return;
      try {
        if (this.gone) {
          await this.relist(true);
          this.relists += 1;
          this.gone = false;
        }
        this.reconnects += 1;
        await this.open();
        return;
      } catch {
        // Server still unreachable: try again.
      }
    }
  }

  /** Resolves with the first event (already seen or future) that matches. */
  async waitFor(
    match: (event: ObservedEvent) => boolean,
    timeoutMs: number,
  ): Promise<ObservedEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.events.map((e) => `${e.type} ${e.object.metadata?.name ?? "?"}`);
        throw new Error(`no matching watch event within ${timeoutMs} ms; saw: ${seen.join(", ")}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }
}
