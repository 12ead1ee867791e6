// JSON and YAML output: the ComplianceReport status shape, uncapped, plus the input errors.

import yaml from "js-yaml";
import type { ScanResult } from "../../scan/scan.js";

export function scanDocument(result: ScanResult): Record<string, unknown> {
  const r = result.report;
  return {
    summary: r.summary,
    riskSummary: r.riskSummary,
    threats: r.threats,
    inputErrors: result.inputErrors,
    evaluatedAt: r.evaluatedAt,
    policy: r.policy,
    rootNamespace: r.rootNamespace,
    namespaces: r.namespaces,
    outOfScopeNamespaces: r.outOfScopeNamespaces,
    waivers: r.waivers,
    assumptions: r.assumptions,
    input: { files: result.files, objects: result.objects },
  };
}

export function formatJson(result: ScanResult): string {
  return `${JSON.stringify(scanDocument(result), null, 2)}\n`;
}

export function formatYaml(result: ScanResult): string {
  return yaml.dump(scanDocument(result), { noRefs: true, lineWidth: 100 });
}
