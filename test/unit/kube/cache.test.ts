// The cache's reflectors against a scripted fake API server: paging, bookmarks, 410 Gone, errors
// and recovery, forbidden and missing kinds, metadata-only Secrets and discovery.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Writable } from "node:stream";
import winston from "winston";
import { createClusterCache, type ClusterCacheOptions } from "../../../operator/kube/cache.js";
import type { WatchedResource } from "../../../operator/kube/resources.js";
import type { ClusterCache, ObjectChange } from "../../../operator/kube/types.js";
import { FakeApi, list, object, status } from "./fake-api.js";

const CONFIGMAPS: WatchedResource = {
  group: "",
  versions: ["v1"],
  resource: "configmaps",
  kind: "ConfigMap",
  namespaced: true,
};
const SECRETS: WatchedResource = {
  group: "",
  versions: ["v1"],
  resource: "secrets",
  kind: "Secret",
  namespaced: true,
  metadataOnly: true,
};
const WIDGETS: WatchedResource = {
  group: "example.test",
  versions: ["v2", "v1beta1"],
  resource: "widgets",
  kind: "Widget",
  namespaced: true,
  optional: true,
};
const CM_PATH = "/api/v1/configmaps";
const WAIT_MS = 10_000;
const logger = winston.createLogger({ silent: true });

