// Per-policy series derived from the last report of each ThreatPolicy. Pure: the controller hands
// over the report statuses after an evaluation, and the series are read from them at scrape time,
// so a deleted policy disappears once the controller stops passing its report.

import { RISKS, type Finding, type ThreatStatus } from "../engine/types.js";
import { findingNamespace } from "../report/build.js";
import type { ComplianceReportStatus, ThreatReport } from "../report/types.js";
import type { Sample } from "./objects.js";

export interface ReportSeries {
  threatMitigated: Sample[];
  threatFindings: Sample[];
  score: Sample[];
  namespaceFindings: Sample[];
  waiverExpiry: Sample[];
}

/** Statuses that count as mitigated, as in the report's score. */
const MITIGATED: ReadonlySet<ThreatStatus> = new Set(["Mitigated", "Attested"]);
/** Statuses outside the score: no threat_mitigated series, so a grid shows no false red. */
const NOT_SCORED: ReadonlySet<ThreatStatus> = new Set(["Disabled", "NotApplicable"]);

function threatSeries(policy: string, t: ThreatReport, out: ReportSeries): void {
  const base = { policy, threat: t.id, risk: t.risk };
  if (!NOT_SCORED.has(t.status)) {
    out.threatMitigated.push({
      labels: { ...base, category: t.category },
      value: MITIGATED.has(t.status) ? 1 : 0,
    });
  }
  out.threatFindings.push({ labels: { ...base, state: "open" }, value: t.counts.open });
  out.threatFindings.push({ labels: { ...base, state: "waived" }, value: t.counts.waived });
}

function findingKey(f: Finding): string {
  const r = f.resource;
  return `${f.check}|${r.kind}|${r.namespace ?? ""}|${r.name}|${f.message}`;
}

/**
 * Open findings per namespace and threat risk, each finding counted once per risk level. Counts
 * are complete only when the report's findings are not capped; the controller passes the
 * uncapped report. Every namespace with a finding gets all four risk levels.
 */
function namespaceSeries(policy: string, report: ComplianceReportStatus): Sample[] {
  const seen = new Map<string, Set<string>>();
  for (const t of report.threats) {
    if (t.status === "Disabled") continue;
    for (const f of t.findings) {
      const ns = findingNamespace(f);
      if (ns === undefined || f.waived) continue;
      const key = `${ns}\u0000${t.risk}`;
      const set = seen.get(key) ?? new Set<string>();
      set.add(findingKey(f));
      seen.set(key, set);
    }
  }
  const namespaces = new Set([...seen.keys()].map((k) => k.split("\u0000")[0] ?? ""));
  return [...namespaces].sort().flatMap((namespace) =>
    RISKS.map((risk) => ({
      labels: { policy, namespace, risk },
      value: seen.get(`${namespace}\u0000${risk}`)?.size ?? 0,
    })),
  );
}

/** The earliest expiry per threat among the policy's waivers, expired ones included. */
function waiverSeries(policy: string, report: ComplianceReportStatus): Sample[] {
  const earliest = new Map<string, number>();
  for (const w of report.waivers) {
    const ms = Date.parse(w.expires);
    if (Number.isNaN(ms)) continue;
    const current = earliest.get(w.threat);
    if (current === undefined || ms < current) earliest.set(w.threat, ms);
  }
  return [...earliest]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([threat, ms]) => ({ labels: { policy, threat }, value: ms / 1000 }));
}

export function reportSeries(
  reports: readonly ComplianceReportStatus[],
  options: { namespaceFindings: boolean },
): ReportSeries {
  const out: ReportSeries = {
    threatMitigated: [],
    threatFindings: [],
    score: [],
    namespaceFindings: [],
    waiverExpiry: [],
  };
  for (const report of reports) {
    const policy = report.policy;
    for (const t of report.threats) threatSeries(policy, t, out);
    out.score.push({ labels: { policy }, value: report.summary.score });
    if (options.namespaceFindings) out.namespaceFindings.push(...namespaceSeries(policy, report));
    out.waiverExpiry.push(...waiverSeries(policy, report));
  }
  return out;
}
