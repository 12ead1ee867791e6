// What Istio itself would consider part of the mesh: the root namespace, installed revisions,
// which namespaces are enrolled (sidecar or ambient), and which workloads are meshed. Computed once
// per snapshot and shared by every check.

import { at, isObj, obj, str, stringMap } from "./fields.js";
import { K, WORKLOAD_CONTROLLERS, kindKey } from "./kinds.js";
import {
  findMeshConfigMap,
  readMeshConfig,
  type MeshConfig,
  type YamlParse,
} from "./meshconfig.js";
import type { ThreatPolicy } from "./policy.js";
import { selectorMatches } from "./selectors.js";
import { refOf, type Snapshot } from "./snapshot.js";
import type { KubeObject, ResourceRef } from "./types.js";

/** Namespaces Istio never injects into, and that are out of scope by default. */
export const SYSTEM_NAMESPACES = new Set(["kube-system", "kube-public", "kube-node-lease"]);

export type DataPlane = "sidecar" | "ambient" | "none";

export interface Enrollment {
  mode: DataPlane;
  /** Why, in words a report can show. */
  reason: string;
  /** True when the namespace was not declared and was assumed enrolled (offline scans). */
  assumed: boolean;
  /** True when Istio ignores the namespace's configuration (outside discoverySelectors). */
  ignoredByIstio: boolean;
}

export interface Workload {
  ref: ResourceRef;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  podSpec: Record<string, unknown>;
  /** True when judged from a controller's pod template rather than a running pod. */
  fromTemplate: boolean;
  dataPlane: DataPlane;
  /** Why the workload is or is not meshed. */
  meshReason: string;
}

export interface MeshOptions {
  parseYaml: YamlParse;
  /** Offline scans assume that a namespace no document declares is enrolled. */
  assumeUndeclaredNamespacesEnrolled: boolean;
}

export class Mesh {
  readonly rootNamespace: string;
  readonly meshConfig: MeshConfig | undefined;
  /** Revisions and tags that an injector webhook serves; empty when none is in the snapshot. */
  readonly revisions: ReadonlySet<string>;
  readonly assumptions: string[] = [];
  private readonly enrollments = new Map<string, Enrollment>();
  private readonly workloadCache = new Map<string, Workload[]>();

  constructor(
    readonly snapshot: Snapshot,
    readonly policy: ThreatPolicy,
    private readonly options: MeshOptions,
  ) {
    const hint = policy.meshRootNamespace ?? "istio-system";
    const cm = findMeshConfigMap(snapshot, hint);
    this.meshConfig = cm ? readMeshConfig(cm, options.parseYaml) : undefined;
    this.rootNamespace =
      policy.meshRootNamespace ?? this.meshConfig?.rootNamespace ?? "istio-system";
    this.revisions = installedRevisions(snapshot);
  }

  enrollment(namespace: string): Enrollment {
    let e = this.enrollments.get(namespace);
    if (!e) {
      e = this.computeEnrollment(namespace);
      this.enrollments.set(namespace, e);
      if (e.assumed) {
        this.assumptions.push(
          `namespace ${namespace} has no Namespace document in the input; assumed enrolled in the mesh`,
        );
      }
    }
    return e;
  }

  /** Namespaces the policy covers: its selector, or Istio's own enrolment when it has none. */
  inScope(namespace: string): boolean {
    if (SYSTEM_NAMESPACES.has(namespace)) return false;
    const selector = this.policy.namespaceSelector;
    if (selector) {
      const ns = this.snapshot.namespace(namespace);
      return selectorMatches(selector, ns ? stringMap(ns.metadata.labels) : {});
    }
    return this.enrollment(namespace).mode !== "none";
  }

  /** In-scope namespaces, sorted. */
  scopedNamespaces(): string[] {
    return this.snapshot.namespaces().filter((ns) => this.inScope(ns));
  }

  private computeEnrollment(namespace: string): Enrollment {
    const base = { assumed: false, ignoredByIstio: false };
    if (SYSTEM_NAMESPACES.has(namespace)) {
      return { ...base, mode: "none", reason: "Istio never injects into system namespaces" };
    }
    const ns = this.snapshot.namespace(namespace);
    if (!ns) {
      // The root namespace holds the control plane, which is never injected.
      const assumable = namespace !== this.rootNamespace && !this.snapshot.namespacesComplete;
      if (this.options.assumeUndeclaredNamespacesEnrolled && assumable) {
        return {
          ...base,
          mode: "sidecar",
          reason: "assumed enrolled (not declared)",
          assumed: true,
        };
      }
      return { ...base, mode: "none", reason: "namespace not found" };
    }
    const labels = stringMap(ns.metadata.labels);
    const ignored = this.outsideDiscovery(labels);
    const verdict = namespaceLabelVerdict(labels, this.revisions);
    return { ...base, ...verdict, ignoredByIstio: ignored };
  }

