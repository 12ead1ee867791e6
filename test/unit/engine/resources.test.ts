import { describe, it } from "node:test";
import {
  connectionPoolMissing,
  istiodNotHighlyAvailable,
  istiodResourcesMissing,
  rateLimitMissing,
  sidecarResourcesUnbounded,
  sidecarScopeMissing,
} from "../../../operator/engine/checks/resources.js";
import { assertCheckCase, runCheck, type CheckCase } from "../../support/engine.js";

const doc = (...parts: string[]): string => parts.join("\n---\n");

const NS = `apiVersion: v1
kind: Namespace
metadata: {name: app, labels: {istio-injection: enabled}}`;

function pod(name: string, proxyResources: string, labels = `{app: ${name}}`): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: app, labels: ${labels}, annotations: {sidecar.istio.io/status: "{}"}}
spec:
  containers:
    - name: app
    - name: istio-proxy
      resources: ${proxyResources}`;
}

function template(name: string, annotations: Record<string, string> = {}): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: app}
spec:
  template:
    metadata:
      labels: {app: ${name}}
      annotations: ${JSON.stringify(annotations)}
    spec:
      containers: [{name: app}]`;
}

const INJECTOR = (limits: object): string => `apiVersion: v1
kind: ConfigMap
metadata: {name: istio-sidecar-injector, namespace: istio-system}
data:
  values: '${JSON.stringify({ global: { proxy: { resources: { limits } } } })}'`;

const BOUNDED = "{limits: {cpu: '2', memory: 1Gi}, requests: {cpu: 100m, memory: 128Mi}}";

function service(name: string): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: app}
spec: {selector: {app: ${name}}, ports: [{port: 80}]}`;
}

function dr(name: string, host: string, namespace = "app", pool = true): string {
  const policy = pool ? "trafficPolicy: {connectionPool: {tcp: {maxConnections: 100}}}" : "";
  return `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  host: ${host}
  ${policy}`;
}

function istiod(o: { replicas?: number; resources?: string } = {}): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, namespace: istio-system, labels: {app: istiod}}
spec:
  replicas: ${o.replicas ?? 1}
  template:
    metadata: {labels: {app: istiod, istio: pilot}}
    spec:
      containers:
        - name: discovery
          image: docker.io/istio/pilot:1.30.1
          resources: ${o.resources ?? BOUNDED}`;
}

const HPA = (min: number): string => `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: istiod, namespace: istio-system}
spec: {minReplicas: ${min}, maxReplicas: 5, scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: istiod}}`;

const PDB = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: istiod, namespace: istio-system}
spec: {minAvailable: 1, selector: {matchLabels: {app: istiod}}}`;

const INGRESS = `apiVersion: apps/v1
kind: Deployment
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  template:
    metadata: {labels: {app: istio-ingressgateway, istio: ingressgateway}}
    spec: {containers: [{name: istio-proxy}]}`;

function rateLimitFilter(context: string, selector = "{istio: ingressgateway}"): string {
  return `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: ratelimit, namespace: istio-system}
spec:
  workloadSelector: {labels: ${selector}}
  configPatches:
    - applyTo: HTTP_FILTER
      match: {context: ${context}}
      patch:
        operation: INSERT_BEFORE
        value:
          name: envoy.filters.http.local_ratelimit
          typed_config: {"@type": type.googleapis.com/udpa.type.v1.TypedStruct}`;
}

function sidecar(namespace: string, hosts: string, selector = ""): string {
  return `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: ${namespace}}
