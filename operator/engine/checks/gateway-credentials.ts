// Gateway credential checks (S-02): does the certificate secret a Gateway names exist where Istio
// looks for it, and is it issued and renewed by cert-manager. An Istio Gateway's credentialName
// resolves in the namespace of each gateway pod its selector matches, and the selector matches
// gateway pods in every namespace, so these checks read across namespaces and run in the cluster
// partition. Only Secret metadata is read: the operator never sees certificate contents.

import {
  inputsAvailable,
  type Check,
  type CheckContext,
  type ClusterCheck,
  type Emitter,
} from "../check.js";
import { at, objs, str, stringMap } from "../fields.js";
import {
  REFERENCE_GRANT,
  certificateRefs,
  credentialRefs,
  gatewayServers,
  istioGateways,
  istioK8sGateways,
  k8sListeners,
  nameOf,
  secretExists,
  selectedGatewayWorkloads,
  terminatesTls,
} from "../gateways.js";
import { K } from "../kinds.js";
import type { Workload } from "../mesh.js";
import type { KubeObject } from "../types.js";

/** One place where a gateway needs a secret: the Gateway, the secret, and where it must be. */
interface CredentialUse {
  gateway: KubeObject;
  where: string;
  namespace: string;
  name: string;
  /** Why the secret must be in that namespace, for messages. */
  because: string;
  /** A CA bundle (caCertCredentialName) rather than the server's own certificate. */
  caBundle: boolean;
  /** False for a Gateway API cross-namespace reference that no ReferenceGrant permits. */
  permitted: boolean;
}

interface Resolution {
  uses: CredentialUse[];
  /** Istio Gateways with credentials whose selector matches no workload in the snapshot. */
  unresolved: KubeObject[];
}

function workloadText(w: Workload): string {
  return `${w.ref.kind} ${w.namespace}/${w.ref.name}`;
}

/** One workload per namespace: the credential must exist once in each namespace. */
function namespacesOf(workloads: Workload[]): Map<string, Workload> {
  const out = new Map<string, Workload>();
  for (const w of workloads) if (!out.has(w.namespace)) out.set(w.namespace, w);
  return out;
}

function istioUses(ctx: CheckContext, gw: KubeObject, out: Resolution): void {
  const servers = gatewayServers(gw).filter((s) => terminatesTls(s) && s.tls);
  const refs = servers.flatMap((s) => credentialRefs(s.tls ?? {}).map((r) => ({ s, r })));
  if (refs.length === 0) return;
  const byNs = namespacesOf(selectedGatewayWorkloads(ctx, gw));
  if (byNs.size === 0) {
    out.unresolved.push(gw);
    return;
  }
  for (const { s, r } of refs) {
    for (const [namespace, w] of byNs) {
      out.uses.push({
        gateway: gw,
        where: s.where,
        namespace,
        name: r.name,
        because: `gateway ${workloadText(w)} runs there`,
        caBundle: r.field === "caCertCredentialName",
        permitted: true,
      });
    }
  }
}

function k8sUses(ctx: CheckContext, gw: KubeObject, out: Resolution): void {
  for (const l of k8sListeners(gw)) {
    if (l.mode !== "Terminate") continue;
    for (const ref of certificateRefs(ctx.snapshot, gw, l)) {
      out.uses.push({
        gateway: gw,
        where: l.where,
        namespace: ref.namespace,
        name: ref.name,
        because: "its certificateRefs name it there",
        caBundle: false,
        permitted: ref.permitted,
      });
    }
  }
}

function credentialUses(ctx: CheckContext): Resolution {
  const out: Resolution = { uses: [], unresolved: [] };
  for (const gw of istioGateways(ctx)) istioUses(ctx, gw, out);
  for (const gw of istioK8sGateways(ctx)) k8sUses(ctx, gw, out);
  return out;
}

/** Why secrets cannot be judged, or undefined when they can. */
function secretsUnknown(ctx: CheckContext): string | undefined {
  const reason = ctx.snapshot.unavailable(K.Secret);
  if (reason !== undefined) return `Secret could not be read: ${reason}`;
  if (!ctx.snapshot.namespacesComplete && ctx.snapshot.all(K.Secret).length === 0) {
    return "Secrets are not in the input, so gateway credentials cannot be resolved";
  }
  return undefined;
}

