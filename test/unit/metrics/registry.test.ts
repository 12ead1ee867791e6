import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Check } from "../../../operator/engine/check.js";
import { THREAT_IDS } from "../../../operator/engine/threats.js";
import { createMetrics } from "../../../operator/metrics/index.js";
import { buildReport } from "../../../operator/report/build.js";
import type { ComplianceReportStatus } from "../../../operator/report/types.js";
import { evaluateObjects, NOW, objectsFromYaml, policyFromYaml } from "../../support/engine.js";
import { seriesOf } from "./support.js";

// The metric names of the design, exactly: nothing more, nothing less.
const EXPECTED_NAMES = [
  "mesh_compliance_threat_mitigated",
  "mesh_compliance_threat_findings",
  "mesh_compliance_score",
  "mesh_compliance_namespace_findings",
  "mesh_compliance_peer_authentication_mode",
  "mesh_compliance_effective_plaintext_workloads",
  "mesh_compliance_envoyfilter_info",
  "mesh_compliance_envoyfilter_created_timestamp_seconds",
  "mesh_compliance_webhook_fingerprint_info",
  "mesh_compliance_waiver_expiry_timestamp_seconds",
  "mesh_compliance_evaluations_total",
  "mesh_compliance_evaluation_duration_seconds",
  "mesh_compliance_watch_events_total",
  "mesh_compliance_watch_restarts_total",
  "mesh_compliance_cache_objects",
  "mesh_compliance_last_evaluation_timestamp_seconds",
  "mesh_compliance_status_writes_total",
  "mesh_compliance_input_available",
].sort();

// A stand-in check that reports every PeerAuthentication, for S-01 (Critical) and I-01 (High).
const flagPeerAuth: Check = {
  id: "flag-peer-auth",
  threats: ["S-01", "I-01"],
  severity: "high",
  scope: "namespace",
  title: "flags every PeerAuthentication",
  description: "test check",
  remediation: "none",
  inputs: [],
  run(ctx, target, emit) {
    const kind = "security.istio.io/PeerAuthentication";
    for (const pa of ctx.snapshot.inNamespace(kind, target.namespace)) {
      emit.finding(pa, `PeerAuthentication ${pa.metadata.name ?? ""} flagged`);
    }
  },
};
// A check that finds nothing, for R-01: Mitigated.
const quiet: Check = { ...flagPeerAuth, id: "quiet", threats: ["R-01"], run: () => undefined };

const MESH = `
apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { istio-injection: enabled } }
---
apiVersion: v1
kind: Namespace
metadata: { name: pay, labels: { istio-injection: enabled } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: a, namespace: shop }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: b, namespace: shop }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: c, namespace: pay }
`;

const POLICY = policyFromYaml(`
apiVersion: meshcompliance.io/v1alpha1
kind: ThreatPolicy
metadata: { name: prod }
spec:
  threats:
    T-02: { enabled: false }
  waivers:
    - threat: I-01
      resources: [{ kind: PeerAuthentication, namespace: pay, name: c }]
      reason: migration
      expires: "2026-06-05T00:00:00Z"
    - threat: I-01
      resources: [{ kind: PeerAuthentication, namespace: other }]
      reason: later
      expires: "2026-09-01T00:00:00Z"
`);

function report(): ComplianceReportStatus {
  const checks = [flagPeerAuth, quiet];
  const evaluation = evaluateObjects(objectsFromYaml(MESH), checks, { policy: POLICY });
  return buildReport(evaluation, POLICY, checks, NOW);
}

