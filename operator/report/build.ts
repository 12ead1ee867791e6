// Builds the per-threat report from an evaluation: applies waivers and attestations, risk
// overrides and disabled threats, and decides each threat's status. Pure.

import type { Check } from "../engine/check.js";
import type { Evaluation } from "../engine/evaluate.js";
import { globMatch } from "../engine/selectors.js";
import { threatEnabled, type ThreatPolicy, type Waiver } from "../engine/policy.js";
import { THREATS, type Threat } from "../engine/threats.js";
import {
  RISKS,
  SEVERITIES,
  type Finding,
  type Risk,
  type Severity,
  type ThreatId,
  type ThreatStatus,
  type UnknownInput,
} from "../engine/types.js";
import type {
  ComplianceReportStatus,
  NamespaceCount,
  ReportSummary,
  RiskBucket,
  ThreatReport,
  WaiverReport,
} from "./types.js";

export interface BuildOptions {
  /** Cap findings per threat (the policy's maxFindingsPerThreat); undefined keeps them all. */
  capFindings?: number;
  /** Cap the per-namespace table; undefined keeps every namespace. */
  capNamespaces?: number;
}

export const SEVERITY_RANK: Record<Severity, number> = {
  critical: 4,
  high: 3,
  medium: 2,
  low: 1,
  info: 0,
};

/** Code-point order: deterministic across locales, and much cheaper than localeCompare. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Worst first, then by check, resource and message, so reports are stable. */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
    cmp(a.check, b.check) ||
    cmp(a.resource.namespace ?? "", b.resource.namespace ?? "") ||
    cmp(a.resource.kind, b.resource.kind) ||
    cmp(a.resource.name, b.resource.name) ||
    cmp(a.message, b.message)
  );
}

function resourceKey(f: Finding): string {
  const r = f.resource;
  return `${r.namespace ?? ""}/${r.kind}/${r.name}`;
}

function waiverCovers(w: Waiver, f: Finding): boolean {
  if (w.check !== undefined && !globMatch(w.check, f.check)) return false;
  if (w.resources.length === 0) return true;
  return w.resources.some(
    (p) =>
      globMatch(p.kind ?? "*", f.resource.kind) &&
      globMatch(p.namespace ?? "*", f.resource.namespace ?? "") &&
      globMatch(p.name ?? "*", f.resource.name),
  );
}

/**
 * Waivers apply per threat: a finding that evidences two threats and is waived for one of them
 * stays open for the other. Expired waivers have no effect.
 */
class Waivers {
  private readonly active: Waiver[];
  private readonly matched = new Map<Waiver, number>();

  constructor(
    private readonly policy: ThreatPolicy,
    private readonly now: Date,
  ) {
    this.active = policy.waivers.filter((w) => w.expires.getTime() > now.getTime());
  }

  apply(threat: ThreatId, f: Finding): Finding {
    const w = this.active.find((c) => c.threat === threat && waiverCovers(c, f));
    if (!w) return f;
    this.matched.set(w, (this.matched.get(w) ?? 0) + 1);
    const waived: NonNullable<Finding["waived"]> = { reason: w.reason, expires: w.expiresText };
    if (w.owner !== undefined) waived.owner = w.owner;
    return { ...f, waived };
  }

  report(): WaiverReport[] {
    return this.policy.waivers.map((w) => {
      const report: WaiverReport = {
        threat: w.threat,
        reason: w.reason,
        expires: w.expiresText,
        state: w.expires.getTime() > this.now.getTime() ? "Active" : "Expired",
        matchedFindings: this.matched.get(w) ?? 0,
      };
      if (w.check !== undefined) report.check = w.check;
      if (w.owner !== undefined) report.owner = w.owner;
      return report;
    });
  }
}

interface ThreatInputs {
  threat: Threat;
  checks: Check[];
  findings: Finding[];
  unknown: UnknownInput[];
}

function decideStatus(
  t: ThreatInputs,
  policy: ThreatPolicy,
  evaluation: Evaluation,
  now: Date,
): { status: ThreatStatus; reason?: string } {
  if (!threatEnabled(policy, t.threat.id))
    return { status: "Disabled", reason: "disabled by policy" };
  if (t.checks.length === 0) return { status: "Unknown", reason: "not evaluated yet" };
  if (t.findings.some((f) => !f.waived)) return { status: "Violated" };
  const attestation = policy.attestations.find(
    (a) => a.threat === t.threat.id && a.expires.getTime() > now.getTime(),
  );
  if (t.unknown.length > 0) {
    if (attestation) return { status: "Attested", reason: attestation.statement };
    return { status: "Unknown", reason: [...new Set(t.unknown.map((u) => u.reason))].join("; ") };
  }
  if (t.findings.length > 0) return { status: "Waived" };
  if (attestation) return { status: "Attested", reason: attestation.statement };
  const namespaceOnly = t.checks.every((c) => c.scope === "namespace");
  if (namespaceOnly && evaluation.inScope.length === 0) {
    return { status: "NotApplicable", reason: "no namespace in scope" };
  }
  return { status: "Mitigated" };
}

function countBySeverity(findings: Finding[]): Record<Severity, number> {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) if (!f.waived) counts[f.severity] += 1;
  return counts;
}

