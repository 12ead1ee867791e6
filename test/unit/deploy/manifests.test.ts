// The rendered manifests: what each overlay leaves in or out, the Deployment's hardening, and that
// the project's renderer agrees with `kubectl kustomize` wherever kubectl is installed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { loadAll } from "js-yaml";
import { renderKustomization, type Manifest } from "../../../hack/render-manifests.js";
import { parseThreatPolicy } from "../../../operator/engine/policy.js";

const root = new URL("../../../../", import.meta.url);
const deploy = (path: string): string => fileURLToPath(new URL(`deploy/${path}`, root));
const NAMESPACE = "mesh-compliance-system";
const CLUSTER_SCOPED = new Set([
  "Namespace",
  "ClusterRole",
  "ClusterRoleBinding",
  "ThreatPolicy",
  "CustomResourceDefinition",
]);

const TARGETS = ["base", "overlays/no-prometheus-operator", "overlays/no-secrets"];

const ids = (objects: Manifest[]): string[] =>
  objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`).sort();

function kubectlAvailable(): boolean {
  return spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).status === 0;
}

/** The value at a dotted path (`spec.template.spec.containers.0.name`), or undefined. */
function at(value: unknown, path: string): unknown {
  let node = value;
  for (const step of path.split(".")) {
    node =
      typeof node === "object" && node !== null
        ? (node as Record<string, unknown>)[step]
        : undefined;
  }
  return node;
}

const base = renderKustomization(deploy("base"));

function find(objects: Manifest[], kind: string): Manifest {
  const found = objects.find((o) => o.kind === kind);
  assert.ok(found, `no ${kind}`);
  return found;
}

describe("rendered manifests", () => {
  it("renders the base with every object the installation needs", () => {
    assert.deepEqual(ids(base), [
      "ClusterRole /mesh-compliance-operator",
      "ClusterRoleBinding /mesh-compliance-operator",
      `Deployment ${NAMESPACE}/mesh-compliance-operator`,
      "Namespace /mesh-compliance-system",
      `PodDisruptionBudget ${NAMESPACE}/mesh-compliance-operator`,
      `PrometheusRule ${NAMESPACE}/mesh-compliance-operator`,
      `Role ${NAMESPACE}/mesh-compliance-operator-leader-election`,
      `RoleBinding ${NAMESPACE}/mesh-compliance-operator-leader-election`,
      `Service ${NAMESPACE}/mesh-compliance-operator-metrics`,
      `ServiceAccount ${NAMESPACE}/mesh-compliance-operator`,
      `ServiceMonitor ${NAMESPACE}/mesh-compliance-operator`,
      "ThreatPolicy /default",
    ]);
  });

  it("puts every namespaced object in the operator's namespace", () => {
    for (const o of base) {
      if (CLUSTER_SCOPED.has(o.kind)) assert.equal(o.metadata.namespace, undefined, o.kind);
      else assert.equal(o.metadata.namespace, NAMESPACE, `${o.kind} ${o.metadata.name}`);
    }
  });

  it("drops only the ServiceMonitor and PrometheusRule without the Prometheus Operator", () => {
    const overlay = renderKustomization(deploy("overlays/no-prometheus-operator"));
    const dropped = ids(base).filter((id) => !ids(overlay).includes(id));
    assert.deepEqual(dropped, [
      `PrometheusRule ${NAMESPACE}/mesh-compliance-operator`,
      `ServiceMonitor ${NAMESPACE}/mesh-compliance-operator`,
    ]);
    assert.equal(ids(overlay).length, ids(base).length - 2);
  });

  it("keeps every object in the no-secrets overlay and changes only the ClusterRole", () => {
    const overlay = renderKustomization(deploy("overlays/no-secrets"));
    assert.deepEqual(ids(overlay), ids(base));
    const before = new Map(base.map((o) => [ids([o])[0], JSON.stringify(o)]));
    const changed = overlay.filter((o) => before.get(ids([o])[0]) !== JSON.stringify(o));
    assert.deepEqual(ids(changed), ["ClusterRole /mesh-compliance-operator"]);
  });

  const deployment = find(base, "Deployment");
  const pod = at(deployment, "spec.template.spec");
  const container = at(pod, "containers.0");

  it("runs two replicas, as non-root with the runtime's default seccomp profile", () => {
    assert.equal(at(deployment, "spec.replicas"), 2);
    assert.equal(at(pod, "securityContext.runAsNonRoot"), true);
    assert.deepEqual(at(pod, "securityContext.seccompProfile"), { type: "RuntimeDefault" });
    assert.equal((at(pod, "containers") as unknown[]).length, 1);
  });

  it("runs the container read-only, without privilege escalation or capabilities", () => {
    assert.equal(at(container, "securityContext.readOnlyRootFilesystem"), true);
    assert.equal(at(container, "securityContext.allowPrivilegeEscalation"), false);
    assert.deepEqual(at(container, "securityContext.capabilities"), { drop: ["ALL"] });
  });

  it("sets requests and limits, and probes /healthz and /readyz on the metrics port", () => {
    for (const path of ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"]) {
      assert.equal(typeof at(container, `resources.${path}`), "string", path);
    }
    assert.deepEqual(at(container, "ports"), [
      { name: "http-metrics", containerPort: 8080, protocol: "TCP" },
    ]);
    const probe = (name: string): unknown => at(container, `${name}.httpGet`);
    assert.deepEqual(probe("livenessProbe"), { path: "/healthz", port: "http-metrics" });
    assert.deepEqual(probe("readinessProbe"), { path: "/readyz", port: "http-metrics" });
  });

  it("ships a default ThreatPolicy that the operator accepts", () => {
    const policy = parseThreatPolicy(find(base, "ThreatPolicy"));
    assert.equal(policy.name, "default");
    assert.equal(policy.maxFindingsPerThreat, 20);
  });

  for (const target of TARGETS) {
    it(
      `renders ${target} as kubectl kustomize does`,
      { skip: kubectlAvailable() ? undefined : "kubectl is not installed" },
      () => {
        const run = spawnSync("kubectl", ["kustomize", deploy(target)], { encoding: "utf8" });
        assert.equal(run.status, 0, run.stderr);
        const theirs = loadAll(run.stdout).filter(Boolean) as Manifest[];
        const ours = renderKustomization(deploy(target));
        const byId = (list: Manifest[]): Map<string, Manifest> =>
          new Map(list.map((o) => [ids([o])[0]!, o]));
        assert.deepEqual(byId(ours), byId(theirs));
      },
    );
  }
});
