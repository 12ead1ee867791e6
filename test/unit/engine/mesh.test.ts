import assert from "node:assert/strict";
import { describe, it } from "node:test";
import yaml from "js-yaml";
import { Mesh } from "../../../operator/engine/mesh.js";
import { defaultPolicy } from "../../../operator/engine/policy.js";
import { Snapshot } from "../../../operator/engine/snapshot.js";
import { objectsFromYaml } from "../../support/engine.js";

function mesh(text: string, assume = false): Mesh {
  return new Mesh(new Snapshot(objectsFromYaml(text)), defaultPolicy(), {
    parseYaml: (t) => yaml.load(t),
    assumeUndeclaredNamespacesEnrolled: assume,
  });
}

const ns = (name: string, labels: Record<string, string> = {}): string =>
  yaml.dump({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels } });

const injector = (name: string, labels: Record<string, string> = {}): string =>
  yaml.dump({
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name, labels },
    webhooks: [],
  });

describe("namespace enrolment", () => {
  const cases: { name: string; input: string[]; namespace: string; mode: string }[] = [
    {
      name: "enrols a namespace labelled istio-injection=enabled",
      input: [ns("a", { "istio-injection": "enabled" })],
      namespace: "a",
      mode: "sidecar",
    },
    {
      name: "lets istio-injection=disabled override istio.io/rev",
      input: [ns("a", { "istio-injection": "disabled", "istio.io/rev": "canary" })],
      namespace: "a",
      mode: "none",
    },
    {
      name: "enrols istio.io/rev when it names an installed revision",
      input: [
        ns("a", { "istio.io/rev": "canary" }),
        injector("istio-sidecar-injector-canary", { "istio.io/rev": "canary" }),
      ],
      namespace: "a",
      mode: "sidecar",
    },
    {
      name: "does not enrol istio.io/rev naming a revision that is not installed",
      input: [ns("a", { "istio.io/rev": "old" }), injector("istio-sidecar-injector")],
      namespace: "a",
      mode: "none",
    },
    {
      name: "enrols istio.io/rev naming a revision tag",
      input: [
        ns("a", { "istio.io/rev": "prod" }),
        injector("istio-revision-tag-prod", { "istio.io/tag": "prod", "istio.io/rev": "1-27" }),
      ],
      namespace: "a",
      mode: "sidecar",
    },
    {
      name: "enrols ambient namespaces",
      input: [ns("a", { "istio.io/dataplane-mode": "ambient" })],
      namespace: "a",
      mode: "ambient",
    },
    {
      name: "never enrols kube-system, whatever its labels",
      input: [ns("kube-system", { "istio-injection": "enabled" })],
      namespace: "kube-system",
      mode: "none",
    },
    {
      name: "leaves unlabelled namespaces out",
      input: [ns("a")],
      namespace: "a",
      mode: "none",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(mesh(c.input.join("---\n")).enrollment(c.namespace).mode, c.mode);
    });
  }

  it("assumes an undeclared namespace is enrolled in an offline scan, and says so", () => {
    const m = mesh("apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: shop}\n", true);
    assert.equal(m.enrollment("shop").mode, "sidecar");
    assert.ok(m.enrollment("shop").assumed);
    assert.match(m.assumptions.join("\n"), /shop .*assumed enrolled/);
  });

  it("never assumes the root namespace is enrolled", () => {
    const m = mesh(
      "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: istio-system}\n",
      true,
    );
    assert.equal(m.enrollment("istio-system").mode, "none");
  });

  it("marks namespaces outside the mesh config's discoverySelectors as ignored by Istio", () => {
    const cm = yaml.dump({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "istio", namespace: "istio-system" },
      data: { mesh: "discoverySelectors:\n- matchLabels: {mesh: yes}\n" },
    });
    const m = mesh([cm, ns("a", { "istio-injection": "enabled" })].join("---\n"));
    assert.ok(m.enrollment("a").ignoredByIstio);
  });

  it("reads the root namespace from the mesh config", () => {
    const cm = yaml.dump({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "istio", namespace: "istio-system" },
      data: { mesh: "rootNamespace: mesh-root\n" },
    });
    assert.equal(mesh(cm).rootNamespace, "mesh-root");
  });
});

describe("workloads", () => {
  const base = ns("shop", { "istio-injection": "enabled" });

  it("judges running pods and skips the template they came from", () => {
    const m = mesh(`${base}---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec:
  initContainers: [{name: istio-proxy, image: proxyv2, restartPolicy: Always}]
  containers: [{name: web, image: web}]
`);
    const w = m.workloads("shop");
    assert.deepEqual(
      w.map((x) => [x.ref.kind, x.ref.name, x.dataPlane]),
      [["Pod", "web-1", "sidecar"]],
    );
  });

  it("predicts injection for a template in an enrolled namespace, and honours the label opt-out over the annotation", () => {
    const m = mesh(`${base}---
apiVersion: apps/v1
kind: Deployment
metadata: {name: in, namespace: shop}
spec: {template: {metadata: {labels: {app: in}}, spec: {containers: [{name: a}]}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: out, namespace: shop}
spec:
  template:
    metadata:
      labels: {app: out, sidecar.istio.io/inject: "false"}
      annotations: {sidecar.istio.io/inject: "true"}
    spec: {containers: [{name: a}]}
`);
    const planes = Object.fromEntries(m.workloads("shop").map((w) => [w.ref.name, w.dataPlane]));
    assert.deepEqual(planes, { in: "sidecar", out: "none" });
  });

  it("ignores completed pods and reads CronJob templates", () => {
    const m = mesh(`${base}---
apiVersion: v1
kind: Pod
metadata: {name: done, namespace: shop}
spec: {containers: [{name: a}]}
status: {phase: Succeeded}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop}
spec: {jobTemplate: {spec: {template: {metadata: {labels: {app: n}}, spec: {containers: [{name: a}]}}}}}
`);
    assert.deepEqual(
      m.workloads("shop").map((w) => `${w.ref.kind}/${w.ref.name}/${String(w.fromTemplate)}`),
      ["CronJob/nightly/true"],
    );
  });

  it("lets a pod opt in with sidecar.istio.io/inject=true in an unlabelled namespace", () => {
    const m = mesh(`${ns("free")}---
apiVersion: apps/v1
kind: Deployment
metadata: {name: in, namespace: free}
spec: {template: {metadata: {labels: {sidecar.istio.io/inject: "true"}}, spec: {containers: [{name: a}]}}}
`);
    assert.equal(m.workloads("free")[0]?.dataPlane, "sidecar");
  });
});
