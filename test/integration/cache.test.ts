// The cluster cache against the real kube-apiserver: list and watch, API-server restarts, etcd
// compaction (410 Gone), RBAC that leaves one kind out, and a CRD installed after start. The cache
// always runs under a ServiceAccount token bound to a ClusterRole made for the test, never as admin.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CoreV1Api,
  V1ConfigMap,
  V1ObjectMeta,
  V1Secret,
  type KubeConfig,
} from "@kubernetes/client-node";
import { createLogger, silentLogger } from "../../operator/controller/logging.js";
import { createClusterCache, type ClusterCacheOptions } from "../../operator/kube/cache.js";
import { createTransport, type Transport } from "../../operator/kube/http.js";
import {
  resourceKindKey,
  WATCHED_RESOURCES,
  type WatchedResource,
} from "../../operator/kube/resources.js";
import type { CacheMetrics, ClusterCache, ObjectChange } from "../../operator/kube/types.js";
import { K } from "../../operator/engine/kinds.js";
import { httpCall, useControlPlane, waitFor, type PolicyRule } from "../harness/index.js";

const WAIT_MS = 60_000;
// CACHE_TEST_LOG=1 shows the cache's own log lines while debugging a failure.
const logger =
  process.env["CACHE_TEST_LOG"] === undefined
    ? silentLogger()
    : createLogger({ level: "debug", format: "text" });

/** list/watch on exactly the given resources, one rule per API group. */
function rulesFor(resources: readonly WatchedResource[]): PolicyRule[] {
  const byGroup = new Map<string, string[]>();
  for (const r of resources) byGroup.set(r.group, [...(byGroup.get(r.group) ?? []), r.resource]);
  return [...byGroup].map(([group, names]) => ({
    apiGroups: [group],
    resources: [...new Set(names)],
    verbs: ["list", "watch"],
  }));
}

class CountingMetrics implements CacheMetrics {
  restarts = 0;
  events = 0;
  watchEvent(): void {
    this.events += 1;
  }
  watchRestart(): void {
    this.restarts += 1;
  }
  objects(): void {
    // Object counts are read from kinds() instead.
  }
  available(): void {
    // Availability is read from kinds() instead.
  }
}

/** A transport that also keeps every raw body and watch line it received. */
function recordingTransport(kubeConfig: KubeConfig, seen: string[]): Transport {
  const inner = createTransport(kubeConfig);
  return {
    getJson: async (path, accept) => {
      const body = await inner.getJson(path, accept);
      seen.push(JSON.stringify(body));
      return body;
    },
    watch: (path, accept, signal, onLine) =>
      inner.watch(path, accept, signal, (line) => {
        seen.push(JSON.stringify(line));
        onLine(line);
      }),
  };
}

function names(cache: ClusterCache, kind: string, namespace: string): string[] {
  return cache
    .snapshot()
    .inNamespace(kind, namespace)
    .map((o) => o.metadata.name ?? "")
    .sort();
}

async function eventually(what: string, probe: () => boolean): Promise<void> {
  await waitFor(what, WAIT_MS, () => Promise.resolve(probe() ? true : undefined));
}

// client-node's request bodies are model classes; build real instances of them.
function meta(name: string, labels?: Record<string, string>): V1ObjectMeta {
  return Object.assign(new V1ObjectMeta(), { name, labels });
}

function configMap(name: string, labels?: Record<string, string>): V1ConfigMap {
  return Object.assign(new V1ConfigMap(), { metadata: meta(name, labels), data: { key: "v" } });
}

function secret(name: string, fields: Partial<V1Secret>): V1Secret {
  return Object.assign(new V1Secret(), { metadata: meta(name, { a: "b" }), ...fields });
}

