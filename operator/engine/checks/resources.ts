// Denial of service (D-01, D-02): sidecars without resource limits, services without connection
// limits, an ingress without rate limiting, an istiod that can be starved or taken down by one
// eviction, and proxies that hold the configuration of the whole mesh.

import {
  inputsAvailable,
  namespaceTarget,
  type CheckContext,
  type Check,
  type ClusterCheck,
  type NamespaceCheck,
} from "../check.js";
import {
  describeWorkload,
  INJECTOR_UNKNOWN,
  istiodDeployments,
  podTemplateLabels,
  podTemplateSpec,
  proxyView,
  type ProxyView,
} from "../controlplane.js";
import { at, isObj, num, obj, objs, str, stringMap, strs, type Obj } from "../fields.js";
import { unseenGatewayWorkloads } from "../gateways.js";
import { K, WORKLOAD_INPUTS } from "../kinds.js";
import type { Workload } from "../mesh.js";
import { parseSelector, selectorMatches } from "../selectors.js";
import type { KubeObject } from "../types.js";

/** A quantity that bounds nothing: absent, or zero (the runtime then sets no limit). */
function unbounded(value: unknown): boolean {
  if (typeof value === "number") return value === 0;
  if (typeof value !== "string") return true;
  return /^[+]?0*(\.0*)?[a-zA-Z]*$/.test(value.trim());
}

function missingQuantities(resources: unknown, field: "limits" | "requests"): string[] {
  const values = obj(at(resources, field)) ?? {};
  return ["cpu", "memory"].filter((r) => unbounded(values[r])).map((r) => `${r} ${field}`);
}

// ---------------------------------------------------------------------------------------------
// sidecar-resources-unbounded

const RESOURCE_ANNOTATIONS = [
  "sidecar.istio.io/proxyCPU",
  "sidecar.istio.io/proxyCPULimit",
  "sidecar.istio.io/proxyMemory",
  "sidecar.istio.io/proxyMemoryLimit",
];

/**
 * Missing proxy limits of a template not yet injected. Any resource annotation replaces the
 * injector's values entirely (the injection template takes requests and limits from the
 * annotations alone), so a template that sets only requests gets no limits at all.
 */
function predictedMissingLimits(w: Workload, values: Obj | undefined): string[] | undefined {
  if (RESOURCE_ANNOTATIONS.some((a) => w.annotations[a] !== undefined)) {
    const limits = {
      cpu: w.annotations["sidecar.istio.io/proxyCPULimit"],
      memory: w.annotations["sidecar.istio.io/proxyMemoryLimit"],
    };
    return missingQuantities({ limits }, "limits").map((m) => `${m} (from its annotations)`);
  }
  if (values === undefined) return undefined;
  const resources = at(values, "global", "proxy", "resources");
  return missingQuantities(resources, "limits").map((m) => `${m} (from the injector's values)`);
}

function proxyMissingLimits(w: Workload, view: ProxyView): string[] | undefined {
  if (view.kind === "actual") return missingQuantities(view.container.resources, "limits");
  return predictedMissingLimits(w, view.values);
}

export const sidecarResourcesUnbounded: NamespaceCheck = {
  id: "sidecar-resources-unbounded",
  threats: ["D-01"],
  severity: "high",
  scope: "namespace",
  title: "Sidecar without CPU or memory limits",
  description:
    "Finds istio-proxy containers without a CPU or memory limit, read from the running pod, or " +
    "for a template from its `sidecar.istio.io/proxy*` annotations or the injector's values. A " +
    "proxy flooded with connections then takes the node's CPU and memory from every other pod. " +
    "Any resource annotation replaces the injector's values, so setting only requests removes " +
    "the limits.",
  remediation:
    "Set both limits, per workload or for the mesh (injector values " +
    "global.proxy.resources.limits):\nmetadata:\n  annotations:\n" +
    '    sidecar.istio.io/proxyCPULimit: "1"\n    sidecar.istio.io/proxyMemoryLimit: 1Gi',
  inputs: [...WORKLOAD_INPUTS, K.ConfigMap],
  run(ctx, target, emit) {
    if (!target.inScope || !inputsAvailable(ctx, this, emit)) return;
    const unknown: string[] = [];
    for (const w of ctx.mesh.workloads(target.namespace)) {
      if (w.dataPlane !== "sidecar") continue;
      const missing = proxyMissingLimits(w, proxyView(w, ctx.snapshot, ctx.mesh.rootNamespace));
      if (missing === undefined) unknown.push(w.ref.name);
      if (missing === undefined || missing.length === 0) continue;
      emit.finding(
        w.ref,
        `The istio-proxy of ${describeWorkload(w)} has no ${missing.join(", ")}, so a flood ` +
          `of traffic can exhaust the node's resources.`,
      );
    }
    if (unknown.length > 0) {
      emit.unknown(
        `${INJECTOR_UNKNOWN}, and ${unknown.length} template(s) in ${target.namespace} ` +
          `(${unknown.slice(0, 3).join(", ")}) set no proxy resource annotations`,
      );
    }
  },
};

