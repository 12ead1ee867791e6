// Every API permission the operator needs, derived from WATCHED_RESOURCES plus the few writes it
// makes. The shipped RBAC (deploy/base/rbac.yaml) must grant exactly these: a test compares the two,
// so a new watched kind or a new write cannot ship without its permission, and no permission can
// ship that the operator does not use.

import { WATCHED_RESOURCES, type WatchedResource } from "./resources.js";

export interface Permission {
  group: string;
  /** The resource, with `/subresource` for subresources (`compliancereports/status`). */
  resource: string;
  verbs: string[];
}

/**
 * Reads of a watched kind. A metadata-only kind (Secrets) is listed and watched as
 * PartialObjectMetadata and never fetched one by one, so it gets no `get`: a single Secret's
 * contents stay out of reach even though RBAC cannot restrict list to metadata.
 */
export function readPermission(r: WatchedResource): Permission {
  const verbs = r.metadataOnly === true ? ["list", "watch"] : ["get", "list", "watch"];
  return { group: r.group, resource: r.resource, verbs };
}

/** Cluster-wide writes: the reports it owns, the status of its policies, and Events. */
export const CLUSTER_WRITES: readonly Permission[] = [
  {
    group: "meshcompliance.io",
    resource: "threatpolicies/status",
    verbs: ["get", "patch", "update"],
  },
  {
    group: "meshcompliance.io",
    resource: "compliancereports",
    verbs: ["create", "get", "patch", "update"],
  },
  {
    group: "meshcompliance.io",
    resource: "compliancereports/status",
    verbs: ["get", "patch", "update"],
  },
  // Events go to the namespace of the object they are about, so they need a cluster-wide grant.
  { group: "", resource: "events", verbs: ["create", "patch"] },
  { group: "events.k8s.io", resource: "events", verbs: ["create", "patch"] },
];

/** Writes in the operator's own namespace only: the leader-election Lease. */
export const NAMESPACE_WRITES: readonly Permission[] = [
  { group: "coordination.k8s.io", resource: "leases", verbs: ["create", "get", "update"] },
];

/** The permissions the ClusterRole grants: every watched kind's reads and the cluster writes. */
export function clusterPermissions(
  resources: readonly WatchedResource[] = WATCHED_RESOURCES,
): Permission[] {
  return [...resources.map(readPermission), ...CLUSTER_WRITES];
}

/** Splits permissions into `group resource verb` triples, the unit RBAC actually grants. */
export function grantTriples(permissions: readonly Permission[]): string[] {
  const triples = permissions.flatMap((p) => p.verbs.map((v) => `${p.group} ${p.resource} ${v}`));
  return [...new Set(triples)].sort();
}
