// The operator against a real kube-apiserver, running in-process under its own ServiceAccount with
// the shipped ClusterRole (deploy/base/rbac.yaml), never as admin.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import yaml from "js-yaml";
import type { OperatorRuntime } from "../../operator/controller/runtime.js";
import { scan } from "../../operator/scan/scan.js";
import type { ComplianceReportStatus } from "../../operator/report/types.js";
import { useControlPlane, waitFor } from "../harness/index.js";
import {
  applyObjects,
  exampleObjects,
  getCr,
  getReport,
  metricsText,
  operatorKubeConfig,
  runOperator,
  statuses,
  threatPolicy,
  yamlObjects,
  REPO,
} from "./operator-support.js";
import { parseThreatPolicy } from "../../operator/engine/policy.js";

/**
 * The hardened example's statuses on this control plane. S-02, D-01 and D-03 read Gateway API
 * objects (Gateway, ReferenceGrant), whose CRDs this control plane does not install: Unknown
 * ("not installed"), and the example's cert-manager Certificates are left out for the same reason. S-03 is Violated by the operator's own ServiceAccount: the shipped ClusterRole
 * lists Secrets cluster-wide (metadata only, but RBAC cannot say so), which the check rightly
 * counts as a way to read the control plane's credentials.
 */
const HARDENED_LIVE: Record<string, string> = {
  "S-01": "Mitigated",
  "S-02": "Unknown",
  "S-03": "Violated",
  "T-01": "Mitigated",
  "T-02": "Mitigated",
  "T-03": "Mitigated",
  "R-01": "Mitigated",
  "R-02": "Attested",
  "I-01": "Mitigated",
  "I-02": "Mitigated",
  "I-03": "Mitigated",
  "D-01": "Unknown",
  "D-02": "Mitigated",
  "D-03": "Unknown",
  "E-01": "Mitigated",
  "E-02": "Mitigated",
  "E-03": "Mitigated",
};

const CR = { group: "meshcompliance.io", version: "v1alpha1" };
const WAIT_MS = 30_000;
/** The insecure example has privileged pods, which the API server refuses by default. */
const PRIVILEGED = { "allow-privileged": "true" };

/** The report's threat statuses once they equal `want` (threats missing from `want` are ignored). */
async function waitForStatuses(
  kc: KubeConfig,
  name: string,
  want: Record<string, string>,
): Promise<ComplianceReportStatus> {
  let last = "";
  try {
    return await waitFor(`report ${name}`, WAIT_MS, async () => {
      const status = (await getReport(kc, name))?.status as ComplianceReportStatus | undefined;
      if (!status?.threats) return undefined;
      const got = statuses(status);
      last = JSON.stringify(got);
      // A threat whose input kind is not installed here (cert-manager) is Unknown, rightly.
      const missing = new Set<string>(
        status.threats
          .filter((t) => t.status === "Unknown" && /not installed/i.test(t.reason ?? ""))
          .map((t) => t.id),
      );
      const matches = ([id, s]: [string, string]) => got[id] === s || missing.has(id);
      return Object.entries(want).every(matches) ? status : undefined;
    });
  } catch (error) {
    assert.fail(`${String(error)}\nwanted ${JSON.stringify(want)}\nlast   ${last}`);
  }
}

/** What the offline scan says about an example, minus threats the cluster cannot show alike. */
async function scanStatuses(example: string): Promise<Record<string, string>> {
  const result = await scan([`${REPO}deploy/examples/${example}`]);
  return statuses(result.report);
}

