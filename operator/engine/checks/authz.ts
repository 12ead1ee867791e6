// E-02: unauthorized service access. These checks read AuthorizationPolicies the way istiod
// applies them to sidecars (see ../authz.ts): deny-by-default coverage, rules that allow
// everything, patterns that are easy to bypass, identity rules on plaintext-accepting workloads,
// selectors that select nothing and source namespaces that do not exist.

import {
  appliesTo,
  denyByDefault,
  hasSelector,
  isEnforced,
  isMeshWide,
  matchAllRuleIndex,
  policiesIn,
  ruleConditions,
  sourceConditions,
  whenConditions,
  type AuthzPolicy,
  type Condition,
} from "../authz.js";
import {
  inputsAvailable,
  namespaceTarget,
  type CheckContext,
  type Emitter,
  type NamespaceTarget,
} from "../check.js";
import type { Check, ClusterCheck, NamespaceCheck } from "../check.js";
import { GATEWAY_NAME_LABEL, INGRESS_LABELS, isEgressLabelled } from "../gateways.js";
import { K, WORKLOAD_INPUTS } from "../kinds.js";
import type { Workload } from "../mesh.js";
import { describeSource, resolveMtls, type EffectiveMtls } from "../mtls.js";
import type { Severity } from "../types.js";

const THREATS = ["E-02" as const];
const MAX_NAMES = 5;

const ALLOW_NOTHING = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-nothing
  namespace: <namespace>   # or the mesh root namespace, for every namespace at once
spec: {}                   # ALLOW with no rules: nothing is allowed until an ALLOW rule says so`;

/** Policies that can reach workloads of a namespace: its own and the root namespace's. */
function reachingPolicies(ctx: CheckContext, namespace: string): AuthzPolicy[] {
  const root = ctx.mesh.rootNamespace;
  const own = policiesIn(ctx.snapshot, namespace);
  return namespace === root ? own : [...own, ...policiesIn(ctx.snapshot, root)];
}

function meshed(ctx: CheckContext, namespace: string): Workload[] {
  return ctx.mesh.workloads(namespace).filter((w) => w.dataPlane !== "none");
}

function names(items: readonly string[]): string {
  const shown = items.slice(0, MAX_NAMES).join(", ");
  return items.length > MAX_NAMES ? `${shown} and ${items.length - MAX_NAMES} more` : shown;
}

function labelsText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

function policyName(p: AuthzPolicy): string {
  return `${p.namespace}/${p.name}`;
}

/** Who the policy reaches, in words. */
function reachText(p: AuthzPolicy, root: string): string {
  if (p.targeted) return "the gateways or waypoints it targets";
  if (isMeshWide(p, root)) return "every workload in the mesh";
  const selected = `workloads labelled ${labelsText(p.selector ?? {})}`;
  if (p.namespace === root) return `${selected} in every namespace`;
  return hasSelector(p)
    ? `${selected} in namespace ${p.namespace}`
    : `every workload in namespace ${p.namespace}`;
}

// ---------------------------------------------------------------------------------------------
// authz-no-default-deny

function dryRunNote(policies: readonly AuthzPolicy[]): string {
  const dry = policies.filter((p) => p.dryRun && (p.action === "ALLOW" || p.action === "DENY"));
  if (dry.length === 0) return "";
  return ` (dry-run, so enforcing nothing: ${names(dry.map(policyName))})`;
}

