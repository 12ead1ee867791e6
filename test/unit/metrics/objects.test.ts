import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { injectorFingerprint } from "../../../operator/engine/fingerprint.js";
import { defaultPolicy, type ThreatPolicy } from "../../../operator/engine/policy.js";
import { Snapshot } from "../../../operator/engine/snapshot.js";
import { createMetrics, ObjectSeriesCache } from "../../../operator/metrics/index.js";
import { objectsFromYaml, policyFromYaml } from "../../support/engine.js";
import { seriesOf, type Series } from "./support.js";

const NAMESPACES = `
apiVersion: v1
kind: Namespace
metadata: { name: istio-system }
---
apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { istio-injection: enabled } }
---
apiVersion: v1
kind: Namespace
metadata: { name: legacy }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: shop }
spec:
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: web, image: web:1, ports: [{ containerPort: 8080 }] }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: api, namespace: shop }
spec:
  template:
    metadata: { labels: { app: api } }
    spec: { containers: [{ name: api, image: api:1 }] }
`;

const MESH_STRICT = `
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
`;

const ENVOY_FILTER = `
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: lua, namespace: shop, creationTimestamp: "2026-05-31T23:50:00Z" }
spec:
  workloadSelector: { labels: { app: web } }
  configPatches:
    - applyTo: HTTP_FILTER
      patch:
        operation: INSERT_BEFORE
        value: { name: envoy.filters.http.lua, typed_config: { inline_code: "x" } }
`;

const INJECTOR = `
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: { name: istio-sidecar-injector }
webhooks:
  - name: rev.namespace.sidecar-injector.istio.io
    clientConfig: { service: { name: istiod, namespace: istio-system, path: /inject }, caBundle: AAA }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: istio-sidecar-injector, namespace: istio-system }
data: { config: "policy: enabled" }
`;

async function scrape(
  yamlText: string,
  name: string,
  policies: readonly ThreatPolicy[] = [],
): Promise<Series> {
  const snapshot = new Snapshot(objectsFromYaml(yamlText), { namespacesComplete: true });
  const metrics = createMetrics({ source: () => ({ snapshot, policies }) });
  return seriesOf(metrics.registry, `mesh_compliance_${name}`);
}

const allowLua = policyFromYaml(`
apiVersion: meshcompliance.io/v1alpha1
kind: ThreatPolicy
metadata: { name: lenient }
spec:
  envoyFilters:
    allowed: [{ namespace: shop, name: lua }]
`);

interface Case {
  name: string;
  input: string;
  metric: string;
  policies?: ThreatPolicy[];
  expected: Series;
}

const cases: Case[] = [
  {
    name: "labels each PeerAuthentication with its top-level mode, UNSET when it inherits",
    input:
      NAMESPACES +
      MESH_STRICT +
      `---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: { name: open, namespace: shop }
spec: { mtls: { mode: PERMISSIVE } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ports, namespace: shop }
spec: { selector: { matchLabels: { app: web } }, portLevelMtls: { "8080": { mode: DISABLE } } }
`,
    metric: "peer_authentication_mode",
    expected: {
      "mode=STRICT,name=default,namespace=istio-system": 1,
      "mode=PERMISSIVE,name=open,namespace=shop": 1,
      "mode=UNSET,name=ports,namespace=shop": 1,
    },
  },
  {
    name: "counts no plaintext workload when the mesh-wide policy is STRICT",
    input: NAMESPACES + MESH_STRICT,
    metric: "effective_plaintext_workloads",
    expected: { "namespace=shop": 0 },
  },
  {
    name: "counts every meshed workload as plaintext when no policy sets a mode (the mesh-wide STRICT policy was deleted)",
    input: NAMESPACES,
    metric: "effective_plaintext_workloads",
    expected: { "namespace=shop": 2 },
  },
  {
    name: "counts a workload that is STRICT but has a port-level PERMISSIVE exception",
    input:
      NAMESPACES +
      MESH_STRICT +
      `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: web-port, namespace: shop }
spec:
  selector: { matchLabels: { app: web } }
  mtls: { mode: STRICT }
  portLevelMtls: { "8080": { mode: PERMISSIVE } }
`,
    metric: "effective_plaintext_workloads",
    expected: { "namespace=shop": 1 },
  },
  {
    name: "counts a namespace-level DISABLE that overrides the mesh-wide STRICT policy",
    input:
      NAMESPACES +
      MESH_STRICT +
      `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: off, namespace: shop }
spec: { mtls: { mode: DISABLE } }
`,
    metric: "effective_plaintext_workloads",
    expected: { "namespace=shop": 2 },
  },
  {
    name: "reports an EnvoyFilter no policy allows as not allowed, with its risk class",
    input: NAMESPACES + ENVOY_FILTER,
    metric: "envoyfilter_info",
    expected: { "allowed=false,name=lua,namespace=shop,risk=high": 1 },
  },
  {
    name: "reports an EnvoyFilter as allowed when every policy allows it",
    input: NAMESPACES + ENVOY_FILTER,
    metric: "envoyfilter_info",
    policies: [allowLua],
    expected: { "allowed=true,name=lua,namespace=shop,risk=high": 1 },
  },
  {
    name: "reports an EnvoyFilter as not allowed when one of two policies does not allow it",
    input: NAMESPACES + ENVOY_FILTER,
    metric: "envoyfilter_info",
    policies: [allowLua, defaultPolicy()],
    expected: { "allowed=false,name=lua,namespace=shop,risk=high": 1 },
  },
  {
    name: "exports an EnvoyFilter's creation time in seconds",
    input: NAMESPACES + ENVOY_FILTER,
    metric: "envoyfilter_created_timestamp_seconds",
    expected: { "name=lua,namespace=shop": Date.parse("2026-05-31T23:50:00Z") / 1000 },
  },
  {
    name: "exports no webhook fingerprint when no injector webhook exists",
    input: NAMESPACES,
    metric: "webhook_fingerprint_info",
    expected: {},
  },
];