// ---------------------------------------------------------------------------------------------
// connection-pool-missing

const CLUSTER_DOMAIN = "svc.cluster.local";

/** A DestinationRule host as a fully qualified name, resolved from the rule's namespace. */
function qualify(host: string, namespace: string): string {
  if (host.includes("*")) return host;
  const parts = host.split(".");
  if (parts.length === 1) return `${host}.${namespace}.${CLUSTER_DOMAIN}`;
  if (parts.length === 2) return `${host}.${CLUSTER_DOMAIN}`;
  if (parts.length === 3 && parts[2] === "svc") return `${host}.cluster.local`;
  return host;
}

function hostMatches(pattern: string, fqdn: string): boolean {
  if (pattern === "*") return true;
  if (pattern.startsWith("*")) return fqdn.endsWith(pattern.slice(1));
  return pattern === fqdn;
}

function hasConnectionPool(dr: KubeObject): boolean {
  const policy = at(dr, "spec", "trafficPolicy");
  const pools = [
    at(policy, "connectionPool"),
    ...objs(at(policy, "portLevelSettings")).map((p) => p.connectionPool),
  ];
  return pools.some((p) => isObj(p) && Object.keys(p).length > 0);
}

function limitedHosts(ctx: CheckContext, namespace: string): string[] {
  const rules = [
    ...ctx.snapshot.inNamespace(K.DestinationRule, namespace),
    ...(namespace === ctx.mesh.rootNamespace
      ? []
      : ctx.snapshot.inNamespace(K.DestinationRule, ctx.mesh.rootNamespace)),
  ];
  return rules.filter(hasConnectionPool).flatMap((dr) => {
    const host = str(at(dr, "spec", "host"));
    return host === undefined ? [] : [qualify(host, dr.metadata.namespace ?? namespace)];
  });
}

function meshedServices(ctx: CheckContext, namespace: string): string[] {
  const meshed = ctx.mesh.workloads(namespace).filter((w) => w.dataPlane !== "none");
  return ctx.snapshot
    .inNamespace(K.Service, namespace)
    .filter((s) => {
      const selector = stringMap(at(s, "spec", "selector"));
      const keys = Object.keys(selector);
      if (keys.length === 0) return false;
      return meshed.some((w) => keys.every((k) => w.labels[k] === selector[k]));
    })
    .map((s) => s.metadata.name ?? "");
}

export const connectionPoolMissing: NamespaceCheck = {
  id: "connection-pool-missing",
  threats: ["D-01"],
  severity: "low",
  scope: "namespace",
  title: "Services without connection limits",
  description:
    "Counts, per namespace, the in-mesh services that no DestinationRule (in the namespace or " +
    "the root namespace) gives connection limits (`trafficPolicy.connectionPool`, top level or " +
    "per port). Without them one noisy client can open unbounded connections and requests and " +
    "exhaust the service and its proxy.",
  remediation:
    "Add connection limits for the service:\napiVersion: networking.istio.io/v1\n" +
    "kind: DestinationRule\nmetadata:\n  name: reviews\nspec:\n  host: reviews\n" +
    "  trafficPolicy:\n    connectionPool:\n      tcp: {maxConnections: 100}\n" +
    "      http: {http2MaxRequests: 1000, http1MaxPendingRequests: 100}",
  inputs: [...WORKLOAD_INPUTS, K.Service, K.DestinationRule],
  run(ctx, target, emit) {
    if (!target.inScope || !inputsAvailable(ctx, this, emit)) return;
    const services = meshedServices(ctx, target.namespace);
    if (services.length === 0) return;
    const limits = limitedHosts(ctx, target.namespace);
    const open = services.filter((name) => {
      const fqdn = `${name}.${target.namespace}.${CLUSTER_DOMAIN}`;
      return !limits.some((h) => hostMatches(h, fqdn));
    });
    if (open.length === 0) return;
    const listed = open.slice(0, 5).join(", ") + (open.length > 5 ? ", …" : "");
    emit.finding(
      namespaceTarget(ctx, target.namespace),
      `${open.length} of ${services.length} in-mesh services in namespace ${target.namespace} ` +
        `(${listed}) have no DestinationRule connection limits, so one client can exhaust them.`,
    );
  },
};

