// The control plane and the injector as the checks see them: istiod Deployments, their main
// container, environment and flags, their revision, the injector's values, and what a workload's
// istio-proxy container is (or will be once injected).

import { at, isObj, obj, objs, str, stringMap, strs, type Obj } from "./fields.js";
import { isIstiodDeployment } from "./fingerprint.js";
import { K } from "./kinds.js";
import { proxyContainer, type Workload } from "./mesh.js";
import type { Snapshot } from "./snapshot.js";
import type { KubeObject } from "./types.js";

export const STATUS_ANNOTATION = "sidecar.istio.io/status";
const INJECTOR_CONFIGMAP = "istio-sidecar-injector";

/** istiod Deployments of the whole snapshot, sorted by namespace and name. */
export function istiodDeployments(snapshot: Snapshot): KubeObject[] {
  return snapshot
    .all(K.Deployment)
    .filter(isIstiodDeployment)
    .sort((a, b) => key(a).localeCompare(key(b)));
}

function key(o: KubeObject): string {
  return `${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}`;
}

export function podTemplateSpec(d: KubeObject): Obj {
  return obj(at(d, "spec", "template", "spec")) ?? {};
}

export function podTemplateLabels(d: KubeObject): Record<string, string> {
  return stringMap(at(d, "spec", "template", "metadata", "labels"));
}

/** istiod's own container: `discovery`, else the first one. */
export function istiodContainer(d: KubeObject): Obj | undefined {
  const containers = objs(podTemplateSpec(d).containers);
  return containers.find((c) => c.name === "discovery") ?? containers[0];
}

/** A literal environment value; undefined when absent or taken from a reference. */
export function envValue(container: Obj | undefined, name: string): string | undefined {
  const entry = objs(container?.env).find((e) => e.name === name);
  return str(entry?.value) ?? (typeof entry?.value === "boolean" ? String(entry.value) : undefined);
}

/** The value of a `--flag=value` or `--flag value` argument; undefined when not given. */
export function flagValue(container: Obj | undefined, flag: string): string | undefined {
  const args = [...strs(container?.command), ...strs(container?.args)];
  for (let i = 0; i < args.length; i++) {
    const arg = (args[i] ?? "").replace(/^--?/, "-");
    if (arg === `-${flag}`) return args[i + 1] ?? "";
    if (arg.startsWith(`-${flag}=`)) return arg.slice(flag.length + 2).replace(/^"(.*)"$/, "$1");
  }
  return undefined;
}

/** The revision an istiod Deployment serves: its `istio.io/rev` label or REVISION env. */
export function istiodRevision(d: KubeObject): string {
  const label =
    stringMap(d.metadata.labels)["istio.io/rev"] ?? podTemplateLabels(d)["istio.io/rev"];
  return label ?? envValue(istiodContainer(d), "REVISION") ?? "default";
}

/** The revision a meshed workload was injected by: label, else the status annotation. */
export function workloadRevision(w: Workload): string {
  const label = w.labels["istio.io/rev"];
  if (label !== undefined && label !== "") return label;
  return statusRevision(w.annotations[STATUS_ANNOTATION]) ?? "default";
}

/**
 * The revision in a `sidecar.istio.io/status` annotation. Pods injected alike carry the same text,
 * so answers are kept per text (a bounded cache: the map starts over when full).
 */
const revisionByStatus = new Map<string, string | undefined>();

function statusRevision(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (revisionByStatus.has(text)) return revisionByStatus.get(text);
  const revision = str(at(parseJson(text), "revision"));
  if (revisionByStatus.size >= 1000) revisionByStatus.clear();
  revisionByStatus.set(text, revision);
  return revision;
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The injector's Helm values (ConfigMap `istio-sidecar-injector[-<rev>]`, key `values`, JSON) in
 * the given namespace; undefined when the ConfigMap is not in the input or cannot be parsed.
 */
export function injectorValues(
  snapshot: Snapshot,
  namespace: string,
  revision = "default",
): Obj | undefined {
  const name = revision === "default" ? INJECTOR_CONFIGMAP : `${INJECTOR_CONFIGMAP}-${revision}`;
  const cm = snapshot.inNamespace(K.ConfigMap, namespace).find((c) => c.metadata.name === name);
  const values = parseJson(str(at(cm, "data", "values")));
  return isObj(values) ? values : undefined;
}

/**
 * What a workload's proxy container is. `actual`: the proxy is in the spec as it runs (a pod, or
 * a template that was injected before it was applied). `predicted`: a template the injector has
 * yet to process, with the user's `istio-proxy` override (merged over the injected container)
 * and the injector's values when they are in the input.
 */
export type ProxyView =
  | { kind: "actual"; container: Obj }
  | { kind: "predicted"; override: Obj | undefined; values: Obj | undefined };

export function proxyView(w: Workload, snapshot: Snapshot, injectorNamespace: string): ProxyView {
  const container = proxyContainer(w.podSpec);
  const injected = !w.fromTemplate || w.annotations[STATUS_ANNOTATION] !== undefined;
  if (container && injected) return { kind: "actual", container };
  const values = injectorValues(snapshot, injectorNamespace, workloadRevision(w));
  return { kind: "predicted", override: container, values };
}

/** The reason given when a template's proxy settings cannot be known. */
export const INJECTOR_UNKNOWN =
  "proxy settings come from the injector, which is not in the input " +
  "(ConfigMap istio-sidecar-injector with its values)";

/** `Pod ns/name`, or `Deployment ns/name (judged from its pod template)`. */
export function describeWorkload(w: Workload): string {
  const origin = w.fromTemplate ? " (judged from its pod template)" : "";
  return `${w.ref.kind} ${w.namespace}/${w.ref.name}${origin}`;
}

/** Every container of a pod spec with where it sits. */
export function allContainers(spec: Obj): { container: Obj; init: boolean }[] {
  return [
    ...objs(spec.initContainers).map((container) => ({ container, init: true })),
    ...objs(spec.containers).map((container) => ({ container, init: false })),
  ];
}

/** An init container that keeps running beside the app (a native sidecar). */
export function isNativeSidecar(container: Obj): boolean {
  return container.restartPolicy === "Always";
}

/** True when a workload shows Istio CNI at work: the CNI validation container, or no istio-init. */
export function showsCni(w: Workload): boolean {
  if (w.dataPlane === "ambient") return true;
  const names = objs(w.podSpec.initContainers).map((c) => c.name);
  if (names.includes("istio-validation")) return true;
  const injected = !w.fromTemplate || w.annotations[STATUS_ANNOTATION] !== undefined;
  return injected && proxyContainer(w.podSpec) !== undefined && !names.includes("istio-init");
}

/** The Istio CNI node agent DaemonSet, when it is in the namespace. */
export function cniDaemonSet(snapshot: Snapshot, namespace: string): KubeObject | undefined {
  return snapshot
    .inNamespace(K.DaemonSet, namespace)
    .find((d) => (d.metadata.name ?? "").startsWith("istio-cni-node"));
}
