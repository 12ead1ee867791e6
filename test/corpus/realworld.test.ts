// Real-world Istio configuration (vendor samples, a GitOps repo, a production ML platform and
// Istio's own samples) through the offline scan, compared with reviewed golden files. Each folder
// is scanned as one input, exactly as `mesh-compliance scan <folder>` would. The golden files hold
// a compact projection (per threat: status and `check severity Kind namespace/name` per finding)
// so that wording changes in messages do not churn them; test/golden/realworld/REVIEW.md explains
// every verdict a reader might not expect. UPDATE_GOLDEN=1 rewrites the golden files instead of
// comparing; review the diff before committing it.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultPolicy } from "../../operator/engine/policy.js";
import type { Finding } from "../../operator/engine/types.js";
import { scan, type ScanResult } from "../../operator/scan/scan.js";
import { NOW } from "../support/engine.js";

const UPSTREAM = new URL("../../../../shared/cases/upstream/", import.meta.url);
const GOLDEN = new URL("../../../test/golden/realworld/", import.meta.url);
const skip = existsSync(UPSTREAM) ? false : "../shared/cases/upstream not found";
const update = process.env.UPDATE_GOLDEN === "1";

interface Folder {
  name: string;
  /**
   * Every input error the scan must report, as `file:line: message` with the file relative to the
   * folder. Each one is deserved: the document is not a Kubernetes object (REVIEW.md says why).
   */
  inputErrors: string[];
}

const NOT_AN_OBJECT = "document is not a Kubernetes object";

const FOLDERS: Folder[] = [
  {
    name: "realworld-asm-samples",
    // A `gcloud ... apply-spec` file for Policy Controller, not a cluster object.
    inputErrors: [
      `demos/asm-mcp-multi-clusters/terraform/lab_materials/acm-policy-controller.yaml:1: ${NOT_AN_OBJECT}: missing apiVersion`,
    ],
  },
  { name: "realworld-aws-istio-on-eks", inputErrors: [] },
  {
    name: "realworld-gitops-istio",
    // JSON 6902 patch lists (pre-injected sidecars) that kustomize applies to the Deployments.
    inputErrors: [
      `apps/backend/deployment.patch.yaml:1: ${NOT_AN_OBJECT} (not a mapping)`,
      `apps/frontend/deployment.patch.yaml:1: ${NOT_AN_OBJECT} (not a mapping)`,
      `apps/loadtest/deployment.patch.yaml:1: ${NOT_AN_OBJECT} (not a mapping)`,
    ],
  },
  { name: "realworld-kubeflow-istio", inputErrors: [] },
  {
    name: "istio-samples",
    // Helm values files for the SPIRE charts.
    inputErrors: [
      `security/spire-trust-domain-federation/spire-base.yaml:1: ${NOT_AN_OBJECT}: missing apiVersion`,
      `security/spire-trust-domain-federation/spire-east.yaml:1: ${NOT_AN_OBJECT}: missing apiVersion`,
      `security/spire-trust-domain-federation/spire-west.yaml:1: ${NOT_AN_OBJECT}: missing apiVersion`,
    ],
  },
];

interface ThreatProjection {
  status: string;
  findings: string[];
}

interface Projection {
  folder: string;
  files: number;
  objects: number;
  inputErrors: string[];
  threats: Record<string, ThreatProjection>;
}

function findingLine(f: Finding): string {
  const ns = f.resource.namespace ? `${f.resource.namespace}/` : "";
  return `${f.check} ${f.severity} ${f.resource.kind} ${ns}${f.resource.name}`;
}

/** Input errors with their file relative to the scanned folder, so no machine path leaks in. */
function inputErrors(result: ScanResult, dir: string): string[] {
  return result.inputErrors
    .map((e) => `${relative(dir, resolve(process.cwd(), e.file))}:${e.line}: ${e.message}`)
    .sort();
}

function project(name: string, result: ScanResult, dir: string): Projection {
  const threats: Record<string, ThreatProjection> = {};
  for (const t of result.report.threats) {
    threats[t.id] = { status: t.status, findings: t.findings.map(findingLine).sort() };
  }
  return {
    folder: name,
    files: result.files,
    objects: result.objects,
    inputErrors: inputErrors(result, dir),
    threats,
  };
}

function goldenFile(name: string): URL {
  return new URL(`${name}.json`, GOLDEN);
}

function writeGolden(name: string, projection: Projection): void {
  mkdirSync(GOLDEN, { recursive: true });
  writeFileSync(goldenFile(name), `${JSON.stringify(projection, null, 2)}\n`);
}

function readGolden(name: string): Projection {
  const file = goldenFile(name);
  assert.ok(
    existsSync(file),
    `no golden file ${name}.json: run with UPDATE_GOLDEN=1 and review it`,
  );
  return JSON.parse(readFileSync(file, "utf8")) as Projection;
}

describe("real-world corpus: offline scan against reviewed golden files", () => {
  for (const folder of FOLDERS) {
    it(
      `scans ${folder.name} with only deserved input errors and the reviewed verdicts`,
      { skip },
      async () => {
        const dir = fileURLToPath(new URL(`${folder.name}/`, UPSTREAM));
        const result = await scan([dir], defaultPolicy(), NOW);
        const projection = project(folder.name, result, dir);
        assert.deepEqual(projection.inputErrors, [...folder.inputErrors].sort());
        assert.ok(projection.objects > 0, "the folder yields objects");
        assert.ok(
          !JSON.stringify(projection).includes("/work/"),
          "the projection holds no absolute paths",
        );
        if (update) writeGolden(folder.name, projection);
        else assert.deepEqual(projection, readGolden(folder.name));
      },
    );
  }
});