// ---------------------------------------------------------------------------------------------
// rate-limit-missing

const RATE_LIMIT_TEXT = /local_ratelimit|filters\.http\.ratelimit|ratelimit\.v3|rate[-_]?limit/i;

interface Ingress {
  ref: KubeObject;
  namespace: string;
  labels: Record<string, string>;
}

function isIngressDeployment(d: KubeObject): boolean {
  const labels = podTemplateLabels(d);
  const name = d.metadata.name ?? "";
  if (/egress|eastwest/.test(name) || /egress|eastwest/.test(labels.istio ?? "")) return false;
  const annotations = stringMap(at(d, "spec", "template", "metadata", "annotations"));
  return (
    labels.istio === "ingressgateway" ||
    labels.app === "istio-ingressgateway" ||
    labels["gateway.networking.k8s.io/gateway-name"] !== undefined ||
    annotations["inject.istio.io/templates"] === "gateway"
  );
}

function ingresses(ctx: CheckContext): Ingress[] {
  const out: Ingress[] = ctx.snapshot
    .all(K.Deployment)
    .filter(isIngressDeployment)
    .map((d) => ({
      ref: d,
      namespace: d.metadata.namespace ?? "default",
      labels: podTemplateLabels(d),
    }));
  // An offline scan may hold a Gateway API Gateway without the Deployment Istio creates for it.
  for (const g of ctx.snapshot.all(K.K8sGateway)) {
    if (str(at(g, "spec", "gatewayClassName")) !== "istio") continue;
    const name = g.metadata.name ?? "";
    if (out.some((i) => i.labels["gateway.networking.k8s.io/gateway-name"] === name)) continue;
    const labels = { "gateway.networking.k8s.io/gateway-name": name };
    out.push({ ref: g, namespace: g.metadata.namespace ?? "default", labels });
  }
  return out;
}

function appliesTo(ext: KubeObject, ingress: Ingress, root: string): boolean {
  const ns = ext.metadata.namespace ?? "default";
  if (ns !== root && ns !== ingress.namespace) return false;
  const labels = stringMap(
    at(ext, "spec", "workloadSelector", "labels") ?? at(ext, "spec", "selector", "matchLabels"),
  );
  const keys = Object.keys(labels);
  return keys.every((k) => ingress.labels[k] === labels[k]);
}

function limitsRate(ext: KubeObject): boolean {
  if (ext.kind !== "EnvoyFilter") {
    const text = [ext.metadata.name, at(ext, "spec", "url"), at(ext, "spec", "pluginName")];
    return text.some((t) => RATE_LIMIT_TEXT.test(str(t) ?? ""));
  }
  return objs(at(ext, "spec", "configPatches")).some((p) => {
    const context = str(at(p, "match", "context")) ?? "ANY";
    if (context !== "GATEWAY" && context !== "ANY") return false;
    return RATE_LIMIT_TEXT.test(JSON.stringify(p.patch ?? {}));
  });
}

