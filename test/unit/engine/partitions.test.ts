import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import { CHECKS } from "../../../operator/engine/checks/index.js";
import {
  CLUSTER_PARTITION,
  evaluate,
  evaluatePartition,
  newContext,
  partitionsOf,
} from "../../../operator/engine/evaluate.js";
import { defaultPolicy } from "../../../operator/engine/policy.js";
import { Snapshot } from "../../../operator/engine/snapshot.js";
import type { KubeObject } from "../../../operator/engine/types.js";
import { buildReport } from "../../../operator/report/build.js";
import { NOW, objectsFromYaml } from "../../support/engine.js";

const examples = fileURLToPath(new URL("../../../../deploy/examples/", import.meta.url));

function readExample(name: string): KubeObject[] {
  const dir = `${examples}${name}/`;
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .flatMap((f) => objectsFromYaml(readFileSync(`${dir}${f}`, "utf8")));
}

const options = {
  parseYaml: (t: string) => yaml.load(t),
  assumeUndeclaredNamespacesEnrolled: true,
};
const policy = defaultPolicy();

/**
 * Evaluates each partition on a snapshot that holds only what the partition may read: its own
 * namespace, the root namespace and cluster-scoped objects (the cluster partition reads all).
 * If a check read across namespaces, its findings would differ from the full evaluation.
 */
function evaluateIsolated(objects: KubeObject[]) {
  const full = new Snapshot(objects);
  const ctx = newContext(full, policy, NOW, options);
  const root = ctx.mesh.rootNamespace;
  return partitionsOf(ctx.mesh).map((partition) => {
    if (partition === CLUSTER_PARTITION) return evaluatePartition(ctx, partition, CHECKS);
    const namespace = partition.slice("namespace/".length);
    const view = full.restrictedTo(namespace, [root]);
    return evaluatePartition(newContext(view, policy, NOW, options), partition, CHECKS);
  });
}

describe("partitioned evaluation", () => {
  for (const name of ["insecure-mesh", "hardened-mesh"]) {
    it(`gives the same report for ${name} whether partitions are evaluated alone or together`, () => {
      const objects = readExample(name);
      const together = evaluate(new Snapshot(objects), policy, NOW, options, CHECKS);
      const alone = { ...together, partitions: evaluateIsolated(objects) };
      assert.deepEqual(alone.partitions, together.partitions);
      assert.deepEqual(
        buildReport(alone, policy, CHECKS, NOW),
        buildReport(together, policy, CHECKS, NOW),
      );
      assert.ok(together.partitions.length >= 4, "the example has several partitions");
    });
  }

  it("re-evaluating one namespace after a change touches only that partition's findings", () => {
    const objects = readExample("insecure-mesh");
    const before = evaluate(new Snapshot(objects), policy, NOW, options, CHECKS);
    const changed = objects.filter(
      (o) => !(o.kind === "AuthorizationPolicy" && o.metadata.name === "allow-everything"),
    );
    const after = evaluate(new Snapshot(changed), policy, NOW, options, CHECKS);
    const differing = before.partitions
      .filter((p, i) => JSON.stringify(p) !== JSON.stringify(after.partitions[i]))
      .map((p) => p.partition);
    assert.deepEqual(differing, ["namespace/shop"]);
  });
});
