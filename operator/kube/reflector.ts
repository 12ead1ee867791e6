// One reflector per watched kind: a paged list, then a watch from the list's resourceVersion with
// bookmarks and a server-side timeout, resumed from the last version seen. It is supervised: a
// watch that ends is reopened at once, 410 Gone relists, 403/404 mark the kind unavailable (after
// a grace period for a kind already read) and are retried slowly, and any other failure is retried
// with capped jittered backoff. It never stops on its own; only stop() or a new version from
// discovery ends a run.
import type { Logger } from "winston";
import type { KubeObject } from "../engine/types.js";
import { Backoff, sleep, type BackoffOptions } from "./backoff.js";
import {
  FORBIDDEN,
  GONE,
  KubeApiError,
  NOT_FOUND,
  statusError,
  type StatusObject,
  type Transport,
  type WatchLine,
} from "./http.js";
import { resourceKindKey, type WatchedResource } from "./resources.js";
import { stripObject } from "./strip.js";
import type { CacheMetrics, KindStatus, ObjectChange } from "./types.js";

const LIST_ACCEPT_METADATA = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
const WATCH_ACCEPT_METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
/** A watch the server has not ended this long after its own timeout is treated as stalled. */
const STALL_GRACE_SECONDS = 30;

export const REASON_FORBIDDEN = "forbidden";
export const REASON_NOT_INSTALLED = "not installed";

/**
 * How soon a synced kind that answered 404 is tried again. Not the growing backoff: the usual
 * cause is an API server that has just restarted and serves the CRD a moment later, and a removed
 * CRD is confirmed by discovery within two rounds anyway.
 */
const NOT_FOUND_RETRY_MS = 1_000;

/**
 * How long a synced kind keeps its data while the server answers 403. A kube-apiserver that has
 * just started denies requests until its authorizer has loaded the RBAC objects, which takes a few
 * seconds; emptying the kind at once would resolve and then reopen every finding it carries. A
 * permission that was really revoked shows as forbidden once this has passed.
 */
export const FORBIDDEN_GRACE_MS = 20_000;

/**
 * After a failure the next few watches ask for a short server-side timeout. An API server that has
 * just restarted may accept a watch on a custom resource while its watch cache is still starting
 * and then send nothing on it; reopening soon from the same resourceVersion delivers what was
 * missed (or a 410 that relists), instead of waiting out a five-minute watch.
 */
const RECOVERY_WATCH_SECONDS = 5;
const RECOVERY_WATCHES = 6;

export interface ReflectorOptions {
  resource: WatchedResource;
  transport: Transport;
  logger: Logger;
  metrics: CacheMetrics | undefined;
  /** Base server-side watch timeout; each watch asks for a random value in [base, 2 × base). */
  watchTimeoutSeconds: number;
  backoff: BackoffOptions;
  /** How long a forbidden or missing kind waits before it is tried again. */
  retryUnavailableMs: number;
  /** How long a synced kind keeps its data through 403 answers (FORBIDDEN_GRACE_MS). */
  forbiddenGraceMs: number;
  pageSize: number;
  /** Object changes, and RELISTED after every list. */
  onChange: (change: ObjectChange) => void;
  /** Availability or sync state changed. */
  onState: () => void;
}

interface ListPage {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: unknown[];
}