export const authzNoDefaultDeny: NamespaceCheck = {
  id: "authz-no-default-deny",
  threats: THREATS,
  severity: "high",
  scope: "namespace",
  title: "Namespace is not deny-by-default",
  description:
    "Finds in-scope namespaces where some meshed workloads accept any request: no enforced ALLOW " +
    "policy reaches them (or an allow-all one does) and no deny-all policy does. Policies in the " +
    "mesh root namespace, workload selectors and the istio.io/dry-run annotation are taken into " +
    "account. Without deny-by-default, any caller that reaches the workload is authorized.",
  remediation:
    "Add an allow-nothing AuthorizationPolicy to the namespace (or one mesh-wide in the root " +
    "namespace), then allow the required callers explicitly:\n" +
    ALLOW_NOTHING,
  inputs: [K.AuthorizationPolicy, ...WORKLOAD_INPUTS],
  run(ctx, target, emit) {
    if (!target.inScope) return;
    if (!inputsAvailable(ctx, this, emit)) return;
    const { namespace } = target;
    const root = ctx.mesh.rootNamespace;
    const policies = reachingPolicies(ctx, namespace);
    const note = dryRunNote(policies);
    const workloads = meshed(ctx, namespace);

    // Without known workloads only selector-less policies (namespace or mesh-wide) can be judged.
    if (workloads.length === 0) {
      if (denyByDefault(policies, root, namespace, undefined)) return;
      emit.finding(
        namespaceTarget(ctx, namespace),
        `Namespace ${namespace} has no enforced namespace-wide or mesh-wide allow-nothing or ` +
          `deny-all AuthorizationPolicy, so its workloads accept requests from any caller${note}.`,
      );
      return;
    }

    const open = workloads.filter((w) => !denyByDefault(policies, root, namespace, w.labels));
    if (open.length === 0) return;
    const which =
      open.length === workloads.length
        ? `none of its ${workloads.length} meshed workloads is covered`
        : `${open.length} of ${workloads.length} meshed workloads are not covered: ` +
          names(open.map((w) => `${w.ref.kind} ${w.ref.name}`));
    emit.finding(
      namespaceTarget(ctx, namespace),
      `Namespace ${namespace} is not deny-by-default: ${which}, so they accept requests from any ` +
        `caller${note}.`,
    );
  },
};

// ---------------------------------------------------------------------------------------------
// authz-allow-all

/**
 * A selector that names an ingress gateway (Istio's own labels, or a Gateway API gateway's name):
 * the workloads it reaches take traffic from outside the mesh, where accepting every caller is
 * often the intent. Egress gateways are not included: letting every workload out is not.
 */
function selectsIngressGatewayOnly(p: AuthzPolicy): boolean {
  const selector = p.selector ?? {};
  if (p.targeted || !hasSelector(p)) return false;
  if (selector[GATEWAY_NAME_LABEL] !== undefined) return !isEgressLabelled(selector);
  return INGRESS_LABELS.some(([k, v]) => selector[k] === v);
}

export const authzAllowAll: NamespaceCheck = {
  id: "authz-allow-all",
  threats: THREATS,
  severity: "high",
  scope: "namespace",
  title: "ALLOW policy allows every request",
  description:
    "Finds enforced ALLOW AuthorizationPolicies with a rule that carries no condition (for " +
    "example `rules: [{}]`). Such a rule allows every request to the workloads it reaches and " +
    "cancels deny-by-default there, since any one matching ALLOW rule admits a request. Critical " +
    "when the policy is mesh-wide; low when it selects an ingress gateway only, where accepting " +
    "every caller is often the intent of a public entry point.",
  remediation:
    "Replace the empty rule with rules naming the callers and operations that are needed, e.g.\n" +
    `rules:
- from:
  - source:
      principals: ["cluster.local/ns/frontend/sa/web"]
  to:
  - operation:
      methods: ["GET"]`,
  inputs: [K.AuthorizationPolicy],
  run(ctx, target, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    const root = ctx.mesh.rootNamespace;
    for (const p of policiesIn(ctx.snapshot, target.namespace)) {
      if (p.action !== "ALLOW" || !isEnforced(p)) continue;
      const index = matchAllRuleIndex(p);
      if (index < 0) continue;
      const prefix = `ALLOW AuthorizationPolicy ${policyName(p)} has rule ${index} with no condition`;
      if (selectsIngressGatewayOnly(p)) {
        emit.finding(
          p.object,
          `${prefix}, so ${reachText(p, root)}, an ingress gateway, accepts every request. That is ` +
            "usual for a public entry point, but the gateway then admits every host, path and " +
            "client it routes; name those it should accept.",
          { severity: "low" },
        );
        continue;
      }
      emit.finding(
        p.object,
        `${prefix}, so it allows every request to ${reachText(p, root)} and no deny-by-default ` +
          "can hold there.",
        { severity: isMeshWide(p, root) ? "critical" : "high" },
      );
    }
  },
};

// ---------------------------------------------------------------------------------------------
// authz-unsafe-pattern

function describe(rule: number, c: Condition): string {
  const where = c.path.startsWith("when") ? `${c.field} notValues` : c.field;
  return `rule ${rule} ${where}`;
}

function unsafeParts(p: AuthzPolicy): string[] {
  const parts: string[] = [];
  p.rules.forEach((rule, i) => {
    for (const c of ruleConditions(rule)) {
      if (p.action === "ALLOW" && c.negative) parts.push(describe(i, c));
      if (p.action === "DENY" && !c.negative && c.field === "paths") {
        parts.push(`rule ${i} paths [${c.values.join(", ")}]`);
      }
    }
  });
  return parts;
}

