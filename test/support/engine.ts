// Helpers for engine tests: build snapshots from YAML text or objects and run checks on them.

import assert from "node:assert/strict";
import yaml from "js-yaml";
import type { Check } from "../../operator/engine/check.js";
import { evaluate, type Evaluation } from "../../operator/engine/evaluate.js";
import {
  defaultPolicy,
  parseThreatPolicy,
  type ThreatPolicy,
} from "../../operator/engine/policy.js";
import { Snapshot, type SnapshotOptions } from "../../operator/engine/snapshot.js";
import type { Finding, KubeObject, UnknownInput } from "../../operator/engine/types.js";

/** A fixed clock, so that waivers and certificate expiries give the same result every run. */
export const NOW = new Date("2026-06-01T00:00:00Z");

/** Parses multi-document YAML into objects, dropping empty documents. */
export function objectsFromYaml(text: string): KubeObject[] {
  return yaml.loadAll(text).filter((d): d is KubeObject => typeof d === "object" && d !== null);
}

export function policyFromYaml(text: string): ThreatPolicy {
  const [obj] = objectsFromYaml(text);
  if (!obj) throw new Error("no policy document");
  return parseThreatPolicy(obj);
}

export interface RunOptions {
  policy?: ThreatPolicy;
  snapshot?: SnapshotOptions;
  /** Offline scans assume undeclared namespaces are enrolled; cluster snapshots do not. */
  assumeEnrolled?: boolean;
  now?: Date;
}

export function evaluateObjects(
  objects: KubeObject[],
  checks: readonly Check[],
  options: RunOptions = {},
): Evaluation {
  const snapshot = new Snapshot(objects, options.snapshot);
  return evaluate(
    snapshot,
    options.policy ?? defaultPolicy(),
    options.now ?? NOW,
    {
      parseYaml: (t) => yaml.load(t),
      assumeUndeclaredNamespacesEnrolled: options.assumeEnrolled ?? true,
    },
    checks,
  );
}

export interface CheckRun {
  findings: Finding[];
  unknown: UnknownInput[];
}

/** Runs one check over objects given as YAML (or objects) and returns what it found. */
export function runCheck(
  check: Check,
  input: string | KubeObject[],
  options: RunOptions = {},
): CheckRun {
  const objects = typeof input === "string" ? objectsFromYaml(input) : input;
  const evaluation = evaluateObjects(objects, [check], options);
  return {
    findings: evaluation.partitions.flatMap((p) => p.findings),
    unknown: evaluation.partitions.flatMap((p) => p.unknown),
  };
}

/** `Kind namespace/name` of each finding, sorted: the compact form table tests compare. */
export function resources(findings: Finding[]): string[] {
  return findings
    .map(
      (f) =>
        `${f.resource.kind} ${f.resource.namespace ? `${f.resource.namespace}/` : ""}${f.resource.name}`,
    )
    .sort();
}

/** One row of a check's table test. */
export interface CheckCase {
  name: string;
  check: Check;
  yaml: string;
  /** `Kind namespace/name` of every expected finding. */
  expect: string[];
  /** Severities of the findings, in the order the check reports them. */
  severities?: string[];
  /** A pattern one of the findings' messages must match. */
  message?: RegExp;
  /** A pattern one of the Unknown reasons must match. */
  unknown?: RegExp;
}

/** Asserts a table case against what the check reported. */
export function assertCheckCase(c: CheckCase, run: CheckRun): void {
  assert.deepEqual(resources(run.findings), [...c.expect].sort());
  assert.ok(run.findings.every((f) => f.check === c.check.id));
  if (c.severities) {
    assert.deepEqual(
      run.findings.map((f) => f.severity),
      c.severities,
    );
  }
  const message = c.message;
  if (message) {
    assert.ok(
      run.findings.some((f) => message.test(f.message)),
      run.findings.map((f) => f.message).join("\n"),
    );
  }
  const unknown = c.unknown;
  if (unknown) {
    assert.ok(
      run.unknown.some((u) => unknown.test(u.reason)),
      JSON.stringify(run.unknown),
    );
  }
}