describe("cluster cache on a real API server", () => {
  const env = useControlPlane({ label: "cache.test" });
  const run = { skip: env.skip, timeout: 180_000 };
  const core = (): CoreV1Api => env.cp.kubeConfig.makeApiClient(CoreV1Api);
  let accounts = 0;

  /** A kubeconfig for a fresh ServiceAccount bound to a new ClusterRole with these rules. */
  async function kubeConfigWith(rules: PolicyRule[]): Promise<KubeConfig> {
    accounts += 1;
    const role = `cache-test-${accounts}`;
    await env.cp.ensureClusterRole(role, rules);
    const token = await env.cp.serviceAccountToken({
      namespace: env.namespace,
      name: `reader-${accounts}`,
      clusterRole: role,
    });
    return env.cp.kubeConfigForToken(token);
  }

  async function startCache(
    options: Partial<ClusterCacheOptions> & { rules?: PolicyRule[] } = {},
  ): Promise<ClusterCache> {
    const resources = options.resources ?? WATCHED_RESOURCES;
    const kubeConfig = await kubeConfigWith(options.rules ?? rulesFor(resources));
    const cache = createClusterCache({
      kubeConfig,
      logger,
      watchTimeoutSeconds: 5,
      discoveryIntervalMs: 1_000,
      retryUnavailableMs: 1_000,
      backoff: { initialMs: 100, maxMs: 1_000 },
      ...options,
    });
    await cache.start();
    await cache.waitForSync(AbortSignal.timeout(WAIT_MS));
    return cache;
  }

  it("delivers creates, updates and deletes after the initial list", run, async () => {
    const ns = env.namespace;
    await core().createNamespacedConfigMap({ namespace: ns, body: configMap("before") });
    const cache = await startCache();
    const changes: ObjectChange[] = [];
    cache.onChange((c) => changes.push(c));
    try {
      assert.deepEqual(names(cache, K.ConfigMap, ns), ["before"]);
      await core().createNamespacedConfigMap({ namespace: ns, body: configMap("after") });
      await eventually("the new ConfigMap", () => names(cache, K.ConfigMap, ns).length === 2);
      await core().replaceNamespacedConfigMap({
        name: "after",
        namespace: ns,
        body: configMap("after", { changed: "yes" }),
      });
      await eventually("the label", () =>
        cache
          .snapshot()
          .inNamespace(K.ConfigMap, ns)
          .some((o) => o.metadata.labels?.["changed"] === "yes"),
      );
      await core().deleteNamespacedConfigMap({ name: "before", namespace: ns });
      await eventually("the deletion", () => names(cache, K.ConfigMap, ns).join() === "after");

      const mine = changes.filter((c) => c.namespace === ns && c.kind === K.ConfigMap);
      assert.deepEqual(
        mine.map((c) => `${c.type} ${c.name}`),
        ["ADDED after", "MODIFIED after", "DELETED before"],
      );
      const status = cache.kinds().find((k) => k.kind === K.ConfigMap);
      assert.equal(status?.version, "v1");
      assert.equal(status.synced, true);
      assert.equal(cache.snapshot().unavailable(K.PeerAuthentication), undefined);
      assert.equal(cache.snapshot().namespacesComplete, true);
    } finally {
      await cache.stop();
    }
  });

  it("reads Secrets as metadata only: their data never reaches the process", run, async () => {
    const ns = env.namespace;
    const secretValue = "c2VjcmV0LXZhbHVlLW5ldmVyLXNlZW4="; // base64 of a marker
    await core().createNamespacedSecret({
      namespace: ns,
      body: secret("listed", { data: { token: secretValue } }),
    });
    const seen: string[] = [];
    const kubeConfig = await kubeConfigWith(rulesFor(WATCHED_RESOURCES));
    const cache = await startCache({ transport: recordingTransport(kubeConfig, seen) });
    try {
      await core().createNamespacedSecret({
        namespace: ns,
        body: secret("watched", { stringData: { token: "plain-marker-value" } }),
      });
      await eventually("the watched Secret", () => names(cache, K.Secret, ns).length === 2);

      const secrets = cache.snapshot().inNamespace(K.Secret, ns);
      const listed = secrets.find((s) => s.metadata.name === "listed");
      assert.ok(listed !== undefined);
      assert.equal(listed.apiVersion, "v1");
      assert.equal(listed.kind, "Secret");
      assert.deepEqual(listed.metadata.labels, { a: "b" });
      assert.equal((listed as unknown as Record<string, unknown>)["data"], undefined);
      const raw = seen.join("\n");
      assert.ok(raw.includes('"watched"'), "the recorded traffic includes the watch event");
      assert.ok(!raw.includes(secretValue), "listed Secret data reached the process");
      assert.ok(!raw.includes("plain-marker-value"), "watched Secret data reached the process");
    } finally {
      await cache.stop();
    }
  });

  it("keeps a smaller copy of a Pod than the server sends", run, async (t) => {
    const ns = env.namespace;
    const cache = await startCache();
    try {
      // The ServiceAccount made for the cache exists in this namespace; "default" does not,
      // since no controller manager runs here.
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "web", labels: { app: "web" }, annotations: { note: "x" } },
        spec: {
          serviceAccountName: `reader-${accounts}`,
          containers: [
            { name: "app", image: "example.test/app:1", ports: [{ containerPort: 80 }] },
          ],
        },
      };
      const url = `${env.cp.server}/api/v1/namespaces/${ns}/pods`;
      const created = await httpCall({ url, json: pod, tls: env.cp.tls });
      assert.equal(created.status, 201, created.body);
      await eventually("the Pod", () => names(cache, K.Pod, ns).join() === "web");

      const served = await httpCall({ url: `${url}/web`, tls: env.cp.tls });
      const cached = cache.snapshot().inNamespace(K.Pod, ns)[0];
      const before = served.body.length;
      const after = JSON.stringify(cached).length;
      t.diagnostic(`Pod JSON: ${before} bytes as served, ${after} bytes cached`);
      assert.ok(after < before);
    } finally {
      await cache.stop();
    }
  });

  it("ends with a correct cache after the API server restarts mid-watch", run, async () => {
    const ns = env.namespace;
    await core().createNamespacedConfigMap({ namespace: ns, body: configMap("kept") });
    await core().createNamespacedConfigMap({ namespace: ns, body: configMap("removed") });
    const metrics = new CountingMetrics();
    const cache = await startCache({ metrics });
    try {
      await env.cp.stopApiServer();
      await env.cp.startApiServer();
      await core().deleteNamespacedConfigMap({ name: "removed", namespace: ns });
      await core().createNamespacedConfigMap({ namespace: ns, body: configMap("new") });
      await eventually("the changes after the restart", () => {
        return names(cache, K.ConfigMap, ns).join() === "kept,new";
      });
      assert.ok(metrics.restarts > 0, "the broken watches were counted as restarts");
      assert.ok(cache.kinds().every((k) => k.synced || k.reason !== undefined));
    } finally {
      await cache.stop();
    }
  });

  it("relists after etcd compaction expires its resourceVersion (410 Gone)", run, async () => {
    const ns = env.namespace;
    await core().createNamespacedConfigMap({ namespace: ns, body: configMap("old") });
    const cache = await startCache();
    const changes: ObjectChange[] = [];
    cache.onChange((c) => changes.push(c));
    try {
      for (let i = 0; i < 5; i++) {
        await core().createNamespacedConfigMap({ namespace: ns, body: configMap(`churn-${i}`) });
      }
      await eventually("the churn", () => names(cache, K.ConfigMap, ns).length === 6);
      // The restarted API server's watch cache starts at the compacted revision, so resuming
      // from the cache's last resourceVersion is answered with 410 Gone.
      await env.cp.compactEtcd();
      await env.cp.restartApiServer();
      await core().deleteNamespacedConfigMap({ name: "old", namespace: ns });
      await eventually("a relist of ConfigMaps", () =>
        changes.some((c) => c.kind === K.ConfigMap && c.type === "RELISTED"),
      );
      await eventually("the deletion after the relist", () => {
        return !names(cache, K.ConfigMap, ns).includes("old");
      });
      assert.equal(names(cache, K.ConfigMap, ns).length, 5);
    } finally {
      await cache.stop();
    }
  });

  it("marks a kind the ClusterRole leaves out as forbidden and reads the others", run, async () => {
    const ns = env.namespace;
    const withoutConfigMaps = WATCHED_RESOURCES.filter((r) => r.resource !== "configmaps");
    const cache = await startCache({ rules: rulesFor(withoutConfigMaps) });
    try {
      const status = cache.kinds().find((k) => k.kind === K.ConfigMap);
      assert.equal(status?.available, false);
      assert.equal(status.reason, "forbidden");
      assert.equal(cache.snapshot().unavailable(K.ConfigMap), "forbidden");
      const others = cache.kinds().filter((k) => k.kind !== K.ConfigMap);
      assert.deepEqual(
        others.filter((k) => !k.synced && k.reason !== "not installed").map((k) => k.kind),
        [],
        "every other installed kind is synced",
      );
      assert.ok(
        cache
          .snapshot()
          .all(K.Namespace)
          .some((n) => n.metadata.name === ns),
      );
    } finally {
      await cache.stop();
    }
  });

  it(
    "marks a kind forbidden once its permission, revoked at run time, stays revoked past the grace",
    run,
    async (t) => {
      const ns = env.namespace;
      await core().createNamespacedConfigMap({ namespace: ns, body: configMap("before-revoke") });
      const cache = await startCache({ forbiddenGraceMs: 2_000 });
      const role = `cache-test-${String(accounts)}`;
      try {
        assert.ok(names(cache, K.ConfigMap, ns).includes("before-revoke"));
        const withoutConfigMaps = WATCHED_RESOURCES.filter((r) => r.resource !== "configmaps");
        await env.cp.ensureClusterRole(role, rulesFor(withoutConfigMaps));
        const revoked = Date.now();
        // The open watch is not authorized again; the next one (5 s timeout here) gets 403.
        await eventually(
          "ConfigMaps forbidden",
          () => cache.snapshot().unavailable(K.ConfigMap) === "forbidden",
        );
        const forbiddenAfter = Date.now() - revoked;
        assert.deepEqual(names(cache, K.ConfigMap, ns), [], "no stale objects are kept");

        await env.cp.ensureClusterRole(role, rulesFor(WATCHED_RESOURCES));
        await eventually("ConfigMaps readable again", () =>
          names(cache, K.ConfigMap, ns).includes("before-revoke"),
        );
        t.diagnostic(`revoked permission reported as forbidden after ${forbiddenAfter} ms`);
      } finally {
        await cache.stop();
      }
    },
  );

  it("picks up a CRD installed after start without a restart", run, async () => {
    const ns = env.namespace;
    const group = `late${Date.now().toString(36)}.example.test`;
    const widgets: WatchedResource = {
      group,
      versions: ["v2", "v1"],
      resource: "widgets",
      kind: "Widget",
      namespaced: true,
      optional: true,
    };
    const resources = WATCHED_RESOURCES.filter((r) => r.group === "").concat(widgets);
    const cache = await startCache({ resources });
    const kind = resourceKindKey(widgets);
    try {
      assert.equal(cache.snapshot().unavailable(kind), "not installed");
      await installWidgetCrd(group);
      await eventually("the Widget kind", () => cache.snapshot().unavailable(kind) === undefined);
      await createWidget(group, ns, "w1");
      await eventually("the Widget", () => names(cache, kind, ns).join() === "w1");
      const widget = cache.snapshot().inNamespace(kind, ns)[0];
      assert.equal(widget?.apiVersion, `${group}/v1`, "the only served version is watched");
    } finally {
      await cache.stop();
    }
  });

  async function installWidgetCrd(group: string): Promise<void> {
    const crd = {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: `widgets.${group}` },
      spec: {
        group,
        scope: "Namespaced",
        names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
        versions: [
          {
            name: "v1",
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
            },
          },
        ],
      },
    };
    const reply = await httpCall({
      url: `${env.cp.server}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`,
      json: crd,
      tls: env.cp.tls,
    });
    assert.equal(reply.status, 201, reply.body);
  }

  async function createWidget(group: string, ns: string, name: string): Promise<void> {
    const body = { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name }, spec: {} };
    await waitFor("the Widget to be accepted", WAIT_MS, async () => {
      const reply = await httpCall({
        url: `${env.cp.server}/apis/${group}/v1/namespaces/${ns}/widgets`,
        json: body,
        tls: env.cp.tls,
      });
      return reply.status === 201 ? true : undefined;
    });
  }
});
