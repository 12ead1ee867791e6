import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import yaml from "js-yaml";
import {
  alerts,
  loadRules,
  PROMETHEUS_RULE_FILE,
  PROMTOOL_SKIP,
  promtool,
  RULE_TESTS_DIR,
  RULES_FILE,
  RUNBOOKS_FILE,
} from "./promtool.js";

interface AlertTest {
  alertname: string;
  exp_alerts?: unknown[];
}

interface RuleTestFile {
  tests: { alert_rule_test?: AlertTest[] }[];
}

const testFiles = readdirSync(RULE_TESTS_DIR)
  .filter((f) => f.endsWith(".test.yaml"))
  .sort();

function alertTests(): AlertTest[] {
  return testFiles.flatMap((f) => {
    const doc = yaml.load(readFileSync(join(RULE_TESTS_DIR, f), "utf8")) as RuleTestFile;
    return doc.tests.flatMap((t) => t.alert_rule_test ?? []);
  });
}

const HEADER =
  "# Generated from deploy/prometheus/rules.yaml, the single source of the alerts; do not edit by hand.\n" +
  "# Regenerate: npm run build && UPDATE_PROMETHEUSRULE=1 node --test dist/test/unit/observability/promtool.test.js\n";

/** The PrometheusRule that deploy/prometheus/rules.yaml implies. */
function expectedPrometheusRule(): unknown {
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: {
      name: "mesh-compliance-operator",
      namespace: "mesh-compliance-system",
      labels: {
        "app.kubernetes.io/name": "mesh-compliance-operator",
        "app.kubernetes.io/part-of": "mesh-compliance-operator",
      },
    },
    spec: loadRules(),
  };
}

describe("alert rules", () => {
  it("gives every alert a severity, a summary, a description and a runbook section", () => {
    const runbooks = readFileSync(RUNBOOKS_FILE, "utf8");
    for (const rule of alerts(loadRules())) {
      const name = rule.alert ?? "";
      assert.match(rule.labels?.severity ?? "", /^(critical|warning|info)$/, name);
      assert.ok(rule.annotations?.summary, `${name}: summary`);
      assert.ok(rule.annotations.description, `${name}: description`);
      const anchor = name.toLowerCase();
      assert.equal(rule.annotations.runbook_url, `docs/runbooks.md#${anchor}`, name);
      assert.match(runbooks, new RegExp(`^## ${name}$`, "m"), `${name}: runbook heading`);
    }
  });

  it("has a promtool test per alert where it fires and one where it stays quiet", () => {
    const tests = alertTests();
    for (const rule of alerts(loadRules())) {
      const own = tests.filter((t) => t.alertname === rule.alert);
      const name = rule.alert ?? "";
      assert.ok(
        own.some((t) => (t.exp_alerts ?? []).length > 0),
        `${name} never fires in a test`,
      );
      assert.ok(
        own.some((t) => (t.exp_alerts ?? []).length === 0),
        `${name} is never quiet`,
      );
    }
  });

  it("ships the same groups in the PrometheusRule as in the plain rule file", () => {
    const expected = expectedPrometheusRule();
    if (process.env.UPDATE_PROMETHEUSRULE === "1") {
      writeFileSync(PROMETHEUS_RULE_FILE, HEADER + yaml.dump(expected, { lineWidth: 100 }));
    }
    const shipped = yaml.load(readFileSync(PROMETHEUS_RULE_FILE, "utf8"));
    assert.deepEqual(
      shipped,
      expected,
      "regenerate deploy/base/prometheusrule.yaml (see its header)",
    );
  });

  it("passes promtool check rules", { skip: PROMTOOL_SKIP }, () => {
    const result = promtool(["check", "rules", RULES_FILE]);
    assert.equal(result.status, 0, result.output);
  });

  it("passes promtool test rules", { skip: PROMTOOL_SKIP }, () => {
    const files = testFiles.map((f) => join(RULE_TESTS_DIR, f));
    const result = promtool(["test", "rules", ...files], RULE_TESTS_DIR);
    assert.equal(result.status, 0, result.output);
  });
});
