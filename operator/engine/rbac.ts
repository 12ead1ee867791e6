// Kubernetes RBAC, evaluated the way the API server's authorizer does: which subjects may perform
// a verb on a resource, in one namespace or cluster-wide. Rules are indexed once per snapshot;
// answers are cached per question, so a check asking about thousands of bindings stays cheap.

import { arr, at, obj, objs, str, stringMap, strs } from "./fields.js";
import { K } from "./kinds.js";
import type { Subject } from "./policy.js";
import { globMatch, parseSelector, selectorMatches, type LabelSelector } from "./selectors.js";
import { namespaceOf, type Snapshot } from "./snapshot.js";
import { SEVERITIES, type KubeObject, type ResourceRef, type Severity } from "./types.js";

export interface AccessRequest {
  verb: string;
  /** API group; "" for the core group. */
  group: string;
  /** Resource, optionally with a subresource: `pods`, `pods/exec`, `deployments/scale`. */
  resource: string;
  /** One object; when absent, the question is "any object", and name-limited rules count too. */
  name?: string;
  /** Namespace of a namespaced resource; absent asks for cluster-wide rights. */
  namespace?: string;
}

export interface AccessGrant {
  subject: Subject;
  binding: KubeObject;
  roleKind: "Role" | "ClusterRole";
  roleName: string;
  /** Set when the matching rules only cover these object names. */
  resourceNames?: string[];
}

export interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames: string[];
}

interface Binding {
  object: KubeObject;
  roleKind: "Role" | "ClusterRole";
  roleName: string;
  /** Namespace the binding grants in; undefined for a ClusterRoleBinding. */
  namespace: string | undefined;
  subjects: Subject[];
}

/** What one role allows for one request: nothing, everything, or some names. */
type RoleMatch = false | true | string[];

const cache = new WeakMap<Snapshot, RbacIndex>();

export class RbacIndex {
  private readonly clusterRoles = new Map<string, KubeObject>();
  private readonly resolvedClusterRules = new Map<string, Rule[]>();
  private readonly roleRules = new Map<string, Rule[]>();
  private readonly clusterBindings: Binding[] = [];
  private readonly namespaceBindings = new Map<string, Binding[]>();
  private readonly answers = new Map<string, AccessGrant[]>();
  private readonly roleMatches = new Map<string, Map<string, RoleMatch>>();

  /** The index of a snapshot, built on first use and shared by every check. */
  static of(snapshot: Snapshot): RbacIndex {
    let index = cache.get(snapshot);
    if (!index) {
      index = new RbacIndex(snapshot);
      cache.set(snapshot, index);
    }
    return index;
  }

  /** True when the snapshot holds any binding; without one, no answer can be trusted. */
  readonly hasBindings: boolean;

  constructor(snapshot: Snapshot) {
    for (const role of snapshot.all(K.ClusterRole)) {
      if (role.metadata.name) this.clusterRoles.set(role.metadata.name, role);
    }
    for (const role of snapshot.all(K.Role)) {
      this.roleRules.set(`${namespaceOf(role) ?? ""}/${role.metadata.name ?? ""}`, rulesOf(role));
    }
    for (const b of snapshot.all(K.ClusterRoleBinding)) {
      const binding = readBinding(b, undefined);
      if (binding) this.clusterBindings.push(binding);
    }
    for (const b of snapshot.all(K.RoleBinding)) this.addRoleBinding(b);
    this.hasBindings = this.clusterBindings.length > 0 || this.namespaceBindings.size > 0;
  }

  private addRoleBinding(b: KubeObject): void {
    const ns = namespaceOf(b) ?? "default";
    const binding = readBinding(b, ns);
    if (!binding) return;
    const list = this.namespaceBindings.get(ns) ?? [];
    list.push(binding);
    this.namespaceBindings.set(ns, list);
  }

  /** Every subject that may perform the request, with the binding that grants it. */
  whoCan(request: AccessRequest): AccessGrant[] {
    const base = questionKey(request);
    const key = `${base}\u0000${request.namespace ?? ""}`;
    let grants = this.answers.get(key);
    if (grants) return grants;
    // ClusterRoleBindings answer the same in every namespace: compute them once per question.
    const clusterKey = `${base}\u0000`;
    let cluster = this.answers.get(clusterKey);
    if (!cluster) {
      cluster = this.grantsOf(this.clusterBindings, request, this.rolesFor(base));
      this.answers.set(clusterKey, cluster);
    }
    grants = cluster;
    if (request.namespace !== undefined) {
      const extra = this.roleBindingGrants(request);
      if (extra.length > 0) grants = [...cluster, ...extra];
      this.answers.set(key, grants);
    }
    return grants;
  }

