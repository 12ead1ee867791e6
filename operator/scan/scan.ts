// The offline scan: files in, report out. The same engine and report builder as the operator;
// only the input differs, and the report is not capped.

import { readFile } from "node:fs/promises";
import yaml from "js-yaml";
import { CHECKS } from "../engine/checks/index.js";
import { evaluate } from "../engine/evaluate.js";
import { isObj } from "../engine/fields.js";
import { defaultPolicy, parseThreatPolicy, type ThreatPolicy } from "../engine/policy.js";
import { keyOf, namespaceOf, Snapshot } from "../engine/snapshot.js";
import type { KubeObject, Severity } from "../engine/types.js";
import { buildReport, SEVERITY_RANK } from "../report/build.js";
import type { ComplianceReportStatus } from "../report/types.js";
import {
  KUBE_YAML_SCHEMA,
  loadManifests,
  type InputError,
  type SourceLocation,
} from "./manifests.js";

export interface ScanResult {
  report: ComplianceReportStatus;
  inputErrors: InputError[];
  sources: Map<string, SourceLocation>;
  files: number;
  objects: number;
}

export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Reads a ThreatPolicy file; errors name the file and the bad field. */
export async function loadPolicy(file: string): Promise<ThreatPolicy> {
  let docs: unknown[];
  try {
    docs = yaml.loadAll(await readFile(file, "utf8"), null, { schema: KUBE_YAML_SCHEMA });
  } catch (err) {
    throw new UsageError(`--policy ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const policies = docs.filter(
    (d) =>
      isObj(d) &&
      d.kind === "ThreatPolicy" &&
      String(d.apiVersion).startsWith("meshcompliance.io/"),
  );
  if (policies.length !== 1) {
    throw new UsageError(
      `--policy ${file}: expected one ThreatPolicy (apiVersion meshcompliance.io/v1alpha1), found ${policies.length}`,
    );
  }
  try {
    return parseThreatPolicy(policies[0] as KubeObject, CHECKS);
  } catch (err) {
    throw new UsageError(`--policy ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function sourceKey(ref: { kind: string; namespace?: string; name: string }): string {
  return `${ref.kind}/${ref.namespace ?? ""}/${ref.name}`;
}

export async function scan(
  paths: string[],
  policy: ThreatPolicy = defaultPolicy(),
  now = new Date(),
): Promise<ScanResult> {
  const loaded = await loadManifests(paths);
  const snapshot = new Snapshot(loaded.objects, { namespacesComplete: false });
  const evaluation = evaluate(
    snapshot,
    policy,
    now,
    {
      parseYaml: (t) => yaml.load(t, { schema: KUBE_YAML_SCHEMA }),
      assumeUndeclaredNamespacesEnrolled: true,
    },
    CHECKS,
  );
  const report = buildReport(evaluation, policy, CHECKS, now);
  report.assumptions = [...report.assumptions, ...duplicateNotes(loaded.sources)].sort();
  const sources = new Map<string, SourceLocation>();
  for (const [object, at] of loaded.sources) {
    const ref = { kind: object.kind, name: object.metadata.name ?? "" };
    const key = sourceKey({ ...ref, namespace: object.metadata.namespace ?? "default" });
    if (!sources.has(key)) sources.set(key, at);
    sources.set(sourceKey(ref), at);
  }
  return {
    report,
    inputErrors: loaded.errors,
    sources,
    files: loaded.files,
    objects: loaded.objects.length,
  };
}

/** How many repeated objects the note names; the rest are counted. */
const DUPLICATES_NAMED = 5;

/**
 * A note when objects are defined more than once. A folder often holds alternatives (overlays,
 * environments, tutorial steps) that never share a cluster, so every definition is evaluated and
 * none is dropped: keeping only the last could hide a weaker one. The note says so, because
 * findings then repeat, and two definitions can look like two conflicting objects.
 */
function duplicateNotes(sources: Map<KubeObject, SourceLocation>): string[] {
  const places = new Map<string, { ref: string; at: SourceLocation[] }>();
  for (const [object, at] of sources) {
    const key = keyOf(object);
    const entry = places.get(key);
    if (entry) entry.at.push(at);
    else places.set(key, { ref: refText(object), at: [at] });
  }
  const repeated = [...places.values()].filter((p) => p.at.length > 1);
  if (repeated.length === 0) return [];
  const named = repeated
    .slice(0, DUPLICATES_NAMED)
    .map((p) => `${p.ref} (${p.at.map((a) => `${a.file}:${String(a.line)}`).join(", ")})`);
  const more = repeated.length - named.length;
  return [
    `${String(repeated.length)} object(s) are defined more than once: ${named.join("; ")}` +
      `${more > 0 ? `; and ${String(more)} more` : ""}. Each definition is evaluated as a ` +
      "separate object, so their findings repeat; scan one environment or overlay at a time for " +
      "a single cluster's view.",
  ];
}

function refText(object: KubeObject): string {
  const ns = namespaceOf(object);
  return `${object.kind} ${ns === undefined ? "" : `${ns}/`}${object.metadata.name ?? ""}`;
}

export type FailOn = Severity | "none";

/** Exit code: 2 on input errors, 1 when an open finding is at or above the threshold, else 0. */
export function exitCode(result: ScanResult, failOn: FailOn): number {
  if (result.inputErrors.length > 0) return 2;
  if (failOn === "none") return 0;
  const threshold = SEVERITY_RANK[failOn];
  const failing = result.report.threats.some((t) =>
    t.findings.some((f) => !f.waived && SEVERITY_RANK[f.severity] >= threshold),
  );
  return failing ? 1 : 0;
}
