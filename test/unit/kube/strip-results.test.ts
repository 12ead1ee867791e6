// What the cache keeps must not change what the checks find: a synthetic mesh evaluated from the
// objects as served and from what stripObject keeps of them gives the same evaluation.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import yaml from "js-yaml";
import { generateMesh } from "../../../bench/generate.js";
import { CHECKS } from "../../../operator/engine/checks/index.js";
import { evaluate, type Evaluation } from "../../../operator/engine/evaluate.js";
import { defaultPolicy } from "../../../operator/engine/policy.js";
import { Snapshot } from "../../../operator/engine/snapshot.js";
import type { KubeObject } from "../../../operator/engine/types.js";
import { ValueTable } from "../../../operator/kube/compact.js";
import { WATCHED_RESOURCES, type WatchedResource } from "../../../operator/kube/resources.js";
import { stripObject } from "../../../operator/kube/strip.js";
import { NOW } from "../../support/engine.js";

function watched(o: KubeObject): { resource: WatchedResource; version: string } | undefined {
  const slash = o.apiVersion.indexOf("/");
  const group = slash < 0 ? "" : o.apiVersion.slice(0, slash);
  const version = slash < 0 ? o.apiVersion : o.apiVersion.slice(slash + 1);
  const resource = WATCHED_RESOURCES.find((r) => r.group === group && r.kind === o.kind);
  return resource ? { resource, version } : undefined;
}

function run(objects: KubeObject[]): Evaluation {
  const snapshot = new Snapshot(objects, { namespacesComplete: true });
  const options = {
    parseYaml: (t: string) => yaml.load(t),
    assumeUndeclaredNamespacesEnrolled: false,
  };
  return evaluate(snapshot, defaultPolicy(), NOW, options, CHECKS);
}

describe("stripped objects give the same evaluation", () => {
  it("over a synthetic mesh of 60 namespaces and 600 pods", () => {
    const objects = generateMesh({ namespaces: 60, pods: 600, policies: 300 }, 7).objects;
    const served = objects.filter((o) => watched(o) !== undefined);
    // Through JSON text, as the reflectors read them, with a small table so that it rotates.
    const values = new ValueTable({ limit: 256 });
    const parsed = JSON.parse(JSON.stringify(served)) as KubeObject[];
    const stripped = parsed.map((o) => {
      const w = watched(o);
      if (w === undefined) throw new Error(`not watched: ${o.kind}`);
      return stripObject(w.resource, w.version, o, values);
    });
    const expected = run(served);
    const findings = expected.partitions.reduce((n, p) => n + p.findings.length, 0);
    assert.ok(findings > 100, `the mesh should give findings to compare (${findings})`);
    assert.deepEqual(run(stripped), expected);
  });
});