export const authzUnsafePattern: NamespaceCheck = {
  id: "authz-unsafe-pattern",
  threats: THREATS,
  severity: "medium",
  scope: "namespace",
  title: "AuthorizationPolicy uses a bypassable pattern",
  description:
    "Finds ALLOW policies that match with negative conditions (notPaths, notMethods, " +
    "notPrincipals, notNamespaces, notHosts, notPorts, notIpBlocks, notRemoteIpBlocks, " +
    "notValues…), which admit everything not listed, including callers and paths nobody thought " +
    "of; and DENY policies with positive `paths`, which a differently normalised or encoded path " +
    "can slip past.",
  remediation:
    "In ALLOW policies list what is allowed with positive matches. In DENY policies protect paths " +
    "with `notPaths` (deny everything except the listed public paths), or move the path into an " +
    "ALLOW policy with positive matching; keep meshConfig.pathNormalization at its default or stricter.",
  inputs: [K.AuthorizationPolicy],
  run(ctx, target, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    for (const p of policiesIn(ctx.snapshot, target.namespace)) {
      const parts = unsafeParts(p);
      if (parts.length === 0) continue;
      const why =
        p.action === "ALLOW"
          ? "negative matches allow every request they do not name"
          : "a DENY on positive paths is bypassed by paths that normalise differently";
      const dry = p.dryRun ? " (dry-run for now)" : "";
      emit.finding(
        p.object,
        `${p.action ?? ""} AuthorizationPolicy ${policyName(p)}${dry} uses ${names(parts)}: ${why}.`,
        { severity: p.dryRun ? "low" : "medium" },
      );
    }
  },
};

// ---------------------------------------------------------------------------------------------
// authz-identity-without-mtls

type IdentityRisk = { severity: Severity; why: string; where: string[] } | undefined;

/** The alternatives of a rule as plaintext sees them: each `from` entry plus the `when` list. */
function alternatives(rule: Record<string, unknown>): Condition[][] {
  const when = whenConditions(rule);
  const froms = sourceConditions(rule);
  return froms.length === 0 ? [when] : froms.map((f) => [...f, ...when]);
}

/**
 * Plaintext carries no peer identity: a positive identity condition never matches it, and a
 * negative one always does. So a DENY (or CUSTOM) rule keyed on positive identities lets plaintext
 * through, an ALLOW rule keyed only on negative identities admits plaintext, and an ALLOW rule on
 * positive identities rejects plaintext (safe, but the policy does not do what it says).
 */
function identityRisk(p: AuthzPolicy): IdentityRisk {
  const bypass: string[] = [];
  const admits: string[] = [];
  const closed: string[] = [];
  p.rules.forEach((rule, i) => {
    for (const alt of alternatives(rule)) {
      const positive = alt.filter((c) => c.identity && !c.negative);
      const negative = alt.filter((c) => c.identity && c.negative);
      const fields = [...positive, ...negative].map((c) => `rule ${i} ${c.field}`);
      if (p.action !== "ALLOW" && positive.length > 0) bypass.push(...fields);
      if (p.action === "ALLOW" && positive.length === 0 && negative.length > 0)
        admits.push(...fields);
      if (p.action === "ALLOW" && positive.length > 0) closed.push(...fields);
    }
  });
  if (bypass.length > 0) {
    return {
      severity: "high",
      where: bypass,
      why: "plaintext requests carry no identity and are never denied by it",
    };
  }
  if (admits.length > 0) {
    return {
      severity: "high",
      where: admits,
      why: "negative identity matches admit plaintext requests, which carry no identity",
    };
  }
  if (closed.length > 0) {
    return {
      severity: "medium",
      where: closed,
      why: "plaintext requests never match it, so callers the policy means to allow are refused when they do not use mTLS",
    };
  }
  return undefined;
}

function notStrict(e: EffectiveMtls): boolean {
  return e.mode !== "STRICT" || e.ports.some((p) => p.mode !== "STRICT");
}

function modeText(e: EffectiveMtls): string {
  const ports = e.ports.filter((p) => p.mode !== "STRICT").map((p) => `port ${p.port} ${p.mode}`);
  const portText = ports.length > 0 ? `, ${ports.join(", ")}` : "";
  return `mTLS ${e.mode}${portText}: ${describeSource(e)}`;
}

interface PlaintextTarget {
  who: string;
  mtls: EffectiveMtls;
}

