// Finding and running promtool (Debian's `prometheus` package provides it; hack/install-promtool.sh
// installs it). Tests that need it are skipped with a reason when it is absent.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import yaml from "js-yaml";

export const ROOT = new URL("../../../../", import.meta.url).pathname;
export const RULES_FILE = join(ROOT, "deploy/prometheus/rules.yaml");
export const PROMETHEUS_RULE_FILE = join(ROOT, "deploy/base/prometheusrule.yaml");
export const RULE_TESTS_DIR = join(ROOT, "deploy/prometheus/tests");
export const DASHBOARD_FILE = join(ROOT, "deploy/grafana/mesh-compliance-dashboard.json");
export const RUNBOOKS_FILE = join(ROOT, "docs/runbooks.md");

/** The first executable of that name on PATH, or undefined. */
export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, name);
    if (dir !== "" && existsSync(candidate)) return candidate;
  }
  return undefined;
}

export const PROMTOOL = findOnPath("promtool");
export const PROMTOOL_SKIP: string | false =
  PROMTOOL === undefined ? "promtool not found on PATH (run hack/install-promtool.sh)" : false;

export interface RunResult {
  status: number | null;
  output: string;
}

export function promtool(args: string[], cwd = ROOT): RunResult {
  if (PROMTOOL === undefined) throw new Error("promtool is not installed");
  const result = spawnSync(PROMTOOL, args, { cwd, encoding: "utf8", timeout: 60_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

export function loadRules(): RuleFile {
  return yaml.load(readFileSync(RULES_FILE, "utf8")) as RuleFile;
}

export function alerts(file: RuleFile): Rule[] {
  return file.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
}
