// What the cache keeps of an object: only the fields the checks read. It never changes its input,
// so it is measured and tested without a server. Status is kept only where a check reads it (Pod
// phase, Certificate expiry); managedFields are kept only on Istio objects and shrink to who
// changed the object and whether they own its spec, which is what the GitOps-drift check needs;
// data is kept only in Istio's own ConfigMaps. What is kept goes through a ValueTable, so that
// equal labels, owners, specs and strings of different objects are stored once (and frozen).
import { GITOPS_KINDS } from "../engine/kinds.js";
import type { KubeObject } from "../engine/types.js";
import { ValueTable } from "./compact.js";
import { resourceKindKey, type WatchedResource } from "./resources.js";

const KEPT_METADATA = [
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "labels",
  "annotations",
  "ownerReferences",
] as const;

/** Kept as they are, not looked up in the table: unique to the object, or numbers. */
const OWN_METADATA = new Set(["name", "uid", "resourceVersion", "generation", "deletionTimestamp"]);

const KEPT_MANAGED_FIELDS = ["manager", "operation", "time", "subresource", "apiVersion"] as const;

/**
 * Annotations no check reads that can be large: `kubectl apply` stores the whole applied object in
 * this one, so it would double the size of every object applied that way.
 */
const DROPPED_ANNOTATIONS = new Set(["kubectl.kubernetes.io/last-applied-configuration"]);

/**
 * Only the GitOps-drift check reads managedFields, and only of the Istio kinds it judges; the
 * entries of every pod (kubelet, controllers) would cost memory for nothing.
 */
const MANAGED_FIELDS_KINDS = new Set(GITOPS_KINDS);

/** The table every reflector shares: a Deployment's pod template and its pods share parts too. */
const SHARED_VALUES = new ValueTable();

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The apiVersion a resource is read under, e.g. `security.istio.io/v1` or `v1`. */
export function apiVersionOf(resource: WatchedResource, version: string): string {
  return resource.group === "" ? version : `${resource.group}/${version}`;
}

/** True for the ConfigMaps whose data the checks read: the mesh config and injector templates. */
export function isIstioConfigMap(name: string): boolean {
  return name === "istio" || name.startsWith("istio-");
}

/**
 * The stripped copy of an object read from the API server. apiVersion and kind are set from the
 * resource, since list items and metadata-only objects do not carry the real ones.
 */
export function stripObject(
  resource: WatchedResource,
  version: string,
  raw: unknown,
  values: ValueTable = SHARED_VALUES,
): KubeObject {
  const source = isRecord(raw) ? raw : {};
  const metadata = stripMetadata(resource, source["metadata"], values);
  const apiVersion = values.string(apiVersionOf(resource, version));
  const out: Json = { apiVersion, kind: resource.kind, metadata };
  copyBody(resource, source, out, metadata);
  for (const key of Object.keys(out)) {
    if (!IDENTITY.has(key)) out[key] = values.value(out[key]);
  }
  return out as unknown as KubeObject;
}

/** Top-level fields that are already the table's, or the object's own. */
const IDENTITY = new Set(["apiVersion", "kind", "metadata"]);

function stripMetadata(resource: WatchedResource, raw: unknown, values: ValueTable): Json {
  const source = isRecord(raw) ? raw : {};
  const out: Json = {};
  for (const key of KEPT_METADATA) {
    const value = source[key];
    if (value === undefined) continue;
    if (OWN_METADATA.has(key)) out[key] = value;
    else if (key === "annotations") out[key] = values.value(keptAnnotations(value));
    else out[key] = values.value(value);
  }
  const managed = source["managedFields"];
  if (Array.isArray(managed) && MANAGED_FIELDS_KINDS.has(resourceKindKey(resource))) {
    out["managedFields"] = values.value(managed.map(stripManagedField));
  }
  return out;
}

function keptAnnotations(annotations: unknown): unknown {
  if (!isRecord(annotations)) return annotations;
  const keys = Object.keys(annotations);
  if (!keys.some((k) => DROPPED_ANNOTATIONS.has(k))) return annotations;
  const out: Json = {};
  for (const key of keys) {
    if (!DROPPED_ANNOTATIONS.has(key)) out[key] = annotations[key];
  }
  return out;
}

function stripManagedField(entry: unknown): Json {
  const source = isRecord(entry) ? entry : {};
  const out: Json = {};
  for (const key of KEPT_MANAGED_FIELDS) {
    if (source[key] !== undefined) out[key] = source[key];
  }
  const fields = source["fieldsV1"];
  if (isRecord(fields) && fields["f:spec"] !== undefined) {
    out["fieldsType"] = "FieldsV1";
    out["fieldsV1"] = { "f:spec": {} };
  }
  return out;
}

