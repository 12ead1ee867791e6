// Gateway workload resolution: which gateway pods (or, offline, Deployment templates) an Istio
// Gateway's selector matches, in which namespaces its credentials must therefore exist, and which
// Deployments are ingress gateways. Istio matches a Gateway's selector against gateway pods in
// every namespace, and resolves `credentialName` in the namespace of each matched pod, not in the
// Gateway's own namespace: a secret beside the Gateway is not enough.

import { at, obj, objs, str, strs, stringMap } from "./fields.js";
import { K } from "./kinds.js";
import { proxyContainer, type Workload } from "./mesh.js";
import type { CheckContext } from "./check.js";
import { selectorMatches } from "./selectors.js";
import { refOf, type Snapshot } from "./snapshot.js";
import type { KubeObject } from "./types.js";

export const REFERENCE_GRANT = "gateway.networking.k8s.io/ReferenceGrant";
export const GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name";

/** TLS modes that terminate TLS at the gateway with a certificate of the user's. */
const TERMINATING_MODES = new Set(["SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL"]);

/** One `servers[]` entry of an Istio Gateway, normalised. */
export interface GatewayServer {
  index: number;
  /** `port 443 (https)`, for messages. */
  where: string;
  protocol: string;
  hosts: string[];
  tls: Record<string, unknown> | undefined;
  /** Upper-case TLS mode; absent `mode` in a present `tls` block is PASSTHROUGH, Istio's default. */
  mode: string | undefined;
}

export function gatewayServers(gateway: KubeObject): GatewayServer[] {
  return objs(at(gateway, "spec", "servers")).map((server, index) => {
    const port = obj(server.port) ?? {};
    const number = typeof port.number === "number" ? port.number : undefined;
    const name = str(port.name);
    const protocol = (str(port.protocol) ?? "").toUpperCase();
    const tls = obj(server.tls);
    const mode = tls ? (str(tls.mode) ?? "PASSTHROUGH").toUpperCase() : undefined;
    const label = number === undefined ? `servers[${index}]` : `port ${number}`;
    return {
      index,
      where: name === undefined ? label : `${label} (${name})`,
      protocol,
      hosts: strs(server.hosts),
      tls,
      mode,
    };
  });
}

/** True when the server terminates TLS with a certificate that the user must provide. */
export function terminatesTls(server: GatewayServer): boolean {
  return server.mode !== undefined && TERMINATING_MODES.has(server.mode);
}

/** Certificate files mounted into the gateway pod: valid instead of a credential secret. */
export function hasMountedCertificate(tls: Record<string, unknown>): boolean {
  if (str(tls.serverCertificate) && str(tls.privateKey)) return true;
  return objs(tls.tlsCertificates).some((c) => str(c.serverCertificate) !== undefined);
}

export interface CredentialRef {
  /** Secret name after any `kubernetes://` prefix. */
  name: string;
  field: "credentialName" | "credentialNames" | "caCertCredentialName";
}

/** `kubernetes://name` is the same secret as `name`; other schemes are not Kubernetes secrets. */
function secretName(value: string): string | undefined {
  if (value === "") return undefined;
  if (value.startsWith("kubernetes://")) return value.slice("kubernetes://".length);
  if (value.includes("://")) return undefined;
  return value;
}

/** The Kubernetes secrets a server's TLS block names. */
export function credentialRefs(tls: Record<string, unknown>): CredentialRef[] {
  const refs: CredentialRef[] = [];
  const add = (value: string | undefined, field: CredentialRef["field"]): void => {
    const name = value === undefined ? undefined : secretName(value);
    if (name !== undefined) refs.push({ name, field });
  };
  add(str(tls.credentialName), "credentialName");
  for (const name of strs(tls.credentialNames)) add(name, "credentialNames");
  add(str(tls.caCertCredentialName), "caCertCredentialName");
  return refs;
}

/** Any credential at all: a secret name, several, or mounted files. */
export function hasAnyCredential(tls: Record<string, unknown> | undefined): boolean {
  if (!tls) return false;
  return credentialRefs(tls).length > 0 || hasMountedCertificate(tls);
}

const GATEWAY_TEMPLATE = /(^|,)\s*gateway\s*(,|$)/;