function reportUnresolved(ctx: CheckContext, unresolved: KubeObject[], emit: Emitter): void {
  // In a cluster, a selector that matches nothing leaves the Gateway without effect.
  if (ctx.snapshot.namespacesComplete || unresolved.length === 0) return;
  emit.unknown(
    `the gateway workloads that Gateway ${unresolved.map(nameOf).join(", ")} selects are not ` +
      `in the input, so the namespace where its credentials must exist is unknown`,
  );
}

function missingMessage(use: CredentialUse): string {
  const subject = `Gateway ${nameOf(use.gateway)} ${use.where}`;
  if (!use.permitted) {
    return (
      `${subject} references Secret ${use.namespace}/${use.name} in another namespace without a ` +
      `ReferenceGrant there, so Istio refuses it and the listener has no certificate.`
    );
  }
  const what = use.caBundle ? "CA bundle" : "credential";
  return (
    `${subject} names ${what} ${use.name}, which is absent in namespace ${use.namespace} where ` +
    `Istio resolves it (${use.because}), so TLS handshakes on that server fail.`
  );
}

export const gatewayCredentialMissing: ClusterCheck = {
  id: "gateway-credential-missing",
  threats: ["S-02"],
  severity: "high",
  scope: "cluster",
  title: "Gateway credential secret is absent where Istio resolves it",
  description:
    "Finds Gateway credentials (credentialName, credentialNames, caCertCredentialName) that do " +
    "not exist as Secrets in the namespace of each gateway pod the Gateway's selector matches; " +
    "the selector matches gateway pods in every namespace, and a secret beside the Gateway does " +
    "not count. Gateway API certificateRefs must exist in the referenced namespace and, across " +
    "namespaces, be permitted by a ReferenceGrant. A missing credential leaves the server " +
    "without a certificate. For MUTUAL servers the CA may sit in the same secret (ca.crt) or " +
    "in a `<name>-cacert` companion; keys are not visible in metadata, so neither is required. " +
    "Reports Unknown when Secrets cannot be read, and in an offline scan when no Secret or no " +
    "selected gateway workload is in the input.",
  remediation:
    "Create the TLS secret in the gateway's namespace (not the Gateway's), ideally through " +
    "cert-manager:\nkubectl -n istio-system create secret tls app-example-com " +
    "--cert=app.crt --key=app.key\nFor a Gateway API certificateRef in another namespace, add " +
    "a ReferenceGrant there:\napiVersion: gateway.networking.k8s.io/v1beta1\n" +
    "kind: ReferenceGrant\nmetadata:\n  name: gateways-read-certs\n  namespace: certs\nspec:\n" +
    "  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: edge}]\n" +
    '  to: [{group: "", kind: Secret}]',
  inputs: [K.Gateway, K.K8sGateway, REFERENCE_GRANT],
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    const { uses, unresolved } = credentialUses(ctx);
    for (const use of uses.filter((u) => !u.permitted)) {
      emit.finding(use.gateway, missingMessage(use));
    }
    const judged = uses.filter((u) => u.permitted);
    if (judged.length === 0 && unresolved.length === 0) return;
    const unknown = secretsUnknown(ctx);
    if (unknown !== undefined) {
      emit.unknown(unknown);
      return;
    }
    reportUnresolved(ctx, unresolved, emit);
    const seen = new Set<string>();
    for (const use of judged) {
      const key = `${nameOf(use.gateway)}|${use.namespace}/${use.name}`;
      if (seen.has(key) || secretExists(ctx.snapshot, use.namespace, use.name)) continue;
      seen.add(key);
      emit.finding(use.gateway, missingMessage(use));
    }
  },
};

/** cert-manager Certificates, under the current group and the pre-1.0 one. */
const CERTIFICATE_KINDS = [K.Certificate, "certmanager.k8s.io/Certificate"];
const EXPIRY_WINDOW_MS = 14 * 24 * 3600 * 1000;

function issuingCertificate(ctx: CheckContext, ns: string, secret: string): KubeObject | undefined {
  return CERTIFICATE_KINDS.flatMap((k) => ctx.snapshot.inNamespace(k, ns)).find(
    (c) => str(at(c, "spec", "secretName")) === secret,
  );
}

