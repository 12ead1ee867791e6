// ThreatPolicy: the posture a cluster must meet. Parsed once, with every problem reported against
// the field that holds it (`spec.waivers[2].expires`), so that an invalid policy can be named
// precisely in a condition or an error message.

import { arr, at, bool, isObj, num, obj, str } from "./fields.js";
import { parseSelector, type LabelSelector } from "./selectors.js";
import { isThreatId } from "./threats.js";
import { RISKS, type KubeObject, type Risk, type ThreatId } from "./types.js";

export interface Subject {
  kind: "User" | "Group" | "ServiceAccount";
  name: string;
  namespace?: string;
}

export interface ResourcePattern {
  kind?: string;
  namespace?: string;
  name?: string;
}

export interface Waiver {
  threat: ThreatId;
  check?: string;
  resources: ResourcePattern[];
  reason: string;
  owner?: string;
  expires: Date;
  expiresText: string;
}

export interface Attestation {
  threat: ThreatId;
  statement: string;
  evidence?: string;
  expires: Date;
  expiresText: string;
}

export interface EnvoyFilterAllowance {
  namespace?: string;
  name?: string;
  selector?: LabelSelector;
}

export interface ThreatSettings {
  enabled: boolean;
  risk?: Risk;
  parameters: Record<string, unknown>;
}

export interface ThreatPolicy {
  name: string;
  generation?: number;
  meshRootNamespace?: string;
  namespaceSelector?: LabelSelector;
  threats: Partial<Record<ThreatId, ThreatSettings>>;
  envoyFiltersAllowed: EnvoyFilterAllowance[];
  trustedSubjects: Subject[];
  trustedProxyImages: string[];
  gitopsManagers: string[];
  controllers: string[];
  waivers: Waiver[];
  attestations: Attestation[];
  injectorAllowedURLs: string[];
  injectorFingerprint?: string;
  allowedMutatingWebhooks: string[];
  multiCluster: boolean;
  minimumIstioVersion?: string;
  maxFindingsPerThreat: number;
}

export interface PolicyError {
  field: string;
  message: string;
}

export class PolicyValidationError extends Error {
  override readonly name = "PolicyValidationError";
  constructor(
    readonly policyName: string,
    readonly errors: PolicyError[],
  ) {
    super(
      `ThreatPolicy ${policyName} is invalid: ` +
        errors.map((e) => `${e.field}: ${e.message}`).join("; "),
    );
  }
}

export const DEFAULT_MAX_FINDINGS_PER_THREAT = 20;

/** Field managers of the common GitOps controllers. */
export const DEFAULT_GITOPS_MANAGERS = [
  "argocd-controller",
  "argocd-application-controller",
  "kustomize-controller",
  "helm-controller",
];

export function defaultPolicy(): ThreatPolicy {
  return {
    name: "default",
    threats: {},
    envoyFiltersAllowed: [],
    trustedSubjects: [],
    trustedProxyImages: [],
    gitopsManagers: [...DEFAULT_GITOPS_MANAGERS],
    controllers: [],
    waivers: [],
    attestations: [],
    injectorAllowedURLs: [],
    allowedMutatingWebhooks: [],
    multiCluster: false,
    maxFindingsPerThreat: DEFAULT_MAX_FINDINGS_PER_THREAT,
  };
}

export function threatEnabled(policy: ThreatPolicy, id: ThreatId): boolean {
  return policy.threats[id]?.enabled ?? true;
}

class Reader {
  readonly errors: PolicyError[] = [];

  fail(field: string, message: string): void {
    this.errors.push({ field, message });
  }

  date(value: unknown, field: string): Date | undefined {
    const text = str(value) ?? (value instanceof Date ? value.toISOString() : undefined);
    if (text === undefined) {
      this.fail(field, "required (an RFC 3339 date such as 2027-01-31 or 2027-01-31T00:00:00Z)");
      return undefined;
    }
    const date = new Date(text);
    // Date() rolls 2027-02-30 over to March; a date that does not round-trip does not exist.
    const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(text);
    if (Number.isNaN(date.getTime()) || (dateOnly && date.toISOString().slice(0, 10) !== text)) {
      this.fail(field, `"${text}" is not a date (expected RFC 3339, e.g. 2027-01-31)`);
      return undefined;
    }
    return date;
  }

  threat(value: unknown, field: string): ThreatId | undefined {
    const id = str(value);
    if (id !== undefined && isThreatId(id)) return id;
    this.fail(field, `"${String(value)}" is not a threat id (S-01 … E-03)`);
    return undefined;
  }

  requiredString(value: unknown, field: string): string | undefined {
    const text = str(value);
    if (text === undefined || text.trim() === "") {
      this.fail(field, "required, a non-empty string");
      return undefined;
    }
    return text;
  }

  /** The items of a list field; anything else but absence is an error. */
  list(value: unknown, field: string): unknown[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.fail(field, `must be a list, got ${typeName(value)}`);
      return [];
    }
    return value;
  }

  stringList(value: unknown, field: string): string[] {
    if (value === undefined) return [];
    if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
      this.fail(field, "must be a list of strings");
      return [];
    }
    return value as string[];
  }
}