async function eventually(what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function names(cache: ClusterCache, kind = "/ConfigMap"): string[] {
  return cache
    .snapshot()
    .all(kind)
    .map((o) => o.metadata.name ?? "")
    .sort();
}

describe("cluster cache reflectors (fake API server)", () => {
  let api: FakeApi;
  let cache: ClusterCache | undefined;
  const restarts: string[] = [];

  beforeEach(async () => {
    api = await FakeApi.start();
    restarts.length = 0;
  });
  afterEach(async () => {
    await cache?.stop();
    cache = undefined;
    await api.stop();
  });

  async function start(options: Partial<ClusterCacheOptions> = {}): Promise<ClusterCache> {
    cache = createClusterCache({
      kubeConfig: api.kubeConfig(),
      logger,
      resources: [CONFIGMAPS],
      watchTimeoutSeconds: 60,
      discoveryIntervalMs: 50,
      retryUnavailableMs: 20,
      backoff: { initialMs: 10, maxMs: 40, random: () => 0.5 },
      metrics: {
        watchEvent: () => undefined,
        watchRestart: (kind) => restarts.push(kind),
        objects: () => undefined,
        available: () => undefined,
      },
      ...options,
    });
    await cache.start();
    return cache;
  }

  it("reads every page of a list, passing limit and the continue token", async () => {
    api.lists.set(CM_PATH, [
      list("5", [object("a", "1")], "page-2"),
      list("5", [object("b", "2")]),
    ]);
    const c = await start({ pageSize: 1 });
    await c.waitForSync(AbortSignal.timeout(WAIT_MS));

    assert.deepEqual(names(c), ["a", "b"]);
    const pages = api.requestsTo(CM_PATH, false);
    assert.deepEqual(
      pages.map((r) => [r.query.get("limit"), r.query.get("continue")]),
      [
        ["1", null],
        ["1", "page-2"],
      ],
    );
    await eventually("the watch", () => api.requestsTo(CM_PATH, true).length > 0);
    const watch = api.requestsTo(CM_PATH, true)[0];
    assert.equal(
      watch?.query.get("resourceVersion"),
      "5",
      "the watch starts at the list's version",
    );
    assert.equal(watch.query.get("allowWatchBookmarks"), "true");
    const timeout = Number(watch.query.get("timeoutSeconds"));
    assert.ok(timeout >= 60 && timeout < 120, `timeoutSeconds ${timeout} is jittered above 60`);
  });

  it("resumes the next watch from the resourceVersion of a bookmark", async () => {
    api.lists.set(CM_PATH, [list("5", [])]);
    const bookmark = { type: "BOOKMARK", object: { metadata: { resourceVersion: "42" } } };
    api.watches.set(CM_PATH, [{ lines: [bookmark], end: "close" }]);
    await start();

    await eventually("a second watch", () => api.requestsTo(CM_PATH, true).length >= 2);
    assert.equal(api.requestsTo(CM_PATH, true)[1]?.query.get("resourceVersion"), "42");
    assert.equal(api.requestsTo(CM_PATH, false).length, 1, "a normal end does not relist");
    assert.ok(restarts.includes("/ConfigMap"), "the reopened watch is counted");
  });

  it("applies watch events and reports them after the initial sync", async () => {
    api.lists.set(CM_PATH, [list("5", [object("a", "1"), object("b", "2")])]);
    api.watches.set(CM_PATH, [
      {
        lines: [
          { type: "ADDED", object: object("c", "6") },
          {
            type: "MODIFIED",
            object: {
              ...(object("a", "7") as object),
              metadata: { name: "a", namespace: "ns", resourceVersion: "7", labels: { x: "y" } },
            },
          },
          { type: "DELETED", object: object("b", "8") },
        ],
        end: "hold",
      },
    ]);
    const changes: ObjectChange[] = [];
    const c = await start();
    c.onChange((change) => changes.push(change));
    await c.waitForSync(AbortSignal.timeout(WAIT_MS));

    await eventually("the deletion", () => names(c).join() === "a,c");
    assert.deepEqual(
      changes.map((ch) => `${ch.type} ${ch.namespace ?? ""}/${ch.name}`),
      ["ADDED ns/c", "MODIFIED ns/a", "DELETED ns/b"],
      "the initial list itself is not reported",
    );
    const a = c
      .snapshot()
      .inNamespace("/ConfigMap", "ns")
      .find((o) => o.metadata.name === "a");
    assert.deepEqual(a?.metadata.labels, { x: "y" });
    assert.equal(a.apiVersion, "v1");
    assert.equal(a.kind, "ConfigMap");
  });

  it("relists when a watch reports 410 Gone mid-stream, and says so with RELISTED", async () => {
    api.lists.set(CM_PATH, [list("5", [object("a", "1")]), list("9", [object("fresh", "9")])]);
    const gone = { type: "ERROR", object: status(410, "Expired") };
    api.watches.set(CM_PATH, [{ lines: [{ type: "ADDED", object: object("b", "6") }, gone] }]);
    const changes: ObjectChange[] = [];
    const c = await start();
    await c.waitForSync(AbortSignal.timeout(WAIT_MS));
    c.onChange((change) => changes.push(change));

    await eventually("the relist", () => names(c).join() === "fresh");
    assert.equal(api.requestsTo(CM_PATH, false).length, 2);
    assert.equal(api.requestsTo(CM_PATH, true).at(-1)?.query.get("resourceVersion"), "9");
    assert.ok(changes.some((ch) => ch.type === "RELISTED" && ch.kind === "/ConfigMap"));
  });

  it("relists when the watch request itself is answered 410", async () => {
    api.lists.set(CM_PATH, [list("5", [object("a", "1")]), list("9", [])]);
    api.watches.set(CM_PATH, [{ status: 410 }]);
    const c = await start();

    await eventually(
      "the relist",
      () => names(c).length === 0 && api.requestsTo(CM_PATH, false).length === 2,
    );
  });

  it("retries a 500 with backoff and recovers; the kind is unknown until its first list", async () => {
    api.lists.set(CM_PATH, [
      { status: 500, body: status(500, "InternalError") },
      list("5", [object("a", "1")]),
    ]);
    api.watches.set(CM_PATH, [{ status: 500 }]);
    const c = await start();
    await c.waitForSync(AbortSignal.timeout(WAIT_MS));

    assert.deepEqual(names(c), ["a"]);
    assert.equal(c.snapshot().unavailable("/ConfigMap"), undefined);
    await eventually("the watch retried", () => api.requestsTo(CM_PATH, true).length >= 2);
    assert.equal(api.requestsTo(CM_PATH, false).length, 2, "a watch error keeps the list");
    assert.ok(restarts.length >= 2, "the failed list and the failed watch are both counted");
  });

  it("logs a run of the same failure once, then once that the kind recovered", async () => {
    const lines: { level: string; message: string; failures?: number }[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString("utf8")) as (typeof lines)[number]);
        done();
      },
    });
    const capture = winston.createLogger({
      level: "info",
      format: winston.format.json(),
      // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- winston's transport typings do not match its classes
      transports: [new winston.transports.Stream({ stream })],
    });
    api.lists.set(CM_PATH, [list("5", [object("a", "1")])]);
    const bookmark = { type: "BOOKMARK", object: { metadata: { resourceVersion: "6" } } };
    api.watches.set(CM_PATH, [
      { status: 500 },
      { status: 500 },
      { status: 500 },
      { lines: [bookmark], end: "hold" },
    ]);
    await start({ logger: capture });

    await eventually("the recovery", () => lines.some((l) => l.message === "kind readable again"));
    const warned = lines.filter((l) => l.level === "warn").map((l) => l.message);
    assert.deepEqual(warned, ["watch failed; retrying"], "three failures, one warning");
    assert.equal(lines.find((l) => l.message === "kind readable again")?.failures, 3);
  });

  it("reports a failing kind as unavailable with the error before it was ever listed", async () => {
    api.lists.set(CM_PATH, [{ status: 500, body: status(500, "InternalError") }]);
    const c = await start();

    await eventually("the error", () => c.snapshot().unavailable("/ConfigMap") === "InternalError");
    const sync = c.waitForSync(AbortSignal.timeout(100));
    await assert.rejects(sync, /aborted/, "an erroring kind holds the initial sync back");
  });

  it("marks a forbidden kind unavailable, keeps retrying, and reads it once allowed", async () => {
    api.lists.set(CM_PATH, [
      { status: 403, body: status(403, "Forbidden") },
      list("5", [object("a", "1")]),
    ]);
    const c = await start();

    await eventually("the retry", () => names(c).join() === "a");
    assert.equal(c.snapshot().unavailable("/ConfigMap"), undefined);
  });

  it("keeps a synced kind's data through brief 403s, as a restarting API server gives", async () => {
    api.lists.set(CM_PATH, [list("5", [object("a", "1")])]);
    api.watches.set(CM_PATH, [{ status: 403 }, { status: 403 }, { status: 403 }]);
    const c = await start({ forbiddenGraceMs: 60_000 });
    await c.waitForSync(AbortSignal.timeout(WAIT_MS));

    await eventually("the watch after the 403s", () => api.requestsTo(CM_PATH, true).length >= 4);
    assert.deepEqual(names(c), ["a"]);
    assert.equal(c.snapshot().unavailable("/ConfigMap"), undefined);
    assert.equal(api.requestsTo(CM_PATH, false).length, 1, "the 403s cost no relist");
    assert.equal(api.requestsTo(CM_PATH, true).at(-1)?.query.get("resourceVersion"), "5");
  });

  it("marks a synced kind forbidden once its 403s outlast the grace period", async () => {
    api.lists.set(CM_PATH, [
      list("5", [object("a", "1")]),
      { status: 403, body: status(403, "x") },
    ]);
    api.watches.set(
      CM_PATH,
      Array.from({ length: 1_000 }, () => ({ status: 403 })),
    );
    const c = await start({ forbiddenGraceMs: 50 });
    await c.waitForSync(AbortSignal.timeout(WAIT_MS));

    await eventually("forbidden", () => c.snapshot().unavailable("/ConfigMap") === "forbidden");
    assert.deepEqual(names(c), [], "a revoked permission leaves nothing stale behind");
  });

  it("syncs without a forbidden kind, which stays unknown with reason forbidden", async () => {
    api.lists.set(CM_PATH, [{ status: 403, body: status(403, "Forbidden") }]);
    const c = await start();
    await c.waitForSync(AbortSignal.timeout(WAIT_MS));

    assert.equal(c.snapshot().unavailable("/ConfigMap"), "forbidden");
    assert.deepEqual(
      c.kinds().map((k) => [k.kind, k.available, k.reason]),
      [["/ConfigMap", false, "forbidden"]],
    );
  });

  it("watches the newest served version and picks up a kind that appears later", async () => {
    const path = "/apis/example.test/v1beta1/widgets";
    api.lists.set(path, [list("3", [{ metadata: { name: "w", namespace: "ns" } }])]);
    const c = await start({ resources: [CONFIGMAPS, WIDGETS] });
    api.lists.set(CM_PATH, [list("1", [])]);
    await c.waitForSync(AbortSignal.timeout(WAIT_MS));
    assert.equal(c.snapshot().unavailable("example.test/Widget"), "not installed");

    api.served.set("example.test/v1beta1", ["widgets"]);
    await eventually("the Widget", () => names(c, "example.test/Widget").join() === "w");
    const widget = c.snapshot().all("example.test/Widget")[0];
    assert.equal(widget?.apiVersion, "example.test/v1beta1");
    assert.equal(c.kinds().find((k) => k.kind === "example.test/Widget")?.version, "v1beta1");
  });

  it("marks a synced kind not installed once two discovery rounds agree its CRD is gone", async () => {
    const path = "/apis/example.test/v1beta1/widgets";
    api.served.set("example.test/v1beta1", ["widgets"]);
    api.lists.set(path, [list("3", [{ metadata: { name: "w", namespace: "ns" } }])]);
    api.lists.set(CM_PATH, [list("1", [])]);
    const c = await start({ resources: [CONFIGMAPS, WIDGETS] });
    await c.waitForSync(AbortSignal.timeout(WAIT_MS));
    assert.deepEqual(names(c, "example.test/Widget"), ["w"]);

    api.served.delete("example.test/v1beta1");
    api.lists.set(path, [{ status: 404, body: status(404, "NotFound") }]);
    api.watches.set(
      path,
      Array.from({ length: 1_000 }, () => ({ status: 404 })),
    );
    await eventually(
      "not installed",
      () => c.snapshot().unavailable("example.test/Widget") === "not installed",
    );
    assert.deepEqual(names(c, "example.test/Widget"), [], "nothing stale is kept");
  });

  it("reads Secrets as PartialObjectMetadata and keeps no data", async () => {
    const path = "/api/v1/secrets";
    api.lists.set(path, [
      list("1", [{ kind: "PartialObjectMetadata", metadata: { name: "s", namespace: "ns" } }]),
    ]);
    const c = await start({ resources: [SECRETS] });
    await c.waitForSync(AbortSignal.timeout(WAIT_MS));

    assert.match(
      api.requestsTo(path, false)[0]?.accept ?? "",
      /as=PartialObjectMetadataList;g=meta.k8s.io;v=v1/,
    );
    await eventually("the watch", () => api.requestsTo(path, true).length > 0);
    assert.match(
      api.requestsTo(path, true)[0]?.accept ?? "",
      /as=PartialObjectMetadata;g=meta.k8s.io;v=v1/,
    );
    const secret = c.snapshot().all("/Secret")[0];
    assert.equal(secret?.kind, "Secret");
    assert.equal(secret.apiVersion, "v1");
  });

  it("returns the same snapshot until something changes", async () => {
    api.lists.set(CM_PATH, [list("5", [object("a", "1")])]);
    api.watches.set(CM_PATH, [
      { lines: [{ type: "ADDED", object: object("b", "6") }], end: "hold" },
    ]);
    const c = await start();
    await eventually("b", () => names(c).length === 2);

    const first = c.snapshot();
    assert.equal(c.snapshot(), first);
    assert.equal(first.namespacesComplete, true);
  });
});
