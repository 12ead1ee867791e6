import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Check } from "../../../operator/engine/check.js";
import {
  mtlsConflictingPolicies,
  mtlsEffectivePlaintext,
  mtlsMeshNotStrict,
  mtlsPermissivePolicy,
  mtlsPortLevelIgnored,
} from "../../../operator/engine/checks/mtls.js";
import { resolveMtls } from "../../../operator/engine/mtls.js";
import { Snapshot } from "../../../operator/engine/snapshot.js";
import { objectsFromYaml, resources, runCheck } from "../../support/engine.js";

interface PaOptions {
  mode?: string;
  selector?: Record<string, string>;
  emptySelector?: boolean;
  ports?: Record<string, string | undefined>;
  created?: string;
}

/** A PeerAuthentication as YAML. */
function pa(namespace: string, name: string, o: PaOptions = {}): string {
  const lines = [
    "apiVersion: security.istio.io/v1",
    "kind: PeerAuthentication",
    "metadata:",
    `  name: ${name}`,
    `  namespace: ${namespace}`,
  ];
  if (o.created) lines.push(`  creationTimestamp: "${o.created}"`);
  lines.push("spec:");
  if (o.emptySelector) lines.push("  selector:", "    matchLabels: {}");
  if (o.selector) {
    lines.push("  selector:", "    matchLabels:");
    for (const [k, v] of Object.entries(o.selector)) lines.push(`      ${k}: ${v}`);
  }
  if (o.mode) lines.push("  mtls:", `    mode: ${o.mode}`);
  if (o.ports) {
    lines.push("  portLevelMtls:");
    for (const [port, mode] of Object.entries(o.ports)) {
      lines.push(`    "${port}":`, mode ? `      mode: ${mode}` : "      {}");
    }
  }
  if (lines[lines.length - 1] === "spec:") lines.push("  {}");
  return lines.join("\n");
}

/** A meshed pod (istio-proxy as a native sidecar) with container ports. */
function pod(
  namespace: string,
  name: string,
  labels: Record<string, string>,
  ports: number[] = [],
) {
  const labelLines = Object.entries(labels).map(([k, v]) => `    ${k}: ${v}`);
  const portLines = ports.map((p) => `        - containerPort: ${p}`);
  return [
    "apiVersion: v1",
    "kind: Pod",
    "metadata:",
    `  name: ${name}`,
    `  namespace: ${namespace}`,
    "  labels:",
    ...(labelLines.length > 0 ? labelLines : ["    none: none"]),
    "spec:",
    "  initContainers:",
    "    - name: istio-proxy",
    "      restartPolicy: Always",
    "  containers:",
    "    - name: app",
    ...(portLines.length > 0 ? ["      ports:", ...portLines] : []),
  ].join("\n");
}

