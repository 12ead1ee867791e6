// Peer authentication checks (S-01, T-01, I-01): is mutual TLS required mesh-wide, what does each
// meshed workload actually enforce on each port, and which policies weaken it or are ignored.

import {
  inputsAvailable,
  namespaceRef,
  type Check,
  type CheckContext,
  type ClusterCheck,
  type Emitter,
  type NamespaceCheck,
} from "../check.js";
import { K } from "../kinds.js";
import type { Workload } from "../mesh.js";
import {
  byAge,
  declaredMode,
  describePolicy,
  describeSource,
  levelOf,
  peerAuthentications,
  resolveMtls,
  workloadTargetPorts,
  type EffectiveMtls,
  type MtlsMode,
  type PeerAuthn,
} from "../mtls.js";
import { selectorMatches } from "../selectors.js";
import type { Snapshot } from "../snapshot.js";
import type { Severity } from "../types.js";

const MESH_STRICT_MANIFEST = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: istio-system   # the mesh root namespace
spec:
  mtls:
    mode: STRICT`;

const PA_INPUTS = [K.PeerAuthentication];

function modeSeverity(modes: Iterable<MtlsMode>, otherwise: Severity): Severity {
  return [...modes].includes("DISABLE") ? "critical" : otherwise;
}

export const mtlsMeshNotStrict: ClusterCheck = {
  id: "mtls-mesh-not-strict",
  threats: ["S-01", "T-01"],
  severity: "critical",
  scope: "cluster",
  title: "Mutual TLS is not STRICT mesh-wide",
  description:
    "Finds meshes without a mesh-wide STRICT PeerAuthentication (root namespace, no selector). " +
    "Without it every namespace that sets nothing accepts plaintext, so a rogue pod can talk to " +
    "services without a workload identity and traffic can be read or altered on the wire.",
  remediation: `Create (or change) the oldest selector-less PeerAuthentication in the mesh root namespace to STRICT:\n${MESH_STRICT_MANIFEST}`,
  inputs: PA_INPUTS,
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    const root = ctx.mesh.rootNamespace;
    const effective = resolveMtls(ctx.snapshot, root, root);
    const mesh = effective.levels.mesh;
    if (!mesh) {
      emit.finding(
        namespaceRef(root),
        `No mesh-wide PeerAuthentication exists in root namespace ${root}, so Istio's default PERMISSIVE mode lets every workload that sets nothing accept plaintext.`,
      );
      return;
    }
    if (mesh.mode === "STRICT") return;
    const consequence =
      mesh.mode === "DISABLE"
        ? "turns mutual TLS off for every workload that does not override it"
        : "leaves every workload that does not override it accepting plaintext (PERMISSIVE)";
    emit.finding(
      mesh.object,
      `Mesh-wide ${describePolicy(mesh)} is in force with mode ${declaredMode(mesh)}, which ${consequence}.`,
    );
  },
};

function plaintextPorts(effective: EffectiveMtls, ports: Iterable<number>): Map<number, MtlsMode> {
  const out = new Map<number, MtlsMode>();
  const all = new Set([...ports, ...effective.ports.map((p) => p.port)]);
  for (const port of [...all].sort((a, b) => a - b)) {
    const mode = effective.ports.find((p) => p.port === port)?.mode ?? effective.mode;
    if (mode !== "STRICT") out.set(port, mode);
  }
  return out;
}

function listPorts(ports: Map<number, MtlsMode>): string {
  return [...ports].map(([port, mode]) => `${port} (${mode})`).join(", ");
}

function workloadName(w: Workload): string {
  const what = `${w.ref.kind} ${w.namespace}/${w.ref.name}`;
  const origin = w.fromTemplate ? " (judged from its pod template)" : "";
  const ambient = w.dataPlane === "ambient" ? " (ambient: ztunnel enforces the policy)" : "";
  return `${what}${origin}${ambient}`;
}

interface Verdict {
  message: string;
  severity: Severity;
}