/** A Secret that cert-manager wrote carries the issuing Certificate's name. */
function annotatedByCertManager(ctx: CheckContext, ns: string, secret: string): boolean {
  return ctx.snapshot
    .inNamespace(K.Secret, ns)
    .some(
      (s) =>
        s.metadata.name === secret &&
        stringMap(s.metadata.annotations)["cert-manager.io/certificate-name"] !== undefined,
    );
}

/** What is wrong with a Certificate's status, or undefined. A status-less manifest is not judged. */
export function certificateProblem(cert: KubeObject, now: Date): string | undefined {
  const ready = objs(at(cert, "status", "conditions")).find((c) => str(c.type) === "Ready");
  if (ready && str(ready.status) !== "True") {
    const why = str(ready.reason) ?? str(ready.message);
    return `is not Ready${why === undefined ? "" : ` (${why})`}`;
  }
  const notAfter = Date.parse(str(at(cert, "status", "notAfter")) ?? "");
  if (Number.isNaN(notAfter)) return undefined;
  if (notAfter <= now.getTime()) return `expired on ${new Date(notAfter).toISOString()}`;
  if (notAfter - now.getTime() < EXPIRY_WINDOW_MS) {
    return `expires on ${new Date(notAfter).toISOString()}, within 14 days`;
  }
  return undefined;
}

/** A Certificate kind that is not installed means no Certificates; any other failure is Unknown. */
function certificatesUnknown(ctx: CheckContext): string | undefined {
  const reason = ctx.snapshot.unavailable(K.Certificate);
  if (reason === undefined || /not installed|not found|404/i.test(reason)) return undefined;
  return `Certificate could not be read: ${reason}`;
}

export const gatewayCertificateUnmanaged: ClusterCheck = {
  id: "gateway-certificate-unmanaged",
  threats: ["S-02"],
  severity: "medium",
  scope: "cluster",
  title: "Gateway certificate is not managed by cert-manager, or is failing",
  description:
    "Finds gateway server certificates (credentialName, credentialNames, certificateRefs) that " +
    "no cert-manager Certificate issues (spec.secretName) in the namespace where they resolve, " +
    "and Certificates that are not Ready or expire within 14 days (high). Hand-made " +
    "certificates are provisioned outside any verified, audited issuance and tend to expire " +
    "unnoticed. A Secret annotated cert-manager.io/certificate-name counts as managed.",
  remediation:
    "Issue the certificate with cert-manager in the gateway's namespace:\n" +
    "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: app-example-com\n" +
    "  namespace: istio-system\nspec:\n  secretName: app-example-com\n  dnsNames: " +
    "[app.example.com]\n  issuerRef: {kind: ClusterIssuer, name: letsencrypt}",
  inputs: [K.Gateway, K.K8sGateway],
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    const uses = credentialUses(ctx).uses.filter((u) => u.permitted && !u.caBundle);
    if (uses.length === 0) return;
    const unknown = certificatesUnknown(ctx);
    if (unknown !== undefined) {
      emit.unknown(unknown);
      return;
    }
    const seen = new Set<string>();
    for (const use of uses) {
      const cert = issuingCertificate(ctx, use.namespace, use.name);
      const key = cert
        ? `cert|${nameOf(cert)}`
        : `${nameOf(use.gateway)}|${use.namespace}/${use.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      judgeCertificate(ctx, use, cert, emit);
    }
  },
};

function judgeCertificate(
  ctx: CheckContext,
  use: CredentialUse,
  cert: KubeObject | undefined,
  emit: Emitter,
): void {
  if (cert) {
    const problem = certificateProblem(cert, ctx.now);
    if (problem === undefined) return;
    emit.finding(
      cert,
      `Certificate ${nameOf(cert)}, which issues secret ${use.name} for Gateway ` +
        `${nameOf(use.gateway)} ${use.where}, ${problem}, so clients will soon be refused or ` +
        `shown an invalid certificate.`,
      { severity: "high" },
    );
    return;
  }
  if (annotatedByCertManager(ctx, use.namespace, use.name)) return;
  emit.finding(
    use.gateway,
    `Gateway ${nameOf(use.gateway)} ${use.where} uses secret ${use.name} in namespace ` +
      `${use.namespace}, which no cert-manager Certificate issues, so its provenance and renewal ` +
      `are not controlled.`,
  );
}

export const GATEWAY_CREDENTIAL_CHECKS: readonly Check[] = [
  gatewayCredentialMissing,
  gatewayCertificateUnmanaged,
];