describe("metrics registry", () => {
  it("registers exactly the metrics of the design", async () => {
    const names = (await createMetrics().registry.getMetricsAsJSON()).map((m) => m.name).sort();
    assert.deepEqual(names, EXPECTED_NAMES);
  });

  it("starts the evaluation and status-write counters at 0 for every result", async () => {
    const { registry } = createMetrics();
    assert.deepEqual(await seriesOf(registry, "mesh_compliance_evaluations_total"), {
      "result=success": 0,
      "result=error": 0,
    });
    const writes = await seriesOf(registry, "mesh_compliance_status_writes_total");
    assert.deepEqual(Object.values(writes), [0, 0, 0, 0, 0]);
  });

  it("starts the per-kind health series at 0 for every watched kind", async () => {
    const { registry } = createMetrics({ kinds: ["/Pod", "networking.istio.io/EnvoyFilter"] });
    for (const name of ["watch_events_total", "watch_restarts_total", "cache_objects"]) {
      assert.deepEqual(await seriesOf(registry, `mesh_compliance_${name}`), {
        "kind=/Pod": 0,
        "kind=networking.istio.io/EnvoyFilter": 0,
      });
    }
  });

  it("counts cache events and restarts, and sets object counts and availability", async () => {
    const { registry, cacheMetrics } = createMetrics({ kinds: ["/Pod"] });
    cacheMetrics.watchEvent("/Pod");
    cacheMetrics.watchEvent("/Pod");
    cacheMetrics.watchRestart("/Pod");
    cacheMetrics.objects("/Pod", 7);
    cacheMetrics.available("/Pod", true);
    assert.deepEqual(await seriesOf(registry, "mesh_compliance_watch_events_total"), {
      "kind=/Pod": 2,
    });
    assert.deepEqual(await seriesOf(registry, "mesh_compliance_watch_restarts_total"), {
      "kind=/Pod": 1,
    });
    assert.deepEqual(await seriesOf(registry, "mesh_compliance_cache_objects"), { "kind=/Pod": 7 });
    assert.deepEqual(await seriesOf(registry, "mesh_compliance_input_available"), {
      "kind=/Pod": 1,
    });
    cacheMetrics.available("/Pod", false);
    assert.deepEqual(await seriesOf(registry, "mesh_compliance_input_available"), {
      "kind=/Pod": 0,
    });
  });

  it("sets the last evaluation time from the injected clock on success only", async () => {
    let now = 1000;
    const metrics = createMetrics({ now: () => now });
    const name = "mesh_compliance_last_evaluation_timestamp_seconds";
    assert.deepEqual(await seriesOf(metrics.registry, name), { "": 0 });
    metrics.recordEvaluation("success", 0.02);
    now = 2000;
    metrics.recordEvaluation("error", 0.5);
    assert.deepEqual(await seriesOf(metrics.registry, name), { "": 1000 });
    const evaluations = await seriesOf(metrics.registry, "mesh_compliance_evaluations_total");
    assert.deepEqual(evaluations, { "result=success": 1, "result=error": 1 });
    const histogram = await seriesOf(
      metrics.registry,
      "mesh_compliance_evaluation_duration_seconds",
    );
    assert.equal(histogram["mesh_compliance_evaluation_duration_seconds_count{}"], 2);
  });

  it("counts status writes by result", async () => {
    const metrics = createMetrics();
    metrics.statusWrite("conflict");
    metrics.statusWrite("updated");
    const writes = await seriesOf(metrics.registry, "mesh_compliance_status_writes_total");
    assert.equal(writes["result=conflict"], 1);
    assert.equal(writes["result=updated"], 1);
    assert.equal(writes["result=error"], 0);
  });
});

