// Effective peer authentication (mTLS) for a namespace or a workload, resolved the way istiod
// resolves it when it builds a sidecar's inbound listeners:
//
// - at most one policy per level is in force: workload (non-empty selector, outside the root
//   namespace), namespace (no selector or empty matchLabels), mesh (root namespace, no selector);
//   among duplicates the oldest creationTimestamp wins, ties by name;
// - levels are applied mesh → namespace → workload, and an absent or UNSET mode keeps the parent's;
//   with nothing set at all, the mode is PERMISSIVE;
// - port-level settings count only on the workload-level policy in force; an UNSET port takes the
//   workload's resolved mode;
// - a policy with a selector in the root namespace is ignored entirely.

import { arr, at, isObj, num, obj, objs, str, stringMap } from "./fields.js";
import { K } from "./kinds.js";
import { proxyContainer, type Workload } from "./mesh.js";
import { selectorMatches } from "./selectors.js";
import { namespaceOf, type Snapshot } from "./snapshot.js";
import type { KubeObject } from "./types.js";

export type MtlsMode = "STRICT" | "PERMISSIVE" | "DISABLE";
export type PolicyLevel = "mesh" | "namespace" | "workload";

const MODES = new Set<string>(["STRICT", "PERMISSIVE", "DISABLE"]);

export interface PortSetting {
  port: number;
  /** Undefined when absent or UNSET: the port takes the workload's resolved mode. */
  mode: MtlsMode | undefined;
}

/** A PeerAuthentication reduced to what the resolution reads. Wrong field types read as absent. */
export interface PeerAuthn {
  object: KubeObject;
  name: string;
  namespace: string;
  /** Non-empty matchLabels; undefined for a selector-less (namespace or mesh) policy. */
  selector: Record<string, string> | undefined;
  /** Top-level mode; undefined when absent or UNSET (inherits from the parent level). */
  mode: MtlsMode | undefined;
  ports: PortSetting[];
  /** portLevelMtls keys that are not port numbers. */
  invalidPortKeys: string[];
  /** Milliseconds; missing or unparsable timestamps sort first, like Go's zero time. */
  created: number;
}

export type IgnoredReason = "duplicate" | "root-selector" | "port-level-without-selector";

export interface IgnoredPolicy {
  policy: PeerAuthn;
  reason: IgnoredReason;
  /** For duplicates: the policy of the same level that is in force. */
  inForce?: PeerAuthn;
  /** Words a report can show. */
  detail: string;
}

export interface PortMode {
  port: number;
  mode: MtlsMode;
  /** True when the port entry was UNSET and took the workload's mode. */
  inherited: boolean;
}

export interface EffectiveMtls {
  mode: MtlsMode;
  /** The policy that set the mode, or undefined when Istio's default (PERMISSIVE) applies. */
  source: { level: PolicyLevel; policy: PeerAuthn } | undefined;
  /** The policy in force at each level; it may leave the mode UNSET. */
  levels: Partial<Record<PolicyLevel, PeerAuthn>>;
  /** Port-level modes of the workload-level policy in force, sorted by port. */
  ports: PortMode[];
  ignored: IgnoredPolicy[];
}

export function parseMode(value: unknown): MtlsMode | undefined {
  const mode = str(value);
  return mode !== undefined && MODES.has(mode) ? (mode as MtlsMode) : undefined;
}

function parsePortLevel(value: unknown): { ports: PortSetting[]; invalidPortKeys: string[] } {
  const ports: PortSetting[] = [];
  const invalidPortKeys: string[] = [];
  for (const [key, setting] of Object.entries(obj(value) ?? {})) {
    const port = num(key);
    if (port === undefined || port < 1 || port > 65535) invalidPortKeys.push(key);
    else ports.push({ port, mode: isObj(setting) ? parseMode(setting.mode) : undefined });
  }
  ports.sort((a, b) => a.port - b.port);
  return { ports, invalidPortKeys };
}

export function parsePeerAuthentication(object: KubeObject): PeerAuthn {
  const spec = obj(object.spec) ?? {};
  const labels = stringMap(at(spec, "selector", "matchLabels"));
  const created = Date.parse(object.metadata.creationTimestamp ?? "");
  return {
    object,
    name: object.metadata.name ?? "",
    namespace: namespaceOf(object) ?? "default",
    selector: Object.keys(labels).length > 0 ? labels : undefined,
    mode: parseMode(at(spec, "mtls", "mode")),
    ...parsePortLevel(spec.portLevelMtls),
    created: Number.isNaN(created) ? Number.NEGATIVE_INFINITY : created,
  };
}