/** Workloads of `namespace` that the policy reaches and that accept plaintext. */
function plaintextTargets(ctx: CheckContext, p: AuthzPolicy, namespace: string): PlaintextTarget[] {
  const root = ctx.mesh.rootNamespace;
  if (p.namespace === root && namespace === root) return fallbackTarget(ctx, p, namespace);
  const reached = meshed(ctx, namespace).filter((w) => appliesTo(p, root, namespace, w.labels));
  const out: PlaintextTarget[] = [];
  for (const w of reached) {
    const mtls = resolveMtls(ctx.snapshot, root, namespace, w.labels);
    if (notStrict(mtls)) out.push({ who: `${w.ref.kind} ${namespace}/${w.ref.name}`, mtls });
  }
  if (reached.length > 0 || p.namespace !== namespace) return out;
  return fallbackTarget(ctx, p, namespace);
}

/**
 * Judges the labels the selector asks for instead of known workloads: used when no workload is in
 * the input (a scan of policy files), and for root-namespace policies, which are judged against
 * the mesh-wide mode in the root partition.
 */
function fallbackTarget(ctx: CheckContext, p: AuthzPolicy, namespace: string): PlaintextTarget[] {
  const root = ctx.mesh.rootNamespace;
  const mtls = resolveMtls(ctx.snapshot, root, namespace, p.selector);
  return notStrict(mtls) ? [{ who: reachText(p, root), mtls }] : [];
}

function reportIdentity(
  emit: Emitter,
  p: AuthzPolicy,
  risk: NonNullable<IdentityRisk>,
  targets: PlaintextTarget[],
): void {
  const first = targets[0];
  if (!first) return;
  const who = names(targets.map((t) => t.who));
  emit.finding(
    p.object,
    `${p.action ?? ""} AuthorizationPolicy ${policyName(p)} matches on peer identity ` +
      `(${names(risk.where)}) but plaintext reaches ${who} (${modeText(first.mtls)}), and ${risk.why}.`,
    { severity: risk.severity },
  );
}

function judgeIdentity(ctx: CheckContext, target: NamespaceTarget, emit: Emitter): void {
  const root = ctx.mesh.rootNamespace;
  for (const p of reachingPolicies(ctx, target.namespace)) {
    if (!isEnforced(p) || p.action === "AUDIT" || p.targeted) continue;
    const risk = identityRisk(p);
    if (!risk) continue;
    const own = p.namespace === target.namespace;
    // A root-namespace policy is judged in its own partition against the mesh-wide mode; other
    // partitions report it only where the namespace weakens a STRICT mesh, to avoid one finding
    // per namespace for the same mesh-wide setting.
    if (!own && notStrict(resolveMtls(ctx.snapshot, root, root))) continue;
    reportIdentity(emit, p, risk, plaintextTargets(ctx, p, target.namespace));
  }
}

export const authzIdentityWithoutMtls: NamespaceCheck = {
  id: "authz-identity-without-mtls",
  threats: THREATS,
  severity: "high",
  scope: "namespace",
  title: "Identity-based rule on a workload that accepts plaintext",
  description:
    "Finds AuthorizationPolicies whose rules match peer identities (principals, namespaces, " +
    "serviceAccounts, trustDomains, their not… forms, or the source.principal, " +
    "source.namespace, source.serviceAccount, source.trustDomain and connection.sni keys) on " +
    "workloads whose effective mTLS mode is not STRICT. Plaintext carries no identity: a DENY on " +
    "identities is bypassed, an ALLOW on notPrincipals/notNamespaces admits plaintext (high), and " +
    "an ALLOW on positive identities silently refuses plaintext callers (medium).",
  remediation:
    "Enforce STRICT mTLS for the workloads the policy reaches:\n" +
    `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: <namespace>
spec:
  mtls:
    mode: STRICT`,
  inputs: [K.AuthorizationPolicy, K.PeerAuthentication, ...WORKLOAD_INPUTS],
  run(ctx, target, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    judgeIdentity(ctx, target, emit);
  },
};

// ---------------------------------------------------------------------------------------------
// authz-selector-matches-nothing
//
// Cluster scope: a root-namespace policy with a selector reaches matching workloads in every
// namespace, so judging it reads every namespace's workloads. One check id cannot be both cluster-
// and namespace-scoped, so the whole check runs in the cluster partition.

function selectsAny(p: AuthzPolicy, workloads: readonly Workload[]): boolean {
  return workloads.some((w) =>
    Object.entries(p.selector ?? {}).every(([k, v]) => w.labels[k] === v),
  );
}

