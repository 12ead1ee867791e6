// Gateway saturation checks (D-03): ingress gateways that cannot scale out under a traffic flood,
// and gateway proxies without resource requests and limits. Which Deployments are ingress gateways
// depends on Gateways in any namespace, so these checks run in the cluster partition.

import {
  inputsAvailable,
  type Check,
  type CheckContext,
  type ClusterCheck,
  type Emitter,
} from "../check.js";
import { at, num, obj, objs, str, stringMap } from "../fields.js";
import { ingressGateways, unseenGatewayWorkloads, type IngressGateway } from "../gateways.js";
import { K } from "../kinds.js";
import { podTemplateOf } from "../mesh.js";
import type { KubeObject } from "../types.js";

const HPA_MANIFEST = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: istio-ingressgateway
  namespace: istio-system
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: istio-ingressgateway}
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}`;

function subject(g: IngressGateway): string {
  if (g.generated) {
    return `Gateway ${g.namespace}/${g.object.metadata.name ?? ""} (${g.reason}, ${g.deploymentName})`;
  }
  return `ingress gateway Deployment ${g.namespace}/${g.deploymentName} (${g.reason})`;
}

function hpaFor(ctx: CheckContext, g: IngressGateway): KubeObject | undefined {
  return ctx.snapshot.inNamespace(K.HorizontalPodAutoscaler, g.namespace).find((hpa) => {
    const target = at(hpa, "spec", "scaleTargetRef");
    return str(at(target, "kind")) === "Deployment" && str(at(target, "name")) === g.deploymentName;
  });
}

/** Istio renders an HPA for a Gateway API Gateway whose parameters ConfigMap asks for one. */
function parametersRequestHpa(ctx: CheckContext, g: IngressGateway): boolean {
  if (!g.generated) return false;
  const ref = obj(at(g.object, "spec", "infrastructure", "parametersRef"));
  if (!ref || str(ref.kind) !== "ConfigMap") return false;
  const cm = ctx.snapshot
    .inNamespace(K.ConfigMap, g.namespace)
    .find((c) => c.metadata.name === str(ref.name));
  return str(at(cm, "data", "horizontalPodAutoscaler")) !== undefined;
}

export const gatewayAutoscalingMissing: ClusterCheck = {
  id: "gateway-autoscaling-missing",
  threats: ["D-03"],
  severity: "high",
  scope: "cluster",
  title: "Ingress gateway cannot scale out",
  description:
    "Finds ingress gateway Deployments (labelled istio=ingressgateway, app=istio-ingressgateway " +
    "or istio=ingress, selected by an ingress Gateway, or generated for a Gateway API Gateway) " +
    "with no HorizontalPodAutoscaler targeting them, or one whose maxReplicas is below 2. A " +
    "traffic flood then saturates a fixed set of gateway pods and takes every exposed service " +
    "down. Lowered to medium when the Deployment already runs two or more replicas.",
  remediation: `Add a HorizontalPodAutoscaler for the gateway Deployment:\n${HPA_MANIFEST}`,
  inputs: [K.Deployment, K.HorizontalPodAutoscaler, K.Gateway, K.K8sGateway],
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    reportUnseenGateways(ctx, emit);
    for (const g of ingressGateways(ctx)) {
      const hpa = hpaFor(ctx, g);
      if (hpa) {
        const max = num(at(hpa, "spec", "maxReplicas"));
        if (max === undefined || max >= 2) continue;
        emit.finding(
          hpa,
          `HorizontalPodAutoscaler ${g.namespace}/${hpa.metadata.name ?? ""} caps ${subject(g)} ` +
            `at ${max} replica, so the gateway cannot scale out under a traffic flood.`,
        );
        continue;
      }
      if (parametersRequestHpa(ctx, g)) continue;
      const replicas = g.generated ? 1 : (num(at(g.object, "spec", "replicas")) ?? 1);
      emit.finding(
        g.object,
        `No HorizontalPodAutoscaler targets ${subject(g)}, so it stays at ${replicas} ` +
          `replica(s) and a traffic flood can saturate it.`,
        { severity: replicas >= 2 ? "medium" : "high" },
      );
    }
  },
};

function reportUnseenGateways(ctx: CheckContext, emit: Emitter): void {
  const reason = unseenGatewayWorkloads(ctx);
  if (reason !== undefined) emit.unknown(reason);
}

const RESOURCE_KEYS = ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"] as const;

/** Pod annotations that the sidecar injector turns into proxy resources. */
const PROXY_ANNOTATIONS: Record<(typeof RESOURCE_KEYS)[number], string> = {
  "requests.cpu": "sidecar.istio.io/proxyCPU",
  "requests.memory": "sidecar.istio.io/proxyMemory",
  "limits.cpu": "sidecar.istio.io/proxyCPULimit",
  "limits.memory": "sidecar.istio.io/proxyMemoryLimit",
};

/** The gateway's Envoy container: istio-proxy, else the first container. */
function gatewayContainer(spec: Record<string, unknown>): Record<string, unknown> | undefined {
  const containers = objs(spec.containers);
  return containers.find((c) => c.name === "istio-proxy") ?? containers[0];
}

function hasResource(container: Record<string, unknown>, key: string): boolean {
  const [kind, name] = key.split(".");
  const value = at(container, "resources", kind ?? "", name ?? "");
  return typeof value === "string" || typeof value === "number";
}

/**
 * Resources the injector's gateway template gives a container with `image: auto`: only when the
 * template sets resources at all, from the proxy annotations or the injector's proxy defaults.
 */
function injectedResources(
  ctx: CheckContext,
  annotations: Record<string, string>,
): Set<string> | undefined {
  const cm = ctx.snapshot
    .all(K.ConfigMap)
    .find((c) => (c.metadata.name ?? "").startsWith("istio-sidecar-injector"));
  const config = str(at(cm, "data", "config")) ?? "";
  const gatewayTemplate = /\n\s{2}gateway:\s*\|[\s\S]*?(?=\n\s{2}[\w-]+:\s*\||$)/.exec(config);
  if (!gatewayTemplate?.[0].includes("resources:")) return undefined;
  const defaults = proxyDefaults(str(at(cm, "data", "values")));
  const out = new Set<string>();
  for (const key of RESOURCE_KEYS) {
    if (annotations[PROXY_ANNOTATIONS[key]] !== undefined || hasResource(defaults, key)) {
      out.add(key);
    }
  }
  return out;
}

function proxyDefaults(values: string | undefined): Record<string, unknown> {
  if (values === undefined) return {};
  try {
    return { resources: at(JSON.parse(values) as unknown, "global", "proxy", "resources") };
  } catch {
    return {};
  }
}

function missingResources(ctx: CheckContext, deployment: KubeObject): string[] | undefined {
  const template = podTemplateOf(deployment);
  const container = gatewayContainer(obj(template?.spec) ?? {});
  if (!container) return undefined;
  const missing: string[] = RESOURCE_KEYS.filter((k) => !hasResource(container, k));
  if (missing.length === 0 || str(container.image) !== "auto") return missing;
  const injected = injectedResources(ctx, stringMap(at(template, "metadata", "annotations")));
  return injected ? missing.filter((k) => !injected.has(k)) : missing;
}

export const gatewayResourcesMissing: ClusterCheck = {
  id: "gateway-resources-missing",
  threats: ["D-03"],
  severity: "medium",
  scope: "cluster",
  title: "Ingress gateway proxy has no resource requests or limits",
  description:
    "Finds ingress gateway Deployments whose Envoy container (istio-proxy, or the only " +
    "container) lacks CPU or memory requests or limits. Without requests the scheduler packs " +
    "gateway pods onto busy nodes and the autoscaler has no utilisation to act on; without " +
    "limits a flood lets one gateway starve its node. For `image: auto` containers the " +
    "injector's gateway template is consulted when it is in the input and sets resources.",
  remediation:
    "Set requests and limits on the gateway container:\nspec:\n  template:\n    spec:\n" +
    "      containers:\n        - name: istio-proxy\n          resources:\n" +
    "            requests: {cpu: 500m, memory: 256Mi}\n            limits: {cpu: 2000m, memory: 1Gi}",
  inputs: [K.Deployment, K.Gateway, K.K8sGateway],
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    reportUnseenGateways(ctx, emit);
    for (const g of ingressGateways(ctx)) {
      // Istio's generated Deployments take their resources from the injector's proxy values.
      if (g.generated) continue;
      const missing = missingResources(ctx, g.object);
      if (!missing || missing.length === 0) continue;
      emit.finding(
        g.object,
        `The proxy of ${subject(g)} has no ${missing.join(", ")}, so a traffic flood can ` +
          `starve its node or leave the autoscaler nothing to measure.`,
      );
    }
  },
};

export const GATEWAY_CAPACITY_CHECKS: readonly Check[] = [
  gatewayAutoscalingMissing,
  gatewayResourcesMissing,
];
