// T-02 and R-02: changes to Istio configuration that bypass review, and the audit trail that
// would attribute them. The last writer of an object's spec comes from metadata.managedFields;
// API-server audit logging lives outside the cluster's objects and can only be attested.

import { inputsAvailable, type Check, type ClusterCheck, type NamespaceCheck } from "../check.js";
import { GITOPS_KINDS } from "../kinds.js";
import { lastSpecWriters, type FieldWriter } from "../managedfields.js";
import { globMatch } from "../selectors.js";

/** Field managers of Istio's own components, whose writes are part of running the mesh. */
const ISTIO_CONTROLLERS = ["pilot-discovery", "istio-operator", "sail-operator"];

function allowedWriter(writer: FieldWriter, allowed: readonly string[]): boolean {
  return allowed.some((p) => globMatch(p, writer.manager));
}

function writerText(writer: FieldWriter): string {
  const how = [writer.operation, writer.time === undefined ? undefined : `at ${writer.time}`]
    .filter((s): s is string => s !== undefined)
    .join(" ");
  return how === "" ? writer.manager : `${writer.manager} (${how})`;
}

export const configOutsideGitops: NamespaceCheck = {
  id: "config-outside-gitops",
  threats: ["T-02", "R-02"],
  severity: "medium",
  scope: "namespace",
  title: "Istio configuration last changed outside GitOps",
  description:
    "Reports Istio objects (in in-scope namespaces and the root namespace) whose spec was last " +
    "written, according to metadata.managedFields, by a field manager that is neither one of " +
    "the policy's gitops.managers (Argo CD and Flux by default), nor one of its controllers, " +
    "nor an Istio component (pilot-discovery, istio-operator, sail-operator). Status " +
    "subresource entries are ignored. Such a change bypassed review and may be reverted or " +
    "lost, and it is attributable only through the API server's audit log. managedFields is " +
    "evidence, not proof: whoever can update an object can rewrite it. Objects without " +
    "managedFields (typical of rendered files in an offline scan) are not judged and give " +
    "neither a finding nor Unknown, so that an offline scan does not mark T-02 and R-02 " +
    "Unknown for a reason unrelated to them; the operator reads live objects, which always " +
    "carry managedFields.",
  remediation:
    "Commit the change to the Git repository the GitOps controller syncs, or revert it there, " +
    "and restrict direct write access to Istio objects. If another automation is expected to " +
    "write them, name its field manager in the ThreatPolicy:\nspec:\n  controllers:\n" +
    "    - flagger\n  gitops:\n    managers: [argocd-controller, kustomize-controller]",
  inputs: [...GITOPS_KINDS],
  run(ctx, target, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    const allowed = [...ctx.policy.gitopsManagers, ...ctx.policy.controllers, ...ISTIO_CONTROLLERS];
    for (const kind of GITOPS_KINDS) {
      for (const object of ctx.snapshot.inNamespace(kind, target.namespace)) {
        const writers = lastSpecWriters(object);
        if (writers.length === 0) continue;
        // Writers tied on time cannot be ordered; one allowed writer among them is enough.
        if (writers.some((w) => allowedWriter(w, allowed))) continue;
        emit.finding(
          object,
          `${object.kind} ${target.namespace}/${object.metadata.name ?? ""} had its spec last ` +
            `written by field manager ${writers.map(writerText).join(" and ")}, which is ` +
            `neither a GitOps manager nor a known controller, so the mesh may run configuration ` +
            `that was never reviewed.`,
        );
      }
    }
  },
};

export const auditLoggingUnobservable: ClusterCheck = {
  id: "audit-logging-unobservable",
  threats: ["R-02"],
  severity: "medium",
  scope: "cluster",
  title: "API-server audit logging must be attested",
  description:
    "API-server audit logging is configured by flags and a policy file of the API server, which " +
    "no Kubernetes object shows, so nothing inside the cluster can prove it is on. By design " +
    "this check always reports Unknown with that reason; a ThreatPolicy attestation for R-02 " +
    "(spec.attestations, with a statement, evidence and an expiry) turns the threat's status " +
    "into Attested. It is the designed behaviour, not a missing check.",
  remediation:
    "Enable audit logging for writes to Istio API groups, RBAC and webhook configurations " +
    "(kube-apiserver --audit-policy-file and --audit-log-path, or the managed service's audit " +
    "setting), then attest it:\nspec:\n  attestations:\n    - threat: R-02\n" +
    "      statement: API-server audit logs cover writes to Istio, RBAC and webhooks\n" +
    "      evidence: https://wiki.example.com/audit-logging\n      expires: 2027-01-31",
  inputs: [],
  run(_ctx, emit) {
    emit.unknown(
      "API-server audit logging cannot be seen from inside the cluster; attest it in the " +
        "ThreatPolicy (spec.attestations)",
    );
  },
};

export const GITOPS_CHECKS: readonly Check[] = [configOutsideGitops, auditLoggingUnobservable];
