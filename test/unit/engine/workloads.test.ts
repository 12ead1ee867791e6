import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Check } from "../../../operator/engine/check.js";
import {
  proxyCaptureBypass,
  workloadOutsideMesh,
} from "../../../operator/engine/checks/workloads.js";
import { resources, runCheck } from "../../support/engine.js";

const NS = `apiVersion: v1
kind: Namespace
metadata:
  name: app
  labels:
    istio-injection: enabled`;

interface PodOptions {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Where istio-proxy sits: a native sidecar, a regular container, or absent. */
  proxy?: "native" | "container" | "none";
  hostNetwork?: boolean;
  podSecurity?: string;
  appSecurity?: string;
}

function map(indent: string, values: Record<string, string> | undefined): string[] {
  return Object.entries(values ?? {}).map(([k, v]) => `${indent}${k}: ${JSON.stringify(v)}`);
}

function pod(name: string, o: PodOptions = {}): string {
  const proxy = o.proxy ?? "native";
  const lines = ["apiVersion: v1", "kind: Pod", "metadata:", `  name: ${name}`, "  namespace: app"];
  if (o.labels) lines.push("  labels:", ...map("    ", o.labels));
  if (o.annotations) lines.push("  annotations:", ...map("    ", o.annotations));
  lines.push("spec:");
  if (o.hostNetwork) lines.push("  hostNetwork: true");
  if (o.podSecurity) lines.push(`  securityContext: ${o.podSecurity}`);
  if (proxy === "native") {
    lines.push("  initContainers:", "    - name: istio-proxy", "      restartPolicy: Always");
  }
  lines.push("  containers:", "    - name: app");
  if (o.appSecurity) lines.push(`      securityContext: ${o.appSecurity}`);
  if (proxy === "container") {
    lines.push(
      "    - name: istio-proxy",
      "      securityContext: {runAsUser: 1337, runAsGroup: 1337}",
    );
  }
  return lines.join("\n");
}

const doc = (...parts: string[]): string => parts.join("\n---\n");

/** What Istio CNI and the injector write on every pod: none of it is a bypass. */
const CNI_DEFAULTS = {
  "sidecar.istio.io/status": "{}",
  "traffic.sidecar.istio.io/includeInboundPorts": "*",
  "traffic.sidecar.istio.io/excludeInboundPorts": "15020",
  "traffic.sidecar.istio.io/includeOutboundIPRanges": "*",
  "sidecar.istio.io/interceptionMode": "REDIRECT",
};

interface Case {
  name: string;
  check: Check;
  yaml: string;
  expect: string[];
  severities?: string[];
  message?: RegExp;
}