/** A pod or template that runs Envoy as a gateway rather than as a sidecar. */
export function isGatewayWorkload(w: Workload): boolean {
  if (w.labels[GATEWAY_NAME_LABEL] !== undefined) return true;
  if (GATEWAY_TEMPLATE.test(w.annotations["inject.istio.io/templates"] ?? "")) return true;
  const proxy = proxyContainer(w.podSpec);
  if (proxy && strs(proxy.args).includes("router")) return true;
  return INGRESS_LABELS.some(([k, v]) => w.labels[k] === v) || isEgressLabelled(w.labels);
}

/** Labels of Istio's own ingress gateways: the istioctl profile and the Helm gateway chart. */
export const INGRESS_LABELS: readonly (readonly [string, string])[] = [
  ["istio", "ingressgateway"],
  ["app", "istio-ingressgateway"],
  ["istio", "ingress"],
];

export function isEgressLabelled(labels: Record<string, string>): boolean {
  return labels.istio === "egressgateway" || labels.app === "istio-egressgateway";
}

/** A Gateway whose selector names an egress gateway: its listeners face the mesh, not clients. */
export function selectsEgress(gateway: KubeObject): boolean {
  return isEgressLabelled(stringMap(at(gateway, "spec", "selector")));
}

/**
 * Gateway workloads an Istio Gateway applies to, in every namespace. An empty or absent selector
 * applies to every gateway; a non-empty one to any workload whose labels it matches.
 */
export function selectedGatewayWorkloads(ctx: CheckContext, gateway: KubeObject): Workload[] {
  const labels = stringMap(at(gateway, "spec", "selector"));
  const index = workloadIndex(ctx);
  const first = Object.keys(labels)[0];
  if (first === undefined) return [...index.gateways];
  // Every workload the selector matches carries its first label: look only at those.
  const candidates = index.withLabel(first).get(labels[first] ?? "") ?? [];
  return candidates.filter((w) => selectorMatches({ matchLabels: labels }, w.labels));
}

/**
 * Every workload of the snapshot, the gateway workloads among them, and workloads grouped by the
 * value of one label key (built per key on first use). Gateways are matched against all of them,
 * so without the grouping each Gateway would walk every workload of the cluster.
 */
class WorkloadIndex {
  private gatewayList: Workload[] | undefined;
  private readonly byKey = new Map<string, Map<string, Workload[]>>();

  constructor(readonly all: readonly Workload[]) {}

  /** The gateway workloads, found on first use: only selector-less Gateways need them. */
  get gateways(): Workload[] {
    this.gatewayList ??= this.all.filter(isGatewayWorkload);
    return this.gatewayList;
  }

  /** Workloads by their value of label `key`, in snapshot order; those without it are left out. */
  withLabel(key: string): Map<string, Workload[]> {
    let byValue = this.byKey.get(key);
    if (!byValue) {
      byValue = new Map();
      for (const w of this.all) {
        const value = w.labels[key];
        if (value === undefined) continue;
        const list = byValue.get(value);
        if (list) list.push(w);
        else byValue.set(value, [w]);
      }
      this.byKey.set(key, byValue);
    }
    return byValue;
  }
}

const workloadsBySnapshot = new WeakMap<Snapshot, WorkloadIndex>();

function workloadIndex(ctx: CheckContext): WorkloadIndex {
  let index = workloadsBySnapshot.get(ctx.snapshot);
  if (!index) {
    index = new WorkloadIndex(ctx.snapshot.namespaces().flatMap((ns) => ctx.mesh.workloads(ns)));
    workloadsBySnapshot.set(ctx.snapshot, index);
  }
  return index;
}

/** Istio Gateways outside namespaces that Istio ignores (discoverySelectors). */
export function istioGateways(ctx: CheckContext): KubeObject[] {
  return ctx.snapshot
    .all(K.Gateway)
    .filter((g) => !ctx.mesh.enrollment(refOf(g).namespace ?? "default").ignoredByIstio);
}

/** Gateway API Gateways that Istio implements (class `istio`, or a class Istio controls). */
export function istioK8sGateways(ctx: CheckContext): KubeObject[] {
  const istioClasses = new Set(["istio"]);
  for (const cls of ctx.snapshot.all("gateway.networking.k8s.io/GatewayClass")) {
    if (str(at(cls, "spec", "controllerName")) === "istio.io/gateway-controller") {
      istioClasses.add(cls.metadata.name ?? "");
    }
  }
  return ctx.snapshot
    .all(K.K8sGateway)
    .filter((g) => istioClasses.has(str(at(g, "spec", "gatewayClassName")) ?? ""));
}

export function nameOf(o: KubeObject): string {
  return `${refOf(o).namespace ?? ""}/${o.metadata.name ?? ""}`;
}

