// Information disclosure through debug interfaces (I-02): Envoy's admin interface on 15000, which
// binds to localhost and is reached through Services, EnvoyFilter clusters, port-forward or exec;
// and istiod's debug and plaintext ports.

import {
  inputsAvailable,
  type CheckContext,
  type Check,
  type ClusterCheck,
  type Emitter,
} from "../check.js";
import {
  envValue,
  flagValue,
  istiodContainer,
  istiodDeployments,
  podTemplateLabels,
} from "../controlplane.js";
import { classifyExtension } from "../envoyfilter.js";
import { at, num, objs, parseGoBool, str, stringMap, type Obj } from "../fields.js";
import { istiodNamespaces } from "../fingerprint.js";
import { K } from "../kinds.js";
import {
  RbacIndex,
  isTrustedSubject,
  subjectText,
  type AccessGrant,
  type AccessRequest,
} from "../rbac.js";
import type { Subject } from "../policy.js";
import type { KubeObject } from "../types.js";

const ENVOY_ADMIN_PORT = 15000;

function servicePortNumbers(p: Obj): number[] {
  return [num(p.port), num(p.targetPort)].filter((n): n is number => n !== undefined);
}

function adminServices(ctx: CheckContext, emit: Emitter): void {
  for (const s of ctx.snapshot.all(K.Service)) {
    const ports = objs(at(s, "spec", "ports")).filter((p) =>
      servicePortNumbers(p).includes(ENVOY_ADMIN_PORT),
    );
    if (ports.length === 0) continue;
    emit.finding(
      s,
      `Service ${s.metadata.namespace ?? ""}/${s.metadata.name ?? ""} targets port 15000, ` +
        `Envoy's admin interface, which must never be published (it binds to localhost, so the ` +
        `Service shows an attempt or a proxy reconfigured to listen widely).`,
    );
  }
}

function adminClusters(ctx: CheckContext, emit: Emitter): void {
  for (const f of ctx.snapshot.all(K.EnvoyFilter)) {
    const traits = classifyExtension(f, ctx.mesh.rootNamespace).traits.filter(
      (t) => t.id === "admin-cluster",
    );
    if (traits.length === 0) continue;
    emit.finding(
      f,
      `EnvoyFilter ${f.metadata.namespace ?? ""}/${f.metadata.name ?? ""} ` +
        `${traits.map((t) => t.detail).join("; ")}, which lets traffic reach Envoy's admin ` +
        `interface (config dump with secrets, shutdown, log level).`,
      { severity: "high" },
    );
  }
}

const SHELL_RIGHTS = [
  { resource: "pods/portforward", verbs: ["create", "get"] },
  { resource: "pods/exec", verbs: ["create", "get"] },
];

interface ShellAccess {
  binding: KubeObject;
  subjects: Set<string>;
  rights: Set<string>;
  namespaces: Set<string>;
  /** Granted by a ClusterRoleBinding: in every namespace asked about. */
  everywhere: boolean;
}

function meshedNamespaces(ctx: CheckContext): string[] {
  return ctx.mesh
    .scopedNamespaces()
    .filter((ns) => ctx.mesh.workloads(ns).some((w) => w.dataPlane === "sidecar"));
}

type AddGrant = (grant: AccessGrant, right: string, namespace: string, everywhere: boolean) => void;

/**
 * The grants of the shell rights in one namespace: the namespace's RoleBinding grants, and, in the
 * first namespace only, the ClusterRoleBinding grants, which answer alike in every namespace and
 * are marked as reaching them all (walking them again per namespace is what made this slow).
 */
function namespaceShellGrants(
  index: RbacIndex,
  namespace: string,
  first: boolean,
  add: AddGrant,
): void {
  for (const { resource, verbs } of SHELL_RIGHTS) {
    const right = resource.slice("pods/".length);
    for (const verb of verbs) {
      const request: AccessRequest = { verb, group: "", resource };
      // whoCan's order: ClusterRoleBinding grants first, then the namespace's RoleBinding grants.
      const cluster = first ? index.whoCan(request) : [];
      request.namespace = namespace;
      const grants = [...cluster, ...index.roleBindingGrants(request)];
      grants.forEach((g, n) => {
        add(g, right, namespace, n < cluster.length);
      });
    }
  }
}