function judgedNamespaces(ctx: CheckContext): string[] {
  return [...new Set([ctx.mesh.rootNamespace, ...ctx.mesh.scopedNamespaces()])].sort();
}

export const authzSelectorMatchesNothing: ClusterCheck = {
  id: "authz-selector-matches-nothing",
  threats: THREATS,
  severity: "medium",
  scope: "cluster",
  title: "AuthorizationPolicy selector matches no workload",
  description:
    "Finds AuthorizationPolicies whose selector matches no workload (pods, or the templates of " +
    "Deployments, StatefulSets, DaemonSets, Jobs and CronJobs, zero replicas included) where it " +
    "applies: its namespace, or every namespace for the mesh root namespace. Such a policy " +
    "protects nothing, usually because of a label typo. Namespaces whose workloads are not in " +
    "the input (a scan of policy files alone) are not judged, since nothing could be matched.",
  remediation:
    "Correct `spec.selector.matchLabels` to labels the target pods carry, or delete the policy.",
  inputs: [K.AuthorizationPolicy, ...WORKLOAD_INPUTS],
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    const root = ctx.mesh.rootNamespace;
    for (const ns of judgedNamespaces(ctx)) {
      for (const p of policiesIn(ctx.snapshot, ns)) {
        if (!hasSelector(p) || p.targeted) continue;
        const spaces = ns === root ? ctx.snapshot.namespaces() : [ns];
        const workloads = spaces.flatMap((n) => ctx.mesh.workloads(n));
        if (workloads.length === 0 || selectsAny(p, workloads)) continue;
        emit.finding(
          p.object,
          `AuthorizationPolicy ${policyName(p)} selects ${reachText(p, root)}, but no workload ` +
            `there carries those labels, so the policy protects nothing.`,
        );
      }
    }
  },
};

// ---------------------------------------------------------------------------------------------
// authz-unknown-source-namespace
//
// Cluster scope: it compares policies with the list of every namespace.

function isNamespaceCondition(c: Condition): boolean {
  return c.field === "namespaces" || c.field === "notNamespaces" || c.field === "source.namespace";
}

function unknownNamespaces(p: AuthzPolicy, known: ReadonlySet<string>): string[] {
  const values = p.rules
    .flatMap((rule) => ruleConditions(rule).filter(isNamespaceCondition))
    .flatMap((c) => c.values);
  // Patterns (prefix*, *suffix, *) are meant to match namespaces that may not exist yet.
  const missing = values.filter((v) => !v.includes("*") && !known.has(v));
  return [...new Set(missing)].sort();
}

export const authzUnknownSourceNamespace: ClusterCheck = {
  id: "authz-unknown-source-namespace",
  threats: THREATS,
  severity: "medium",
  scope: "cluster",
  title: "AuthorizationPolicy names a namespace that does not exist",
  description:
    "Finds `namespaces`, `notNamespaces` and `source.namespace` values naming namespaces that do " +
    "not exist. A typo silently breaks the intended rule, and whoever later creates that " +
    "namespace inherits the access. Skipped when the ThreatPolicy declares a multi-cluster mesh, " +
    "where sources may live in other clusters. In an offline scan the namespace may exist but be " +
    "absent from the files, so the finding is lowered to low.",
  remediation:
    "Correct the namespace name, or remove the value; declare `multiCluster` in the ThreatPolicy " +
    "when callers live in other clusters of the mesh.",
  inputs: [K.AuthorizationPolicy, K.Namespace],
  run(ctx, emit) {
    if (ctx.policy.multiCluster) return;
    if (!inputsAvailable(ctx, this, emit)) return;
    const known = new Set(ctx.snapshot.namespaces());
    const complete = ctx.snapshot.namespacesComplete;
    for (const ns of judgedNamespaces(ctx)) {
      for (const p of policiesIn(ctx.snapshot, ns)) {
        const missing = unknownNamespaces(p, known);
        if (missing.length === 0) continue;
        const where = complete ? "the cluster" : "the input";
        emit.finding(
          p.object,
          `AuthorizationPolicy ${policyName(p)} names source namespace ${names(missing)}, which ` +
            `does not exist in ${where}, so the rule does not do what it says and a namespace ` +
            `created later with that name would inherit it.`,
          { severity: complete ? "medium" : "low" },
        );
      }
    }
  },
};

export const AUTHZ_CHECKS: readonly Check[] = [
  authzNoDefaultDeny,
  authzAllowAll,
  authzUnsafePattern,
  authzIdentityWithoutMtls,
  authzSelectorMatchesNothing,
  authzUnknownSourceNamespace,
];
