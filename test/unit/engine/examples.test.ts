import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CHECKS } from "../../../operator/engine/checks/index.js";
import { THREAT_IDS } from "../../../operator/engine/threats.js";
import { loadPolicy, scan } from "../../../operator/scan/scan.js";
import { NOW } from "../../support/engine.js";

const examples = fileURLToPath(new URL("../../../../deploy/examples/", import.meta.url));

/**
 * Checks that cannot fire on files alone: the fingerprint check needs a pin to compare with, and
 * audit logging is never visible from inside a cluster (it is attested instead).
 */
const NOT_FROM_FILES = new Set(["injector-webhook-changed", "audit-logging-unobservable"]);

describe("example meshes", () => {
  it("hardened-mesh, with its policy, is Mitigated on every threat and Attested on R-02", async () => {
    const policy = await loadPolicy(`${examples}policies/hardened.yaml`);
    const r = await scan([`${examples}hardened-mesh`], policy, NOW);
    assert.deepEqual(r.inputErrors, []);
    for (const id of THREAT_IDS) {
      const t = r.report.threats.find((x) => x.id === id);
      const detail = JSON.stringify(t?.findings.map((f) => [f.check, f.resource.name]) ?? []);
      assert.equal(
        t?.status,
        id === "R-02" ? "Attested" : "Mitigated",
        `${id}: ${detail} ${t?.reason ?? ""}`,
      );
    }
  });

  it("insecure-mesh violates all 17 threats, and every check that files can show fires", async () => {
    const r = await scan([`${examples}insecure-mesh`], undefined, NOW);
    assert.deepEqual(r.inputErrors, []);
    for (const id of THREAT_IDS) {
      assert.equal(r.report.threats.find((t) => t.id === id)?.status, "Violated", id);
    }
    const fired = new Set(r.report.threats.flatMap((t) => t.findings.map((f) => f.check)));
    const silent = CHECKS.map((c) => c.id).filter(
      (id) => !fired.has(id) && !NOT_FROM_FILES.has(id),
    );
    assert.deepEqual(silent, []);
  });

  it("without its policy, hardened-mesh reports R-02 Unknown and the rate-limit EnvoyFilter", async () => {
    const r = await scan([`${examples}hardened-mesh`], undefined, NOW);
    const status = (id: string) => r.report.threats.find((t) => t.id === id)?.status;
    assert.equal(status("R-02"), "Unknown");
    assert.equal(status("T-03"), "Violated");
  });
});
