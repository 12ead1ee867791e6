import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import { byteSize, capReport } from "../../../operator/controller/cap.js";
import { affectedBy, clusterInputs, DirtyMarks } from "../../../operator/controller/changes.js";
import { PartitionStore } from "../../../operator/controller/evaluator.js";
import { CHECKS } from "../../../operator/engine/checks/index.js";
import { CLUSTER_PARTITION } from "../../../operator/engine/evaluate.js";
import { K } from "../../../operator/engine/kinds.js";
import { defaultPolicy } from "../../../operator/engine/policy.js";
import { Snapshot } from "../../../operator/engine/snapshot.js";
import type { KubeObject } from "../../../operator/engine/types.js";
import type { ComplianceReportStatus } from "../../../operator/report/types.js";
import { NOW, objectsFromYaml } from "../../support/engine.js";

const examples = fileURLToPath(new URL("../../../../deploy/examples/", import.meta.url));
const options = {
  parseYaml: (t: string) => yaml.load(t),
  assumeUndeclaredNamespacesEnrolled: false,
};

function example(name: string): KubeObject[] {
  const dir = `${examples}${name}/`;
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .flatMap((f) => objectsFromYaml(readFileSync(`${dir}${f}`, "utf8")));
}

const snap = (objects: KubeObject[]) => new Snapshot(objects, { namespacesComplete: true });
const withoutTime = (r: ComplianceReportStatus) => ({ ...r, evaluatedAt: "" });

describe("partitions a change affects", () => {
  const roots = new Set(["istio-system"]);
  const cluster = clusterInputs(CHECKS);
  const cases: { name: string; change: Parameters<typeof affectedBy>[0]; want: unknown }[] = [
    {
      name: "a pod marks its namespace only, when no cluster check reads pods",
      change: { kind: K.Pod, namespace: "shop", name: "p", type: "MODIFIED" },
      want: cluster.has(K.Pod) ? ["namespace/shop", CLUSTER_PARTITION] : ["namespace/shop"],
    },
    {
      name: "a PeerAuthentication in the root namespace marks everything",
      change: { kind: K.PeerAuthentication, namespace: "istio-system", name: "d", type: "ADDED" },
      want: "all",
    },
    {
      name: "the mesh ConfigMap marks everything wherever it lives",
      change: { kind: K.ConfigMap, namespace: "istio-canary", name: "istio-1-27", type: "ADDED" },
      want: "all",
    },
    {
      name: "a cluster-scoped webhook marks everything",
      change: { kind: K.MutatingWebhookConfiguration, name: "w", type: "DELETED" },
      want: "all",
    },
    {
      name: "a Namespace marks everything (scope and enrolment may change)",
      change: { kind: K.Namespace, name: "shop", type: "MODIFIED" },
      want: "all",
    },
    {
      name: "a relist marks everything",
      change: { kind: K.Pod, name: "", type: "RELISTED" },
      want: "all",
    },
    {
      name: "a ThreatPolicy re-evaluates that policy",
      change: { kind: K.ThreatPolicy, name: "prod", type: "MODIFIED" },
      want: "policy:prod",
    },
    {
      name: "a ComplianceReport (the operator's own write) affects nothing",
      change: { kind: "meshcompliance.io/ComplianceReport", name: "prod", type: "MODIFIED" },
      want: "none",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const a = affectedBy(c.change, roots, cluster);
      const got =
        a.scope === "partitions"
          ? a.partitions
          : a.scope === "policy"
            ? `policy:${a.name}`
            : a.scope;
      assert.deepEqual(got, c.want);
    });
  }

  it("merges marks until taken, and 'all' absorbs partitions", () => {
    const marks = new DirtyMarks();
    marks.mark("p", ["namespace/a"]);
    marks.mark("p", ["namespace/b", "namespace/a"]);
    assert.deepEqual([...(marks.take("p") as Set<string>)], ["namespace/a", "namespace/b"]);
    marks.mark("p", ["namespace/a"]);
    marks.mark("p", "all");
    marks.mark("p", ["namespace/c"]);
    assert.equal(marks.take("p"), "all");
    assert.deepEqual([...(marks.take("p") as Set<string>)], []);
  });
});