  private outsideDiscovery(labels: Record<string, string>): boolean {
    const selectors = this.meshConfig?.discoverySelectors ?? [];
    if (selectors.length === 0) return false;
    return !selectors.some((s) => selectorMatches(s, labels));
  }

  /** Workloads of a namespace: running pods where there are any, else controllers' templates. */
  workloads(namespace: string): Workload[] {
    let list = this.workloadCache.get(namespace);
    if (!list) {
      list = this.computeWorkloads(namespace);
      this.workloadCache.set(namespace, list);
    }
    return list;
  }

  private computeWorkloads(namespace: string): Workload[] {
    const pods = this.snapshot
      .inNamespace(K.Pod, namespace)
      .filter((p) => !isCompleted(p))
      .map((p) => this.fromPod(p));
    const templates = WORKLOAD_CONTROLLERS.flatMap((kind) =>
      this.snapshot.inNamespace(kind, namespace),
    )
      .filter((c) => !ownedByPresentController(c, this.snapshot))
      // Only the template's labels decide whether its pods run; judging the template costs more.
      .filter((c) => {
        const labels = templateLabels(c);
        return !pods.some((p) => templateRunsAs(labels, p));
      })
      .flatMap((c) => this.fromTemplate(c));
    return [...pods, ...templates];
  }

  private fromPod(pod: KubeObject): Workload {
    const spec = obj(pod.spec) ?? {};
    const annotations = stringMap(pod.metadata.annotations);
    const labels = stringMap(pod.metadata.labels);
    const ref = refOf(pod);
    const namespace = ref.namespace ?? "default";
    const [dataPlane, meshReason] = podDataPlane(spec, labels, annotations);
    return {
      ref,
      namespace,
      labels,
      annotations,
      podSpec: spec,
      fromTemplate: false,
      dataPlane,
      meshReason,
    };
  }

  private fromTemplate(controller: KubeObject): Workload[] {
    const template = podTemplateOf(controller);
    if (!template) return [];
    const spec = obj(template.spec) ?? {};
    const labels = stringMap(at(template, "metadata", "labels"));
    const annotations = stringMap(at(template, "metadata", "annotations"));
    const namespace = refOf(controller).namespace ?? "default";
    const [dataPlane, meshReason] = this.predictDataPlane(namespace, spec, labels, annotations);
    return [
      {
        ref: refOf(controller),
        namespace,
        labels,
        annotations,
        podSpec: spec,
        fromTemplate: true,
        dataPlane,
        meshReason,
      },
    ];
  }

  /** What the injector would do with a pod created from this template. */
  private predictDataPlane(
    namespace: string,
    spec: Record<string, unknown>,
    labels: Record<string, string>,
    annotations: Record<string, string>,
  ): [DataPlane, string] {
    const present = podDataPlane(spec, labels, annotations);
    if (present[0] !== "none") return present;
    if (spec.hostNetwork === true) return ["none", "hostNetwork pods are never injected"];
    const optOut = sidecarOptOut(labels, annotations);
    const enrollment = this.enrollment(namespace);
    if (enrollment.mode === "ambient") {
      if (labels["istio.io/dataplane-mode"] === "none") return ["none", "opted out of ambient"];
      return ["ambient", "namespace is enrolled in ambient mode"];
    }
    if (enrollment.mode === "sidecar") {
      if (optOut) return ["none", optOut];
      return ["sidecar", enrollment.reason];
    }
    return this.podLevelOptIn(namespace, labels, optOut);
  }

  private podLevelOptIn(
    namespace: string,
    labels: Record<string, string>,
    optOut: string | undefined,
  ): [DataPlane, string] {
    const nsLabels = stringMap(this.snapshot.namespace(namespace)?.metadata.labels);
    // A namespace labelled istio-injection (disabled included) excludes every pod in it.
    if (nsLabels["istio-injection"] !== undefined) {
      return ["none", `namespace has istio-injection=${nsLabels["istio-injection"]}`];
    }
    if (labels["istio.io/dataplane-mode"] === "ambient")
      return ["ambient", "pod opts into ambient"];
    if (optOut) return ["none", optOut];
    if (labels["sidecar.istio.io/inject"] === "true") return ["sidecar", "pod opts in"];
    const rev = labels["istio.io/rev"];
    if (rev !== undefined && revisionKnown(rev, this.revisions)) {
      return ["sidecar", `pod selects revision ${rev}`];
    }
    return ["none", "neither the namespace nor the pod enables injection"];
  }
}

