// The CRDs repeat the engine's vocabularies (threat ids, risk levels, threat statuses) as enums and
// CEL lists; these tests keep the copies equal to the engine's.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { load } from "js-yaml";
import { THREAT_IDS } from "../../../operator/engine/threats.js";
import { RISKS } from "../../../operator/engine/types.js";

const root = new URL("../../../../", import.meta.url);

type Schema = Record<string, unknown>;

function versionSchema(file: string): Schema {
  const crd = load(readFileSync(new URL(`crds/${file}`, root), "utf8")) as Schema;
  const spec = crd.spec as { versions: { schema: { openAPIV3Schema: Schema } }[] };
  const version = spec.versions[0];
  assert.ok(version);
  return version.schema.openAPIV3Schema;
}

/** Follows `properties`, `items` and `additionalProperties` by the given steps. */
function schemaAt(schema: Schema, ...steps: string[]): Schema {
  let node: unknown = schema;
  for (const step of steps) {
    const n = node as Schema;
    if (step === "[]") node = n.items;
    else if (step === "{}") node = n.additionalProperties;
    else node = (n.properties as Record<string, unknown> | undefined)?.[step];
    assert.ok(node, `no schema at ${steps.join(".")}`);
  }
  return node as Schema;
}

describe("CRD vocabularies", () => {
  const policy = versionSchema("threatpolicy.yaml");
  const report = versionSchema("compliancereport.yaml");

  it("lists exactly the engine's threat ids for waivers and attestations", () => {
    for (const list of ["waivers", "attestations"]) {
      assert.deepEqual(schemaAt(policy, "spec", list, "[]", "threat").enum, [...THREAT_IDS]);
    }
  });

  it("lists exactly the engine's threat ids in the CEL rule on threats keys", () => {
    const rules = schemaAt(policy, "spec", "threats")["x-kubernetes-validations"] as {
      rule: string;
    }[];
    const ids = [...(rules[0]?.rule ?? "").matchAll(/'([A-Z]-\d\d)'/g)].map((m) => m[1]);
    assert.deepEqual(ids, [...THREAT_IDS]);
  });

  it("lists exactly the engine's risk levels for overrides", () => {
    assert.deepEqual(schemaAt(policy, "spec", "threats", "{}", "risk").enum, [...RISKS]);
  });

  it("types every summary field the report builder writes", () => {
    const summary = Object.keys(schemaAt(report, "status", "summary").properties as Schema);
    assert.deepEqual(summary.sort(), [
      "attested",
      "disabled",
      "enabled",
      "mitigated",
      "notApplicable",
      "openFindings",
      "score",
      "threats",
      "unknown",
      "violated",
      "violatedCritical",
      "violatedHigh",
      "waived",
      "waivedFindings",
    ]);
  });
});
