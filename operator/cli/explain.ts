// `mesh-compliance explain`: what a threat or a check means, why it matters and how to fix it.

import { checkById, CHECKS } from "../engine/checks/index.js";
import { isThreatId, threatById } from "../engine/threats.js";

function explainThreat(id: Parameters<typeof threatById>[0]): string {
  const t = threatById(id);
  const checks = CHECKS.filter((c) => c.threats.includes(id));
  const lines = [
    `${t.id} ${t.title}`,
    `Category ${t.category}; likelihood ${t.likelihood}, impact ${t.impact}, risk ${t.risk}.`,
    "",
    `What it is: ${t.description}`,
    `Mitigation: ${t.mitigation}`,
    "",
    checks.length > 0 ? "Checks:" : "Checks: none yet; the threat reports Unknown.",
    ...checks.map((c) => `  ${c.id} (${c.severity}): ${c.title}`),
    "",
    checks.length > 0 ? `Run "mesh-compliance explain <check>" for how to fix each one.` : "",
  ];
  return `${lines.join("\n").trimEnd()}\n`;
}

export function explain(id: string): string | undefined {
  const upper = id.toUpperCase();
  if (isThreatId(upper)) return explainThreat(upper);
  const check = checkById(id);
  if (!check) return undefined;
  const lines = [
    `${check.id}: ${check.title}`,
    `Threats ${check.threats.join(", ")}; default severity ${check.severity}; scope ${check.scope}.`,
    "",
    "What it detects and why it matters:",
    check.description,
    "",
    "How to fix it:",
    check.remediation,
  ];
  return `${lines.join("\n").trimEnd()}\n`;
}
