// DestinationRule client-side TLS checks (T-01): rules that make sidecars send plaintext to mesh
// services, and rules that turn off server certificate verification.

import { inputsAvailable, type Check, type CheckContext, type NamespaceCheck } from "../check.js";
import { at, num, obj, objs, str, strs } from "../fields.js";
import { K } from "../kinds.js";
import type { KubeObject } from "../types.js";

const DR_INPUTS = [K.DestinationRule];

/** One traffic policy of a rule and where it sits, for messages. */
interface TlsSite {
  where: string;
  tls: Record<string, unknown>;
}

function portSites(policy: Record<string, unknown>, prefix: string): TlsSite[] {
  return objs(policy.portLevelSettings).flatMap((setting, i) => {
    const tls = obj(setting.tls);
    if (!tls) return [];
    const port = num(at(setting, "port", "number"));
    const label = port === undefined ? `portLevelSettings[${i}]` : `port ${port}`;
    return [{ where: `${prefix}${label}`, tls }];
  });
}

function policySites(policy: unknown, prefix: string): TlsSite[] {
  const p = obj(policy);
  if (!p) return [];
  const top = obj(p.tls);
  const sites: TlsSite[] = top
    ? [{ where: prefix === "" ? "top level" : prefix.trim(), tls: top }]
    : [];
  return [...sites, ...portSites(p, prefix)];
}

/** Every TLS setting of a DestinationRule: top level, per port, per subset (and its ports). */
function tlsSites(dr: KubeObject): TlsSite[] {
  const spec = obj(dr.spec) ?? {};
  const subsets = objs(spec.subsets).flatMap((subset, i) => {
    const name = str(subset.name) ?? `#${i}`;
    return policySites(subset.trafficPolicy, `subset ${name} `);
  });
  return [...policySites(spec.trafficPolicy, ""), ...subsets];
}

/** Hosts a ServiceEntry in the rule's namespace or the root namespace declares: not Kubernetes services. */
function serviceEntryHosts(ctx: CheckContext, namespace: string): Set<string> {
  const entries = [
    ...ctx.snapshot.inNamespace(K.ServiceEntry, namespace),
    ...(namespace === ctx.mesh.rootNamespace
      ? []
      : ctx.snapshot.inNamespace(K.ServiceEntry, ctx.mesh.rootNamespace)),
  ];
  return new Set(entries.flatMap((se) => strs(at(se, "spec", "hosts"))));
}

const MESH_WILDCARDS = new Set(["*", "*.local", "*.cluster.local", "*.svc.cluster.local"]);

/**
 * The namespace a Kubernetes service host lives in, "*" for wildcards that cover every mesh
 * service, or undefined for names outside the cluster's service domain.
 */
export function hostNamespace(
  host: string,
  ruleNamespace: string,
  isNamespace: (name: string) => boolean,
): string | undefined {
  if (MESH_WILDCARDS.has(host)) return "*";
  if (!host.includes(".")) return ruleNamespace;
  const svc = /^[^.]+\.([^.]+)\.svc\.cluster\.local$/.exec(host.replace(/^\*\./, "x."));
  if (svc) return svc[1];
  const parts = host.split(".");
  if (parts.length === 3 && parts[2] === "svc") return parts[1];
  // `name.namespace` is ambiguous with external names (example.com): only a known namespace counts.
  if (parts.length === 2 && parts[1] !== undefined && isNamespace(parts[1])) return parts[1];
  if (host.endsWith(".cluster.local")) return "*";
  return undefined;
}

function inMeshHost(ctx: CheckContext, dr: KubeObject, namespace: string): string | undefined {
  const host = str(at(dr, "spec", "host"));
  if (host === undefined || serviceEntryHosts(ctx, namespace).has(host)) return undefined;
  // Only declared Namespaces (cluster-scoped) count, so that every partition sees the same answer.
  const isNamespace = (name: string): boolean =>
    name === namespace || ctx.snapshot.namespace(name) !== undefined;
  const target = hostNamespace(host, namespace, isNamespace);
  if (target === undefined) return undefined;
  if (target === "*") return host;
  return ctx.mesh.enrollment(target).mode === "none" ? undefined : host;
}

function applies(target: { inScope: boolean; isRoot: boolean }): boolean {
  return target.inScope || target.isRoot;
}

export const destinationRuleTlsDisabled: NamespaceCheck = {
  id: "destinationrule-tls-disabled",
  threats: ["T-01"],
  severity: "high",
  scope: "namespace",
  title: "DestinationRule sends plaintext to a mesh service",
  description:
    "Finds DestinationRules with tls.mode DISABLE (top level, per port or per subset) for a host " +
    "inside the mesh. Client sidecars then send plaintext instead of mutual TLS, so the traffic " +
    "can be read and altered, and it fails outright against a STRICT server.",
  remediation:
    "Remove the tls block (auto mTLS picks ISTIO_MUTUAL) or set it explicitly:\n" +
    "spec:\n  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUAL",
  inputs: DR_INPUTS,
  run(ctx, target, emit) {
    if (!applies(target) || !inputsAvailable(ctx, this, emit)) return;
    for (const dr of ctx.snapshot.inNamespace(K.DestinationRule, target.namespace)) {
      const disabled = tlsSites(dr).filter((s) => str(s.tls.mode) === "DISABLE");
      if (disabled.length === 0) continue;
      const host = inMeshHost(ctx, dr, target.namespace);
      if (host === undefined) continue;
      emit.finding(
        dr,
        `DestinationRule ${target.namespace}/${dr.metadata.name ?? ""} sets tls.mode DISABLE for mesh host ${host} (${disabled.map((s) => s.where).join(", ")}), so client sidecars send it plaintext.`,
      );
    }
  },
};

export const destinationRuleTlsUnverified: NamespaceCheck = {
  id: "destinationrule-tls-unverified",
  threats: ["T-01"],
  severity: "medium",
  scope: "namespace",
  title: "DestinationRule skips server certificate verification",
  description:
    "Finds DestinationRules with insecureSkipVerify: true. The client then accepts any server " +
    "certificate, so a man in the middle can terminate the TLS connection. (An empty " +
    "caCertificates is fine: the system trust store and SAN checks are used.)",
  remediation:
    "Remove insecureSkipVerify and, for private CAs, name the CA and expected SANs:\n" +
    "spec:\n  trafficPolicy:\n    tls:\n      mode: SIMPLE\n      caCertificates: /etc/certs/ca.pem\n" +
    "      subjectAltNames: [api.example.com]",
  inputs: DR_INPUTS,
  run(ctx, target, emit) {
    if (!applies(target) || !inputsAvailable(ctx, this, emit)) return;
    for (const dr of ctx.snapshot.inNamespace(K.DestinationRule, target.namespace)) {
      const skipped = tlsSites(dr).filter((s) => s.tls.insecureSkipVerify === true);
      if (skipped.length === 0) continue;
      const host = str(at(dr, "spec", "host")) ?? "(no host)";
      emit.finding(
        dr,
        `DestinationRule ${target.namespace}/${dr.metadata.name ?? ""} sets insecureSkipVerify for host ${host} (${skipped.map((s) => s.where).join(", ")}), so any server certificate is accepted.`,
      );
    }
  },
};

export const DESTINATION_RULE_CHECKS: readonly Check[] = [
  destinationRuleTlsDisabled,
  destinationRuleTlsUnverified,
];