function judgeWorkload(ctx: CheckContext, w: Workload): Verdict | undefined {
  const effective = resolveMtls(ctx.snapshot, ctx.mesh.rootNamespace, w.namespace, w.labels);
  const known = workloadTargetPorts(ctx.snapshot, w).ports;
  const plaintext = plaintextPorts(effective, known);
  const severity = modeSeverity([effective.mode, ...plaintext.values()], "high");
  if (effective.mode !== "STRICT") {
    const ports = plaintext.size > 0 ? `; plaintext ports: ${listPorts(plaintext)}` : "";
    return {
      message: `${workloadName(w)} accepts plaintext on every port not set otherwise: effective mode ${effective.mode} because ${describeSource(effective)}${ports}.`,
      severity,
    };
  }
  if (plaintext.size === 0) return undefined;
  const wl = effective.levels.workload;
  const by = wl ? ` set by ${describePolicy(wl)}` : "";
  return {
    message: `${workloadName(w)} is STRICT but accepts plaintext on port-level exceptions${by}: ${listPorts(plaintext)}.`,
    severity,
  };
}

export const mtlsEffectivePlaintext: NamespaceCheck = {
  id: "mtls-effective-plaintext",
  threats: ["S-01", "T-01", "I-01"],
  severity: "high",
  scope: "namespace",
  title: "Workload accepts plaintext after policy inheritance",
  description:
    "Computes, per meshed workload and port, the mTLS mode Istio enforces after mesh, namespace, " +
    "workload and port-level PeerAuthentications are combined, and reports anything but STRICT. " +
    "This catches plaintext that no single policy shows, such as a deleted mesh-wide policy or a " +
    "port-level exception.",
  remediation:
    "Make the effective mode STRICT: remove PERMISSIVE/DISABLE overrides at namespace, workload " +
    `and port level, and keep a mesh-wide STRICT policy:\n${MESH_STRICT_MANIFEST}`,
  inputs: [K.PeerAuthentication, K.Pod, K.Service],
  run(ctx, target, emit) {
    if (!target.inScope || !inputsAvailable(ctx, this, emit)) return;
    const workloads = ctx.mesh.workloads(target.namespace);
    if (workloads.length === 0) {
      judgeNamespace(ctx, target.namespace, emit);
      return;
    }
    for (const w of workloads) {
      if (w.dataPlane === "none") continue;
      const verdict = judgeWorkload(ctx, w);
      if (verdict) emit.finding(w.ref, verdict.message, { severity: verdict.severity });
    }
  },
};

function judgeNamespace(ctx: CheckContext, namespace: string, emit: Emitter): void {
  const effective = resolveMtls(ctx.snapshot, ctx.mesh.rootNamespace, namespace);
  if (effective.mode === "STRICT") return;
  emit.finding(
    namespaceRef(namespace),
    `Namespace ${namespace} has no workloads in the input, and workloads deployed to it would accept plaintext: effective mode ${effective.mode} because ${describeSource(effective)}.`,
    { severity: modeSeverity([effective.mode], "high") },
  );
}

/** Workload-level policies that select a common workload: only the oldest applies to it. */
function workloadDuplicates(
  policies: PeerAuthn[],
  workloads: Workload[],
): Map<PeerAuthn, { winner: PeerAuthn; where: string }> {
  const out = new Map<PeerAuthn, { winner: PeerAuthn; where: string }>();
  const selecting = policies.filter((p) => p.selector !== undefined);
  for (const w of workloads) {
    const matching = selecting.filter((p) =>
      selectorMatches({ matchLabels: p.selector }, w.labels),
    );
    const [winner, ...rest] = matching.sort(byAge);
    for (const loser of rest) {
      if (winner && !out.has(loser))
        out.set(loser, { winner, where: `${w.ref.kind} ${w.ref.name}` });
    }
  }
  // With no workload in the input, identical selectors still collide on whatever they select.
  for (const p of selecting) {
    const same = selecting.filter((q) => sameLabels(p.selector, q.selector)).sort(byAge);
    const [winner] = same;
    if (winner && winner !== p && !out.has(p)) {
      out.set(p, { winner, where: "every workload both select" });
    }
  }
  return out;
}

function sameLabels(
  a: Record<string, string> | undefined,
  b: Record<string, string> | undefined,
): boolean {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b ?? {}).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a?.[k] === b?.[k]);
}

