// S-03 and T-02 through RBAC: who, besides the control plane and the cluster's administrators,
// may take over istiod's namespace, read the mesh CA key, or rewrite Istio configuration. The
// RBAC index resolves wildcards, aggregated ClusterRoles and RoleBindings that point at
// ClusterRoles; these checks decide which answers matter and report one finding per subject.

import {
  inputsAvailable,
  type Check,
  type CheckContext,
  type ClusterCheck,
  type Emitter,
} from "../check.js";
import { strs } from "../fields.js";
import { istiodNamespaces } from "../fingerprint.js";
import { K } from "../kinds.js";
import type { Subject } from "../policy.js";
import {
  AccessBySubject,
  bindingNamespaces,
  grantedByRoleBinding,
  isTrustedSubject,
  RbacIndex,
  subjectRef,
  subjectText,
  type AccessGrant,
  type AccessRequest,
  type AccessTarget,
  type TrustContext,
} from "../rbac.js";
import type { Severity } from "../types.js";

const RBAC_INPUTS = [K.ClusterRole, K.ClusterRoleBinding, K.Role, K.RoleBinding];
const WRITE_VERBS = ["create", "update", "patch", "delete"];

function trustOf(ctx: CheckContext): TrustContext {
  return {
    trusted: ctx.policy.trustedSubjects,
    istiodNamespaces: istiodNamespaces(ctx.snapshot, ctx.mesh.rootNamespace),
  };
}

/** The RBAC index, or undefined (after saying why) when the input cannot answer RBAC questions. */
function rbacIndex(ctx: CheckContext, check: ClusterCheck, emit: Emitter): RbacIndex | undefined {
  if (!inputsAvailable(ctx, check, emit)) return undefined;
  const index = RbacIndex.of(ctx.snapshot);
  if (!index.hasBindings) {
    emit.unknown(
      "no RoleBindings or ClusterRoleBindings in the input, so who holds these rights cannot be judged",
    );
    return undefined;
  }
  return index;
}

/** One question to the RBAC index, and how to report a grant that answers it. */
interface Question {
  request: AccessRequest;
  what: AccessTarget;
  severity: Severity | ((grant: AccessGrant) => Severity);
  /** Skips grants that do not matter for this question (e.g. name-limited create rules). */
  keep?: (grant: AccessGrant) => boolean;
  /**
   * Only RoleBinding grants count (`keep` is grantedByRoleBinding): ask the index for those alone
   * rather than filtering the ClusterRoleBinding grants out again in every namespace.
   */
  roleBindingsOnly?: boolean;
}

function collect(
  index: RbacIndex,
  questions: readonly Question[],
  trust: TrustContext,
  into: AccessBySubject = new AccessBySubject(),
): AccessBySubject {
  for (const q of questions) {
    const grants = q.roleBindingsOnly
      ? index.roleBindingGrants(q.request)
      : index.whoCan(q.request);
    for (const grant of grants) {
      if (isTrustedSubject(grant.subject, trust)) continue;
      if (q.keep && !q.keep(grant)) continue;
      const severity = typeof q.severity === "function" ? q.severity(grant) : q.severity;
      into.add(grant, q.request.verb, q.what, severity);
    }
  }
  return into;
}

// ---------------------------------------------------------------------------------------------
// rbac-control-plane-access

interface Target {
  group: string;
  resource: string;
  verbs: readonly string[];
}

const CONTROL_PLANE_TARGETS: readonly Target[] = [
  { group: "", resource: "pods", verbs: WRITE_VERBS },
  { group: "apps", resource: "deployments", verbs: WRITE_VERBS },
  { group: "", resource: "configmaps", verbs: WRITE_VERBS },
  { group: "", resource: "services", verbs: WRITE_VERBS },
  // Any controller that creates pods can start one under istiod's service account.
  { group: "apps", resource: "replicasets", verbs: ["create"] },
  { group: "apps", resource: "statefulsets", verbs: ["create"] },
  { group: "apps", resource: "daemonsets", verbs: ["create"] },
  { group: "batch", resource: "jobs", verbs: ["create"] },
  { group: "batch", resource: "cronjobs", verbs: ["create"] },
  // A token request for istiod's service account is istiod's identity.
  { group: "", resource: "serviceaccounts/token", verbs: ["create"] },
  // Before Kubernetes 1.35, `get` on these subresources is enough to open the stream.
  { group: "", resource: "pods/exec", verbs: ["get", "create"] },
  { group: "", resource: "pods/attach", verbs: ["get", "create"] },
  { group: "", resource: "pods/portforward", verbs: ["get", "create"] },
];