function ns(name: string, labels = "istio-injection: enabled"): string {
  return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n  labels:\n    ${labels}`;
}

function svc(namespace: string, name: string, selector: string, port: number, target: number) {
  return [
    "apiVersion: v1",
    "kind: Service",
    "metadata:",
    `  name: ${name}`,
    `  namespace: ${namespace}`,
    "spec:",
    "  selector:",
    `    ${selector}`,
    "  ports:",
    `    - port: ${port}`,
    `      targetPort: ${target}`,
  ].join("\n");
}

const doc = (...parts: string[]): string => parts.join("\n---\n");
const MESH_STRICT = pa("istio-system", "default", { mode: "STRICT" });
const BASE = doc(ns("istio-system", "topology.istio.io/network: x"), ns("app"));

interface ResolveCase {
  name: string;
  yaml: string;
  namespace: string;
  labels?: Record<string, string>;
  mode: string;
  source?: string;
  ports?: string[];
  ignored?: string[];
}

const RESOLVE: ResolveCase[] = [
  {
    name: "is PERMISSIVE when no PeerAuthentication exists",
    yaml: BASE,
    namespace: "app",
    mode: "PERMISSIVE",
  },
  {
    name: "inherits the mesh-wide mode when the namespace sets none",
    yaml: doc(BASE, MESH_STRICT),
    namespace: "app",
    mode: "STRICT",
    source: "mesh istio-system/default",
  },
  {
    name: "treats a mesh-wide UNSET as PERMISSIVE",
    yaml: doc(BASE, pa("istio-system", "default", { mode: "UNSET" })),
    namespace: "app",
    mode: "PERMISSIVE",
  },
  {
    name: "lets a namespace UNSET inherit the mesh-wide STRICT",
    yaml: doc(BASE, MESH_STRICT, pa("app", "ns", { mode: "UNSET" })),
    namespace: "app",
    mode: "STRICT",
    source: "mesh istio-system/default",
  },
  {
    name: "lets a namespace policy without mtls inherit the mesh-wide STRICT",
    yaml: doc(BASE, MESH_STRICT, pa("app", "ns")),
    namespace: "app",
    mode: "STRICT",
  },
  {
    name: "lets a namespace policy override the mesh-wide one",
    yaml: doc(BASE, MESH_STRICT, pa("app", "ns", { mode: "PERMISSIVE" })),
    namespace: "app",
    mode: "PERMISSIVE",
    source: "namespace app/ns",
  },
  {
    name: "treats an empty selector as namespace level",
    yaml: doc(BASE, MESH_STRICT, pa("app", "ns", { mode: "DISABLE", emptySelector: true })),
    namespace: "app",
    mode: "DISABLE",
    source: "namespace app/ns",
  },
  {
    name: "lets a workload UNSET inherit the namespace mode",
    yaml: doc(
      BASE,
      pa("app", "ns", { mode: "STRICT" }),
      pa("app", "w", { selector: { app: "a" }, mode: "UNSET" }),
    ),
    namespace: "app",
    labels: { app: "a" },
    mode: "STRICT",
    source: "namespace app/ns",
  },
  {
    name: "lets a workload policy override the namespace for the workloads it selects only",
    yaml: doc(BASE, MESH_STRICT, pa("app", "w", { selector: { app: "a" }, mode: "PERMISSIVE" })),
    namespace: "app",
    labels: { app: "b" },
    mode: "STRICT",
  },
  {
    name: "picks the oldest of two namespace-level policies",
    yaml: doc(
      BASE,
      pa("app", "newer", { mode: "STRICT", created: "2025-02-01T00:00:00Z" }),
      pa("app", "older", { mode: "PERMISSIVE", created: "2025-01-01T00:00:00Z" }),
    ),
    namespace: "app",
    mode: "PERMISSIVE",
    source: "namespace app/older",
    ignored: ["newer:duplicate"],
  },
  {
    name: "breaks a creation-time tie by name",
    yaml: doc(
      BASE,
      pa("app", "b", { mode: "STRICT", created: "2025-01-01T00:00:00Z" }),
      pa("app", "a", { mode: "DISABLE", created: "2025-01-01T00:00:00Z" }),
    ),
    namespace: "app",
    mode: "DISABLE",
    source: "namespace app/a",
    ignored: ["b:duplicate"],
  },
  {
    name: "ignores a root-namespace policy with a selector entirely",
    yaml: doc(
      BASE,
      MESH_STRICT,
      pa("istio-system", "sel", { selector: { app: "a" }, mode: "DISABLE" }),
    ),
    namespace: "app",
    labels: { app: "a" },
    mode: "STRICT",
    ignored: ["sel:root-selector"],
  },
  {
    name: "gives an UNSET port the workload's resolved mode",
    yaml: doc(
      BASE,
      pa("app", "ns", { mode: "PERMISSIVE" }),
      pa("app", "w", { selector: { app: "a" }, ports: { "8080": undefined, "9090": "STRICT" } }),
    ),
    namespace: "app",
    labels: { app: "a" },
    mode: "PERMISSIVE",
    ports: ["8080:PERMISSIVE", "9090:STRICT"],
  },
  {
    name: "ignores port-level settings on a selector-less policy",
    yaml: doc(BASE, pa("app", "ns", { mode: "STRICT", ports: { "8080": "DISABLE" } })),
    namespace: "app",
    labels: { app: "a" },
    mode: "STRICT",
    ports: [],
    ignored: ["ns:port-level-without-selector"],
  },
];

describe("effective mTLS resolution", () => {
  for (const c of RESOLVE) {
    it(c.name, () => {
      const snapshot = new Snapshot(objectsFromYaml(c.yaml));
      const got = resolveMtls(snapshot, "istio-system", c.namespace, c.labels);
      assert.equal(got.mode, c.mode);
      if (c.source !== undefined) {
        assert.equal(
          `${got.source?.level} ${got.source?.policy.namespace}/${got.source?.policy.name}`,
          c.source,
        );
      }
      if (c.ports !== undefined)
        assert.deepEqual(
          got.ports.map((p) => `${p.port}:${p.mode}`),
          c.ports,
        );
      if (c.ignored !== undefined) {
        assert.deepEqual(got.ignored.map((i) => `${i.policy.name}:${i.reason}`).sort(), c.ignored);
      }
    });
  }
});

interface CheckCase {
  name: string;
  check: Check;
  yaml: string;
  expect: string[];
  severities?: string[];
  message?: RegExp;
}

const CASES: CheckCase[] = [
  // mtls-mesh-not-strict
  {
    name: "reports the root namespace when no mesh-wide policy exists",
    check: mtlsMeshNotStrict,
    yaml: BASE,
    expect: ["Namespace istio-system"],
  },
  {
    name: "passes a mesh-wide STRICT policy",
    check: mtlsMeshNotStrict,
    yaml: doc(BASE, MESH_STRICT),
    expect: [],
  },
  {
    name: "reports a mesh-wide UNSET policy by name",
    check: mtlsMeshNotStrict,
    yaml: doc(BASE, pa("istio-system", "default", { mode: "UNSET" })),
    expect: ["PeerAuthentication istio-system/default"],
    message: /UNSET/,
  },
  {
    name: "reports the oldest mesh-wide policy when a newer STRICT one exists",
    check: mtlsMeshNotStrict,
    yaml: doc(
      BASE,
      pa("istio-system", "strict", { mode: "STRICT", created: "2025-02-01T00:00:00Z" }),
      pa("istio-system", "permissive", { mode: "PERMISSIVE", created: "2025-01-01T00:00:00Z" }),
    ),
    expect: ["PeerAuthentication istio-system/permissive"],
  },
  {
    name: "does not count a root-namespace policy with a selector as mesh-wide",
    check: mtlsMeshNotStrict,
    yaml: doc(BASE, pa("istio-system", "sel", { selector: { app: "a" }, mode: "STRICT" })),
    expect: ["Namespace istio-system"],
  },
  // mtls-effective-plaintext
  {
    name: "reports a meshed pod that inherits PERMISSIVE from the default",
    check: mtlsEffectivePlaintext,
    yaml: doc(BASE, pod("app", "a", { app: "a" }, [8080])),
    expect: ["Pod app/a"],
    message: /8080 \(PERMISSIVE\)/,
  },
  {
    name: "passes a meshed pod under a mesh-wide STRICT policy",
    check: mtlsEffectivePlaintext,
    yaml: doc(BASE, MESH_STRICT, pod("app", "a", { app: "a" }, [8080])),
    expect: [],
  },
  {
    name: "lists a port-level DISABLE exception of a STRICT workload as critical",
    check: mtlsEffectivePlaintext,
    yaml: doc(
      BASE,
      MESH_STRICT,
      pa("app", "w", { selector: { app: "a" }, ports: { "9090": "DISABLE" } }),
      pod("app", "a", { app: "a" }, [8080, 9090]),
    ),
    expect: ["Pod app/a"],
    severities: ["critical"],
    message: /9090 \(DISABLE\)/,
  },
  {
    name: "ignores a port-level exception of a selector-less policy",
    check: mtlsEffectivePlaintext,
    yaml: doc(
      BASE,
      pa("app", "ns", { mode: "STRICT", ports: { "8080": "DISABLE" } }),
      pod("app", "a", { app: "a" }, [8080]),
    ),
    expect: [],
  },
  {
    name: "judges the namespace when it has no workloads",
    check: mtlsEffectivePlaintext,
    yaml: doc(BASE, pa("app", "ns", { mode: "DISABLE" })),
    expect: ["Namespace app"],
    severities: ["critical"],
  },
  {
    name: "skips pods outside the mesh (workload-outside-mesh reports them)",
    check: mtlsEffectivePlaintext,
    yaml: doc(
      BASE,
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: plain\n  namespace: app\n  labels:\n    sidecar.istio.io/inject: "false"\nspec:\n  containers:\n    - name: app',
    ),
    expect: [],
  },
  {
    name: "says when the verdict comes from a pod template",
    check: mtlsEffectivePlaintext,
    yaml: doc(
      BASE,
      "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: app\nspec:\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n        - name: app",
    ),
    expect: ["Deployment app/web"],
    message: /pod template/,
  },
  // mtls-conflicting-policies
  {
    name: "reports the namespace PeerAuthentication as ignored when an older one exists",
    check: mtlsConflictingPolicies,
    yaml: doc(
      BASE,
      pa("app", "older", { mode: "STRICT", created: "2025-01-01T00:00:00Z" }),
      pa("app", "newer", { mode: "PERMISSIVE", created: "2025-02-01T00:00:00Z" }),
    ),
    expect: ["PeerAuthentication app/newer"],
    message: /app\/older .* in force/,
  },
  {
    name: "passes a single namespace policy and a single workload policy",
    check: mtlsConflictingPolicies,
    yaml: doc(
      BASE,
      pa("app", "ns", { mode: "STRICT" }),
      pa("app", "w", { selector: { app: "a" }, mode: "STRICT" }),
    ),
    expect: [],
  },
  {
    name: "reports the later of two workload policies that select the same pod",
    check: mtlsConflictingPolicies,
    yaml: doc(
      BASE,
      pa("app", "by-app", {
        selector: { app: "a" },
        mode: "STRICT",
        created: "2025-01-01T00:00:00Z",
      }),
      pa("app", "by-tier", {
        selector: { tier: "web" },
        mode: "DISABLE",
        created: "2025-03-01T00:00:00Z",
      }),
      pod("app", "a", { app: "a", tier: "web" }),
    ),
    expect: ["PeerAuthentication app/by-tier"],
  },
  {
    name: "reports a root-namespace policy with a selector as ignored entirely",
    check: mtlsConflictingPolicies,
    yaml: doc(
      BASE,
      MESH_STRICT,
      pa("istio-system", "sel", { selector: { app: "grafana" }, ports: { "3000": "DISABLE" } }),
    ),
    expect: ["PeerAuthentication istio-system/sel"],
    message: /ignores it entirely/,
  },
  {
    name: "reports duplicate mesh-wide policies, breaking the tie by name",
    check: mtlsConflictingPolicies,
    yaml: doc(
      BASE,
      pa("istio-system", "b", { mode: "STRICT" }),
      pa("istio-system", "a", { mode: "PERMISSIVE" }),
    ),
    expect: ["PeerAuthentication istio-system/b"],
  },
  // mtls-port-level-ignored
  {
    name: "reports portLevelMtls on a selector-less policy",
    check: mtlsPortLevelIgnored,
    yaml: doc(BASE, pa("app", "ns", { mode: "STRICT", ports: { "8080": "DISABLE" } })),
    expect: ["PeerAuthentication app/ns"],
  },
  {
    name: "reports a port key that is the Service port instead of the target port",
    check: mtlsPortLevelIgnored,
    yaml: doc(
      BASE,
      pa("app", "w", { selector: { app: "a" }, ports: { "80": "DISABLE" } }),
      pod("app", "a", { app: "a" }),
      svc("app", "a", "app: a", 80, 8080),
    ),
    expect: ["PeerAuthentication app/w"],
    message: /80 is a Service port whose target port is 8080/,
  },
  {
    name: "accepts a target port that is not declared as a container port",
    check: mtlsPortLevelIgnored,
    yaml: doc(
      BASE,
      pa("app", "w", { selector: { app: "a" }, ports: { "8080": "DISABLE" } }),
      pod("app", "a", { app: "a" }),
      svc("app", "a", "app: a", 80, 8080),
    ),
    expect: [],
  },
  {
    name: "does not judge port keys when the selected workloads are not in the input",
    check: mtlsPortLevelIgnored,
    yaml: doc(BASE, pa("app", "w", { selector: { app: "a" }, ports: { "1234": "DISABLE" } })),
    expect: [],
  },
  // mtls-permissive-policy
  {
    name: "reports a PERMISSIVE namespace policy as high",
    check: mtlsPermissivePolicy,
    yaml: doc(BASE, pa("app", "ns", { mode: "PERMISSIVE" })),
    expect: ["PeerAuthentication app/ns"],
    severities: ["high"],
  },
  {
    name: "reports a DISABLE mesh-wide policy as critical",
    check: mtlsPermissivePolicy,
    yaml: doc(BASE, pa("istio-system", "default", { mode: "DISABLE" })),
    expect: ["PeerAuthentication istio-system/default"],
    severities: ["critical"],
  },
  {
    name: "reports a STRICT workload policy with a port-level DISABLE",
    check: mtlsPermissivePolicy,
    yaml: doc(
      BASE,
      pa("app", "w", { selector: { app: "a" }, mode: "STRICT", ports: { "8080": "DISABLE" } }),
    ),
    expect: ["PeerAuthentication app/w"],
    severities: ["critical"],
  },
  {
    name: "passes STRICT, UNSET and empty policies",
    check: mtlsPermissivePolicy,
    yaml: doc(BASE, MESH_STRICT, pa("app", "a", { mode: "UNSET" }), pa("app", "b")),
    expect: [],
  },
];

describe("mTLS checks", () => {
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

  it("reports unknown, not a pass, when PeerAuthentications cannot be read", () => {
    const run = runCheck(mtlsMeshNotStrict, BASE, {
      snapshot: { unavailable: new Map([["security.istio.io/PeerAuthentication", "forbidden"]]) },
    });
    assert.deepEqual(run.findings, []);
    assert.equal(run.unknown.length, 1);
  });

  it("never throws on wrong field types", () => {
    const yaml = doc(
      BASE,
      "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata:\n  name: odd\n  namespace: app\nspec:\n  selector: wrong\n  mtls: [1]\n  portLevelMtls: nope",
      pod("app", "a", { app: "a" }),
    );
    for (const check of [
      mtlsMeshNotStrict,
      mtlsEffectivePlaintext,
      mtlsConflictingPolicies,
      mtlsPortLevelIgnored,
      mtlsPermissivePolicy,
    ]) {
      assert.doesNotThrow(() => runCheck(check, yaml));
    }
  });
});
