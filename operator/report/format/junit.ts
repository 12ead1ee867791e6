// JUnit XML: one test case per threat, so CI systems show the threat model as a test suite.
// Violated fails; Unknown, NotApplicable and Disabled are skipped; the rest pass.

import type { ScanResult } from "../../scan/scan.js";
import type { ThreatReport } from "../types.js";
import { hexEscape } from "./table.js";

// XML 1.0 cannot carry most control characters, even escaped; they are shown as \xNN.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const XML_INVALID = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g;

function xml(text: string): string {
  return text
    .replace(XML_INVALID, hexEscape)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

function findingLines(t: ThreatReport): string {
  return t.findings
    .map((f) => {
      const r = f.resource;
      const where = `${r.kind} ${r.namespace ? `${r.namespace}/` : ""}${r.name}`;
      const waived = f.waived ? ` (waived until ${f.waived.expires}: ${f.waived.reason})` : "";
      return `[${f.severity}] ${f.check} ${where}: ${f.message}${waived}`;
    })
    .join("\n");
}

function testCase(t: ThreatReport): string {
  const name = `${t.id} ${t.title}`;
  const open = `    <testcase classname="mesh-compliance.${t.category}" name="${xml(name)}">`;
  const close = "    </testcase>";
  switch (t.status) {
    case "Violated": {
      const message = `${t.counts.open} open finding(s), risk ${t.risk}`;
      return `${open}\n      <failure message="${xml(message)}" type="Violated">${xml(findingLines(t))}</failure>\n${close}`;
    }
    case "Unknown":
    case "NotApplicable":
    case "Disabled":
      return `${open}\n      <skipped message="${xml(`${t.status}: ${t.reason ?? ""}`)}"/>\n${close}`;
    default: {
      const note =
        t.findings.length > 0 ? findingLines(t) : `${t.status}${t.reason ? `: ${t.reason}` : ""}`;
      return `${open}\n      <system-out>${xml(note)}</system-out>\n${close}`;
    }
  }
}

export function formatJunit(result: ScanResult): string {
  const threats = result.report.threats;
  const failures = threats.filter((t) => t.status === "Violated").length;
  const skipped = threats.filter((t) =>
    ["Unknown", "NotApplicable", "Disabled"].includes(t.status),
  ).length;
  const errors = result.inputErrors.map((e) => `${e.file}:${e.line}: ${e.message}`).join("\n");
  const attrs = `name="mesh-compliance" tests="${threats.length}" failures="${failures}" errors="0" skipped="${skipped}" timestamp="${result.report.evaluatedAt}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites ${attrs}>`,
    `  <testsuite ${attrs}>`,
    ...threats.map(testCase),
    errors ? `    <system-err>${xml(errors)}</system-err>` : "",
    "  </testsuite>",
    "</testsuites>",
    "",
  ]
    .filter((line) => line !== "")
    .join("\n");
}
