// The ComplianceReport status shape. The offline scan prints the same shape, uncapped.

import type { StrideCategory, Level } from "../engine/threats.js";
import type { Finding, Risk, Severity, ThreatId, ThreatStatus } from "../engine/types.js";

export interface ThreatReport {
  id: ThreatId;
  title: string;
  category: StrideCategory;
  likelihood: Level;
  impact: Level;
  risk: Risk;
  status: ThreatStatus;
  /** Why the status is Unknown, NotApplicable, Attested or Disabled. */
  reason?: string;
  checks: string[];
  counts: { open: number; waived: number; bySeverity: Record<Severity, number> };
  findings: Finding[];
  /** Findings left out of `findings` by the report's cap. */
  omittedFindings: number;
}

export interface RiskBucket {
  total: number;
  mitigated: number;
  violated: number;
  threats: ThreatId[];
}

export interface ReportSummary {
  score: number;
  threats: number;
  enabled: number;
  mitigated: number;
  violated: number;
  waived: number;
  attested: number;
  unknown: number;
  notApplicable: number;
  disabled: number;
  openFindings: number;
  waivedFindings: number;
  /** Violated threats of Critical and High risk, for the printer columns. */
  violatedCritical: number;
  violatedHigh: number;
}

export interface WaiverReport {
  threat: ThreatId;
  check?: string;
  reason: string;
  owner?: string;
  expires: string;
  state: "Active" | "Expired";
  matchedFindings: number;
}

export interface NamespaceCount {
  namespace: string;
  open: number;
  critical: number;
  high: number;
}

export interface ComplianceReportStatus {
  evaluatedAt: string;
  policy: string;
  observedGeneration?: number;
  rootNamespace: string;
  summary: ReportSummary;
  riskSummary: Record<Risk, RiskBucket>;
  threats: ThreatReport[];
  namespaces: NamespaceCount[];
  /** How many namespaces are left out of `namespaces` by the cap. */
  omittedNamespaces: number;
  outOfScopeNamespaces: string[];
  waivers: WaiverReport[];
  assumptions: string[];
}
