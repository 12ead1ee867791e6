import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import yaml from "js-yaml";
import { createMetrics } from "../../../operator/metrics/index.js";
import { alerts, DASHBOARD_FILE, loadRules, PROMTOOL_SKIP, promtool } from "./promtool.js";

interface Target {
  expr?: string;
}

interface Panel {
  title?: string;
  type?: string;
  targets?: Target[];
  panels?: Panel[];
}

interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; definition?: string }[] };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, "utf8")) as Dashboard;

function panels(list: Panel[]): Panel[] {
  return list.flatMap((p) => [p, ...panels(p.panels ?? [])]);
}

/** Grafana's variables replaced by values Prometheus accepts, so the query parses as PromQL. */
function substitute(expr: string): string {
  return expr
    .replaceAll("$__rate_interval", "5m")
    .replaceAll("$__interval", "1m")
    .replace(/\$\{?policy\}?/g, ".*");
}

interface Query {
  where: string;
  expr: string;
}

function dashboardQueries(): Query[] {
  return panels(dashboard.panels).flatMap((p) =>
    (p.targets ?? [])
      .filter((t): t is Required<Target> => typeof t.expr === "string")
      .map((t) => ({ where: `panel "${p.title ?? ""}"`, expr: substitute(t.expr) })),
  );
}

function ruleQueries(): Query[] {
  return alerts(loadRules()).map((r) => ({ where: `alert ${r.alert ?? ""}`, expr: r.expr }));
}

const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "inf",
  "nan",
]);

/**
 * The metric names a PromQL expression selects: identifiers that are not functions, keywords,
 * label names in matchers or grouping clauses, strings or durations.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, "{}")
    .replace(/\[[^\]]*\]/g, "[]")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const match of stripped.matchAll(/(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const [, name, call] = match;
    if (name === undefined || call !== undefined || KEYWORDS.has(name)) continue;
    names.add(name);
  }
  return [...names].sort();
}

async function exportedNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const m of await createMetrics().registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (m.type.toString() === "histogram") {
      for (const suffix of ["_bucket", "_sum", "_count"]) names.add(m.name + suffix);
    }
  }
  return names;
}

describe("PromQL of the dashboard and the alerts", () => {
  it("finds the metric names an expression selects", () => {
    const expr =
      'histogram_quantile(0.99, sum by (le) (rate(a_bucket{job="x", policy=~"$p"}[5m]))) ' +
      "- on (kind) group_left b_total offset 1h > bool 7 * 86400 or absent(c)";
    assert.deepEqual(metricNames(expr), ["a_bucket", "b_total", "c"]);
  });

  it("has queries in every dashboard panel that is not a row", () => {
    for (const p of panels(dashboard.panels)) {
      if (p.type === "row") continue;
      assert.ok((p.targets ?? []).length > 0, `panel "${p.title ?? ""}" has no query`);
    }
  });

  it("uses only metrics the operator exports, read from its registry", async () => {
    const exported = await exportedNames();
    const queries = [...dashboardQueries(), ...ruleQueries()];
    for (const q of queries) {
      const names = metricNames(q.expr);
      assert.ok(names.length > 0, `${q.where}: no metric in ${q.expr}`);
      for (const name of names)
        assert.ok(exported.has(name), `${q.where}: ${name} is not exported`);
    }
    for (const v of dashboard.templating.list) {
      for (const name of metricNames(v.definition ?? "").filter((n) => n !== "policy")) {
        assert.ok(exported.has(name), `variable ${v.name}: ${name} is not exported`);
      }
    }
  });

  it("parses every expression with promtool", { skip: PROMTOOL_SKIP }, () => {
    // promtool has no query parser of its own; recording rules are parsed by `check rules`.
    const queries = [...dashboardQueries(), ...ruleQueries()];
    const rules = queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: q.expr }));
    const dir = mkdtempSync(join(tmpdir(), "mesh-compliance-queries-"));
    try {
      const file = join(dir, "queries.yaml");
      writeFileSync(file, yaml.dump({ groups: [{ name: "queries", rules }] }));
      const result = promtool(["check", "rules", file]);
      assert.equal(result.status, 0, result.output);
      assert.match(result.output, new RegExp(`${queries.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