function namespaceLabelVerdict(
  labels: Record<string, string>,
  revisions: ReadonlySet<string>,
): { mode: DataPlane; reason: string } {
  const injection = labels["istio-injection"];
  // Any istio-injection label, disabled included, takes precedence over istio.io/rev.
  if (injection !== undefined) {
    if (injection === "enabled") return { mode: "sidecar", reason: "istio-injection=enabled" };
    return { mode: "none", reason: `istio-injection=${injection}` };
  }
  const rev = labels["istio.io/rev"];
  if (rev !== undefined) {
    if (revisionKnown(rev, revisions)) return { mode: "sidecar", reason: `istio.io/rev=${rev}` };
    return { mode: "none", reason: `istio.io/rev=${rev} names no installed revision or tag` };
  }
  if (labels["istio.io/dataplane-mode"] === "ambient") {
    return { mode: "ambient", reason: "istio.io/dataplane-mode=ambient" };
  }
  return { mode: "none", reason: "no injection or ambient label" };
}

/** With no injector in the snapshot (an offline scan of app manifests), any revision may exist. */
function revisionKnown(rev: string, revisions: ReadonlySet<string>): boolean {
  return revisions.size === 0 || revisions.has(rev);
}

function installedRevisions(snapshot: Snapshot): Set<string> {
  const revisions = new Set<string>();
  for (const hook of snapshot.all(K.MutatingWebhookConfiguration)) {
    const name = hook.metadata.name ?? "";
    const labels = stringMap(hook.metadata.labels);
    if (name === "istio-sidecar-injector") revisions.add("default");
    else if (name.startsWith("istio-sidecar-injector-")) {
      revisions.add(labels["istio.io/rev"] ?? name.slice("istio-sidecar-injector-".length));
    } else if (name.startsWith("istio-revision-tag-")) {
      revisions.add(labels["istio.io/tag"] ?? name.slice("istio-revision-tag-".length));
    }
  }
  return revisions;
}

/** The pod opt-out: the label wins over the older annotation. */
export function sidecarOptOut(
  labels: Record<string, string>,
  annotations: Record<string, string>,
): string | undefined {
  const label = labels["sidecar.istio.io/inject"];
  if (label !== undefined) {
    return label === "false" ? "opted out with label sidecar.istio.io/inject=false" : undefined;
  }
  if (annotations["sidecar.istio.io/inject"] === "false") {
    return "opted out with annotation sidecar.istio.io/inject=false";
  }
  return undefined;
}

/** A container named istio-proxy, in containers or (native sidecar) initContainers. */
export function proxyContainer(spec: Record<string, unknown>): Record<string, unknown> | undefined {
  // Walks the lists in place: every check that looks at a sidecar asks, for every workload.
  return namedProxy(spec.containers) ?? namedProxy(spec.initContainers);
}

function namedProxy(list: unknown): Record<string, unknown> | undefined {
  if (!Array.isArray(list)) return undefined;
  for (const c of list as unknown[]) if (isObj(c) && c.name === "istio-proxy") return c;
  return undefined;
}

function podDataPlane(
  spec: Record<string, unknown>,
  labels: Record<string, string>,
  annotations: Record<string, string>,
): [DataPlane, string] {
  if (annotations["sidecar.istio.io/status"] !== undefined || proxyContainer(spec)) {
    return ["sidecar", "has an istio-proxy sidecar"];
  }
  if (annotations["ambient.istio.io/redirection"] === "enabled") {
    return ["ambient", "redirected by ambient"];
  }
  if (spec.hostNetwork === true) return ["none", "hostNetwork pods are never injected"];
  const optOut = sidecarOptOut(labels, annotations);
  return ["none", optOut ?? "no istio-proxy sidecar and not redirected by ambient"];
}

function isCompleted(pod: KubeObject): boolean {
  const phase = str(at(pod, "status", "phase"));
  return phase === "Succeeded" || phase === "Failed";
}

export function podTemplateOf(controller: KubeObject): Record<string, unknown> | undefined {
  const key = kindKey(controller.apiVersion, controller.kind);
  if (key === K.CronJob) return obj(at(controller, "spec", "jobTemplate", "spec", "template"));
  return obj(at(controller, "spec", "template"));
}

/** A ReplicaSet owned by a Deployment (or a Job owned by a CronJob) that is also present. */
function ownedByPresentController(controller: KubeObject, snapshot: Snapshot): boolean {
  const ns = refOf(controller).namespace ?? "default";
  return (controller.metadata.ownerReferences ?? []).some((owner) => {
    const kind =
      owner.kind === "Deployment" ? K.Deployment : owner.kind === "CronJob" ? K.CronJob : "";
    return (
      kind !== "" && snapshot.inNamespace(kind, ns).some((c) => c.metadata.name === owner.name)
    );
  });
}

function templateLabels(controller: KubeObject): Record<string, string> {
  return stringMap(at(podTemplateOf(controller), "metadata", "labels"));
}

/**
 * A pod that the template's controller created: the template's labels, read as a matchLabels
 * selector, match the pod's labels. Compared directly, as this runs for every pair of template
 * and pod in a namespace; both come from the same namespace.
 */
function templateRunsAs(labels: Record<string, string>, pod: Workload): boolean {
  const keys = Object.keys(labels);
  if (keys.length === 0) return false;
  return keys.every((k) => pod.labels[k] === labels[k]);
}