  /**
   * The part of `whoCan` that RoleBindings in the request's namespace grant (none without a
   * namespace). A check that only counts RoleBinding grants asks this, and skips walking the
   * ClusterRoleBinding grants again for every namespace.
   */
  roleBindingGrants(request: AccessRequest): AccessGrant[] {
    if (request.namespace === undefined) return [];
    const base = questionKey(request);
    const key = `${base}\u0000${request.namespace}\u0000local`;
    let grants = this.answers.get(key);
    if (!grants) {
      const local = this.namespaceBindings.get(request.namespace) ?? [];
      grants = this.grantsOf(local, request, this.rolesFor(base));
      this.answers.set(key, grants);
    }
    return grants;
  }

  private rolesFor(base: string): Map<string, RoleMatch> {
    let roles = this.roleMatches.get(base);
    if (!roles) {
      roles = new Map();
      this.roleMatches.set(base, roles);
    }
    return roles;
  }

  private grantsOf(
    bindings: readonly Binding[],
    request: AccessRequest,
    roles: Map<string, RoleMatch>,
  ): AccessGrant[] {
    const grants: AccessGrant[] = [];
    for (const b of bindings) {
      const roleKey = `${b.roleKind}:${b.roleKind === "Role" ? (b.namespace ?? "") : ""}/${b.roleName}`;
      let match = roles.get(roleKey);
      if (match === undefined) {
        match = matchRules(this.rulesFor(b), request);
        roles.set(roleKey, match);
      }
      if (match === false) continue;
      for (const subject of b.subjects) {
        const grant: AccessGrant = {
          subject,
          binding: b.object,
          roleKind: b.roleKind,
          roleName: b.roleName,
        };
        if (match !== true) grant.resourceNames = match;
        grants.push(grant);
      }
    }
    return grants;
  }

  private rulesFor(b: Binding): Rule[] {
    if (b.roleKind === "Role")
      return this.roleRules.get(`${b.namespace ?? ""}/${b.roleName}`) ?? [];
    return this.clusterRoleRules(b.roleName);
  }

  /** A ClusterRole's rules, with aggregated ClusterRoles' rules folded in (transitively). */
  clusterRoleRules(name: string, seen: Set<string> = new Set()): Rule[] {
    const done = this.resolvedClusterRules.get(name);
    if (done) return done;
    const role = this.clusterRoles.get(name);
    if (!role || seen.has(name)) return [];
    seen.add(name);
    const rules = [...rulesOf(role)];
    for (const selector of aggregationSelectors(role)) {
      for (const [otherName, other] of this.clusterRoles) {
        if (otherName === name) continue;
        if (!selectorMatches(selector, stringMap(other.metadata.labels))) continue;
        rules.push(...this.clusterRoleRules(otherName, seen));
      }
    }
    this.resolvedClusterRules.set(name, rules);
    return rules;
  }
}

/**
 * The request without its namespace, as a cache key. NUL cannot occur in a verb, group, resource
 * or object name; SOH marks a named request apart from "any object".
 */
function questionKey(request: AccessRequest): string {
  const name = request.name === undefined ? "" : `\u0001${request.name}`;
  return `${request.verb}\u0000${request.group}\u0000${request.resource}\u0000${name}`;
}

function aggregationSelectors(role: KubeObject): LabelSelector[] {
  return objs(at(role, "aggregationRule", "clusterRoleSelectors"))
    .map(parseSelector)
    .filter((s): s is LabelSelector => s !== undefined && !isEmpty(s));
}

// An empty aggregation selector would select every ClusterRole; the controller refuses that.
function isEmpty(s: LabelSelector): boolean {
  return Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0;
}

function rulesOf(role: KubeObject): Rule[] {
  return objs(role.rules).map((r) => ({
    apiGroups: strs(r.apiGroups),
    resources: strs(r.resources),
    verbs: strs(r.verbs),
    resourceNames: strs(r.resourceNames),
  }));
}

function readBinding(b: KubeObject, namespace: string | undefined): Binding | undefined {
  const ref = obj(b.roleRef);
  const kind = str(ref?.kind);
  const roleName = str(ref?.name);
  if (!roleName || (kind !== "Role" && kind !== "ClusterRole")) return undefined;
  // A ClusterRoleBinding can only reference a ClusterRole.
  if (namespace === undefined && kind === "Role") return undefined;
  const subjects = arr(b.subjects).flatMap((s) => readSubject(s, namespace));
  return { object: b, roleKind: kind, roleName, namespace, subjects };
}

