// AuthorizationPolicy semantics as istiod applies them to sidecars: which policies reach a
// workload, which are enforced, and what their rules really match. Istio evaluates CUSTOM, then
// DENY, then ALLOW; a workload that any enforced ALLOW policy reaches denies every request that no
// ALLOW rule matches.

import { arr, isObj, obj, objs, parseGoBool, str, strs, type Obj } from "./fields.js";
import { K } from "./kinds.js";
import { workloadSelector } from "./selectors.js";
import { namespaceOf, type Snapshot } from "./snapshot.js";
import type { KubeObject } from "./types.js";

export type AuthzAction = "ALLOW" | "DENY" | "AUDIT" | "CUSTOM";

/** What a policy does to the workloads it reaches, judged on HTTP traffic. */
export type AuthzEffect =
  /** ALLOW with no rules: once it applies, nothing is allowed (the deny-by-default pattern). */
  | "allow-nothing"
  /** ALLOW with a rule that matches every request. */
  | "allow-all"
  /** DENY with a rule that matches every request; no ALLOW policy can reopen it. */
  | "deny-all"
  /** Rules that match some requests. */
  | "conditional"
  /** Enforces nothing: dry-run, DENY/AUDIT without rules, an unknown action, or no rule is valid. */
  | "none";

export interface AuthzPolicy {
  object: KubeObject;
  name: string;
  namespace: string;
  /** Undefined when `spec.action` holds a value Istio does not know; such a policy is rejected. */
  action: AuthzAction | undefined;
  /** `rules` absent and `rules: []` mean the same to Istio: no rules. */
  rules: Obj[];
  /** `selector.matchLabels`; undefined when the policy has no selector. Empty means no selector. */
  selector: Record<string, string> | undefined;
  /** `targetRef` or `targetRefs`: the policy is meant for gateways or waypoints, never sidecars. */
  targeted: boolean;
  /** `istio.io/dry-run` parsed like Go's strconv.ParseBool; an unparsable value means enforced. */
  dryRun: boolean;
}

const ACTIONS = new Set<string>(["ALLOW", "DENY", "AUDIT", "CUSTOM"]);
const DRY_RUN = "istio.io/dry-run";

export function parseAuthorizationPolicy(object: KubeObject): AuthzPolicy {
  const spec = obj(object.spec) ?? {};
  const action = str(spec.action) ?? "ALLOW";
  const refs = arr(spec.targetRefs).length > 0 || isObj(spec.targetRef);
  return {
    object,
    name: object.metadata.name ?? "",
    namespace: namespaceOf(object) ?? "default",
    action: ACTIONS.has(action) ? (action as AuthzAction) : undefined,
    rules: objs(spec.rules),
    selector: workloadSelector(spec),
    targeted: refs,
    dryRun: parseGoBool(object.metadata.annotations?.[DRY_RUN]) === true,
  };
}

/**
 * Parsed AuthorizationPolicies per snapshot and namespace. A snapshot never changes, and every
 * authorization check of every partition reads the root namespace's policies again, so each
 * namespace is parsed once.
 */
const parsedBySnapshot = new WeakMap<Snapshot, Map<string, AuthzPolicy[]>>();

/** Every AuthorizationPolicy of a namespace, parsed (a fresh array of shared, unchanged policies). */
export function policiesIn(snapshot: Snapshot, namespace: string): AuthzPolicy[] {
  let byNamespace = parsedBySnapshot.get(snapshot);
  if (!byNamespace) {
    byNamespace = new Map();
    parsedBySnapshot.set(snapshot, byNamespace);
  }
  let parsed = byNamespace.get(namespace);
  if (!parsed) {
    parsed = snapshot.inNamespace(K.AuthorizationPolicy, namespace).map(parseAuthorizationPolicy);
    byNamespace.set(namespace, parsed);
  }
  return [...parsed];
}

/** True when the policy has a selector with at least one label. */
export function hasSelector(policy: AuthzPolicy): boolean {
  return Object.keys(policy.selector ?? {}).length > 0;
}

/** Root namespace and no (or an empty) selector: the policy reaches every workload of the mesh. */
export function isMeshWide(policy: AuthzPolicy, rootNamespace: string): boolean {
  return policy.namespace === rootNamespace && !hasSelector(policy);
}

/**
 * Whether the policy reaches a sidecar workload. Istio looks up policies in the mesh root namespace
 * and in the workload's own namespace; a selector must be a subset of the workload's labels. Pass
 * `labels: undefined` to ask about the namespace as a whole (only selector-less policies count).
 */