/** One listener of a Gateway API Gateway. */
export interface K8sListener {
  name: string;
  where: string;
  protocol: string;
  hostname: string | undefined;
  tls: Record<string, unknown> | undefined;
  /** Terminate (the default) or Passthrough. */
  mode: string;
  /** `allowedRoutes.namespaces.from`: Same (the default), All or Selector. */
  routesFrom: string;
}

export function k8sListeners(gateway: KubeObject): K8sListener[] {
  return objs(at(gateway, "spec", "listeners")).map((l, i) => {
    const name = str(l.name) ?? `listeners[${i}]`;
    const port = typeof l.port === "number" ? l.port : undefined;
    const tls = obj(l.tls);
    return {
      name,
      where: port === undefined ? `listener ${name}` : `listener ${name} (port ${port})`,
      protocol: (str(l.protocol) ?? "").toUpperCase(),
      hostname: str(l.hostname),
      tls,
      mode: str(tls?.mode) ?? "Terminate",
      routesFrom: str(at(l, "allowedRoutes", "namespaces", "from")) ?? "Same",
    };
  });
}

export interface CertificateRef {
  namespace: string;
  name: string;
  /** False for a cross-namespace reference that no ReferenceGrant permits. */
  permitted: boolean;
}

/** Secrets a listener's `certificateRefs` name; other kinds (e.g. ConfigMaps) are skipped. */
export function certificateRefs(
  snapshot: Snapshot,
  gateway: KubeObject,
  listener: K8sListener,
): CertificateRef[] {
  const gwNs = refOf(gateway).namespace ?? "default";
  return objs(listener.tls?.certificateRefs).flatMap((ref) => {
    const kind = str(ref.kind) ?? "Secret";
    const group = str(ref.group) ?? "";
    const name = str(ref.name);
    if (kind !== "Secret" || group !== "" || name === undefined) return [];
    const namespace = str(ref.namespace) ?? gwNs;
    const permitted = namespace === gwNs || referenceGranted(snapshot, gwNs, namespace, name);
    return [{ namespace, name, permitted }];
  });
}

/** A ReferenceGrant in the secret's namespace lets Gateways of `from` use it. */
function referenceGranted(snapshot: Snapshot, from: string, to: string, name: string): boolean {
  return snapshot.inNamespace(REFERENCE_GRANT, to).some((grant) => {
    const fromOk = objs(at(grant, "spec", "from")).some(
      (f) =>
        str(f.group) === "gateway.networking.k8s.io" &&
        str(f.kind) === "Gateway" &&
        str(f.namespace) === from,
    );
    const toOk = objs(at(grant, "spec", "to")).some(
      (t) =>
        (str(t.group) ?? "") === "" &&
        str(t.kind) === "Secret" &&
        (str(t.name) === undefined || str(t.name) === name),
    );
    return fromOk && toOk;
  });
}

/** True when a Secret of that name is in the namespace (metadata only). */
export function secretExists(snapshot: Snapshot, namespace: string, name: string): boolean {
  return snapshot.inNamespace(K.Secret, namespace).some((s) => s.metadata.name === name);
}

/** An ingress gateway Deployment, or the one Istio will generate for a Gateway API Gateway. */
export interface IngressGateway {
  /** The Deployment, or the Gateway API Gateway when its Deployment is not in the snapshot. */
  object: KubeObject;
  namespace: string;
  deploymentName: string;
  /** Why it counts as an ingress gateway, for messages. */
  reason: string;
  generated: boolean;
}

const CLASS_LABEL = "gateway.networking.k8s.io/gateway-class-name";

/**
 * Ingress Gateways (non-empty selector, not an egress one) grouped by the first label of their
 * selector, each with its position in `istioGateways` order: a Deployment's labels then find the
 * first Gateway selecting it without trying every Gateway.
 */
type SelectorIndex = Map<
  string,
  { order: number; gateway: KubeObject; selector: Record<string, string> }[]
>;

function ingressSelectors(ctx: CheckContext): SelectorIndex {
  const index: SelectorIndex = new Map();
  istioGateways(ctx).forEach((gateway, order) => {
    const selector = stringMap(at(gateway, "spec", "selector"));
    const first = Object.keys(selector)[0];
    if (first === undefined || isEgressLabelled(selector)) return;
    const key = `${first}\u0000${selector[first] ?? ""}`;
    const list = index.get(key);
    const entry = { order, gateway, selector };
    if (list) list.push(entry);
    else index.set(key, [entry]);
  });
  return index;
}

