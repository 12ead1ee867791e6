// The offline scan over files written by the test: objects defined more than once.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { scan } from "../../../operator/scan/scan.js";
import { NOW } from "../../support/engine.js";

function peerAuthentication(mode: string): string {
  return [
    "apiVersion: security.istio.io/v1",
    "kind: PeerAuthentication",
    "metadata: {name: default, namespace: istio-system}",
    `spec: {mtls: {mode: ${mode}}}`,
    "",
  ].join("\n");
}

describe("scan: objects defined more than once", () => {
  const dir = mkdtempSync(join(tmpdir(), "mesh-compliance-scan-"));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("evaluates every definition, so a weaker one is not hidden, and says where they are", async () => {
    const prod = join(dir, "prod.yaml");
    const dev = join(dir, "dev.yaml");
    writeFileSync(prod, peerAuthentication("STRICT"));
    writeFileSync(dev, `# the dev overlay\n${peerAuthentication("PERMISSIVE")}`);

    const r = await scan([dev, prod], undefined, NOW);
    const s01 = r.report.threats.find((t) => t.id === "S-01");
    assert.equal(s01?.status, "Violated", "the PERMISSIVE definition is still judged");
    const notes = r.report.assumptions.filter((a) => a.includes("defined more than once"));
    assert.equal(notes.length, 1);
    assert.match(notes[0] ?? "", /^1 object\(s\) are defined more than once: PeerAuthentication/);
    assert.match(notes[0] ?? "", /\(\S*dev\.yaml:1, \S*prod\.yaml:1\)/, "both places, in order");
  });

  it("adds no note when every object is defined once", async () => {
    const only = join(dir, "only.yaml");
    writeFileSync(only, peerAuthentication("STRICT"));
    const r = await scan([only], undefined, NOW);
    assert.deepEqual(
      r.report.assumptions.filter((a) => a.includes("defined more than once")),
      [],
    );
  });
});