describe("operator: the insecure example", () => {
  const env = useControlPlane({ label: "operator-insecure", apiServerFlags: PRIVILEGED });
  const run = { skip: env.skip, timeout: 120_000 };
  let runtime: OperatorRuntime | undefined;
  let operatorKc: KubeConfig;

  before(async () => {
    if (env.skip !== undefined) return;
    operatorKc = await operatorKubeConfig(env.cp);
    await applyObjects(env.cp.kubeConfig, [threatPolicy("default")]);
    runtime = await runOperator({ kubeConfig: operatorKc });
  });
  after(async () => {
    await runtime?.stop();
  });

  it("reports the violations the offline scan finds, under the shipped RBAC", run, async () => {
    await applyObjects(env.cp.kubeConfig, exampleObjects("insecure-mesh"));
    const expected = await scanStatuses("insecure-mesh");
    const violated = Object.fromEntries(
      Object.entries(expected).filter(([, s]) => s === "Violated"),
    );
    assert.ok(Object.keys(violated).length >= 10, JSON.stringify(expected));
    const report = await waitForStatuses(env.cp.kubeConfig, "default", violated);
    assert.ok(report.summary.openFindings > 0);

    const stored = await getReport(env.cp.kubeConfig, "default");
    const owner = stored?.metadata.ownerReferences?.[0] as Record<string, unknown> | undefined;
    assert.equal(owner?.kind, "ThreatPolicy");
    assert.equal(owner.controller, true);
    assert.ok(stored?.status);
    assert.match(String(stored.status.scoreText), /^\d+%$/);

    const policy = await getCr(env.cp.kubeConfig, "threatpolicies", "default");
    const conditions = policy?.status?.conditions as { type: string; status: string }[];
    assert.deepEqual(
      conditions.map((c) => `${c.type}=${c.status}`),
      ["Ready=True", "Invalid=False"],
    );
    assert.ok(runtime?.ready());
  });

  it(
    "marks an invalid ThreatPolicy Invalid, naming the field, and leaves others alone",
    run,
    async (t) => {
      // The CRD's schema rejects most mistakes; these pass it and fail the operator's parser.
      const candidates: Record<string, unknown>[] = [
        { waivers: [{ threat: "S-01", reason: "   ", expires: "2030-01-01T00:00:00Z" }] },
        { attestations: [{ threat: "R-02", statement: "   ", expires: "2030-01-01T00:00:00Z" }] },
        { trustedSubjects: [{ kind: "ServiceAccount", name: "ci" }] },
        { waivers: [{ threat: "S-01", reason: "r", expires: "next tuesday" }] },
        { threats: { "Z-99": { enabled: true } } },
        { envoyFilters: { allowed: [{ namespace: "x" }] } },
      ];
      let created: string | undefined;
      const refusals: string[] = [];
      for (const [i, spec] of candidates.entries()) {
        try {
          await applyObjects(env.cp.kubeConfig, [threatPolicy(`broken-${i}`, spec)]);
          created = `broken-${i}`;
          break;
        } catch (error) {
          refusals.push(String((error as { body?: unknown }).body ?? error));
        }
      }
      if (created === undefined) {
        // The CRD's schema refuses all of them first, each naming the field: the Invalid
        // condition is then reachable only for policies stored before a stricter CRD.
        for (const r of refusals) assert.match(r, /spec\./);
        t.diagnostic("the CRD refused every invalid policy; the Invalid condition was not reached");
        return;
      }
      const invalid = await waitFor("Invalid condition", WAIT_MS, async () => {
        const p = await getCr(env.cp.kubeConfig, "threatpolicies", created);
        const conditions = (p?.status?.conditions ?? []) as {
          type: string;
          status: string;
          message: string;
        }[];
        return conditions.find((c) => c.type === "Invalid" && c.status === "True");
      });
      assert.match(invalid.message, /spec\./);
      const still = await getReport(env.cp.kubeConfig, "default");
      assert.ok(still?.status?.threats, "the valid policy keeps its report");
      assert.equal(await getReport(env.cp.kubeConfig, created), undefined);
    },
  );

  it("retries a status write that conflicts (409) and lands it", run, async () => {
    const operator = runtime ?? assert.fail("the operator runs");
    const api = env.cp.kubeConfig.makeApiClient(CustomObjectsApi);
    const conflicts = async (): Promise<number> => {
      const text = await metricsText(operator);
      return Number(
        /mesh_compliance_status_writes_total\{result="conflict"\} (\d+)/.exec(text)?.[1],
      );
    };
    // The operator re-reads the stored report now and then (a resync, a leadership change), and a
    // write right after such a read cannot conflict; so the tamper is repeated until one did.
    for (let attempt = 1; attempt <= 5 && (await conflicts()) === 0; attempt++) {
      await operator.controller.idle();
      const stored = await getReport(env.cp.kubeConfig, "default");
      assert.ok(stored?.status);
      // Someone else writes the status: the operator's remembered resourceVersion is now stale.
      await api.replaceClusterCustomObjectStatus({
        ...CR,
        plural: "compliancereports",
        name: "default",
        body: { ...stored, status: { ...stored.status, rootNamespace: "tampered" } },
      });
      // A change makes the operator write again, with the stale version first.
      await applyObjects(env.cp.kubeConfig, [
        {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: {
            name: `conflict-trigger-${String(attempt)}`,
            labels: { "istio-injection": "enabled" },
          },
        },
      ]);
      await waitFor("the operator's status to land", WAIT_MS, async () => {
        const now = await getReport(env.cp.kubeConfig, "default");
        return now?.status?.rootNamespace === "istio-system" ? true : undefined;
      });
    }
    assert.ok((await conflicts()) >= 1, "a write met a 409 and was retried until it landed");
  });

  it("keeps a status-only ThreatPolicy update from causing another write", run, async () => {
    assert.ok(runtime);
    await runtime.controller.idle();
    // Earlier tests leave debounced work behind; wait until the report has stopped changing, so
    // that a write seen below can only come from the status-only update.
    let before = (await getReport(env.cp.kubeConfig, "default"))?.metadata.resourceVersion;
    for (let settled = false, tries = 0; !settled && tries < 20; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await runtime.controller.idle();
      const now = (await getReport(env.cp.kubeConfig, "default"))?.metadata.resourceVersion;
      settled = now === before;
      before = now;
    }
    const policy = await getCr(env.cp.kubeConfig, "threatpolicies", "default");
    await env.cp.kubeConfig.makeApiClient(CustomObjectsApi).replaceClusterCustomObjectStatus({
      ...CR,
      plural: "threatpolicies",
      name: "default",
      body: { ...policy, status: { ...policy?.status, score: 1 } },
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await runtime.controller.idle();
    const afterVersion = (await getReport(env.cp.kubeConfig, "default"))?.metadata.resourceVersion;
    assert.equal(afterVersion, before);
  });
});

describe("operator: the hardened example and a switch to PERMISSIVE", () => {
  const env = useControlPlane({ label: "operator-hardened", apiServerFlags: PRIVILEGED });
  const run = { skip: env.skip, timeout: 120_000 };
  let runtime: OperatorRuntime | undefined;

  before(async () => {
    if (env.skip !== undefined) return;
    const kc = await operatorKubeConfig(env.cp);
    await applyObjects(env.cp.kubeConfig, [threatPolicy("default")]);
    runtime = await runOperator({ kubeConfig: kc });
  });
  after(async () => {
    await runtime?.stop();
  });

  it(
    "reports the hardened example Mitigated on every threat this cluster can show",
    run,
    async (t) => {
      // The test plays the GitOps tool: Flux's kustomize-controller is the field manager of every
      // object it applies, as in a cluster run from Git (config-outside-gitops, T-02/R-02, reads it).
      await applyObjects(env.cp.kubeConfig, exampleObjects("hardened-mesh"), {
        fieldManager: "kustomize-controller",
      });
      // The example's own ThreatPolicy: its allowed rate-limit EnvoyFilter (T-03) and the R-02
      // attestation of the API server's audit log.
      await applyObjects(
        env.cp.kubeConfig,
        yamlObjects(`${REPO}deploy/examples/policies/hardened.yaml`),
      );
      const offline = await scan(
        [`${REPO}deploy/examples/hardened-mesh`],
        parseThreatPolicy(yamlObjects(`${REPO}deploy/examples/policies/hardened.yaml`)[0]!),
      );
      const expected = statuses(offline.report);
      assert.deepEqual(
        Object.values(expected).filter((s) => s !== "Mitigated" && s !== "Attested"),
        [],
        "offline, the hardened example meets every threat",
      );
      const report = await waitForStatuses(env.cp.kubeConfig, "hardened", HARDENED_LIVE);
      for (const threat of report.threats)
        t.diagnostic(`${threat.id} ${threat.status}${threat.reason ? `: ${threat.reason}` : ""}`);
    },
  );

  it(
    "turns S-01/T-01/I-01 Violated and the mTLS gauge PERMISSIVE after a switch",
    run,
    async (t) => {
      assert.ok(runtime);
      const kc = env.cp.kubeConfig;
      const api = kc.makeApiClient(CustomObjectsApi);
      const group = { group: "security.istio.io", version: "v1", plural: "peerauthentications" };
      const list = (await api.listNamespacedCustomObject({
        ...group,
        namespace: "istio-system",
      })) as {
        items: { metadata: { name: string } }[];
      };
      const name = list.items[0]?.metadata.name;
      assert.ok(name, "the hardened example has a mesh-wide PeerAuthentication");
      // The example's validating webhook calls istiod, which does not run here; without it, an
      // update of Istio config would be refused.
      await kc
        .makeApiClient((await import("@kubernetes/client-node")).AdmissionregistrationV1Api)
        .deleteValidatingWebhookConfiguration({ name: "istiod-default-validator" })
        .catch(() => undefined);
      await runtime.controller.idle();

      const started = Date.now();
      await api.patchNamespacedCustomObject({
        ...group,
        namespace: "istio-system",
        name,
        body: [{ op: "replace", path: "/spec/mtls/mode", value: "PERMISSIVE" }],
      });
      await waitFor("the PERMISSIVE gauge", WAIT_MS, async () => {
        const text = await metricsText(runtime!);
        return text.includes(
          `mesh_compliance_peer_authentication_mode{namespace="istio-system",name="${name}",mode="PERMISSIVE"} 1`,
        )
          ? true
          : undefined;
      });
      const gaugeMs = Date.now() - started;
      await waitForStatuses(kc, "default", { "S-01": "Violated", "I-01": "Violated" });
      const reportMs = Date.now() - started;
      t.diagnostic(
        `PERMISSIVE switch: gauge after ${gaugeMs} ms, ComplianceReport after ${reportMs} ms`,
      );
      const text = await metricsText(runtime);
      assert.match(text, /mesh_compliance_threat_mitigated\{[^}]*threat="S-01"[^}]*\} 0/);
    },
  );
});