/**
 * The API server authorizes `create` of a top-level resource without a name, so a rule limited
 * by resourceNames never allows it; subresources (pods/exec) carry the pod's name and can.
 */
function effectiveGrant(verb: string, resource: string) {
  return (grant: AccessGrant): boolean =>
    !(verb === "create" && !resource.includes("/") && grant.resourceNames !== undefined);
}

function controlPlaneQuestions(namespace: string): Question[] {
  return CONTROL_PLANE_TARGETS.flatMap((t) =>
    t.verbs.map((verb) => ({
      request: { verb, group: t.group, resource: t.resource, namespace },
      what: { resource: t.resource, scope: `in ${namespace}` },
      severity: "critical" as const,
      keep: effectiveGrant(verb, t.resource),
    })),
  );
}

export const rbacControlPlaneAccess: ClusterCheck = {
  id: "rbac-control-plane-access",
  threats: ["S-03"],
  severity: "critical",
  scope: "cluster",
  title: "Untrusted subjects may change or enter istiod's namespace",
  description:
    "Lists RBAC subjects outside the trusted set (the policy's trustedSubjects, system:masters, " +
    "Kubernetes' own controllers in kube-system, istiod's and the gateways' service accounts) " +
    "that may create, update, patch or delete pods, Deployments, ConfigMaps or Services in " +
    "istiod's namespace, create pod-running controllers or service-account tokens there, or " +
    "exec, attach or port-forward into its pods (get is enough before Kubernetes 1.35). Any of " +
    "these lets the subject act as istiod, which signs every workload certificate, or rewrite " +
    "the mesh and injection configuration. Wildcards, aggregated ClusterRoles and RoleBindings " +
    "to ClusterRoles are resolved. Without RBAC objects in the input the check reports Unknown.",
  remediation:
    "Remove the binding or narrow its role so that it grants nothing in istiod's namespace; give " +
    "operators read-only access there. If the subject is trusted (a GitOps controller that " +
    "installs Istio), list it in the ThreatPolicy:\nspec:\n  trustedSubjects:\n" +
    "    - {kind: ServiceAccount, name: argocd-application-controller, namespace: argocd}",
  inputs: RBAC_INPUTS,
  run(ctx, emit) {
    const index = rbacIndex(ctx, this, emit);
    if (!index) return;
    const trust = trustOf(ctx);
    const access = new AccessBySubject();
    for (const ns of trust.istiodNamespaces) {
      collect(index, controlPlaneQuestions(ns), trust, access);
    }
    for (const { subject, severity, access: text } of access.entries()) {
      emit.finding(
        subjectRef(subject),
        `${subjectText(subject)} has rights in istiod's namespace: it may ${text}; so it could ` +
          `act as istiod, which signs every workload certificate, or rewrite the control plane.`,
        { severity },
      );
    }
  },
};

// ---------------------------------------------------------------------------------------------
// rbac-ca-secret-read

const CA_SECRETS = ["istio-ca-secret", "cacerts"];
const READ_VERBS = ["get", "list", "watch"];

/**
 * istio-reader-service-account is installed with cluster-wide read on Secrets so that a remote
 * cluster's istiod can use it; no pod runs under it in a single-cluster mesh.
 */
function isIstioReader(subject: Subject, trust: TrustContext): boolean {
  return (
    subject.kind === "ServiceAccount" &&
    subject.name === "istio-reader-service-account" &&
    trust.istiodNamespaces.includes(subject.namespace ?? "")
  );
}

