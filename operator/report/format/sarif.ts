// SARIF 2.1.0: one rule per check, one result per finding, located at the manifest line that
// declares the resource. Waived findings carry an external suppression with the waiver's reason.

import type * as Sarif from "sarif";
import { CHECKS } from "../../engine/checks/index.js";
import type { Finding, Severity } from "../../engine/types.js";
import { sourceKey, type ScanResult } from "../../scan/scan.js";

export const TOOL_NAME = "mesh-compliance";

const LEVEL: Record<Severity, Sarif.Result.level> = {
  critical: "error",
  high: "error",
  medium: "warning",
  low: "note",
  info: "note",
};

/** GitHub code scanning reads `security-severity` (0–10) to rank results. */
const SECURITY_SEVERITY: Record<Severity, string> = {
  critical: "9.5",
  high: "8.0",
  medium: "5.5",
  low: "3.0",
  info: "0.0",
};

function rules(): Sarif.ReportingDescriptor[] {
  return CHECKS.map((c) => ({
    id: c.id,
    name: c.title,
    shortDescription: { text: c.title },
    fullDescription: { text: c.description },
    help: { text: c.remediation },
    defaultConfiguration: { level: LEVEL[c.severity] },
    properties: {
      tags: ["security", "istio", ...c.threats],
      "security-severity": SECURITY_SEVERITY[c.severity],
    },
  }));
}

/** A finding with several threats appears under each of them; SARIF and the table list it once. */
export function uniqueFindings(result: ScanResult): Finding[] {
  const unique = new Map<string, Finding>();
  for (const t of result.report.threats) {
    for (const f of t.findings) {
      const key = `${f.check}|${sourceKey(f.resource)}|${f.message}`;
      if (!unique.has(key)) unique.set(key, f);
    }
  }
  return [...unique.values()];
}

function toResult(f: Finding, result: ScanResult): Sarif.Result {
  const r = f.resource;
  const at =
    result.sources.get(sourceKey(r)) ??
    result.sources.get(sourceKey({ ...r, namespace: undefined }));
  const qualified = `${r.kind}/${r.namespace ? `${r.namespace}/` : ""}${r.name}`;
  const out: Sarif.Result = {
    ruleId: f.check,
    level: LEVEL[f.severity],
    message: { text: `${qualified}: ${f.message}` },
    locations: [
      {
        ...(at
          ? {
              physicalLocation: {
                artifactLocation: { uri: at.file.split("\\").join("/") },
                region: { startLine: Math.max(1, at.line) },
              },
            }
          : {}),
        logicalLocations: [{ fullyQualifiedName: qualified, kind: "resource" }],
      },
    ],
    properties: { threats: f.threats, severity: f.severity, remediation: f.remediation },
  };
  if (f.waived) {
    out.suppressions = [
      {
        kind: "external",
        status: "accepted",
        justification: `${f.waived.reason} (until ${f.waived.expires})`,
      },
    ];
  }
  return out;
}

export function sarifLog(result: ScanResult, version: string): Sarif.Log {
  const notifications: Sarif.Notification[] = result.inputErrors.map((e) => ({
    level: "error",
    message: { text: e.message },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: e.file },
          region: { startLine: Math.max(1, e.line) },
        },
      },
    ],
  }));
  return {
    version: "2.1.0",
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    runs: [
      {
        tool: { driver: { name: TOOL_NAME, version, semanticVersion: version, rules: rules() } },
        invocations: [
          {
            executionSuccessful: result.inputErrors.length === 0,
            toolExecutionNotifications: notifications,
          },
        ],
        results: uniqueFindings(result).map((f) => toResult(f, result)),
      },
    ],
  };
}

export function formatSarif(result: ScanResult, version: string): string {
  return `${JSON.stringify(sarifLog(result, version), null, 2)}\n`;
}