const policy = defaultPolicy();

describe("partition store", () => {
  it("gives the same report after re-evaluating one namespace as a full evaluation", () => {
    const objects = example("insecure-mesh");
    const store = new PartitionStore(CHECKS, options);
    store.evaluate(snap(objects), policy, "all", NOW);
    // Turn the legacy namespace's PERMISSIVE policy into STRICT and re-evaluate that namespace.
    const changed = objects.map((o) =>
      o.kind === "PeerAuthentication" && o.metadata.namespace === "legacy"
        ? { ...o, spec: { mtls: { mode: "STRICT" } } }
        : o,
    );
    const partial = store.evaluate(snap(changed), policy, new Set(["namespace/legacy"]), NOW);
    assert.equal(partial.evaluated, 1);
    assert.equal(partial.full, false);
    const full = new PartitionStore(CHECKS, options).evaluate(snap(changed), policy, "all", NOW);
    assert.deepEqual(withoutTime(partial.report), withoutTime(full.report));
  });

  it("evaluates everything again when the policy's generation changes", () => {
    const objects = example("hardened-mesh");
    const store = new PartitionStore(CHECKS, options);
    store.evaluate(snap(objects), { ...policy, generation: 1 }, "all", NOW);
    const again = store.evaluate(snap(objects), { ...policy, generation: 2 }, new Set(), NOW);
    assert.equal(again.full, true);
    assert.equal(again.evaluated, again.partitions);
  });

  it("drops the stored partition of a namespace that is gone", () => {
    const objects = example("insecure-mesh");
    const store = new PartitionStore(CHECKS, options);
    const first = store.evaluate(snap(objects), policy, "all", NOW);
    const rest = objects.filter(
      (o) => o.metadata.namespace !== "legacy" && o.metadata.name !== "legacy",
    );
    const second = store.evaluate(snap(rest), policy, new Set(), NOW);
    assert.equal(second.partitions, first.partitions - 1);
  });
});

describe("report caps", () => {
  /** 10,000 enrolled namespaces, each with a PERMISSIVE policy and an unmeshed pod. */
  function violatingNamespaces(n: number): KubeObject[] {
    const objects: KubeObject[] = [];
    for (let i = 0; i < n; i++) {
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
    return objects;
  }

  it("keeps a report of 10,000 violating namespaces under 256 KiB, counting what it leaves out", () => {
    const full = new PartitionStore(CHECKS, options).evaluate(
      snap(violatingNamespaces(10_000)),
      policy,
      "all",
      NOW,
    ).report;
    assert.ok(byteSize(full) > 1_000_000, `the uncapped report is ${byteSize(full)} bytes`);
    const capped = capReport(full, {
      maxFindingsPerThreat: 20,
      maxNamespaces: 50,
      maxBytes: 200_000,
    });
    assert.ok(byteSize(capped) < 256 * 1024, `the capped report is ${byteSize(capped)} bytes`);
    const s01 = capped.threats.find((t) => t.id === "S-01");
    assert.ok(s01 && s01.findings.length > 0 && s01.omittedFindings > 0);
    assert.equal(s01.findings.length + s01.omittedFindings, s01.counts.open + s01.counts.waived);
    assert.equal(capped.namespaces.length, 50);
    assert.equal(capped.namespaces.length + capped.omittedNamespaces, full.namespaces.length);
    assert.deepEqual(capped.summary, full.summary);
  });

  it("lists fewer findings per threat when the policy's cap would exceed the byte budget", () => {
    const full = new PartitionStore(CHECKS, options).evaluate(
      snap(violatingNamespaces(300)),
      policy,
      "all",
      NOW,
    ).report;
    const roomy = capReport(full, {
      maxFindingsPerThreat: 200,
      maxNamespaces: 50,
      maxBytes: 10_000_000,
    });
    const tight = capReport(full, {
      maxFindingsPerThreat: 200,
      maxNamespaces: 50,
      maxBytes: 60_000,
    });
    assert.ok(byteSize(tight) <= 60_000);
    const count = (r: ComplianceReportStatus) =>
      r.threats.reduce((n, t) => n + t.findings.length, 0);
    assert.ok(count(tight) < count(roomy));
  });
});