export const rateLimitMissing: ClusterCheck = {
  id: "rate-limit-missing",
  threats: ["D-01"],
  severity: "medium",
  scope: "cluster",
  title: "Ingress without rate limiting",
  description:
    "Finds ingress gateways that no local or global rate limit covers: no EnvoyFilter adding " +
    "`envoy.filters.http.local_ratelimit` or `ratelimit` in the GATEWAY context, and no WasmPlugin " +
    "rate limiter. Without one, a single client can flood the mesh's front door. Rate limiting " +
    "done at a load balancer or API gateway in front cannot be seen: record it as a waiver.",
  remediation:
    "Add a local rate limit to the ingress gateway (an EnvoyFilter on the GATEWAY context with " +
    "envoy.filters.http.local_ratelimit), or, if a load balancer in front limits the rate, " +
    "waive this check in the ThreatPolicy:\nspec:\n  waivers:\n    - threat: D-01\n" +
    "      check: rate-limit-missing\n      resources: [{kind: Deployment, name: istio-ingressgateway}]\n" +
    "      reason: rate limited by the cloud load balancer\n      expires: 2027-01-01",
  inputs: [K.Deployment, K.EnvoyFilter, K.WasmPlugin, K.K8sGateway],
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    const unseen = unseenGatewayWorkloads(ctx);
    if (unseen !== undefined) emit.unknown(unseen);
    const root = ctx.mesh.rootNamespace;
    const limiters = [...ctx.snapshot.all(K.EnvoyFilter), ...ctx.snapshot.all(K.WasmPlugin)].filter(
      limitsRate,
    );
    for (const ingress of ingresses(ctx)) {
      if (limiters.some((l) => appliesTo(l, ingress, root))) continue;
      emit.finding(
        ingress.ref,
        `Ingress ${ingress.ref.kind} ${ingress.namespace}/${ingress.ref.metadata.name ?? ""} has ` +
          `no rate limit (no local_ratelimit EnvoyFilter or rate-limiting WasmPlugin applies), ` +
          `so one client can flood the mesh; if a load balancer in front limits the rate, ` +
          `record that with a waiver.`,
      );
    }
  },
};

// ---------------------------------------------------------------------------------------------
// istiod-resources-missing

export const istiodResourcesMissing: ClusterCheck = {
  id: "istiod-resources-missing",
  threats: ["D-02"],
  severity: "high",
  scope: "cluster",
  title: "istiod without resource requests and limits",
  description:
    "Finds istiod containers without CPU and memory requests and limits. Without requests istiod " +
    "is scheduled where it starves; without limits a configuration storm lets it take the node's " +
    "memory until it is killed, and with it certificate signing and configuration for every proxy.",
  remediation:
    "Set requests and limits on istiod (Helm values pilot.resources):\nresources:\n" +
    '  requests: {cpu: 500m, memory: 2Gi}\n  limits: {cpu: "2", memory: 4Gi}',
  inputs: [K.Deployment],
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    const deployments = istiodDeployments(ctx.snapshot);
    if (deployments.length === 0) {
      emit.unknown("no istiod Deployment in the input, so its resources cannot be judged");
      return;
    }
    for (const d of deployments) {
      for (const c of objs(podTemplateSpec(d).containers)) {
        const missing = [
          ...missingQuantities(c.resources, "requests"),
          ...missingQuantities(c.resources, "limits"),
        ];
        if (missing.length === 0) continue;
        emit.finding(
          d,
          `Container ${str(c.name) ?? ""} of istiod ${d.metadata.namespace ?? ""}/` +
            `${d.metadata.name ?? ""} has no ${missing.join(", ")}, so it can be starved or ` +
            `exhaust its node, taking configuration and certificates for every proxy with it.`,
        );
      }
    }
  },
};

// ---------------------------------------------------------------------------------------------
// istiod-not-highly-available

function minimumReplicas(ctx: CheckContext, d: KubeObject): { replicas: number; hpa?: number } {
  const replicas = num(at(d, "spec", "replicas")) ?? 1;
  const hpa = ctx.snapshot
    .inNamespace(K.HorizontalPodAutoscaler, d.metadata.namespace ?? "default")
    .find(
      (h) =>
        str(at(h, "spec", "scaleTargetRef", "kind")) === "Deployment" &&
        str(at(h, "spec", "scaleTargetRef", "name")) === d.metadata.name,
    );
  if (!hpa) return { replicas };
  return { replicas, hpa: num(at(hpa, "spec", "minReplicas")) ?? 1 };
}

function hasDisruptionBudget(ctx: CheckContext, d: KubeObject): boolean {
  const labels = podTemplateLabels(d);
  return ctx.snapshot
    .inNamespace(K.PodDisruptionBudget, d.metadata.namespace ?? "default")
    .some((p) => {
      const selector = parseSelector(at(p, "spec", "selector"));
      return selector !== undefined && selectorMatches(selector, labels);
    });
}