function readSubject(value: unknown, bindingNamespace: string | undefined): Subject[] {
  const kind = str(at(value, "kind"));
  const name = str(at(value, "name"));
  if (!name) return [];
  if (kind === "User" || kind === "Group") return [{ kind, name }];
  if (kind !== "ServiceAccount") return [];
  const ns = str(at(value, "namespace")) ?? bindingNamespace;
  return ns ? [{ kind, name, namespace: ns }] : [];
}

function listed(list: string[], value: string): boolean {
  return list.includes("*") || list.includes(value);
}

function resourceMatches(ruleResources: string[], requested: string): boolean {
  const slash = requested.indexOf("/");
  const sub = slash < 0 ? undefined : requested.slice(slash + 1);
  const base = slash < 0 ? requested : requested.slice(0, slash);
  return ruleResources.some((r) => {
    if (r === "*" || r === requested) return true;
    // `*/scale` covers the scale subresource of every resource; `pods/*` every pods subresource.
    if (sub !== undefined && r === `*/${sub}`) return true;
    return sub !== undefined && r === `${base}/*`;
  });
}

/** Whether the rules allow the request: fully, for some names, or not at all. */
function matchRules(rules: Rule[], request: AccessRequest): RoleMatch {
  const names = new Set<string>();
  for (const rule of rules) {
    if (!listed(rule.verbs, request.verb)) continue;
    if (!listed(rule.apiGroups, request.group)) continue;
    if (!resourceMatches(rule.resources, request.resource)) continue;
    if (rule.resourceNames.length === 0) return true;
    if (request.name === undefined) rule.resourceNames.forEach((n) => names.add(n));
    else if (rule.resourceNames.includes(request.name)) return true;
  }
  return names.size > 0 ? [...names].sort() : false;
}

/** Who is trusted by default, besides the policy's own list. */
export interface TrustContext {
  trusted: readonly Subject[];
  /** Namespaces where istiod runs; its and the gateways' service accounts are trusted there. */
  istiodNamespaces: readonly string[];
}

const TRUSTED_GROUPS = new Set(["system:masters", "system:serviceaccounts:kube-system"]);
const CONTROL_PLANE_ACCOUNTS = ["istiod", "istiod-*", "istio-*gateway*"];

/** True for the policy's trusted subjects and the built-in ones (cluster admins, controllers). */
export function isTrustedSubject(subject: Subject, trust: TrustContext): boolean {
  if (trust.trusted.some((t) => subjectMatches(t, subject))) return true;
  switch (subject.kind) {
    case "Group":
      return TRUSTED_GROUPS.has(subject.name);
    case "User":
      // The controller manager and the scheduler authenticate as system:kube-* users.
      return subject.name.startsWith("system:kube-");
    case "ServiceAccount":
      return trustedServiceAccount(subject, trust);
  }
}

function trustedServiceAccount(subject: Subject, trust: TrustContext): boolean {
  // Kubernetes' own controllers run as service accounts in kube-system.
  if (subject.namespace === "kube-system") return true;
  if (subject.namespace === undefined || !trust.istiodNamespaces.includes(subject.namespace)) {
    return false;
  }
  return CONTROL_PLANE_ACCOUNTS.some((p) => globMatch(p, subject.name));
}

function subjectMatches(pattern: Subject, subject: Subject): boolean {
  if (pattern.kind !== subject.kind || !globMatch(pattern.name, subject.name)) return false;
  return pattern.namespace === undefined || globMatch(pattern.namespace, subject.namespace ?? "");
}

/** `Kind name` or `ServiceAccount ns/name`, for messages. */
export function subjectText(subject: Subject): string {
  const ns = subject.namespace === undefined ? "" : `${subject.namespace}/`;
  return `${subject.kind} ${ns}${subject.name}`;
}

// ---------------------------------------------------------------------------------------------
// Helpers for checks that report access per subject.

/** Namespaces where some RoleBinding grants rights, sorted. */
export function bindingNamespaces(snapshot: Snapshot): string[] {
  const found = new Set<string>();
  for (const b of snapshot.all(K.RoleBinding)) found.add(namespaceOf(b) ?? "default");
  return [...found].sort();
}

/** True when a grant comes from a RoleBinding, which only grants inside its own namespace. */
export function grantedByRoleBinding(grant: AccessGrant): boolean {
  return namespaceOf(grant.binding) !== undefined;
}