describe("operator: two replicas", () => {
  const env = useControlPlane({ label: "operator-replicas", apiServerFlags: PRIVILEGED });
  const run = { skip: env.skip, timeout: 120_000 };
  const runtimes: OperatorRuntime[] = [];

  after(async () => {
    for (const r of runtimes) await r.stop();
  });

  it("lets exactly one replica write, and hands over within the lease time", run, async (t) => {
    const kc = await operatorKubeConfig(env.cp);
    await applyObjects(env.cp.kubeConfig, [
      threatPolicy("default"),
      ...exampleObjects("insecure-mesh"),
    ]);
    runtimes.push(await runOperator({ kubeConfig: kc, identity: "replica-a" }));
    runtimes.push(await runOperator({ kubeConfig: kc, identity: "replica-b" }));
    const [a, b] = runtimes as [OperatorRuntime, OperatorRuntime];
    await waitFor("a leader", WAIT_MS, () =>
      Promise.resolve(a.isLeader() || b.isLeader() ? true : undefined),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(Number(a.isLeader()) + Number(b.isLeader()), 1, "exactly one leader");
    await waitFor(
      "a report",
      WAIT_MS,
      async () => (await getReport(env.cp.kubeConfig, "default"))?.status,
    );
    // Both evaluate (readiness and metrics), only the leader writes.
    await waitFor("both ready", WAIT_MS, () =>
      Promise.resolve(a.ready() && b.ready() ? true : undefined),
    );
    const writes = async (r: OperatorRuntime) => {
      const m = /mesh_compliance_status_writes_total\{result="(created|updated)"\} (\d+)/g;
      let n = 0;
      for (const match of (await metricsText(r)).matchAll(m)) n += Number(match[2]);
      return n;
    };
    const [leader, follower] = a.isLeader() ? [a, b] : [b, a];
    assert.ok((await writes(leader)) >= 1);
    assert.equal(await writes(follower), 0);

    const stoppedAt = Date.now();
    await leader.stop();
    runtimes.splice(runtimes.indexOf(leader), 1);
    await waitFor("the follower to lead", 10_000, () =>
      Promise.resolve(follower.isLeader() ? true : undefined),
    );
    const handover = Date.now() - stoppedAt;
    t.diagnostic(`handover after ${handover} ms (lease duration 3 s, released on stop)`);
    assert.ok(handover < 3_000 + 2_000, `handover took ${handover} ms`);
  });
});

describe("operator: report size", () => {
  const env = useControlPlane({ label: "operator-size" });
  const run = { skip: env.skip, timeout: 300_000 };

  it("keeps the ComplianceReport of 10,000 violating namespaces under 256 KiB", run, async (t) => {
    // Built from a synthetic snapshot and written through the real API server: creating 10,000
    // namespaces on this machine's two cores would take minutes and test the cache, not the report.
    const { PartitionStore } = await import("../../operator/controller/evaluator.js");
    const { capReport, DEFAULT_MAX_REPORT_BYTES } =
      await import("../../operator/controller/cap.js");
    const { StatusWriter } = await import("../../operator/controller/status.js");
    const { clusterObjects } = await import("../../operator/controller/api.js");
    const { storedReport } = await import("../../operator/controller/publish.js");
    const { CHECKS } = await import("../../operator/engine/checks/index.js");
    const { Snapshot } = await import("../../operator/engine/snapshot.js");
    const { defaultPolicy } = await import("../../operator/engine/policy.js");
    const objects = [];
    for (let i = 0; i < 10_000; i++) {
      const ns = `team-${String(i).padStart(5, "0")}`;
      objects.push(
        {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name: ns, labels: { "istio-injection": "enabled" } },
        },
        {
          apiVersion: "security.istio.io/v1",
          kind: "PeerAuthentication",
          metadata: { name: "default", namespace: ns },
          spec: { mtls: { mode: "PERMISSIVE" } },
        },
      );
    }
    const full = new PartitionStore(CHECKS, {
      parseYaml: (s) => yaml.load(s),
      assumeUndeclaredNamespacesEnrolled: false,
    }).evaluate(
      new Snapshot(objects, { namespacesComplete: true }),
      defaultPolicy(),
      "all",
      new Date(),
    ).report;
    const capped = capReport(full, {
      maxFindingsPerThreat: 20,
      maxNamespaces: 50,
      maxBytes: DEFAULT_MAX_REPORT_BYTES,
    });

    const kc = await operatorKubeConfig(env.cp);
    await applyObjects(env.cp.kubeConfig, [threatPolicy("default")]);
    const policy = await getCr(env.cp.kubeConfig, "threatpolicies", "default");
    const writer = new StatusWriter(clusterObjects(kc), () => new Date());
    const result = await writer.writeReport(
      { name: "default", uid: String((policy?.metadata as { uid?: string }).uid) },
      storedReport(capped),
    );
    assert.equal(result.written, true);
    const stored = await getReport(env.cp.kubeConfig, "default");
    const bytes = Buffer.byteLength(JSON.stringify(stored));
    t.diagnostic(
      `stored ComplianceReport: ${bytes} bytes (uncapped status ${Buffer.byteLength(JSON.stringify(full))} bytes)`,
    );
    assert.ok(bytes < 256 * 1024, `${bytes} bytes`);
    const s01 = (stored?.status as unknown as ComplianceReportStatus).threats.find(
      (x) => x.id === "S-01",
    );
    assert.ok(s01 && s01.omittedFindings > 0);
  });
});