spec:
  ${selector}
  egress: [{hosts: ${hosts}}]`;
}

type Case = CheckCase;

const CASES: Case[] = [
  // sidecar-resources-unbounded
  {
    name: "reports a running proxy without a CPU limit",
    check: sidecarResourcesUnbounded,
    yaml: doc(NS, pod("p", "{limits: {memory: 500Mi}, requests: {memory: 150Mi}}")),
    expect: ["Pod app/p"],
    message: /no cpu limits/,
  },
  {
    name: "treats a zero CPU limit as no limit",
    check: sidecarResourcesUnbounded,
    yaml: doc(NS, pod("p", "{limits: {cpu: '0', memory: 500Mi}}")),
    expect: ["Pod app/p"],
    message: /no cpu limits/,
  },
  {
    name: "passes a running proxy with CPU and memory limits",
    check: sidecarResourcesUnbounded,
    yaml: doc(NS, pod("p", BOUNDED)),
    expect: [],
  },
  {
    name: "passes a template whose annotations set both proxy limits",
    check: sidecarResourcesUnbounded,
    yaml: doc(
      NS,
      template("web", {
        "sidecar.istio.io/proxyCPULimit": "1",
        "sidecar.istio.io/proxyMemoryLimit": "1Gi",
      }),
    ),
    expect: [],
  },
  {
    name: "reports a template whose request annotations replace the injector's limits",
    check: sidecarResourcesUnbounded,
    yaml: doc(
      NS,
      template("web", { "sidecar.istio.io/proxyCPU": "100m" }),
      INJECTOR({ cpu: "2", memory: "1Gi" }),
    ),
    expect: ["Deployment app/web"],
    message: /judged from its pod template.*cpu limits \(from its annotations\)/,
  },
  {
    name: "judges a template without annotations by the injector's values",
    check: sidecarResourcesUnbounded,
    yaml: doc(NS, template("web"), INJECTOR({ memory: "1Gi" })),
    expect: ["Deployment app/web"],
    message: /cpu limits \(from the injector's values\)/,
  },
  {
    name: "says unknown for a template when neither annotations nor the injector are in the input",
    check: sidecarResourcesUnbounded,
    yaml: doc(NS, template("web")),
    expect: [],
    unknown: /injector, which is not in the input/,
  },
  // connection-pool-missing
  {
    name: "reports one finding per namespace counting services without connection limits",
    check: connectionPoolMissing,
    yaml: doc(NS, pod("a", BOUNDED), pod("b", BOUNDED), service("a"), service("b")),
    expect: ["Namespace app"],
    message: /2 of 2 in-mesh services/,
  },
  {
    name: "passes when a DestinationRule with a short host limits each service",
    check: connectionPoolMissing,
    yaml: doc(NS, pod("a", BOUNDED), service("a"), dr("a", "a")),
    expect: [],
  },
  {
    name: "counts a root-namespace wildcard DestinationRule",
    check: connectionPoolMissing,
    yaml: doc(
      NS,
      pod("a", BOUNDED),
      service("a"),
      dr("all", JSON.stringify("*.svc.cluster.local"), "istio-system"),
    ),
    expect: [],
  },
  {
    name: "ignores a DestinationRule without a connectionPool",
    check: connectionPoolMissing,
    yaml: doc(
      NS,
      pod("a", BOUNDED),
      service("a"),
      dr("a", "a.app.svc.cluster.local", "app", false),
    ),
    expect: ["Namespace app"],
    message: /1 of 1/,
  },
  // rate-limit-missing
  {
    name: "reports an ingress gateway without a rate limit and names the waiver route",
    check: rateLimitMissing,
    yaml: INGRESS,
    expect: ["Deployment istio-system/istio-ingressgateway"],
    message: /waiver/,
  },
  {
    name: "passes an ingress gateway with a local_ratelimit EnvoyFilter on GATEWAY",
    check: rateLimitMissing,
    yaml: doc(INGRESS, rateLimitFilter("GATEWAY")),
    expect: [],
  },
  {
    name: "does not count a rate limit patched into sidecars only",
    check: rateLimitMissing,
    yaml: doc(INGRESS, rateLimitFilter("SIDECAR_INBOUND")),
    expect: ["Deployment istio-system/istio-ingressgateway"],
  },
  {
    name: "does not count a rate limit selecting another gateway",
    check: rateLimitMissing,
    yaml: doc(INGRESS, rateLimitFilter("GATEWAY", "{istio: other}")),
    expect: ["Deployment istio-system/istio-ingressgateway"],
  },
  {
    name: "passes a mesh without an ingress gateway",
    check: rateLimitMissing,
    yaml: NS,
    expect: [],
  },
  // istiod-resources-missing
  {
    name: "reports istiod with requests but no limits (the default install)",
    check: istiodResourcesMissing,
    yaml: istiod({ resources: "{requests: {cpu: 500m, memory: 2048Mi}}" }),
    expect: ["Deployment istio-system/istiod"],
    message: /cpu limits, memory limits/,
  },
  {
    name: "passes istiod with requests and limits",
    check: istiodResourcesMissing,
    yaml: istiod(),
    expect: [],
  },
  {
    name: "says unknown without an istiod Deployment",
    check: istiodResourcesMissing,
    yaml: NS,
    expect: [],
    unknown: /no istiod Deployment/,
  },
  // istiod-not-highly-available
  {
    name: "reports one istiod replica with an HPA minimum of 1 and no PDB",
    check: istiodNotHighlyAvailable,
    yaml: doc(istiod(), HPA(1)),
    expect: ["Deployment istio-system/istiod"],
    message: /minReplicas 1 and no PodDisruptionBudget/,
  },
  {
    name: "passes an HPA minimum of 2 with a PDB",
    check: istiodNotHighlyAvailable,
    yaml: doc(istiod(), HPA(2), PDB),
    expect: [],
  },
  {
    name: "reports two replicas without a PDB",
    check: istiodNotHighlyAvailable,
    yaml: istiod({ replicas: 2 }),
    expect: ["Deployment istio-system/istiod"],
    message: /^istiod istio-system\/istiod no PodDisruptionBudget/,
  },
  // sidecar-scope-missing
  {
    name: "reports a namespace with sidecars and no Sidecar narrowing egress",
    check: sidecarScopeMissing,
    yaml: doc(NS, pod("p", BOUNDED)),
    expect: ["Namespace app"],
  },
  {
    name: "passes with a root-namespace Sidecar narrowing egress",
    check: sidecarScopeMissing,
    yaml: doc(NS, pod("p", BOUNDED), sidecar("istio-system", '["./*", "istio-system/*"]')),
    expect: [],
  },
  {
    name: "does not count a Sidecar that keeps */*",
    check: sidecarScopeMissing,
    yaml: doc(NS, pod("p", BOUNDED), sidecar("app", '["*/*"]')),
    expect: ["Namespace app"],
  },
  {
    name: "does not count a Sidecar with a workload selector",
    check: sidecarScopeMissing,
    yaml: doc(
      NS,
      pod("p", BOUNDED),
      sidecar("app", '["./*"]', "workloadSelector: {labels: {app: p}}"),
    ),
    expect: ["Namespace app"],
  },
];

describe("resource checks (D-01, D-02)", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const run = runCheck(c.check, c.yaml);
      assertCheckCase(c, run);
    });
  }
});
