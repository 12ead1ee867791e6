import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CHECKS } from "../../../operator/engine/checks/index.js";
import type { ThreatId } from "../../../operator/engine/types.js";
import { scan } from "../../../operator/scan/scan.js";
import { NOW } from "../../support/engine.js";

const examples = fileURLToPath(new URL("../../../../deploy/examples/", import.meta.url));

/** The threats whose checks exist; every other threat must stay Unknown. */
const COVERED: ThreatId[] = ["S-01", "T-01", "I-01", "T-03", "E-02", "E-03"];

describe("example meshes", () => {
  it("hardened-mesh is Mitigated for every covered threat, with no input error", async () => {
    const r = await scan([`${examples}hardened-mesh`], undefined, NOW);
    assert.deepEqual(r.inputErrors, []);
    const statuses = Object.fromEntries(r.report.threats.map((t) => [t.id, t.status]));
    for (const id of COVERED) {
      const t = r.report.threats.find((x) => x.id === id);
      assert.equal(
        statuses[id],
        "Mitigated",
        `${id}: ${JSON.stringify(t?.findings.map((f) => [f.check, f.resource.name, f.message]) ?? t?.reason)}`,
      );
    }
  });

  it("insecure-mesh violates every covered threat, and every check of them fires", async () => {
    const r = await scan([`${examples}insecure-mesh`], undefined, NOW);
    assert.deepEqual(r.inputErrors, []);
    for (const id of COVERED) {
      assert.equal(r.report.threats.find((t) => t.id === id)?.status, "Violated", id);
    }
    const fired = new Set(r.report.threats.flatMap((t) => t.findings.map((f) => f.check)));
    const silent = CHECKS.filter((c) => c.threats.some((t) => COVERED.includes(t)))
      .map((c) => c.id)
      .filter((id) => !fired.has(id) && id !== "injector-webhook-changed");
    assert.deepEqual(silent, []);
  });

  it("reports threats without checks as Unknown, never Mitigated", async () => {
    const r = await scan([`${examples}hardened-mesh`], undefined, NOW);
    for (const t of r.report.threats.filter((x) => !COVERED.includes(x.id))) {
      assert.equal(t.status, "Unknown", t.id);
    }
  });
});
