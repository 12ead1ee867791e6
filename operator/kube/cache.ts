// The cluster cache: one reflector per watched kind, API discovery on a timer (so kinds that
// appear later are picked up), and an engine Snapshot rebuilt lazily from the reflectors' stores.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "winston";
import { Snapshot } from "../engine/snapshot.js";
import type { KubeObject } from "../engine/types.js";
import { Backoff, sleep, type BackoffOptions } from "./backoff.js";
import { discover } from "./discovery.js";
import { createTransport, type Transport } from "./http.js";
import { FORBIDDEN_GRACE_MS, Reflector } from "./reflector.js";
import { WATCHED_RESOURCES, type WatchedResource } from "./resources.js";
import type { CacheMetrics, ClusterCache, KindStatus, ObjectChange } from "./types.js";

export interface ClusterCacheOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  metrics?: CacheMetrics;
  /** The kinds to watch (default WATCHED_RESOURCES). */
  resources?: readonly WatchedResource[];
  /** Base server-side watch timeout; each watch asks for [base, 2 × base). Default 300 s. */
  watchTimeoutSeconds?: number;
  /** Retry delays after failures (default 0.8 s doubling to 30 s, jittered). */
  backoff?: BackoffOptions;
  /**
   * Accepted for the controller's convenience; the cache keeps Istio ConfigMaps in every
   * namespace, since revisions may put them outside the root namespace.
   */
  rootNamespaceHint?: string;
  /** How often discovery is read again to notice installed or removed CRDs. Default 30 s. */
  discoveryIntervalMs?: number;
  /** How long a forbidden or missing kind waits before it is tried again. Default 30 s. */
  retryUnavailableMs?: number;
  /** How long a synced kind keeps its data through 403 answers. Default 20 s. */
  forbiddenGraceMs?: number;
  /** List page size. Default 500. */
  pageSize?: number;
  /** Replaces the HTTP transport made from kubeConfig (tests). */
  transport?: Transport;
}

const DEFAULTS = {
  watchTimeoutSeconds: 300,
  discoveryIntervalMs: 30_000,
  retryUnavailableMs: 30_000,
  pageSize: 500,
} as const;

export function createClusterCache(options: ClusterCacheOptions): ClusterCache {
  return new ReflectorCache(options);
}

class ReflectorCache implements ClusterCache {
  private readonly reflectors: Reflector[];
  private readonly listeners = new Set<(change: ObjectChange) => void>();
  private readonly syncWaiters = new Set<() => void>();
  private readonly logger: Logger;
  private readonly transport: Transport;
  private readonly resources: readonly WatchedResource[];
  private readonly discoveryIntervalMs: number;
  private readonly backoff: BackoffOptions;
  private discovered = false;
  private initialSyncDone = false;
  private changeCount = 0;
  private built: { count: number; snapshot: Snapshot } | undefined;
  private loop: { abort: AbortController; done: Promise<void> } | undefined;

  constructor(options: ClusterCacheOptions) {
    this.logger = options.logger;
    this.transport = options.transport ?? createTransport(options.kubeConfig);
    this.resources = options.resources ?? WATCHED_RESOURCES;
    this.discoveryIntervalMs = options.discoveryIntervalMs ?? DEFAULTS.discoveryIntervalMs;
    this.backoff = options.backoff ?? {};
    this.reflectors = this.resources.map(
      (resource) =>
        new Reflector({
          resource,
          transport: this.transport,
          logger: options.logger,
          metrics: options.metrics,
          watchTimeoutSeconds: options.watchTimeoutSeconds ?? DEFAULTS.watchTimeoutSeconds,
          backoff: this.backoff,
          retryUnavailableMs: options.retryUnavailableMs ?? DEFAULTS.retryUnavailableMs,
          pageSize: options.pageSize ?? DEFAULTS.pageSize,
          forbiddenGraceMs: options.forbiddenGraceMs ?? FORBIDDEN_GRACE_MS,
          onChange: (change) => {
            this.changed(change);
          },
          onState: () => {
            this.stateChanged();
          },
        }),
    );
  }

  async start(): Promise<void> {
    if (this.loop !== undefined) return;
    const abort = new AbortController();
    const first = this.discoverOnce();
    this.loop = { abort, done: this.discoveryLoop(first, abort.signal) };
    await first.catch(() => undefined);
  }

  async stop(): Promise<void> {
    const loop = this.loop;
    this.loop = undefined;
    loop?.abort.abort();
    await loop?.done;
    await Promise.all(this.reflectors.map((r) => r.stop()));
  }

  snapshot(): Snapshot {
    if (this.built?.count === this.changeCount) return this.built.snapshot;
    const objects: KubeObject[] = [];
    const unavailable = new Map<string, string>();
    for (const reflector of this.reflectors) {
      for (const obj of reflector.store.values()) objects.push(obj);
      const status = reflector.status();
      if (!status.available) unavailable.set(status.kind, status.reason ?? "unavailable");
    }
    const snapshot = new Snapshot(objects, { unavailable, namespacesComplete: true });
    this.built = { count: this.changeCount, snapshot };
    return snapshot;
  }

  onChange(listener: (change: ObjectChange) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.isSynced()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.syncWaiters.delete(done);
        reject(new Error("waitForSync: aborted", { cause: signal?.reason }));
      };
      const done = (): void => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      if (signal?.aborted === true) {
        onAbort();
        return;
      }
      signal?.addEventListener("abort", onAbort);
      this.syncWaiters.add(done);
    });
  }

  kinds(): KindStatus[] {
    return this.reflectors.map((r) => r.status());
  }

  private isSynced(): boolean {
    return this.discovered && this.reflectors.every((r) => r.settled());
  }

  private changed(change: ObjectChange): void {
    this.changeCount += 1;
    if (!this.initialSyncDone) return;
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        this.logger.error("change listener failed", { kind: change.kind, error: String(error) });
      }
    }
  }

  private stateChanged(): void {
    this.changeCount += 1;
    if (this.initialSyncDone || !this.isSynced()) return;
    this.initialSyncDone = true;
    this.logger.debug("cache synced", { kinds: this.reflectors.length });
    for (const wake of [...this.syncWaiters]) wake();
    this.syncWaiters.clear();
  }

  /** One discovery round; every reflector follows the version the server now serves. */
  private async discoverOnce(): Promise<void> {
    const versions = await discover(this.transport, this.resources);
    await Promise.all(this.reflectors.map((r) => r.setVersion(versions.get(r.resource))));
    if (!this.discovered) {
      this.discovered = true;
      this.stateChanged();
    }
  }

  /** Repeats discovery on the interval; after a failure, sooner, with backoff. */
  private async discoveryLoop(first: Promise<void>, signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(this.backoff);
    let round = first;
    // An outage fails every round: the first failure is a warning, the repeats are debug.
    let failures = 0;
    for (;;) {
      let delayMs = this.discoveryIntervalMs;
      try {
        await round;
        backoff.reset();
        if (failures > 0) this.logger.info("API discovery works again", { failures });
        failures = 0;
      } catch (error) {
        delayMs = Math.min(delayMs, backoff.next());
        failures += 1;
        const fields = { error: String(error), delayMs, failures };
        if (failures === 1) this.logger.warn("API discovery failed", fields);
        else this.logger.debug("API discovery failed", fields);
      }
      await sleep(delayMs, signal);
      if (signal.aborted) return;
      round = this.discoverOnce();
    }
  }
}