/** Oldest first, ties by name: the first of a level's policies is the one in force. */
export function byAge(a: PeerAuthn, b: PeerAuthn): number {
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Parsed PeerAuthentications per snapshot and namespace. A snapshot never changes, and every
 * workload of a namespace resolves against the same policies, so they are parsed once.
 */
const parsedBySnapshot = new WeakMap<Snapshot, Map<string, PeerAuthn[]>>();

/** The PeerAuthentications of one namespace, parsed and sorted oldest first. */
export function peerAuthentications(snapshot: Snapshot, namespace: string): PeerAuthn[] {
  let byNamespace = parsedBySnapshot.get(snapshot);
  if (!byNamespace) {
    byNamespace = new Map();
    parsedBySnapshot.set(snapshot, byNamespace);
  }
  let parsed = byNamespace.get(namespace);
  if (!parsed) {
    parsed = snapshot
      .inNamespace(K.PeerAuthentication, namespace)
      .map(parsePeerAuthentication)
      .sort(byAge);
    byNamespace.set(namespace, parsed);
  }
  return [...parsed];
}

export function describePolicy(pa: PeerAuthn): string {
  return `PeerAuthentication ${pa.namespace}/${pa.name}`;
}

/** The level a policy acts at, or undefined when Istio ignores it (selector in the root namespace). */
export function levelOf(pa: PeerAuthn, rootNamespace: string): PolicyLevel | undefined {
  if (pa.selector === undefined) return pa.namespace === rootNamespace ? "mesh" : "namespace";
  return pa.namespace === rootNamespace ? undefined : "workload";
}

/** The mode a policy declares, for messages: UNSET when it leaves the mode to its parent. */
export function declaredMode(pa: PeerAuthn): string {
  return pa.mode ?? "UNSET";
}

/** Splits a level's candidates (sorted oldest first) into the one in force and the duplicates. */
function pickOldest(
  candidates: PeerAuthn[],
  level: PolicyLevel,
  ignored: IgnoredPolicy[],
): PeerAuthn | undefined {
  const [winner, ...rest] = candidates;
  if (!winner) return undefined;
  for (const policy of rest) {
    ignored.push({
      policy,
      reason: "duplicate",
      inForce: winner,
      detail: `another ${level}-level policy, ${describePolicy(winner)}, is older (or has the same age and sorts first by name) and is the one in force`,
    });
  }
  return winner;
}

function selectorlessPortLevel(policies: PeerAuthn[], ignored: IgnoredPolicy[]): void {
  for (const policy of policies) {
    if (policy.selector !== undefined || policy.ports.length === 0) continue;
    ignored.push({
      policy,
      reason: "port-level-without-selector",
      detail: "portLevelMtls works only on a policy with a workload selector",
    });
  }
}

function rootSelectors(root: PeerAuthn[], ignored: IgnoredPolicy[]): void {
  for (const policy of root) {
    if (policy.selector === undefined) continue;
    ignored.push({
      policy,
      reason: "root-selector",
      detail: "a policy with a selector in the mesh root namespace is ignored entirely",
    });
  }
}

/**
 * Resolves the effective mTLS mode of a namespace (no labels) or of a workload with the given
 * labels. Reads only PeerAuthentications of the namespace and of the root namespace.
 */
export function resolveMtls(
  snapshot: Snapshot,
  rootNamespace: string,
  namespace: string,
  labels?: Record<string, string>,
): EffectiveMtls {
  const root = peerAuthentications(snapshot, rootNamespace);
  const local = namespace === rootNamespace ? [] : peerAuthentications(snapshot, namespace);
  const ignored: IgnoredPolicy[] = [];
  rootSelectors(root, ignored);

  const meshLevel = root.filter((p) => p.selector === undefined);
  const nsLevel = local.filter((p) => p.selector === undefined);
  const wlLevel =
    labels === undefined
      ? []
      : local.filter(
          (p) => p.selector !== undefined && selectorMatches({ matchLabels: p.selector }, labels),
        );
  selectorlessPortLevel([...meshLevel, ...nsLevel], ignored);

  const levels: Partial<Record<PolicyLevel, PeerAuthn>> = {};
  const mesh = pickOldest(meshLevel, "mesh", ignored);
  const ns = pickOldest(nsLevel, "namespace", ignored);
  const wl = pickOldest(wlLevel, "workload", ignored);
  if (mesh) levels.mesh = mesh;
  if (ns) levels.namespace = ns;
  if (wl) levels.workload = wl;

  let mode: MtlsMode = "PERMISSIVE";
  let source: EffectiveMtls["source"];
  for (const level of ["mesh", "namespace", "workload"] as const) {
    const policy = levels[level];
    if (policy?.mode !== undefined) {
      mode = policy.mode;
      source = { level, policy };
    }
  }
  const ports = (wl?.ports ?? []).map((p) => ({
    port: p.port,
    mode: p.mode ?? mode,
    inherited: p.mode === undefined,
  }));
  return { mode, source, levels, ports, ignored };
}

/** The mode in force on one port of a resolved workload. */
export function modeForPort(effective: EffectiveMtls, port: number): MtlsMode {
  return effective.ports.find((p) => p.port === port)?.mode ?? effective.mode;
}

/** Says where the effective mode comes from, for messages. */
export function describeSource(effective: EffectiveMtls): string {
  const source = effective.source;
  if (!source) {
    const unset = Object.values(effective.levels).map(describePolicy);
    return unset.length > 0
      ? `no policy sets a mode (${unset.join(", ")} leave it UNSET), so Istio's default PERMISSIVE applies`
      : "no PeerAuthentication applies, so Istio's default PERMISSIVE applies";
  }
  return `${source.level}-level ${describePolicy(source.policy)} sets ${source.policy.mode ?? ""}`;
}

export interface TargetPorts {
  /** Ports the workload's containers listen on or Services send traffic to. */
  ports: Set<number>;
  /** Service port → target port, for ports where the two differ (a common portLevelMtls mistake). */
  servicePorts: Map<number, number>;
}

/**
 * Ports declared by the application containers: every container and native sidecar (an init
 * container with `restartPolicy: Always`) except the proxy itself, in that order, a later
 * declaration of a port replacing an earlier one's name. Walks the lists in place: this runs for
 * every workload of the cluster.
 */
function containerPorts(spec: Record<string, unknown>): Map<number, string | undefined> {
  const proxy = proxyContainer(spec);
  const ports = new Map<number, string | undefined>();
  const declare = (container: unknown, nativeOnly: boolean): void => {
    if (!isObj(container) || container === proxy) return;
    if (nativeOnly && container.restartPolicy !== "Always") return;
    for (const p of arr(container.ports)) {
      if (!isObj(p)) continue;
      const port = num(p.containerPort);
      if (port !== undefined) ports.set(port, str(p.name));
    }
  };
  for (const c of arr(spec.containers)) declare(c, false);
  for (const c of arr(spec.initContainers)) declare(c, true);
  return ports;
}

/** A Service's target port: a number, a container port name, or (absent) the Service port. */
function resolveTargetPort(
  raw: unknown,
  servicePort: number | undefined,
  named: Map<string, number>,
): number | undefined {
  if (raw === undefined || raw === null) return servicePort;
  if (typeof raw === "string" && !/^\d+$/.test(raw)) return named.get(raw);
  return num(raw);
}

/** A Service with a selector, read once: its selector and its ports. */
interface ServiceTargets {
  selector: Record<string, string>;
  ports: { port: number | undefined; targetPort: unknown }[];
}

/**
 * Services with a non-empty selector per snapshot and namespace, read once: every workload of a
 * namespace is matched against all of them.
 */
const servicesBySnapshot = new WeakMap<Snapshot, Map<string, ServiceTargets[]>>();

function namespaceServices(snapshot: Snapshot, namespace: string): ServiceTargets[] {
  let byNamespace = servicesBySnapshot.get(snapshot);
  if (!byNamespace) {
    byNamespace = new Map();
    servicesBySnapshot.set(snapshot, byNamespace);
  }
  let services = byNamespace.get(namespace);
  if (!services) {
    services = [];
    for (const service of snapshot.inNamespace(K.Service, namespace)) {
      const selector = stringMap(at(service, "spec", "selector"));
      if (Object.keys(selector).length === 0) continue;
      const ports = objs(at(service, "spec", "ports")).map((p) => ({
        port: num(p.port),
        targetPort: p.targetPort,
      }));
      services.push({ selector, ports });
    }
    byNamespace.set(namespace, services);
  }
  return services;
}

function selectingServices(snapshot: Snapshot, workload: Workload): ServiceTargets[] {
  return namespaceServices(snapshot, workload.namespace).filter((s) =>
    selectorMatches({ matchLabels: s.selector }, workload.labels),
  );
}

/**
 * The target ports of a workload: its declared container ports plus the target ports of the
 * Services in its namespace that select it. Named target ports resolve through container ports.
 */
export function workloadTargetPorts(snapshot: Snapshot, workload: Workload): TargetPorts {
  const declared = containerPorts(workload.podSpec);
  const ports = new Set(declared.keys());
  const named = new Map<string, number>();
  for (const [port, name] of declared) if (name !== undefined) named.set(name, port);

  const servicePorts = new Map<number, number>();
  for (const service of selectingServices(snapshot, workload)) {
    for (const p of service.ports) {
      const port = p.port;
      const target = resolveTargetPort(p.targetPort, port, named);
      if (target === undefined) continue;
      ports.add(target);
      if (port !== undefined && port !== target) servicePorts.set(port, target);
    }
  }
  return { ports, servicePorts };
}