export const rbacCaSecretRead: ClusterCheck = {
  id: "rbac-ca-secret-read",
  threats: ["S-03"],
  severity: "critical",
  scope: "cluster",
  title: "Untrusted subjects may read the mesh CA key",
  description:
    "Lists RBAC subjects outside the trusted set that may get, list or watch the Secrets " +
    "istio-ca-secret (istiod's self-signed CA) or cacerts (a plugged-in intermediate CA) in " +
    "istiod's namespace. list and watch return whole objects, so they reveal the key just as get " +
    "does. Whoever holds the CA key can mint a certificate for any workload identity and " +
    "impersonate any service in the mesh. istio-reader-service-account, which Istio installs " +
    "with read access to all Secrets for multi-cluster use, is reported at low severity.",
  remediation:
    "Remove Secret read access in istiod's namespace from the subject: grant get on named " +
    "Secrets it needs instead of list/watch on all of them, and bind it in its own namespace " +
    "only. If the subject is trusted, list it in the ThreatPolicy:\nspec:\n  trustedSubjects:\n" +
    "    - {kind: ServiceAccount, name: cert-manager, namespace: cert-manager}",
  inputs: RBAC_INPUTS,
  run(ctx, emit) {
    const index = rbacIndex(ctx, this, emit);
    if (!index) return;
    const trust = trustOf(ctx);
    const access = new AccessBySubject();
    for (const namespace of trust.istiodNamespaces) {
      const questions = CA_SECRETS.flatMap((name) =>
        READ_VERBS.map((verb) => ({
          request: { verb, group: "", resource: "secrets", name, namespace },
          what: { resource: `Secret ${name}`, scope: `in ${namespace}` },
          severity: "critical" as const,
        })),
      );
      collect(index, questions, trust, access);
    }
    for (const { subject, severity, access: text } of access.entries()) {
      const reader = isIstioReader(subject, trust);
      const note = reader
        ? " Istio installs this account for remote clusters' istiod; where no remote cluster " +
          "uses it, no token should exist for it."
        : "";
      emit.finding(
        subjectRef(subject),
        `${subjectText(subject)} may ${text}, so it can read the mesh CA key and mint ` +
          `certificates for any workload identity.${note}`,
        { severity: reader ? "low" : severity },
      );
    }
  },
};

// ---------------------------------------------------------------------------------------------
// rbac-istio-config-write

const ISTIO_RESOURCES: Readonly<Record<string, readonly string[]>> = {
  "networking.istio.io": [
    "virtualservices",
    "destinationrules",
    "gateways",
    "serviceentries",
    "sidecars",
    "envoyfilters",
    "workloadentries",
    "workloadgroups",
    "proxyconfigs",
  ],
  "security.istio.io": ["authorizationpolicies", "peerauthentications", "requestauthentications"],
  "telemetry.istio.io": ["telemetries"],
  "extensions.istio.io": ["wasmplugins", "trafficextensions"],
};

/** Routing objects whose exportTo defaults to every namespace, and the mesh setting that narrows it. */
const EXPORTED: readonly { resource: string; meshDefault?: string }[] = [
  { resource: "virtualservices", meshDefault: "defaultVirtualServiceExportTo" },
  { resource: "serviceentries", meshDefault: "defaultServiceEntryExportTo" },
  // A Gateway's selector matches gateway pods in every namespace; exportTo does not apply.
  { resource: "gateways" },
];

/** Kubernetes' default namespace-owner roles; Istio rights reach them by aggregation labels. */
const NAMESPACE_OWNER_ROLES = new Set(["admin", "edit"]);

function istioWriteQuestions(
  namespace: string | undefined,
  severity: Severity,
  keep?: (g: AccessGrant) => boolean,
): Question[] {
  const where = namespace === undefined ? "in every namespace" : `in ${namespace}`;
  return Object.entries(ISTIO_RESOURCES).flatMap(([group, list]) =>
    list.flatMap((resource) =>
      WRITE_VERBS.map((verb) => {
        const request: AccessRequest = { verb, group, resource };
        if (namespace !== undefined) request.namespace = namespace;
        const q: Question = { request, what: { resource, scope: where }, severity };
        if (keep) q.keep = keep;
        if (keep === grantedByRoleBinding && namespace !== undefined) q.roleBindingsOnly = true;
        return q;
      }),
    ),
  );
}