function collectShellAccess(ctx: CheckContext, namespaces: string[]): Map<KubeObject, ShellAccess> {
  const index = RbacIndex.of(ctx.snapshot);
  const trust = {
    trusted: ctx.policy.trustedSubjects,
    istiodNamespaces: istiodNamespaces(ctx.snapshot, ctx.mesh.rootNamespace),
  };
  // The same subjects come back in many namespaces: judge and name each once.
  const untrusted = new Map<Subject, string | undefined>();
  const textOf = (subject: Subject): string | undefined => {
    if (!untrusted.has(subject)) {
      untrusted.set(subject, isTrustedSubject(subject, trust) ? undefined : subjectText(subject));
    }
    return untrusted.get(subject);
  };
  const byBinding = new Map<KubeObject, ShellAccess>();
  const add: AddGrant = (grant, right, namespace, everywhere) => {
    const text = textOf(grant.subject);
    if (text === undefined) return;
    const entry = byBinding.get(grant.binding) ?? {
      binding: grant.binding,
      subjects: new Set<string>(),
      rights: new Set<string>(),
      namespaces: new Set<string>(),
      everywhere: false,
    };
    entry.subjects.add(text);
    entry.rights.add(right);
    entry.namespaces.add(namespace);
    if (everywhere) entry.everywhere = true;
    byBinding.set(grant.binding, entry);
  };
  namespaces.forEach((namespace, i) => {
    namespaceShellGrants(index, namespace, i === 0, add);
  });
  return byBinding;
}

function shellAccess(ctx: CheckContext, emit: Emitter): void {
  const namespaces = meshedNamespaces(ctx);
  if (namespaces.length === 0) return;
  if (!RbacIndex.of(ctx.snapshot).hasBindings) {
    emit.unknown(
      "no RoleBindings or ClusterRoleBindings in the input, so who may port-forward to or exec " +
        "into meshed pods (and so reach Envoy's admin interface) cannot be judged",
    );
    return;
  }
  const all = [...new Set(namespaces)].sort();
  for (const access of collectShellAccess(ctx, namespaces).values()) {
    const b = access.binding;
    const where =
      b.metadata.namespace === undefined || b.kind === "ClusterRoleBinding"
        ? ""
        : `${b.metadata.namespace}/`;
    const ns = access.everywhere ? all : [...access.namespaces].sort();
    emit.finding(
      b,
      `${b.kind} ${where}${b.metadata.name ?? ""} lets ${[...access.subjects].sort().join(", ")} ` +
        `${[...access.rights].sort().join(" and ")} on meshed pods in ` +
        `${ns.slice(0, 5).join(", ")}${ns.length > 5 ? ", …" : ""}, which reaches Envoy's admin ` +
        `interface on localhost:15000 (config dump, certificates' details, shutdown).`,
    );
  }
}

export const envoyAdminExposed: ClusterCheck = {
  id: "envoy-admin-exposed",
  threats: ["I-02"],
  severity: "medium",
  scope: "cluster",
  title: "Envoy admin interface reachable",
  description:
    "Finds what can reach a proxy's admin interface (port 15000, bound to localhost): Services " +
    "with port or targetPort 15000, EnvoyFilter clusters aimed at 127.0.0.1:15000, and RBAC " +
    "subjects outside the trusted set that may port-forward to or exec into meshed pods. The " +
    "admin interface dumps the proxy's configuration, changes its log level and can shut it down.",
  remediation:
    "Delete Services and EnvoyFilter clusters that target port 15000, and remove pods/exec and " +
    "pods/portforward from roles bound in mesh namespaces (or list the subject in the " +
    "ThreatPolicy's trustedSubjects if it is an operator's break-glass account):\n" +
    'rules:\n  - apiGroups: [""]\n    resources: [pods, pods/log]\n    verbs: [get, list, watch]',
  inputs: [
    K.Service,
    K.EnvoyFilter,
    K.Role,
    K.RoleBinding,
    K.ClusterRole,
    K.ClusterRoleBinding,
    K.Pod,
    K.Deployment,
  ],
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    adminServices(ctx, emit);
    adminClusters(ctx, emit);
    shellAccess(ctx, emit);
  },
};

// ---------------------------------------------------------------------------------------------
// control-plane-debug-exposed

/** istiod ports that answer without mTLS: plaintext xDS, the HTTP debug port, monitoring. */
const DEBUG_PORTS = new Map<number, string>([
  [15010, "plaintext xDS"],
  [8080, "HTTP debug"],
  [15014, "monitoring and debug"],
]);

function containerPortByName(container: Obj | undefined, name: string): number | undefined {
  const port = objs(container?.ports).find((p) => p.name === name);
  return num(port?.containerPort);
}