/** `ClusterRoleBinding x → ClusterRole y` or `RoleBinding ns/x → Role y`, for messages. */
export function grantPath(grant: AccessGrant): string {
  const ns = namespaceOf(grant.binding);
  const name = grant.binding.metadata.name ?? "";
  const binding = ns === undefined ? `ClusterRoleBinding ${name}` : `RoleBinding ${ns}/${name}`;
  return `${binding} → ${grant.roleKind} ${grant.roleName}`;
}

/** The resource a per-subject finding is filed under: the ServiceAccount, or the User/Group. */
export function subjectRef(subject: Subject): ResourceRef {
  if (subject.kind === "ServiceAccount") {
    return {
      apiVersion: "v1",
      kind: "ServiceAccount",
      namespace: subject.namespace ?? "default",
      name: subject.name,
    };
  }
  return { apiVersion: "rbac.authorization.k8s.io/v1", kind: subject.kind, name: subject.name };
}

/** What a grant covers: a resource (`virtualservices`, `Secret cacerts`) and where (`in shop`). */
export interface AccessTarget {
  resource: string;
  scope: string;
}

/** grant path → scope → resource label → verbs. */
type AccessTree = Map<string, Map<string, Map<string, Set<string>>>>;

interface SubjectAccess {
  subject: Subject;
  severity: Severity;
  paths: AccessTree;
}

function child<V>(map: Map<string, V>, key: string, make: () => NoInfer<V>): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

/**
 * Texts per subject and per binding: the same few thousand bindings answer tens of thousands of
 * questions, and their text depends only on the (unchanging) binding and subject.
 */
const subjectTexts = new WeakMap<Subject, string>();
const grantPaths = new WeakMap<KubeObject, string>();

function cachedSubjectText(subject: Subject): string {
  let text = subjectTexts.get(subject);
  if (text === undefined) {
    text = subjectText(subject);
    subjectTexts.set(subject, text);
  }
  return text;
}

/** grantPath reads only the binding, whose roleRef gives the role kind and name. */
function cachedGrantPath(grant: AccessGrant): string {
  let path = grantPaths.get(grant.binding);
  if (path === undefined) {
    path = grantPath(grant);
    grantPaths.set(grant.binding, path);
  }
  return path;
}

/**
 * Collects what each subject may do, and through which bindings, so that a check reports one
 * finding per subject instead of one per verb, resource and binding.
 */
export class AccessBySubject {
  private readonly bySubject = new Map<string, SubjectAccess>();

  add(grant: AccessGrant, verb: string, target: AccessTarget, severity: Severity): void {
    const entry = child(this.bySubject, cachedSubjectText(grant.subject), (): SubjectAccess => ({
      subject: grant.subject,
      severity,
      paths: new Map(),
    }));
    if (worse(severity, entry.severity)) entry.severity = severity;
    const names = grant.resourceNames ? ` named ${grant.resourceNames.join(", ")}` : "";
    const scopes = child(entry.paths, cachedGrantPath(grant), () => new Map());
    const resources = child(scopes, target.scope, () => new Map<string, Set<string>>());
    child(resources, `${target.resource}${names}`, () => new Set<string>()).add(verb);
  }

  /** Subjects in a stable order, each with its worst severity and a description of its access. */
  entries(): { subject: Subject; severity: Severity; access: string }[] {
    return [...this.bySubject.keys()].sort().flatMap((key) => {
      const entry = this.bySubject.get(key);
      if (!entry) return [];
      return [{ subject: entry.subject, severity: entry.severity, access: describe(entry) }];
    });
  }
}

/** `create/update virtualservices, gateways in shop (through RoleBinding shop/x → Role y)`. */
function describe(entry: SubjectAccess): string {
  return [...entry.paths]
    .map(([path, scopes]) => {
      const parts = [...scopes].flatMap(([scope, resources]) => {
        // Resources with the same verbs read as one phrase.
        const byVerbs = new Map<string, string[]>();
        for (const [label, verbs] of resources) {
          child(byVerbs, [...verbs].join("/"), () => []).push(label);
        }
        return [...byVerbs].map(([verbs, labels]) => `${verbs} ${labels.join(", ")} ${scope}`);
      });
      return `${parts.join(", ")} (through ${path})`;
    })
    .join("; ");
}

function worse(a: Severity, b: Severity): boolean {
  return SEVERITIES.indexOf(a) < SEVERITIES.indexOf(b);
}