const DROPPED_TOP_LEVEL = new Set([
  "apiVersion",
  "kind",
  "metadata",
  "status",
  "data",
  "binaryData",
]);

/** Copies spec and any kind-specific top-level fields the checks read. */
function copyBody(resource: WatchedResource, source: Json, out: Json, metadata: Json): void {
  if (resource.metadataOnly === true) return;
  for (const [key, value] of Object.entries(source)) {
    if (!DROPPED_TOP_LEVEL.has(key)) out[key] = value;
  }
  pruneBody(resource, out);
  const status = keptStatus(resource, source["status"]);
  if (status !== undefined) out["status"] = status;
  if (keepsData(resource, metadata) && source["data"] !== undefined) out["data"] = source["data"];
}

function keepsData(resource: WatchedResource, metadata: Json): boolean {
  if (resource.group !== "" || resource.kind !== "ConfigMap") return false;
  return typeof metadata["name"] === "string" && isIstioConfigMap(metadata["name"]);
}

function keptStatus(resource: WatchedResource, status: unknown): Json | undefined {
  if (!isRecord(status)) return undefined;
  if (resource.group === "" && resource.kind === "Pod") {
    return status["phase"] === undefined ? {} : { phase: status["phase"] };
  }
  if (resource.group === "cert-manager.io" && resource.kind === "Certificate") {
    const out: Json = {};
    for (const key of ["conditions", "notAfter", "notBefore", "renewalTime"]) {
      if (status[key] !== undefined) out[key] = status[key];
    }
    return out;
  }
  return undefined;
}

/**
 * Pods are most of a cluster's objects, so the cache keeps only the parts of their spec that the
 * checks read: containers' identity, ports, security context and resources, and the pod-level
 * security settings. Environment and arguments are kept only for Istio's own containers, where
 * the checks read the interception mode; volumes, probes, scheduling and the rest are dropped.
 */
const KEPT_POD_SPEC = [
  "containers",
  "initContainers",
  "securityContext",
  "hostNetwork",
  "hostPID",
  "hostIPC",
  "serviceAccountName",
  "automountServiceAccountToken",
] as const;

const KEPT_CONTAINER = [
  "name",
  "image",
  "ports",
  "securityContext",
  "resources",
  "restartPolicy",
] as const;

/** Containers whose environment and flags the checks read: the proxy, its init, and istiod. */
const ISTIO_CONTAINERS = new Set(["istio-proxy", "istio-init", "istio-validation", "discovery"]);

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]);

/** Prunes the pod spec of a Pod, or the pod template of a workload controller, in place. */
function pruneBody(resource: WatchedResource, out: Json): void {
  if (!isRecord(out["spec"])) return;
  const spec: Json = { ...out["spec"] };
  out["spec"] = spec;
  if (resource.group === "" && resource.kind === "Pod") {
    out["spec"] = prunePodSpec(spec);
    return;
  }
  const template =
    resource.kind === "CronJob"
      ? templateAt(spec, ["jobTemplate", "spec", "template"])
      : WORKLOAD_KINDS.has(resource.kind)
        ? templateAt(spec, ["template"])
        : undefined;
  if (template && isRecord(template["spec"])) {
    template["spec"] = prunePodSpec(template["spec"]);
  }
}

/** The pod template at `path`, copied along the way so the caller's object is not changed. */
function templateAt(spec: Json, path: string[]): Json | undefined {
  let current = spec;
  for (const key of path) {
    const next = current[key];
    if (!isRecord(next)) return undefined;
    const copy = { ...next };
    current[key] = copy;
    current = copy;
  }
  return current;
}

export function prunePodSpec(spec: Json): Json {
  const out: Json = {};
  for (const key of KEPT_POD_SPEC) {
    if (spec[key] !== undefined) out[key] = spec[key];
  }
  for (const key of ["containers", "initContainers"] as const) {
    const list = out[key];
    if (Array.isArray(list)) out[key] = list.map(pruneContainer);
  }
  return out;
}

function pruneContainer(container: unknown): unknown {
  if (!isRecord(container)) return container;
  const out: Json = {};
  for (const key of KEPT_CONTAINER) {
    if (container[key] !== undefined) out[key] = container[key];
  }
  if (typeof container["name"] === "string" && ISTIO_CONTAINERS.has(container["name"])) {
    for (const key of ["env", "args", "command"]) {
      if (container[key] !== undefined) out[key] = container[key];
    }
  }
  return out;
}