/** Parses a ThreatPolicy object. Throws PolicyValidationError naming every bad field. */
/** What policy parsing needs to know of a check: its id and the threats it serves. */
export interface CheckRef {
  id: string;
  threats: readonly ThreatId[];
}

/**
 * Reads and validates a ThreatPolicy. With `checks`, a waiver that names a check must name one of
 * its threat's checks: a misspelt id would otherwise waive nothing without a word.
 */
export function parseThreatPolicy(object: KubeObject, checks?: readonly CheckRef[]): ThreatPolicy {
  const r = new Reader();
  const policy = defaultPolicy();
  const metadata = isObj(object.metadata) ? object.metadata : {};
  policy.name = typeof metadata.name === "string" ? metadata.name : "default";
  if (typeof metadata.generation === "number") policy.generation = metadata.generation;
  const spec = object.spec ?? {};
  if (!isObj(spec)) {
    throw new PolicyValidationError(policy.name, [{ field: "spec", message: "must be an object" }]);
  }

  readScope(r, spec, policy);
  readThreats(r, spec.threats, policy);
  readEnvoyFilters(r, spec.envoyFilters, policy);
  policy.trustedSubjects = readSubjects(r, spec.trustedSubjects);
  policy.trustedProxyImages = r.stringList(spec.trustedProxyImages, "spec.trustedProxyImages");
  const managers = at(spec, "gitops", "managers");
  if (managers !== undefined)
    policy.gitopsManagers = r.stringList(managers, "spec.gitops.managers");
  policy.controllers = r.stringList(spec.controllers, "spec.controllers");
  policy.waivers = readWaivers(r, spec.waivers, checks);
  policy.attestations = readAttestations(r, spec.attestations);
  readInjector(r, spec.injector, policy);
  policy.multiCluster = readMultiCluster(r, spec.multiCluster);
  readLimits(r, spec, policy);

  if (r.errors.length > 0) throw new PolicyValidationError(policy.name, r.errors);
  return policy;
}

function readScope(r: Reader, spec: Record<string, unknown>, policy: ThreatPolicy): void {
  if (spec.meshRootNamespace !== undefined) {
    const text = r.requiredString(spec.meshRootNamespace, "spec.meshRootNamespace");
    if (text) policy.meshRootNamespace = text;
  }
  if (spec.namespaceSelector !== undefined) {
    const selector = parseSelector(spec.namespaceSelector);
    if (selector) policy.namespaceSelector = selector;
    else r.fail("spec.namespaceSelector", "must be a label selector object");
  }
}

function readLimits(r: Reader, spec: Record<string, unknown>, policy: ThreatPolicy): void {
  const minimum = spec.minimumIstioVersion;
  if (minimum !== undefined) {
    const text = str(minimum);
    if (text && /^\d+\.\d+(\.\d+)?$/.test(text)) policy.minimumIstioVersion = text;
    else
      r.fail("spec.minimumIstioVersion", `${JSON.stringify(minimum)} is not a version like 1.26`);
  }
  const max = at(spec, "reporting", "maxFindingsPerThreat");
  if (max !== undefined) {
    const n = num(max);
    if (n !== undefined && Number.isInteger(n) && n >= 0 && n <= 1000)
      policy.maxFindingsPerThreat = n;
    else r.fail("spec.reporting.maxFindingsPerThreat", "must be an integer from 0 to 1000");
  }
}

function readThreats(r: Reader, value: unknown, policy: ThreatPolicy): void {
  if (value === undefined) return;
  if (!isObj(value)) {
    r.fail("spec.threats", "must be a map from threat id to settings");
    return;
  }
  for (const [id, raw] of Object.entries(value)) {
    const field = `spec.threats.${id}`;
    if (!isThreatId(id)) r.fail(field, `"${id}" is not a threat id (S-01 … E-03)`);
    else if (!isObj(raw)) {
      r.fail(field, `must be a map such as {enabled: false}, got ${typeName(raw)}`);
    } else {
      policy.threats[id] = readThreatSettings(r, field, raw);
    }
  }
}

function readThreatSettings(
  r: Reader,
  field: string,
  raw: Record<string, unknown>,
): ThreatSettings {
  if (raw.enabled !== undefined && typeof raw.enabled !== "boolean") {
    r.fail(`${field}.enabled`, `must be true or false, got ${typeName(raw.enabled)}`);
  }
  const settings: ThreatSettings = {
    enabled: bool(raw.enabled) ?? true,
    parameters: obj(raw.parameters) ?? {},
  };
  const risk = raw.risk;
  if (risk !== undefined) {
    if (RISKS.includes(risk as Risk)) settings.risk = risk as Risk;
    else r.fail(`${field}.risk`, `${JSON.stringify(risk)} is not one of ${RISKS.join(", ")}`);
  }
  return settings;
}