/**
 * Namespace owners editing routing in their own namespace is the designed path when Istio rights
 * are aggregated into the default admin and edit roles: still reported, since the objects reach
 * other namespaces, but low.
 */
function ownerSeverity(grant: AccessGrant): Severity {
  const owner = grant.roleKind === "ClusterRole" && NAMESPACE_OWNER_ROLES.has(grant.roleName);
  return owner ? "low" : "medium";
}

/** Exported routing kinds still open to other namespaces under the mesh config's defaults. */
function exportedResources(ctx: CheckContext): string[] {
  const raw = ctx.mesh.meshConfig?.raw ?? {};
  return EXPORTED.filter((e) => {
    if (e.meshDefault === undefined) return true;
    const list = strs(raw[e.meshDefault]);
    return !(list.length > 0 && list.every((v) => v === "."));
  }).map((e) => e.resource);
}

function exportedQuestions(namespace: string, resources: readonly string[]): Question[] {
  return resources.flatMap((resource) =>
    WRITE_VERBS.map((verb) => ({
      request: { verb, group: "networking.istio.io", resource, namespace },
      what: { resource, scope: `in ${namespace} (exported to every namespace)` },
      severity: ownerSeverity,
      keep: grantedByRoleBinding,
      roleBindingsOnly: true,
    })),
  );
}

export const rbacIstioConfigWrite: ClusterCheck = {
  id: "rbac-istio-config-write",
  threats: ["T-02"],
  severity: "high",
  scope: "cluster",
  title: "Untrusted subjects may write Istio configuration that affects other namespaces",
  description:
    "Lists, once per subject, RBAC subjects outside the trusted set that may create, update, " +
    "patch or delete Istio configuration (networking, security, telemetry and extensions " +
    "groups) in every namespace, or in the mesh root namespace where it applies mesh-wide " +
    "(high); and subjects whose RoleBindings let them write VirtualServices, ServiceEntries or " +
    "Gateways in their own namespace (medium, low through the default admin/edit roles), since " +
    "exportTo defaults to every namespace and Gateways configure shared gateway pods. A mesh " +
    "config that sets defaultVirtualServiceExportTo or defaultServiceEntryExportTo to ['.'] " +
    "removes the namespace-scoped case for that kind.",
  remediation:
    "Bind Istio write access with RoleBindings in the namespaces a team owns, keep the root " +
    "namespace to the platform team or GitOps, and make routing objects local by default:\n" +
    "meshConfig:\n  defaultVirtualServiceExportTo: ['.']\n  defaultServiceEntryExportTo: ['.']\n" +
    "If the subject is trusted, list it in the ThreatPolicy under spec.trustedSubjects.",
  inputs: RBAC_INPUTS,
  run(ctx, emit) {
    const index = rbacIndex(ctx, this, emit);
    if (!index) return;
    const trust = trustOf(ctx);
    const root = ctx.mesh.rootNamespace;
    const access = new AccessBySubject();
    collect(index, istioWriteQuestions(undefined, "high"), trust, access);
    collect(index, istioWriteQuestions(root, "high", grantedByRoleBinding), trust, access);
    const exported = exportedResources(ctx);
    for (const ns of bindingNamespaces(ctx.snapshot)) {
      if (ns === root || exported.length === 0) continue;
      collect(index, exportedQuestions(ns, exported), trust, access);
    }
    for (const { subject, severity, access: text } of access.entries()) {
      emit.finding(
        subjectRef(subject),
        `${subjectText(subject)} may ${text}, so it can change routing or security policy for ` +
          `workloads it does not own.`,
        { severity },
      );
    }
  },
};

export const RBAC_CHECKS: readonly Check[] = [
  rbacControlPlaneAccess,
  rbacCaSecretRead,
  rbacIstioConfigWrite,
];