function summarize(threats: ThreatReport[], findings: Finding[]): ReportSummary {
  const count = (s: ThreatStatus): number => threats.filter((t) => t.status === s).length;
  const enabled = threats.length - count("Disabled");
  const mitigated = count("Mitigated") + count("Attested");
  const denominator = enabled - count("NotApplicable");
  const violated = threats.filter((t) => t.status === "Violated");
  return {
    score: denominator > 0 ? Math.round((100 * mitigated) / denominator) : 100,
    threats: threats.length,
    enabled,
    mitigated: count("Mitigated"),
    violated: violated.length,
    waived: count("Waived"),
    attested: count("Attested"),
    unknown: count("Unknown"),
    notApplicable: count("NotApplicable"),
    disabled: count("Disabled"),
    openFindings: findings.filter((f) => !f.waived).length,
    waivedFindings: findings.filter((f) => f.waived).length,
    violatedCritical: violated.filter((t) => t.risk === "Critical").length,
    violatedHigh: violated.filter((t) => t.risk === "High").length,
  };
}

function riskSummary(threats: ThreatReport[]): Record<Risk, RiskBucket> {
  const empty = (): RiskBucket => ({ total: 0, mitigated: 0, violated: 0, threats: [] });
  const buckets = Object.fromEntries(RISKS.map((r) => [r, empty()])) as Record<Risk, RiskBucket>;
  for (const t of threats) {
    const b = buckets[t.risk];
    b.total += 1;
    b.threats.push(t.id);
    if (t.status === "Mitigated" || t.status === "Attested") b.mitigated += 1;
    if (t.status === "Violated") b.violated += 1;
  }
  return buckets;
}

/**
 * The namespace a finding counts for: its object's, or for a finding on a Namespace itself (its
 * Pod Security labels, say) that Namespace, which is what a per-namespace view is about.
 */
export function findingNamespace(f: Finding): string | undefined {
  const r = f.resource;
  if (r.kind === "Namespace" && r.apiVersion === "v1") return r.name;
  return r.namespace;
}

function namespaceCounts(findings: Finding[]): NamespaceCount[] {
  const byNs = new Map<string, NamespaceCount>();
  for (const f of findings) {
    const ns = findingNamespace(f);
    if (ns === undefined || f.waived) continue;
    const c = byNs.get(ns) ?? { namespace: ns, open: 0, critical: 0, high: 0 };
    c.open += 1;
    if (f.severity === "critical") c.critical += 1;
    if (f.severity === "high") c.high += 1;
    byNs.set(ns, c);
  }
  return [...byNs.values()].sort(
    (a, b) =>
      b.critical - a.critical ||
      b.high - a.high ||
      b.open - a.open ||
      a.namespace.localeCompare(b.namespace),
  );
}

/**
 * Each finding once, across the enabled threats; open if it is open for any of them. The report's
 * summary and namespace counts use this list.
 */
function uniqueOpenFirst(perThreat: Finding[][]): Finding[] {
  const unique = new Map<string, Finding>();
  for (const list of perThreat) {
    for (const f of list) {
      const key = `${f.check}|${resourceKey(f)}|${f.message}`;
      const seen = unique.get(key);
      if (!seen || (seen.waived && !f.waived)) unique.set(key, f);
    }
  }
  return [...unique.values()];
}

/** Builds the report status from an evaluation. */
export function buildReport(
  evaluation: Evaluation,
  policy: ThreatPolicy,
  checks: readonly Check[],
  now: Date,
  options: BuildOptions = {},
): ComplianceReportStatus {
  const findings = evaluation.partitions.flatMap((p) => p.findings).sort(compareFindings);
  const unknown = evaluation.partitions.flatMap((p) => p.unknown);
  const waivers = new Waivers(policy, now);

  const shownPerThreat: Finding[][] = [];
  const threats = THREATS.map((threat): ThreatReport => {
    const own = findings
      .filter((f) => f.threats.includes(threat.id))
      .map((f) => waivers.apply(threat.id, f));
    const inputs: ThreatInputs = {
      threat,
      checks: checks.filter((c) => c.threats.includes(threat.id)),
      findings: own,
      unknown: unknown.filter((u) => u.threats.includes(threat.id)),
    };
    const { status, reason } = decideStatus(inputs, policy, evaluation, now);
    const shown = status === "Disabled" ? [] : own;
    shownPerThreat.push(shown);
    const cap = options.capFindings ?? shown.length;
    const report: ThreatReport = {
      id: threat.id,
      title: threat.title,
      category: threat.category,
      likelihood: threat.likelihood,
      impact: threat.impact,
      risk: policy.threats[threat.id]?.risk ?? threat.risk,
      status,
      checks: inputs.checks.map((c) => c.id),
      counts: {
        open: shown.filter((f) => !f.waived).length,
        waived: shown.filter((f) => f.waived).length,
        bySeverity: countBySeverity(shown),
      },
      findings: shown.slice(0, cap),
      omittedFindings: Math.max(0, shown.length - cap),
    };
    if (reason !== undefined) report.reason = reason;
    return report;
  });

  const enabledFindings = uniqueOpenFirst(shownPerThreat);
  const namespaces = namespaceCounts(enabledFindings);
  const nsCap = options.capNamespaces ?? namespaces.length;
  const status: ComplianceReportStatus = {
    evaluatedAt: now.toISOString(),
    policy: policy.name,
    rootNamespace: evaluation.rootNamespace,
    summary: summarize(threats, enabledFindings),
    riskSummary: riskSummary(threats),
    threats,
    namespaces: namespaces.slice(0, nsCap),
    omittedNamespaces: Math.max(0, namespaces.length - nsCap),
    outOfScopeNamespaces: evaluation.outOfScope,
    waivers: waivers.report(),
    assumptions: evaluation.assumptions,
  };
  if (policy.generation !== undefined) status.observedGeneration = policy.generation;
  return status;
}