function readEnvoyFilters(r: Reader, value: unknown, policy: ThreatPolicy): void {
  const allowed = at(value, "allowed");
  if (allowed === undefined) return;
  if (!Array.isArray(allowed)) {
    r.fail("spec.envoyFilters.allowed", "must be a list");
    return;
  }
  allowed.forEach((entry, i) => {
    const field = `spec.envoyFilters.allowed[${i}]`;
    const o = obj(entry);
    if (!o) {
      r.fail(field, "must be an object with namespace/name or selector");
      return;
    }
    const allowance: EnvoyFilterAllowance = {};
    const ns = str(o.namespace);
    const name = str(o.name);
    const selector = parseSelector(o.selector);
    if (ns) allowance.namespace = ns;
    if (name) allowance.name = name;
    if (selector) allowance.selector = selector;
    if (!name && !selector) {
      r.fail(field, "needs a name (wildcards allowed) or a selector");
      return;
    }
    policy.envoyFiltersAllowed.push(allowance);
  });
}

function readSubjects(r: Reader, value: unknown): Subject[] {
  return r.list(value, "spec.trustedSubjects").flatMap((entry, i) => {
    const field = `spec.trustedSubjects[${i}]`;
    const kind = str(obj(entry)?.kind);
    const name = str(obj(entry)?.name);
    if (kind !== "User" && kind !== "Group" && kind !== "ServiceAccount") {
      r.fail(`${field}.kind`, `"${String(kind)}" is not one of User, Group, ServiceAccount`);
      return [];
    }
    if (!name) {
      r.fail(`${field}.name`, "required");
      return [];
    }
    const subject: Subject = { kind, name };
    const ns = str(obj(entry)?.namespace);
    if (ns) subject.namespace = ns;
    if (kind === "ServiceAccount" && !ns)
      r.fail(`${field}.namespace`, "required for a ServiceAccount");
    return [subject];
  });
}

function readWaivers(r: Reader, value: unknown, checks?: readonly CheckRef[]): Waiver[] {
  return r.list(value, "spec.waivers").flatMap((entry, i) => {
    const field = `spec.waivers[${i}]`;
    const o = obj(entry);
    if (!o) {
      r.fail(field, "must be an object");
      return [];
    }
    const threat = r.threat(o.threat, `${field}.threat`);
    const reason = r.requiredString(o.reason, `${field}.reason`);
    const expires = r.date(o.expires, `${field}.expires`);
    const resources = arr(o.resources).map((res) => {
      const p: ResourcePattern = {};
      const kind = str(obj(res)?.kind);
      const ns = str(obj(res)?.namespace);
      const name = str(obj(res)?.name);
      if (kind) p.kind = kind;
      if (ns) p.namespace = ns;
      if (name) p.name = name;
      return p;
    });
    if (!threat || !reason || !expires) return [];
    const waiver: Waiver = {
      threat,
      resources,
      reason,
      expires,
      expiresText: expires.toISOString(),
    };
    const check = str(o.check);
    const owner = str(o.owner);
    if (check && checks) checkOfThreat(r, check, threat, checks, `${field}.check`);
    if (check) waiver.check = check;
    if (owner) waiver.owner = owner;
    return [waiver];
  });
}

function checkOfThreat(
  r: Reader,
  check: string,
  threat: ThreatId,
  checks: readonly CheckRef[],
  field: string,
): void {
  const ofThreat = checks.filter((c) => c.threats.includes(threat)).map((c) => c.id);
  if (ofThreat.includes(check)) return;
  r.fail(field, `"${check}" is not a check of ${threat} (its checks: ${ofThreat.join(", ")})`);
}

function readAttestations(r: Reader, value: unknown): Attestation[] {
  return r.list(value, "spec.attestations").flatMap((entry, i) => {
    const field = `spec.attestations[${i}]`;
    const o = obj(entry) ?? {};
    const threat = r.threat(o.threat, `${field}.threat`);
    const statement = r.requiredString(o.statement, `${field}.statement`);
    const expires = r.date(o.expires, `${field}.expires`);
    if (!threat || !statement || !expires) return [];
    const attestation: Attestation = {
      threat,
      statement,
      expires,
      expiresText: expires.toISOString(),
    };
    const evidence = str(o.evidence);
    if (evidence) attestation.evidence = evidence;
    return [attestation];
  });
}

function readInjector(r: Reader, value: unknown, policy: ThreatPolicy): void {
  if (value === undefined) return;
  policy.injectorAllowedURLs = r.stringList(at(value, "allowedURLs"), "spec.injector.allowedURLs");
  policy.allowedMutatingWebhooks = r.stringList(
    at(value, "allowedMutatingWebhooks"),
    "spec.injector.allowedMutatingWebhooks",
  );
  const fingerprint = at(value, "fingerprint");
  if (fingerprint !== undefined) {
    const text = str(fingerprint);
    if (text && /^sha256:[0-9a-f]{64}$/.test(text)) policy.injectorFingerprint = text;
    else r.fail("spec.injector.fingerprint", "must look like sha256:<64 hex digits>");
  }
}

function readMultiCluster(r: Reader, value: unknown): boolean {
  if (value === undefined) return false;
  const enabled = bool(at(value, "enabled"));
  if (enabled === undefined) {
    r.fail("spec.multiCluster.enabled", "must be true or false");
    return false;
  }
  return enabled;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return `${typeof value} ${JSON.stringify(value)}`;
}