const CASES: Case[] = [
  // workload-outside-mesh
  {
    name: "reports a pod without a sidecar in an enrolled namespace",
    check: workloadOutsideMesh,
    yaml: doc(NS, pod("plain", { proxy: "none" })),
    expect: ["Pod app/plain"],
    severities: ["high"],
  },
  {
    name: "passes a pod with istio-proxy as a regular container",
    check: workloadOutsideMesh,
    yaml: doc(NS, pod("meshed", { proxy: "container" })),
    expect: [],
  },
  {
    name: "counts a native sidecar in initContainers as meshed",
    check: workloadOutsideMesh,
    yaml: doc(NS, pod("native", { proxy: "native" })),
    expect: [],
  },
  {
    name: "reports a template opted out with the label even when the annotation says true",
    check: workloadOutsideMesh,
    yaml: doc(
      NS,
      `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: app
spec:
  template:
    metadata:
      labels:
        app: web
        sidecar.istio.io/inject: "false"
      annotations:
        sidecar.istio.io/inject: "true"
    spec:
      containers:
        - name: app`,
    ),
    expect: ["Deployment app/web"],
    message:
      /label sidecar.istio.io\/inject=false.*pod template|pod template.*label sidecar.istio.io\/inject=false/,
  },
  {
    name: "passes a template that the namespace's injection will mesh",
    check: workloadOutsideMesh,
    yaml: doc(
      NS,
      "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: app\nspec:\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n        - name: app",
    ),
    expect: [],
  },
  {
    name: "reports a hostNetwork pod at low severity",
    check: workloadOutsideMesh,
    yaml: doc(NS, pod("node-agent", { proxy: "none", hostNetwork: true })),
    expect: ["Pod app/node-agent"],
    severities: ["low"],
  },
  {
    name: "passes an ambient-redirected pod",
    check: workloadOutsideMesh,
    yaml: doc(
      NS,
      pod("amb", { proxy: "none", annotations: { "ambient.istio.io/redirection": "enabled" } }),
    ),
    expect: [],
  },
  {
    name: "ignores namespaces out of scope",
    check: workloadOutsideMesh,
    yaml: doc(
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n  labels:\n    istio-injection: disabled",
      pod("plain", { proxy: "none" }),
    ),
    expect: [],
  },
  // proxy-capture-bypass
  {
    name: "does not treat the annotations Istio CNI writes on every pod as a bypass",
    check: proxyCaptureBypass,
    yaml: doc(NS, pod("a", { annotations: CNI_DEFAULTS })),
    expect: [],
  },
  {
    name: "reports an application port in excludeInboundPorts",
    check: proxyCaptureBypass,
    yaml: doc(
      NS,
      pod("a", {
        annotations: {
          ...CNI_DEFAULTS,
          "traffic.sidecar.istio.io/excludeInboundPorts": "15020,8080",
        },
      }),
    ),
    expect: ["Pod app/a"],
    message: /port\(s\) 8080/,
  },
  {
    name: "reports a narrowed includeInboundPorts",
    check: proxyCaptureBypass,
    yaml: doc(
      NS,
      pod("a", { annotations: { "traffic.sidecar.istio.io/includeInboundPorts": "8080" } }),
    ),
    expect: ["Pod app/a"],
  },
  {
    name: "reports a wide excludeOutboundIPRanges",
    check: proxyCaptureBypass,
    yaml: doc(
      NS,
      pod("a", {
        annotations: { "traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.0.0.0/8" },
      }),
    ),
    expect: ["Pod app/a"],
  },
  {
    name: "passes a single excluded host such as the metadata server",
    check: proxyCaptureBypass,
    yaml: doc(
      NS,
      pod("a", {
        annotations: { "traffic.sidecar.istio.io/excludeOutboundIPRanges": "169.254.169.254/32" },
      }),
    ),
    expect: [],
  },
  {
    name: "reports a narrow includeOutboundIPRanges",
    check: proxyCaptureBypass,
    yaml: doc(
      NS,
      pod("a", {
        annotations: { "traffic.sidecar.istio.io/includeOutboundIPRanges": "10.96.0.0/12" },
      }),
    ),
    expect: ["Pod app/a"],
  },
  {
    name: "reports excludeInterfaces",
    check: proxyCaptureBypass,
    yaml: doc(
      NS,
      pod("a", { annotations: { "traffic.sidecar.istio.io/excludeInterfaces": "eth1" } }),
    ),
    expect: ["Pod app/a"],
  },
  {
    name: "reports interception mode NONE",
    check: proxyCaptureBypass,
    yaml: doc(NS, pod("a", { annotations: { "sidecar.istio.io/interceptionMode": "NONE" } })),
    expect: ["Pod app/a"],
  },
  {
    name: "reports an application container running as UID 1337",
    check: proxyCaptureBypass,
    yaml: doc(NS, pod("a", { proxy: "container", appSecurity: "{runAsUser: 1337}" })),
    expect: ["Pod app/a"],
    message: /container app runs as UID 1337/,
  },
  {
    name: "reports an application container inheriting GID 1337 from the pod",
    check: proxyCaptureBypass,
    yaml: doc(NS, pod("a", { podSecurity: "{runAsGroup: 1337}" })),
    expect: ["Pod app/a"],
    message: /GID 1337/,
  },
  {
    name: "passes when only istio-proxy runs as 1337",
    check: proxyCaptureBypass,
    yaml: doc(
      NS,
      pod("a", { proxy: "container", appSecurity: "{runAsUser: 1000, runAsGroup: 1000}" }),
    ),
    expect: [],
  },
  {
    name: "does not judge capture on pods outside the mesh",
    check: proxyCaptureBypass,
    yaml: doc(
      NS,
      pod("a", {
        proxy: "none",
        labels: { "sidecar.istio.io/inject": "false" },
        annotations: { "sidecar.istio.io/interceptionMode": "NONE" },
      }),
    ),
    expect: [],
  },
];

describe("workload checks", () => {
  for (const c of CASES) {
    it(`${c.check.id}: ${c.name}`, () => {
      const run = runCheck(c.check, c.yaml);
      assert.deepEqual(run.unknown, []);
      assert.deepEqual(resources(run.findings), c.expect);
      if (c.severities)
        assert.deepEqual(
          run.findings.map((f) => f.severity),
          c.severities,
        );
      if (c.message) {
        for (const f of run.findings) assert.match(f.message, c.message);
      }
    });
  }

  it("reports unknown when pods cannot be read", () => {
    const run = runCheck(workloadOutsideMesh, NS, {
      snapshot: { unavailable: new Map([["/Pod", "forbidden"]]) },
    });
    assert.deepEqual(run.findings, []);
    assert.equal(run.unknown.length, 1);
  });
});