describe("per-object metrics computed at scrape time", () => {
  for (const c of cases) {
    it(c.name, async () => {
      assert.deepEqual(await scrape(c.input, c.metric, c.policies), c.expected);
    });
  }

  it("gives a single injector the same fingerprint a ThreatPolicy pins", async () => {
    const input = NAMESPACES + INJECTOR;
    const pinned = injectorFingerprint(new Snapshot(objectsFromYaml(input)), "istio-system");
    assert.ok(pinned);
    const series = await scrape(input, "webhook_fingerprint_info");
    assert.deepEqual(series, {
      [`fingerprint=${pinned.fingerprint},name=istio-sidecar-injector`]: 1,
    });
  });

  it("keeps the webhook fingerprint when only the caBundle changes, and moves it otherwise", async () => {
    const before = Object.keys(await scrape(NAMESPACES + INJECTOR, "webhook_fingerprint_info"));
    const rotated = INJECTOR.replace("caBundle: AAA", "caBundle: BBB");
    const after = Object.keys(await scrape(NAMESPACES + rotated, "webhook_fingerprint_info"));
    assert.deepEqual(after, before);
    const retargeted = INJECTOR.replace("path: /inject", "path: /evil");
    const changed = Object.keys(await scrape(NAMESPACES + retargeted, "webhook_fingerprint_info"));
    assert.notDeepEqual(changed, before);
  });

  it("drops the series of an EnvoyFilter deleted since the last scrape", async () => {
    let snapshot = new Snapshot(objectsFromYaml(NAMESPACES + ENVOY_FILTER));
    const metrics = createMetrics({ source: () => ({ snapshot, policies: [] }) });
    const name = "mesh_compliance_envoyfilter_info";
    assert.equal(Object.keys(await seriesOf(metrics.registry, name)).length, 1);
    snapshot = new Snapshot(objectsFromYaml(NAMESPACES));
    assert.deepEqual(await seriesOf(metrics.registry, name), {});
    const created = await seriesOf(
      metrics.registry,
      "mesh_compliance_envoyfilter_created_timestamp_seconds",
    );
    assert.deepEqual(created, {});
  });

  it("exports no per-object series before a source is set, and uses one set later", async () => {
    const metrics = createMetrics();
    const name = "mesh_compliance_peer_authentication_mode";
    assert.deepEqual(await seriesOf(metrics.registry, name), {});
    const snapshot = new Snapshot(objectsFromYaml(NAMESPACES + MESH_STRICT));
    metrics.setSource(() => ({ snapshot, policies: [] }));
    assert.deepEqual(await seriesOf(metrics.registry, name), {
      "mode=STRICT,name=default,namespace=istio-system": 1,
    });
  });
});

describe("per-object series cache", () => {
  it("computes the series once per snapshot, although the policy list is a fresh array", () => {
    const snapshot = new Snapshot(objectsFromYaml(NAMESPACES + MESH_STRICT));
    const policy = defaultPolicy();
    const cache = new ObjectSeriesCache();
    const first = cache.get({ snapshot, policies: [policy] });
    assert.equal(cache.get({ snapshot, policies: [policy] }), first);
    assert.notEqual(cache.get({ snapshot, policies: [defaultPolicy()] }), first);
    const next = new Snapshot(objectsFromYaml(NAMESPACES));
    assert.notEqual(cache.get({ snapshot: next, policies: [policy] }), first);
  });
});