function availabilityProblems(ctx: CheckContext, d: KubeObject): string[] {
  const problems: string[] = [];
  const { replicas, hpa } = minimumReplicas(ctx, d);
  const floor = hpa ?? replicas;
  if (floor < 2) {
    problems.push(
      hpa === undefined
        ? `runs ${replicas} replica with no HorizontalPodAutoscaler`
        : `has a HorizontalPodAutoscaler with minReplicas ${hpa}`,
    );
  }
  if (!hasDisruptionBudget(ctx, d)) problems.push("no PodDisruptionBudget selects its pods");
  return problems;
}

export const istiodNotHighlyAvailable: ClusterCheck = {
  id: "istiod-not-highly-available",
  threats: ["D-02"],
  severity: "high",
  scope: "cluster",
  title: "istiod not highly available",
  description:
    "Finds istiod Deployments that can drop to a single replica (fewer than 2 replicas and no " +
    "HorizontalPodAutoscaler with minReplicas of at least 2) or that no PodDisruptionBudget " +
    "protects. One node drain or crash then stops certificate renewal, injection and " +
    "configuration for the whole mesh.",
  remediation:
    "Keep at least two replicas and protect them:\napiVersion: policy/v1\n" +
    "kind: PodDisruptionBudget\nmetadata:\n  name: istiod\n  namespace: istio-system\nspec:\n" +
    "  minAvailable: 1\n  selector:\n    matchLabels: {app: istiod}\n" +
    "(Helm values: autoscaleMin: 2, pdb.minAvailable: 1)",
  inputs: [K.Deployment, K.HorizontalPodAutoscaler, K.PodDisruptionBudget],
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    const deployments = istiodDeployments(ctx.snapshot);
    if (deployments.length === 0) {
      emit.unknown("no istiod Deployment in the input, so its availability cannot be judged");
      return;
    }
    for (const d of deployments) {
      const problems = availabilityProblems(ctx, d);
      if (problems.length === 0) continue;
      emit.finding(
        d,
        `istiod ${d.metadata.namespace ?? ""}/${d.metadata.name ?? ""} ${problems.join(" and ")}, ` +
          `so one eviction or crash stops certificates and configuration for the mesh.`,
      );
    }
  },
};

// ---------------------------------------------------------------------------------------------
// sidecar-scope-missing

function narrowsEgress(sidecar: KubeObject): boolean {
  if (Object.keys(stringMap(at(sidecar, "spec", "workloadSelector", "labels"))).length > 0) {
    return false;
  }
  const egress = objs(at(sidecar, "spec", "egress"));
  if (egress.length === 0) return false;
  return egress.every((e) => !strs(e.hosts).some((h) => h === "*/*"));
}

export const sidecarScopeMissing: NamespaceCheck = {
  id: "sidecar-scope-missing",
  threats: ["D-02"],
  severity: "medium",
  scope: "namespace",
  title: "No Sidecar narrowing egress",
  description:
    "Finds in-scope namespaces with sidecar workloads where no selector-less Sidecar, in the " +
    "namespace or the root namespace, narrows egress to less than `*/*`. Every proxy then holds " +
    "the configuration of every service in the mesh, so istiod's pushes and the proxies' memory " +
    "grow with the whole mesh, and one change anywhere reaches every proxy.",
  remediation:
    "Limit what proxies see, mesh-wide in the root namespace or per namespace:\n" +
    "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata:\n  name: default\n" +
    '  namespace: istio-system\nspec:\n  egress:\n    - hosts: ["./*", "istio-system/*"]',
  inputs: [...WORKLOAD_INPUTS, K.Sidecar],
  run(ctx, target, emit) {
    if (!target.inScope || !inputsAvailable(ctx, this, emit)) return;
    if (!ctx.mesh.workloads(target.namespace).some((w) => w.dataPlane === "sidecar")) return;
    const candidates = [
      ...ctx.snapshot.inNamespace(K.Sidecar, target.namespace),
      ...ctx.snapshot.inNamespace(K.Sidecar, ctx.mesh.rootNamespace),
    ];
    if (candidates.some(narrowsEgress)) return;
    emit.finding(
      namespaceTarget(ctx, target.namespace),
      `No Sidecar in namespace ${target.namespace} or the root namespace narrows egress below ` +
        `*/*, so its proxies hold and receive the configuration of the whole mesh.`,
    );
  },
};

export const RESOURCE_CHECKS: readonly Check[] = [
  sidecarResourcesUnbounded,
  connectionPoolMissing,
  rateLimitMissing,
  istiodResourcesMissing,
  istiodNotHighlyAvailable,
  sidecarScopeMissing,
];