function reportDuplicates(
  emit: Emitter,
  inForce: PeerAuthn,
  duplicates: PeerAuthn[],
  level: "mesh" | "namespace",
): void {
  for (const p of duplicates) {
    emit.finding(
      p.object,
      `${describePolicy(p)} (mode ${declaredMode(p)}) is ignored: ${describePolicy(inForce)} is the older ${level}-level policy and is the one in force (mode ${declaredMode(inForce)}).`,
    );
  }
}

export const mtlsConflictingPolicies: NamespaceCheck = {
  id: "mtls-conflicting-policies",
  threats: ["S-01", "T-01"],
  severity: "medium",
  scope: "namespace",
  title: "PeerAuthentications that Istio ignores",
  description:
    "Finds PeerAuthentications that have no effect: duplicates at one level (only the oldest, ties " +
    "by name, is in force) and policies with a selector in the mesh root namespace (ignored " +
    "entirely). A reader who trusts the ignored policy believes in a protection that is not there.",
  remediation:
    "Keep one selector-less PeerAuthentication per namespace (and one in the root namespace), one " +
    "policy per workload, and move workload-specific policies out of the root namespace into the " +
    "workload's namespace; delete the ignored duplicates or merge their settings into the one in force.",
  inputs: [K.PeerAuthentication, K.Pod],
  run(ctx, target, emit) {
    if ((!target.inScope && !target.isRoot) || !inputsAvailable(ctx, this, emit)) return;
    const policies = peerAuthentications(ctx.snapshot, target.namespace);
    const root = target.isRoot;
    const selectorless = policies.filter((p) => p.selector === undefined);
    const [inForce, ...duplicates] = selectorless;
    if (inForce) reportDuplicates(emit, inForce, duplicates, root ? "mesh" : "namespace");
    if (root) {
      for (const p of policies.filter((q) => levelOf(q, ctx.mesh.rootNamespace) === undefined)) {
        emit.finding(
          p.object,
          `${describePolicy(p)} has a workload selector in the mesh root namespace, so Istio ignores it entirely and its mode ${declaredMode(p)} applies nowhere.`,
        );
      }
      return;
    }
    const dups = workloadDuplicates(policies, ctx.mesh.workloads(target.namespace));
    for (const [p, { winner, where }] of dups) {
      emit.finding(
        p.object,
        `${describePolicy(p)} (mode ${declaredMode(p)}) is ignored for ${where}: ${describePolicy(winner)} selects it too, is older and is the one in force (mode ${declaredMode(winner)}).`,
      );
    }
  },
};

function unmatchedPorts(
  snapshot: Snapshot,
  policy: PeerAuthn,
  workloads: Workload[],
): { missing: number[]; hints: string[] } | undefined {
  const selected = workloads.filter((w) =>
    selectorMatches({ matchLabels: policy.selector }, w.labels),
  );
  if (selected.length === 0) return undefined;
  const targets = selected.map((w) => workloadTargetPorts(snapshot, w));
  const missing = policy.ports
    .map((p) => p.port)
    .filter((port) => !targets.some((t) => t.ports.has(port)));
  const hints: string[] = [];
  for (const port of missing) {
    const target = targets.find((t) => t.servicePorts.has(port))?.servicePorts.get(port);
    if (target !== undefined)
      hints.push(`${port} is a Service port whose target port is ${target}`);
  }
  return { missing, hints };
}