export function appliesTo(
  policy: AuthzPolicy,
  rootNamespace: string,
  namespace: string,
  labels: Record<string, string> | undefined,
): boolean {
  if (policy.targeted) return false;
  if (policy.namespace !== rootNamespace && policy.namespace !== namespace) return false;
  if (!hasSelector(policy)) return true;
  if (labels === undefined) return false;
  return Object.entries(policy.selector ?? {}).every(([k, v]) => labels[k] === v);
}

/** A policy that changes what the data plane does: not dry-run, with an action Istio knows. */
export function isEnforced(policy: AuthzPolicy): boolean {
  return !policy.dryRun && policy.action !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Rule conditions

const SOURCE_FIELDS = [
  "principals",
  "requestPrincipals",
  "namespaces",
  "serviceAccounts",
  "trustDomains",
  "ipBlocks",
  "remoteIpBlocks",
] as const;
const OPERATION_FIELDS = ["hosts", "ports", "methods", "paths"] as const;

/** Conditions that exist only in HTTP requests; on a TCP filter chain Istio cannot evaluate them. */
const HTTP_ONLY_FIELDS = new Set(["requestPrincipals", "hosts", "methods", "paths"]);
/** Conditions on the peer's mTLS identity (or its SNI): plaintext traffic carries none. */
const IDENTITY_FIELDS = new Set(["principals", "namespaces", "serviceAccounts", "trustDomains"]);
const IDENTITY_KEYS = new Set([
  "source.principal",
  "source.namespace",
  "source.serviceAccount",
  "source.trustDomain",
  "connection.sni",
]);
/** The `when` keys istiod accepts; a rule with any other key is skipped as invalid. */
const KNOWN_KEYS = new Set([
  ...IDENTITY_KEYS,
  "source.ip",
  "remote.ip",
  "request.auth.principal",
  "request.auth.audiences",
  "request.auth.presenter",
  "destination.ip",
  "destination.port",
]);
const KNOWN_KEY_PREFIXES = [
  "request.headers[",
  "request.auth.claims[",
  "experimental.envoy.filters.",
];

/** One condition of a rule: a field (`principals`, `notPaths`) or a `when` key, with its values. */
export interface Condition {
  /** Where it sits: `from[0].source`, `to[1].operation` or `when[2]`. */
  path: string;
  /** `principals`, `notPaths`, or the `when` key (`source.namespace`); `notValues` for negated keys. */
  field: string;
  negative: boolean;
  values: string[];
  httpOnly: boolean;
  identity: boolean;
}

export function sourceConditions(rule: Obj): Condition[][] {
  return objs(rule.from).map((from, i) =>
    fieldConditions(obj(from.source), SOURCE_SPECS, `from[${i}].source`),
  );
}

export function operationConditions(rule: Obj): Condition[][] {
  return objs(rule.to).map((to, i) =>
    fieldConditions(obj(to.operation), OPERATION_SPECS, `to[${i}].operation`),
  );
}

/** One field a condition can sit in (`paths` or `notPaths`), with what it implies. */
interface FieldSpec {
  field: string;
  negative: boolean;
  httpOnly: boolean;
  identity: boolean;
}

/** Each base field followed by its negation (`paths`, `notPaths`), worked out once. */
function fieldSpecs(bases: readonly string[]): FieldSpec[] {
  return bases.flatMap((base) => {
    const httpOnly = HTTP_ONLY_FIELDS.has(base);
    const identity = IDENTITY_FIELDS.has(base);
    const notName = `not${base[0]?.toUpperCase() ?? ""}${base.slice(1)}`;
    return [
      { field: base, negative: false, httpOnly, identity },
      { field: notName, negative: true, httpOnly, identity },
    ];
  });
}

const SOURCE_SPECS = fieldSpecs(SOURCE_FIELDS);
const OPERATION_SPECS = fieldSpecs(OPERATION_FIELDS);

function fieldConditions(
  body: Obj | undefined,
  specs: readonly FieldSpec[],
  path: string,
): Condition[] {
  if (!body) return [];
  const out: Condition[] = [];
  for (const { field, negative, httpOnly, identity } of specs) {
    const values = strs(body[field]);
    // Istio skips a field whose list is empty, so it constrains nothing.
    if (values.length === 0) continue;
    out.push({ path, field, negative, values, httpOnly, identity });
  }
  return out;
}

export function whenConditions(rule: Obj): Condition[] {
  const out: Condition[] = [];
  objs(rule.when).forEach((when, i) => {
    const key = str(when.key) ?? "";
    const httpOnly = key.startsWith("request.");
    const identity = IDENTITY_KEYS.has(key);
    const path = `when[${i}]`;
    const values = strs(when.values);
    const notValues = strs(when.notValues);
    if (values.length > 0)
      out.push({ path, field: key, negative: false, values, httpOnly, identity });
    if (notValues.length > 0) {
      out.push({ path, field: key, negative: true, values: notValues, httpOnly, identity });
    }
  });
  return out;
}

/** Every condition of a rule, flattened. */
export function ruleConditions(rule: Obj): Condition[] {
  return [
    ...sourceConditions(rule).flat(),
    ...operationConditions(rule).flat(),
    ...whenConditions(rule),
  ];
}

/** istiod rejects a rule whose `when` names an unknown key; the rule then matches nothing. */
export function ruleIsValid(rule: Obj): boolean {
  return objs(rule.when).every((w) => {
    const key = str(w.key) ?? "";
    return KNOWN_KEYS.has(key) || KNOWN_KEY_PREFIXES.some((p) => key.startsWith(p));
  });
}

type Drop = (c: Condition) => boolean;
const keepAll: Drop = () => false;

/**
 * A rule matches every request when at least one `from` entry and one `to` entry (or none at all)
 * carry no condition, and no `when` condition remains. `drop` removes conditions the filter chain
 * ignores (HTTP-only ones in a DENY rule on TCP).
 */
export function matchesEverything(rule: Obj, drop: Drop = keepAll): boolean {
  if (!ruleIsValid(rule)) return false;
  const open = (alternatives: Condition[][]): boolean =>
    alternatives.length === 0 || alternatives.some((a) => a.every(drop));
  if (!whenConditions(rule).every(drop)) return false;
  return open(sourceConditions(rule)) && open(operationConditions(rule));
}

/** Index of the first rule that matches every HTTP request, or -1. */
export function matchAllRuleIndex(policy: AuthzPolicy): number {
  return policy.rules.findIndex((r) => matchesEverything(r));
}

/** Effects already worked out: deny-by-default asks again for every workload a policy reaches. */
const effects = new WeakMap<AuthzPolicy, AuthzEffect>();

/** What an enforced policy does on HTTP traffic; `none` for dry-run or rejected policies. */
export function effectOf(policy: AuthzPolicy): AuthzEffect {
  let effect = effects.get(policy);
  if (effect === undefined) {
    effect = computeEffect(policy);
    effects.set(policy, effect);
  }
  return effect;
}

function computeEffect(policy: AuthzPolicy): AuthzEffect {
  if (!isEnforced(policy)) return "none";
  const everything = matchAllRuleIndex(policy) >= 0;
  switch (policy.action) {
    case "ALLOW":
      if (policy.rules.length === 0) return "allow-nothing";
      return everything ? "allow-all" : "conditional";
    case "DENY":
      if (policy.rules.length === 0) return "none";
      return everything ? "deny-all" : "conditional";
    default:
      // AUDIT never blocks; CUSTOM delegates to an external authorizer whose verdict is unknown.
      return policy.rules.length === 0 || policy.action === "AUDIT" ? "none" : "conditional";
  }
}

/** How one rule behaves on a TCP filter chain. */
export type TcpRuleEffect = "never" | "everything" | "conditional";

/**
 * On TCP, an ALLOW rule with any HTTP-only condition is skipped (it never matches, so the policy
 * allows less), while DENY, AUDIT and CUSTOM rules drop those conditions and match more widely.
 */
export function tcpRuleEffect(action: AuthzAction, rule: Obj): TcpRuleEffect {
  if (!ruleIsValid(rule)) return "never";
  const conditions = ruleConditions(rule);
  if (action === "ALLOW") {
    if (conditions.some((c) => c.httpOnly)) return "never";
    return matchesEverything(rule) ? "everything" : "conditional";
  }
  return matchesEverything(rule, (c) => c.httpOnly) ? "everything" : "conditional";
}

// ---------------------------------------------------------------------------------------------
// Deny-by-default

/**
 * Whether a workload (or, with `labels: undefined`, the namespace as a whole) is deny-by-default:
 * an enforced ALLOW policy reaches it and no enforced allow-all ALLOW does, or an enforced deny-all
 * DENY reaches it. CUSTOM policies do not count: their verdict comes from an external service.
 */
export function denyByDefault(
  policies: readonly AuthzPolicy[],
  rootNamespace: string,
  namespace: string,
  labels: Record<string, string> | undefined,
): boolean {
  const reaching = policies.filter((p) => appliesTo(p, rootNamespace, namespace, labels));
  if (reaching.some((p) => effectOf(p) === "deny-all")) return true;
  const allows = reaching.filter((p) => p.action === "ALLOW").map(effectOf);
  const enforced = allows.filter((e) => e !== "none");
  return enforced.length > 0 && !enforced.includes("allow-all");
}
