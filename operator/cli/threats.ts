// `mesh-compliance threats`: the catalogue with risk levels and the checks behind each threat.

import { CHECKS } from "../engine/checks/index.js";
import { THREATS } from "../engine/threats.js";

export function formatThreats(json: boolean): string {
  const rows = THREATS.map((t) => ({
    id: t.id,
    title: t.title,
    category: t.category,
    likelihood: t.likelihood,
    impact: t.impact,
    risk: t.risk,
    checks: CHECKS.filter((c) => c.threats.includes(t.id)).map((c) => c.id),
  }));
  if (json) return `${JSON.stringify(rows, null, 2)}\n`;
  const lines = ["ID    RISK      TITLE / CHECKS"];
  for (const r of rows) {
    lines.push(`${r.id}  ${r.risk.padEnd(8)}  ${r.title}`);
    const checks = r.checks.length > 0 ? r.checks.join(", ") : "(not evaluated yet)";
    lines.push(`                ${checks}`);
  }
  return `${lines.join("\n")}\n`;
}
