// Kind keys are `group/Kind`, independent of the API version: every Istio object is stored once and
// served under each of its versions, so the engine treats `security.istio.io/v1` and
// `security.istio.io/v1beta1` PeerAuthentications alike.

export const K = {
  Namespace: "/Namespace",
  Pod: "/Pod",
  Service: "/Service",
  ConfigMap: "/ConfigMap",
  Secret: "/Secret",
  ServiceAccount: "/ServiceAccount",
  Deployment: "apps/Deployment",
  StatefulSet: "apps/StatefulSet",
  DaemonSet: "apps/DaemonSet",
  ReplicaSet: "apps/ReplicaSet",
  Job: "batch/Job",
  CronJob: "batch/CronJob",
  HorizontalPodAutoscaler: "autoscaling/HorizontalPodAutoscaler",
  PodDisruptionBudget: "policy/PodDisruptionBudget",
  Role: "rbac.authorization.k8s.io/Role",
  ClusterRole: "rbac.authorization.k8s.io/ClusterRole",
  RoleBinding: "rbac.authorization.k8s.io/RoleBinding",
  ClusterRoleBinding: "rbac.authorization.k8s.io/ClusterRoleBinding",
  MutatingWebhookConfiguration: "admissionregistration.k8s.io/MutatingWebhookConfiguration",
  ValidatingWebhookConfiguration: "admissionregistration.k8s.io/ValidatingWebhookConfiguration",
  PeerAuthentication: "security.istio.io/PeerAuthentication",
  AuthorizationPolicy: "security.istio.io/AuthorizationPolicy",
  RequestAuthentication: "security.istio.io/RequestAuthentication",
  DestinationRule: "networking.istio.io/DestinationRule",
  VirtualService: "networking.istio.io/VirtualService",
  Gateway: "networking.istio.io/Gateway",
  ServiceEntry: "networking.istio.io/ServiceEntry",
  Sidecar: "networking.istio.io/Sidecar",
  EnvoyFilter: "networking.istio.io/EnvoyFilter",
  Telemetry: "telemetry.istio.io/Telemetry",
  WasmPlugin: "extensions.istio.io/WasmPlugin",
  TrafficExtension: "extensions.istio.io/TrafficExtension",
  K8sGateway: "gateway.networking.k8s.io/Gateway",
  Certificate: "cert-manager.io/Certificate",
  ThreatPolicy: "meshcompliance.io/ThreatPolicy",
} as const;

export type KindKey = (typeof K)[keyof typeof K] | (string & {});

/** Kinds that have no namespace. Anything else without one is treated as namespaced. */
export const CLUSTER_SCOPED = new Set<string>([
  K.Namespace,
  K.ClusterRole,
  K.ClusterRoleBinding,
  K.MutatingWebhookConfiguration,
  K.ValidatingWebhookConfiguration,
  K.ThreatPolicy,
  "meshcompliance.io/ComplianceReport",
  "apiextensions.k8s.io/CustomResourceDefinition",
  "/Node",
  "/PersistentVolume",
  "storage.k8s.io/StorageClass",
  "gateway.networking.k8s.io/GatewayClass",
  "cert-manager.io/ClusterIssuer",
]);

export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

export function kindKey(apiVersion: string, kind: string): string {
  return `${groupOf(apiVersion)}/${kind}`;
}

/** Workload controllers whose pod templates are judged when no pods of theirs are present. */
export const WORKLOAD_CONTROLLERS: readonly string[] = [
  K.Deployment,
  K.StatefulSet,
  K.DaemonSet,
  K.ReplicaSet,
  K.Job,
  K.CronJob,
];

/** Everything a workload check reads: running pods and the controllers whose templates stand in. */
export const WORKLOAD_INPUTS: readonly string[] = [K.Pod, ...WORKLOAD_CONTROLLERS];

/**
 * Istio kinds whose spec is configuration a team would keep in Git. config-outside-gitops judges
 * them, and the cache keeps managedFields for these kinds only.
 */
export const GITOPS_KINDS: readonly string[] = [
  K.PeerAuthentication,
  K.AuthorizationPolicy,
  K.RequestAuthentication,
  K.DestinationRule,
  K.VirtualService,
  K.Gateway,
  K.ServiceEntry,
  K.Sidecar,
  K.EnvoyFilter,
  K.Telemetry,
  K.WasmPlugin,
  K.TrafficExtension,
];