interface WatchedObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}/${name}`;
}

export class Reflector {
  readonly kind: string;
  readonly resource: WatchedResource;
  /** The stripped objects, by `namespace/name`. */
  readonly store = new Map<string, KubeObject>();
  private version: string | undefined;
  private available = false;
  private reason: string | undefined = "not yet discovered";
  private synced = false;
  /** Watches still to open with the short recovery timeout (see RECOVERY_WATCH_SECONDS). */
  private shortWatches = 0;
  /** Consecutive discovery rounds that did not list this synced kind. */
  private missingRounds = 0;
  /** The failure last logged at warn level, until a success; repeats are not logged again. */
  private failureLogged: string | undefined;
  private failures = 0;
  /** When a synced kind first answered 403 since it last read successfully. */
  private forbiddenSince: number | undefined;
  /** setVersion was called at least once: "not installed" is then known, not assumed. */
  private discovered = false;
  private run: { abort: AbortController; done: Promise<void> } | undefined;
  private resourceVersion: string | undefined;
  private readonly random: () => number;

  constructor(private readonly options: ReflectorOptions) {
    this.resource = options.resource;
    this.kind = resourceKindKey(options.resource);
    this.random = options.backoff.random ?? Math.random;
  }

  status(): KindStatus {
    const status: KindStatus = {
      kind: this.kind,
      available: this.available,
      synced: this.synced,
      objects: this.store.size,
    };
    if (this.reason !== undefined) status.reason = this.reason;
    if (this.version !== undefined) status.version = this.version;
    return status;
  }

  /** Synced, or known to be unreadable (forbidden, not installed): nothing more to wait for. */
  settled(): boolean {
    return this.synced || this.reason === REASON_FORBIDDEN || this.reason === REASON_NOT_INSTALLED;
  }

  /** Applies a discovery result: (re)starts on a new version, stops when no longer served. */
  async setVersion(version: string | undefined): Promise<void> {
    if (version !== undefined) this.missingRounds = 0;
    if (this.discovered && version === this.version) return;
    // An API server that is starting up may not serve every CRD's group yet. A kind that was
    // synced is declared not installed only when a second discovery round agrees, so a restart
    // does not empty the cache (and reopen every finding) for a moment.
    if (version === undefined && this.synced && this.missingRounds++ < 1) {
      this.options.logger.info("kind missing from discovery; waiting for the next round", {
        kind: this.kind,
      });
      return;
    }
    await this.stop();
    this.discovered = true;
    this.version = version;
    if (version === undefined) {
      this.markUnavailable(REASON_NOT_INSTALLED);
      return;
    }
    const abort = new AbortController();
    this.run = { abort, done: this.supervise(version, abort.signal) };
  }

  async stop(): Promise<void> {
    const run = this.run;
    this.run = undefined;
    if (run === undefined) return;
    run.abort.abort();
    await run.done;
  }

  /** The supervision loop: runs until aborted, whatever the server does. */
  private async supervise(version: string, signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(this.options.backoff);
    this.resourceVersion = undefined;
    for (;;) {
      const delayMs = await this.attempt(version, signal, backoff);
      if (signal.aborted) return;
      this.options.metrics?.watchRestart(this.kind);
      await sleep(delayMs, signal);
    }
  }

  /** Lists when needed, then watches; returns how long to wait before the next attempt. */
  private async attempt(version: string, signal: AbortSignal, backoff: Backoff): Promise<number> {
    try {
      if (this.resourceVersion === undefined) {
        await this.list(version, signal);
        backoff.reset();
      }
      await this.watch(version, signal);
      this.forbiddenSince = undefined;
      this.recovered();
      this.options.logger.debug("watch ended; reopening", { kind: this.kind });
      return 0;
    } catch (error) {
      return signal.aborted ? 0 : this.recover(error, backoff);
    }
  }

  /** Sorts a failure and returns how long to wait before the next attempt. */
  private recover(error: unknown, backoff: Backoff): number {
    this.shortWatches = RECOVERY_WATCHES;
    const code = error instanceof KubeApiError ? error.code : 0;
    const message = error instanceof Error ? error.message : String(error);
    const fields = { kind: this.kind, code, error: message };
    if (code === GONE) {
      this.options.logger.info("resourceVersion expired; relisting", fields);
      this.resourceVersion = undefined;
      return backoff.next() / 4;
    }
    if (this.keepsDataThrough(code)) {
      this.warnOnce(`kind answered ${String(code)}; keeping its data and retrying`, fields);
      return Math.min(NOT_FOUND_RETRY_MS, this.options.retryUnavailableMs);
    }
    if (code === FORBIDDEN || code === NOT_FOUND) {
      const reason = code === FORBIDDEN ? REASON_FORBIDDEN : REASON_NOT_INSTALLED;
      if (this.reason !== reason) this.options.logger.warn(`kind ${reason}`, fields);
      this.resourceVersion = undefined;
      this.markUnavailable(reason);
      return this.options.retryUnavailableMs;
    }
    const delayMs = backoff.next();
    this.warnOnce("watch failed; retrying", { ...fields, delayMs });
    // Once listed, a transient failure keeps the last data; before that the kind is unknown.
    if (!this.synced) this.setAvailability(false, message);
    return delayMs;
  }

  /**
   * Logs a failure the first time it happens in a run of failures; repeats (every retry of an
   * outage) go to debug, and the first success after them logs once that the kind recovered.
   */
  private warnOnce(message: string, fields: { code: number } & Record<string, unknown>): void {
    this.failures += 1;
    const signature = `${message} ${String(fields.code)}`;
    if (this.failureLogged === signature) {
      this.options.logger.debug(message, { ...fields, failures: this.failures });
      return;
    }
    this.failureLogged = signature;
    this.options.logger.warn(message, fields);
  }

  private recovered(): void {
    if (this.failureLogged === undefined) return;
    this.options.logger.info("kind readable again", { kind: this.kind, failures: this.failures });
    this.failureLogged = undefined;
    this.failures = 0;
  }

  /**
   * A synced kind keeps its data through a 404 (an API server restarting serves the CRD again in
   * a moment; discovery, not one failed request, decides that it was removed) and through 403s for
   * the grace period (the restarted server's authorizer is still loading).
   */
  private keepsDataThrough(code: number): boolean {
    if (!this.synced) return false;
    if (code === NOT_FOUND) return true;
    if (code !== FORBIDDEN) return false;
    const now = Date.now();
    this.forbiddenSince ??= now;
    return now - this.forbiddenSince < this.options.forbiddenGraceMs;
  }

  private markUnavailable(reason: string): void {
    const hadObjects = this.store.size > 0;
    this.store.clear();
    this.synced = false;
    this.setAvailability(false, reason);
    this.options.metrics?.objects(this.kind, 0);
    if (hadObjects) this.options.onChange({ kind: this.kind, name: "", type: "RELISTED" });
  }

  private setAvailability(available: boolean, reason: string | undefined): void {
    const changed = this.available !== available || this.reason !== reason;
    this.available = available;
    this.reason = reason;
    if (!changed) return;
    this.options.metrics?.available(this.kind, available);
    this.options.onState();
  }

  private collectionPath(version: string): string {
    const { group, resource } = this.options.resource;
    return group === "" ? `/api/${version}/${resource}` : `/apis/${group}/${version}/${resource}`;
  }

  /** Reads every page, then replaces the store in one step. */
  private async list(version: string, signal: AbortSignal): Promise<void> {
    const items = new Map<string, KubeObject>();
    let token: string | undefined;
    let resourceVersion = "";
    do {
      const page = await this.listPage(version, token);
      for (const item of page.items ?? []) {
        this.keep(items, stripObject(this.options.resource, version, item));
      }
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      token = page.metadata?.continue;
    } while (token !== undefined && token !== "" && !signal.aborted);
    if (signal.aborted) return;
    this.replaceStore(items, resourceVersion);
  }

  private async listPage(version: string, token: string | undefined): Promise<ListPage> {
    const accept = this.options.resource.metadataOnly === true ? LIST_ACCEPT_METADATA : undefined;
    const query = new URLSearchParams({ limit: String(this.options.pageSize) });
    if (token !== undefined) query.set("continue", token);
    const path = `${this.collectionPath(version)}?${query.toString()}`;
    return (await this.options.transport.getJson(path, accept)) as ListPage;
  }

  private keep(items: Map<string, KubeObject>, obj: KubeObject): void {
    items.set(objectKey(obj.metadata.namespace, obj.metadata.name ?? ""), obj);
  }

  private replaceStore(items: Map<string, KubeObject>, resourceVersion: string): void {
    this.store.clear();
    for (const [key, obj] of items) this.store.set(key, obj);
    this.resourceVersion = resourceVersion;
    this.forbiddenSince = undefined;
    this.recovered();
    this.options.metrics?.objects(this.kind, this.store.size);
    // Reported before the sync state changes, so the cache's very first list is not announced.
    this.options.onChange({ kind: this.kind, name: "", type: "RELISTED" });
    this.synced = true;
    this.setAvailability(true, undefined);
    this.options.onState();
  }

  /** One watch stream, from the current resourceVersion until the server or the stall timer ends it. */
  private async watch(version: string, signal: AbortSignal): Promise<void> {
    const short = this.shortWatches > 0;
    if (short) this.shortWatches -= 1;
    const base = short ? RECOVERY_WATCH_SECONDS : this.options.watchTimeoutSeconds;
    const timeoutSeconds = base + Math.floor(this.random() * base);
    const query = new URLSearchParams({
      watch: "1",
      allowWatchBookmarks: "true",
      timeoutSeconds: String(timeoutSeconds),
      resourceVersion: this.resourceVersion ?? "",
    });
    const path = `${this.collectionPath(version)}?${query.toString()}`;
    const accept = this.options.resource.metadataOnly === true ? WATCH_ACCEPT_METADATA : undefined;
    const stream = new AbortController();
    const stopStream = (): void => {
      stream.abort();
    };
    signal.addEventListener("abort", stopStream);
    const stall = setTimeout(stopStream, (timeoutSeconds + STALL_GRACE_SECONDS) * 1000);
    try {
      await this.options.transport.watch(path, accept, stream.signal, (line) => {
        this.apply(version, line);
      });
      if (stream.signal.aborted && !signal.aborted) throw new KubeApiError("watch stalled", 0);
    } finally {
      clearTimeout(stall);
      signal.removeEventListener("abort", stopStream);
    }
  }

  private apply(version: string, line: WatchLine): void {
    if (line.type === "ERROR") throw statusError(line.object as StatusObject, 500);
    this.forbiddenSince = undefined;
    this.recovered();
    const rv = (line.object as WatchedObject).metadata?.resourceVersion;
    if (rv !== undefined && rv !== "") this.resourceVersion = rv;
    if (line.type === "ADDED" || line.type === "MODIFIED" || line.type === "DELETED") {
      this.applyChange(line.type, stripObject(this.options.resource, version, line.object));
    }
    // BOOKMARK only advances the resourceVersion; unknown types are ignored.
  }

  private applyChange(type: "ADDED" | "MODIFIED" | "DELETED", obj: KubeObject): void {
    const { namespace, name = "" } = obj.metadata;
    const key = objectKey(namespace, name);
    if (type === "DELETED") this.store.delete(key);
    else this.store.set(key, obj);
    this.options.metrics?.watchEvent(this.kind);
    this.options.metrics?.objects(this.kind, this.store.size);
    const change: ObjectChange = { kind: this.kind, name, type };
    if (namespace !== undefined) change.namespace = namespace;
    this.options.onChange(change);
  }
}
