// Every kind the operator watches, in one list: the reflectors start one watch per entry, the
// shipped ClusterRole grants exactly these (a test compares the two), and the engine's kind keys
// (`group/Kind`) name them.

export interface WatchedResource {
  group: string;
  /** Served versions the operator accepts, newest first; it watches the newest the server offers. */
  versions: string[];
  /** The plural resource name used in URLs and RBAC rules. */
  resource: string;
  kind: string;
  namespaced: boolean;
  /**
   * Read as PartialObjectMetadata: Secret contents never reach the operator. RBAC has no
   * metadata-only verb, so the ClusterRole still grants list/watch.
   */
  metadataOnly?: boolean;
  /** A CRD that may be absent (Istio, cert-manager, Gateway API): not installed is not an error. */
  optional?: boolean;
}

const ISTIO_NETWORKING = ["v1", "v1beta1", "v1alpha3"];
const ISTIO_SECURITY = ["v1", "v1beta1"];

export const WATCHED_RESOURCES: readonly WatchedResource[] = [
  { group: "", versions: ["v1"], resource: "namespaces", kind: "Namespace", namespaced: false },
  { group: "", versions: ["v1"], resource: "pods", kind: "Pod", namespaced: true },
  { group: "", versions: ["v1"], resource: "services", kind: "Service", namespaced: true },
  { group: "", versions: ["v1"], resource: "configmaps", kind: "ConfigMap", namespaced: true },
  {
    group: "",
    versions: ["v1"],
    resource: "secrets",
    kind: "Secret",
    namespaced: true,
    metadataOnly: true,
  },
  {
    group: "apps",
    versions: ["v1"],
    resource: "deployments",
    kind: "Deployment",
    namespaced: true,
  },
  {
    group: "apps",
    versions: ["v1"],
    resource: "statefulsets",
    kind: "StatefulSet",
    namespaced: true,
  },
  { group: "apps", versions: ["v1"], resource: "daemonsets", kind: "DaemonSet", namespaced: true },
  { group: "batch", versions: ["v1"], resource: "jobs", kind: "Job", namespaced: true },
  { group: "batch", versions: ["v1"], resource: "cronjobs", kind: "CronJob", namespaced: true },
  {
    group: "autoscaling",
    versions: ["v2"],
    resource: "horizontalpodautoscalers",
    kind: "HorizontalPodAutoscaler",
    namespaced: true,
  },
  {
    group: "policy",
    versions: ["v1"],
    resource: "poddisruptionbudgets",
    kind: "PodDisruptionBudget",
    namespaced: true,
  },
  ...(["Role", "RoleBinding"] as const).map((kind) => ({
    group: "rbac.authorization.k8s.io",
    versions: ["v1"],
    resource: `${kind.toLowerCase()}s`,
    kind,
    namespaced: true,
  })),
  ...(["ClusterRole", "ClusterRoleBinding"] as const).map((kind) => ({
    group: "rbac.authorization.k8s.io",
    versions: ["v1"],
    resource: `${kind.toLowerCase()}s`,
    kind,
    namespaced: false,
  })),
  ...(["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"] as const).map((kind) => ({
    group: "admissionregistration.k8s.io",
    versions: ["v1"],
    resource: `${kind.toLowerCase()}s`,
    kind,
    namespaced: false,
  })),
  optionalCrd("security.istio.io", ISTIO_SECURITY, "peerauthentications", "PeerAuthentication"),
  optionalCrd("security.istio.io", ISTIO_SECURITY, "authorizationpolicies", "AuthorizationPolicy"),
  optionalCrd(
    "security.istio.io",
    ISTIO_SECURITY,
    "requestauthentications",
    "RequestAuthentication",
  ),
  optionalCrd("networking.istio.io", ISTIO_NETWORKING, "destinationrules", "DestinationRule"),
  optionalCrd("networking.istio.io", ISTIO_NETWORKING, "virtualservices", "VirtualService"),
  optionalCrd("networking.istio.io", ISTIO_NETWORKING, "gateways", "Gateway"),
  optionalCrd("networking.istio.io", ISTIO_NETWORKING, "serviceentries", "ServiceEntry"),
  optionalCrd("networking.istio.io", ISTIO_NETWORKING, "sidecars", "Sidecar"),
  optionalCrd("networking.istio.io", ["v1alpha3"], "envoyfilters", "EnvoyFilter"),
  optionalCrd("telemetry.istio.io", ["v1", "v1alpha1"], "telemetries", "Telemetry"),
  optionalCrd("extensions.istio.io", ["v1alpha1"], "wasmplugins", "WasmPlugin"),
  optionalCrd("extensions.istio.io", ["v1alpha1"], "trafficextensions", "TrafficExtension"),
  optionalCrd("gateway.networking.k8s.io", ["v1", "v1beta1"], "gateways", "Gateway"),
  optionalCrd("gateway.networking.k8s.io", ["v1beta1"], "referencegrants", "ReferenceGrant"),
  optionalCrd("cert-manager.io", ["v1"], "certificates", "Certificate"),
  {
    group: "meshcompliance.io",
    versions: ["v1alpha1"],
    resource: "threatpolicies",
    kind: "ThreatPolicy",
    namespaced: false,
  },
];

function optionalCrd(
  group: string,
  versions: string[],
  resource: string,
  kind: string,
): WatchedResource {
  return { group, versions, resource, kind, namespaced: true, optional: true };
}

/** The engine's kind key of a watched resource. */
export function resourceKindKey(r: WatchedResource): string {
  return `${r.group}/${r.kind}`;
}