describe("per-policy metrics from the reports", () => {
  it("exports 1 for mitigated threats, 0 for violated ones, none for disabled ones", async () => {
    const metrics = createMetrics();
    metrics.setReports([report()]);
    const series = await seriesOf(metrics.registry, "mesh_compliance_threat_mitigated");
    assert.equal(series["category=Spoofing,policy=prod,risk=Critical,threat=S-01"], 0);
    assert.equal(series["category=InformationDisclosure,policy=prod,risk=High,threat=I-01"], 0);
    assert.equal(series["category=Repudiation,policy=prod,risk=Medium,threat=R-01"], 1);
    assert.ok(!Object.keys(series).some((k) => k.includes("threat=T-02")));
  });

  it("exports open and waived finding counts per threat, 0 included", async () => {
    const metrics = createMetrics();
    metrics.setReports([report()]);
    const series = await seriesOf(metrics.registry, "mesh_compliance_threat_findings");
    assert.equal(series["policy=prod,risk=Critical,state=open,threat=S-01"], 3);
    assert.equal(series["policy=prod,risk=Critical,state=waived,threat=S-01"], 0);
    assert.equal(series["policy=prod,risk=High,state=open,threat=I-01"], 2);
    assert.equal(series["policy=prod,risk=High,state=waived,threat=I-01"], 1);
    assert.equal(Object.keys(series).length, THREAT_IDS.length * 2);
  });

  it("exports the report's score", async () => {
    const metrics = createMetrics();
    const status = report();
    metrics.setReports([status]);
    assert.deepEqual(await seriesOf(metrics.registry, "mesh_compliance_score"), {
      "policy=prod": status.summary.score,
    });
  });

  it("counts open findings per namespace and threat risk, with every risk level present", async () => {
    const metrics = createMetrics();
    metrics.setReports([report()]);
    const series = await seriesOf(metrics.registry, "mesh_compliance_namespace_findings");
    assert.deepEqual(series, {
      "namespace=pay,policy=prod,risk=Critical": 1,
      "namespace=pay,policy=prod,risk=High": 0,
      "namespace=pay,policy=prod,risk=Medium": 0,
      "namespace=pay,policy=prod,risk=Low": 0,
      "namespace=shop,policy=prod,risk=Critical": 2,
      "namespace=shop,policy=prod,risk=High": 2,
      "namespace=shop,policy=prod,risk=Medium": 0,
      "namespace=shop,policy=prod,risk=Low": 0,
    });
  });

  it("counts a finding on a Namespace itself for that namespace, in the gauge and the report", async () => {
    const flagNamespaces: Check = {
      ...flagPeerAuth,
      id: "flag-namespaces",
      threats: ["I-03"],
      scope: "cluster",
      run(ctx, emit) {
        for (const ns of ctx.snapshot.all("/Namespace")) emit.finding(ns, "namespace flagged");
      },
    };
    const mesh = "apiVersion: v1\nkind: Namespace\nmetadata: { name: bare }\n";
    const evaluation = evaluateObjects(objectsFromYaml(mesh), [flagNamespaces], { policy: POLICY });
    const built = buildReport(evaluation, POLICY, [flagNamespaces], NOW);
    assert.deepEqual(
      built.namespaces.map((n) => [n.namespace, n.open]),
      [["bare", 1]],
    );
    const metrics = createMetrics();
    metrics.setReports([built]);
    const series = await seriesOf(metrics.registry, "mesh_compliance_namespace_findings");
    assert.equal(series["namespace=bare,policy=prod,risk=Medium"], 1);
  });

  it("leaves namespace findings out when turned off", async () => {
    const metrics = createMetrics({ namespaceFindings: false });
    metrics.setReports([report()]);
    assert.deepEqual(await seriesOf(metrics.registry, "mesh_compliance_namespace_findings"), {});
  });

  it("exports the earliest waiver expiry per threat", async () => {
    const metrics = createMetrics();
    metrics.setReports([report()]);
    const series = await seriesOf(
      metrics.registry,
      "mesh_compliance_waiver_expiry_timestamp_seconds",
    );
    assert.deepEqual(series, {
      "policy=prod,threat=I-01": Date.parse("2026-06-05T00:00:00Z") / 1000,
    });
  });

  it("drops every series of a policy whose report is no longer passed", async () => {
    const metrics = createMetrics();
    metrics.setReports([report()]);
    metrics.setReports([]);
    for (const name of [
      "threat_mitigated",
      "threat_findings",
      "score",
      "waiver_expiry_timestamp_seconds",
    ]) {
      assert.deepEqual(await seriesOf(metrics.registry, `mesh_compliance_${name}`), {}, name);
    }
  });
});