/** The first ingress Gateway, in `istioGateways` order, whose selector matches the labels. */
function selectingGateway(
  index: SelectorIndex,
  labels: Record<string, string>,
): KubeObject | undefined {
  let best: { order: number; gateway: KubeObject } | undefined;
  for (const key of Object.keys(labels)) {
    for (const c of index.get(`${key}\u0000${labels[key] ?? ""}`) ?? []) {
      if (best && best.order < c.order) continue;
      if (selectorMatches({ matchLabels: c.selector }, labels)) best = c;
    }
  }
  return best?.gateway;
}

function ingressReason(
  selectors: SelectorIndex,
  deployment: KubeObject,
  labels: Record<string, string>,
): string | undefined {
  const own = stringMap(deployment.metadata.labels);
  const gatewayName = labels[GATEWAY_NAME_LABEL] ?? own[GATEWAY_NAME_LABEL];
  if (gatewayName !== undefined) {
    // Waypoints are Gateway API Gateways too, but carry east-west mesh traffic.
    const cls = labels[CLASS_LABEL] ?? own[CLASS_LABEL];
    return cls === "istio-waypoint"
      ? undefined
      : `generated for Gateway API Gateway ${gatewayName}`;
  }
  if (isEgressLabelled(labels)) return undefined;
  const known = INGRESS_LABELS.find(([k, v]) => labels[k] === v);
  if (known) return `labelled ${known[0]}=${known[1]}`;
  const selecting = selectingGateway(selectors, labels);
  return selecting ? `selected by Gateway ${nameOf(selecting)}` : undefined;
}

/**
 * Ingress gateways: Deployments with Istio's ingress labels, Deployments whose pods an ingress
 * Gateway selects, Deployments generated for Gateway API Gateways, and, for a Gateway API Gateway
 * whose Deployment is not in the snapshot (an offline scan), the Deployment Istio will generate.
 */
export function ingressGateways(ctx: CheckContext): IngressGateway[] {
  const out: IngressGateway[] = [];
  const selectors = ingressSelectors(ctx);
  for (const d of ctx.snapshot.all(K.Deployment)) {
    const labels = stringMap(at(d, "spec", "template", "metadata", "labels"));
    const reason = ingressReason(selectors, d, labels);
    if (reason === undefined) continue;
    const namespace = refOf(d).namespace ?? "default";
    out.push({
      object: d,
      namespace,
      deploymentName: d.metadata.name ?? "",
      reason,
      generated: false,
    });
  }
  for (const gw of istioK8sGateways(ctx)) {
    const namespace = refOf(gw).namespace ?? "default";
    const present = ctx.snapshot
      .inNamespace(K.Deployment, namespace)
      .some((d) => stringMap(d.metadata.labels)[GATEWAY_NAME_LABEL] === gw.metadata.name);
    if (present || manuallyDeployed(gw)) continue;
    const cls = str(at(gw, "spec", "gatewayClassName")) ?? "istio";
    const override = stringMap(gw.metadata.annotations)["gateway.istio.io/name-override"];
    out.push({
      object: gw,
      namespace,
      deploymentName: override ?? `${gw.metadata.name ?? ""}-${cls}`,
      reason: "Istio generates its Deployment",
      generated: true,
    });
  }
  return out;
}

/** A Gateway API Gateway bound to an existing gateway Service deploys nothing of its own. */
function manuallyDeployed(gw: KubeObject): boolean {
  return objs(at(gw, "spec", "addresses")).some((a) => str(a.type) === "Hostname");
}

/**
 * An offline scan may hold a Gateway but not the gateway Deployment it selects (installed by Helm
 * or from another repository). The gateway's capacity and rate limits cannot be judged then, which
 * is Unknown, not a pass. In a cluster every workload is visible, so a Gateway that selects
 * nothing deploys nothing to judge. Returns the reason, or undefined when nothing is unseen.
 */
export function unseenGatewayWorkloads(ctx: CheckContext): string | undefined {
  if (ctx.snapshot.namespacesComplete) return undefined;
  const unseen = istioGateways(ctx).filter(
    (gw) => !selectsEgress(gw) && selectedGatewayWorkloads(ctx, gw).length === 0,
  );
  if (unseen.length === 0) return undefined;
  const names = unseen.map((gw) => `${refOf(gw).namespace ?? ""}/${gw.metadata.name ?? ""}`);
  return (
    `the gateway workloads selected by Gateway ${names.join(", ")} are not in the input, so ` +
    `they cannot be judged`
  );
}
