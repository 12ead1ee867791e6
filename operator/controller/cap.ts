// Caps a report so the ComplianceReport object stays far below the API server's object limit
// (about 1.5 MiB in etcd): findings per threat to the policy's maximum, the namespace tables to a
// fixed length, and, if the result is still larger than the byte budget, fewer findings per threat
// until it fits. Counts always describe everything; only the listed detail is cut.

import type { ComplianceReportStatus } from "../report/types.js";

export interface CapOptions {
  maxFindingsPerThreat: number;
  maxNamespaces: number;
  /** Budget for the serialized status, in bytes. */
  maxBytes: number;
}

/** 200 KB leaves room for metadata and managedFields within a 256 KiB object. */
export const DEFAULT_MAX_REPORT_BYTES = 200_000;

function withCaps(
  full: ComplianceReportStatus,
  findings: number,
  namespaces: number,
): ComplianceReportStatus {
  return {
    ...full,
    threats: full.threats.map((t) => {
      const total = t.findings.length + t.omittedFindings;
      const shown = t.findings.slice(0, findings);
      return { ...t, findings: shown, omittedFindings: total - shown.length };
    }),
    namespaces: full.namespaces.slice(0, namespaces),
    omittedNamespaces: full.omittedNamespaces + Math.max(0, full.namespaces.length - namespaces),
    outOfScopeNamespaces: full.outOfScopeNamespaces.slice(0, namespaces),
  };
}

export function byteSize(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), "utf8");
}

/**
 * The capped report. The out-of-scope list is cut to the namespace cap as well; its full length
 * is in /report and the scan output.
 */
export function capReport(
  full: ComplianceReportStatus,
  options: CapOptions,
): ComplianceReportStatus {
  let findings = options.maxFindingsPerThreat;
  let capped = withCaps(full, findings, options.maxNamespaces);
  while (byteSize(capped) > options.maxBytes && findings > 0) {
    findings = Math.floor(findings / 2);
    capped = withCaps(full, findings, options.maxNamespaces);
  }
  return capped;
}