export const mtlsPortLevelIgnored: NamespaceCheck = {
  id: "mtls-port-level-ignored",
  threats: ["S-01", "T-01"],
  severity: "medium",
  scope: "namespace",
  title: "Port-level mTLS settings that apply to nothing",
  description:
    "Finds portLevelMtls entries that Istio never applies: on a policy without a workload selector " +
    "(only old clusters and offline manifests allow that), and port keys that match no target port " +
    "of the selected workloads (keys are container target ports, not Service ports). The intended " +
    "exception or hardening silently does not exist.",
  remediation:
    "Give the policy a workload selector and key portLevelMtls by the container (target) port:\n" +
    "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: app\n" +
    "  namespace: my-namespace\nspec:\n  selector:\n    matchLabels:\n      app: my-app\n" +
    "  mtls:\n    mode: STRICT\n  portLevelMtls:\n    8080:   # the containerPort, not the Service port\n" +
    "      mode: STRICT",
  inputs: [K.PeerAuthentication, K.Pod, K.Service],
  run(ctx, target, emit) {
    if ((!target.inScope && !target.isRoot) || !inputsAvailable(ctx, this, emit)) return;
    const policies = peerAuthentications(ctx.snapshot, target.namespace);
    for (const p of policies.filter((q) => q.selector === undefined && q.ports.length > 0)) {
      emit.finding(
        p.object,
        `${describePolicy(p)} sets portLevelMtls for ports ${p.ports.map((q) => q.port).join(", ")} without a workload selector, so Istio ignores those port settings.`,
      );
    }
    if (target.isRoot) return;
    const workloads = ctx.mesh.workloads(target.namespace);
    for (const p of policies.filter((q) => q.selector !== undefined && q.ports.length > 0)) {
      const result = unmatchedPorts(ctx.snapshot, p, workloads);
      if (!result || result.missing.length === 0) continue;
      const hint = result.hints.length > 0 ? ` (${result.hints.join("; ")})` : "";
      emit.finding(
        p.object,
        `${describePolicy(p)} sets portLevelMtls for port(s) ${result.missing.join(", ")} that no selected workload uses as a target port, so those settings apply to nothing${hint}.`,
      );
    }
  },
};

function weakSettings(p: PeerAuthn): { where: string[]; modes: MtlsMode[] } {
  const where: string[] = [];
  const modes: MtlsMode[] = [];
  if (p.mode === "PERMISSIVE" || p.mode === "DISABLE") {
    where.push(`mode ${p.mode}`);
    modes.push(p.mode);
  }
  // Port-level settings on a selector-less policy are never applied (mtls-port-level-ignored).
  const ports = p.selector === undefined ? [] : p.ports;
  for (const port of ports) {
    if (port.mode === "PERMISSIVE" || port.mode === "DISABLE") {
      where.push(`port ${port.port} ${port.mode}`);
      modes.push(port.mode);
    }
  }
  return { where, modes };
}

export const mtlsPermissivePolicy: NamespaceCheck = {
  id: "mtls-permissive-policy",
  threats: ["I-01"],
  severity: "high",
  scope: "namespace",
  title: "PeerAuthentication allows plaintext",
  description:
    "Reports every PeerAuthentication that sets PERMISSIVE or DISABLE, at top level or for a port. " +
    "PERMISSIVE accepts plaintext next to mTLS, so traffic from outside the mesh can be sniffed; " +
    "DISABLE turns mutual TLS off entirely.",
  remediation:
    "Set the mode to STRICT (or remove the mode so that a STRICT parent applies), and remove " +
    "PERMISSIVE/DISABLE portLevelMtls entries:\n" +
    "spec:\n  mtls:\n    mode: STRICT",
  inputs: PA_INPUTS,
  run(ctx, target, emit) {
    if ((!target.inScope && !target.isRoot) || !inputsAvailable(ctx, this, emit)) return;
    for (const p of peerAuthentications(ctx.snapshot, target.namespace)) {
      // A selector in the root namespace makes the policy inert (mtls-conflicting-policies).
      const level = levelOf(p, ctx.mesh.rootNamespace);
      if (level === undefined) continue;
      const { where, modes } = weakSettings(p);
      if (where.length === 0) continue;
      emit.finding(
        p.object,
        `${level === "mesh" ? "Mesh-wide" : level === "namespace" ? "Namespace-wide" : "Workload"} ${describePolicy(p)} allows plaintext: ${where.join(", ")}.`,
        { severity: modeSeverity(modes, "high") },
      );
    }
  },
};

export const MTLS_CHECKS: readonly Check[] = [
  mtlsMeshNotStrict,
  mtlsEffectivePlaintext,
  mtlsConflictingPolicies,
  mtlsPortLevelIgnored,
  mtlsPermissivePolicy,
];