function exposedDebugPorts(service: KubeObject, container: Obj | undefined): number[] {
  const out: number[] = [];
  for (const p of objs(at(service, "spec", "ports"))) {
    const target = p.targetPort ?? p.port;
    const port =
      typeof target === "string" && num(target) === undefined
        ? containerPortByName(container, target)
        : num(target);
    if (port !== undefined && DEBUG_PORTS.has(port)) out.push(port);
  }
  return out;
}

function externalServices(ctx: CheckContext, d: KubeObject): KubeObject[] {
  const labels = podTemplateLabels(d);
  return ctx.snapshot.inNamespace(K.Service, d.metadata.namespace ?? "default").filter((s) => {
    const type = str(at(s, "spec", "type"));
    if (type !== "NodePort" && type !== "LoadBalancer") return false;
    const selector = stringMap(at(s, "spec", "selector"));
    const keys = Object.keys(selector);
    return keys.length > 0 && keys.every((k) => labels[k] === selector[k]);
  });
}

function istiodName(d: KubeObject): string {
  return `istiod ${d.metadata.namespace ?? ""}/${d.metadata.name ?? ""}`;
}

function reportExternalPorts(ctx: CheckContext, d: KubeObject, emit: Emitter): void {
  const container = istiodContainer(d);
  for (const s of externalServices(ctx, d)) {
    const ports = exposedDebugPorts(s, container);
    if (ports.length === 0) continue;
    const listed = ports.map((p) => `${p} (${DEBUG_PORTS.get(p) ?? ""})`).join(", ");
    emit.finding(
      s,
      `${str(at(s, "spec", "type")) ?? ""} Service ${s.metadata.namespace ?? ""}/` +
        `${s.metadata.name ?? ""} exposes ${istiodName(d)}'s port(s) ${listed} outside the ` +
        `cluster, where anyone can read the mesh's configuration and workloads.`,
      { severity: "high" },
    );
  }
}

function reportDebugSettings(d: KubeObject, emit: Emitter): void {
  const container = istiodContainer(d);
  if (parseGoBool(envValue(container, "ENABLE_DEBUG_ENDPOINT_AUTH")) === false) {
    emit.finding(
      d,
      `${istiodName(d)} sets ENABLE_DEBUG_ENDPOINT_AUTH=false, so its debug endpoints answer ` +
        `any caller without a token, disclosing every proxy's configuration.`,
      { severity: "high" },
    );
  }
  // Both are on by default; Istio's hardening guide recommends turning them off.
  const open: string[] = [];
  if (parseGoBool(envValue(container, "ENABLE_DEBUG_ON_HTTP")) !== false) {
    open.push("the unauthenticated HTTP debug interface on 8080 (ENABLE_DEBUG_ON_HTTP)");
  }
  if (flagValue(container, "grpcAddr") !== "") {
    open.push('plaintext xDS on 15010 (--grpcAddr="" turns it off)');
  }
  if (open.length === 0) return;
  emit.finding(
    d,
    `${istiodName(d)} serves ${open.join(" and ")} inside the cluster, so any pod can read ` +
      `the mesh's configuration without credentials.`,
    { severity: "low" },
  );
}

export const controlPlaneDebugExposed: ClusterCheck = {
  id: "control-plane-debug-exposed",
  threats: ["I-02"],
  severity: "high",
  scope: "cluster",
  title: "istiod debug or plaintext ports exposed",
  description:
    "Finds istiod's plaintext xDS (15010), HTTP debug (8080) and monitoring/debug (15014) ports " +
    "published through NodePort or LoadBalancer Services (high), debug endpoint authentication " +
    "turned off with ENABLE_DEBUG_ENDPOINT_AUTH=false (high), and the default in-cluster debug " +
    "interface on 8080 and plaintext xDS on 15010 still enabled (low). These disclose every " +
    "service, endpoint and proxy configuration of the mesh.",
  remediation:
    "Keep istiod's Service ClusterIP, leave ENABLE_DEBUG_ENDPOINT_AUTH at its default, and close " +
    "the plaintext ports (Helm values for istiod):\npilot:\n  env:\n" +
    '    ENABLE_DEBUG_ON_HTTP: "false"\n  extraContainerArgs: ["--grpcAddr="]',
  inputs: [K.Deployment, K.Service],
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    const deployments = istiodDeployments(ctx.snapshot);
    if (deployments.length === 0) {
      emit.unknown("no istiod Deployment in the input, so its debug ports cannot be judged");
      return;
    }
    for (const d of deployments) {
      reportExternalPorts(ctx, d, emit);
      reportDebugSettings(d, emit);
    }
  },
};

export const EXPOSURE_CHECKS: readonly Check[] = [envoyAdminExposed, controlPlaneDebugExposed];
