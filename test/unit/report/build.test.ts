import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Check } from "../../../operator/engine/check.js";
import { THREAT_IDS } from "../../../operator/engine/threats.js";
import { buildReport } from "../../../operator/report/build.js";
import { evaluateObjects, NOW, objectsFromYaml, policyFromYaml } from "../../support/engine.js";
import type { ThreatPolicy } from "../../../operator/engine/policy.js";
import { defaultPolicy } from "../../../operator/engine/policy.js";

// Two stand-in checks whose output the test controls: one reports every PeerAuthentication it
// sees, one reports Unknown when asked to. They exercise the report builder alone.
const flagPeerAuth: Check = {
  id: "flag-peer-auth",
  threats: ["S-01", "I-01"],
  severity: "high",
  scope: "namespace",
  title: "flags every PeerAuthentication",
  description: "test check",
  remediation: "none",
  inputs: [],
  run(ctx, target, emit) {
    for (const pa of ctx.snapshot.inNamespace(
      "security.istio.io/PeerAuthentication",
      target.namespace,
    )) {
      emit.finding(pa, `PeerAuthentication ${pa.metadata.name ?? ""} flagged`);
    }
  },
};
const unknownR02: Check = {
  id: "cannot-see",
  threats: ["R-02"],
  severity: "medium",
  scope: "cluster",
  title: "cannot see",
  description: "test check",
  remediation: "none",
  inputs: [],
  run(_ctx, emit) {
    emit.unknown("audit logging cannot be seen from inside the cluster");
  },
};
const checks = [flagPeerAuth, unknownR02];

const input = objectsFromYaml(`
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: loose, namespace: shop}
spec: {mtls: {mode: PERMISSIVE}}
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: old-api, namespace: pay}
spec: {mtls: {mode: PERMISSIVE}}
`);

function report(policy: ThreatPolicy = defaultPolicy()) {
  return buildReport(evaluateObjects(input, checks, { policy }), policy, checks, NOW);
}

function status(r: ReturnType<typeof report>, id: string): string {
  return r.threats.find((t) => t.id === id)?.status ?? "missing";
}

const policyHead =
  "apiVersion: meshcompliance.io/v1alpha1\nkind: ThreatPolicy\nmetadata: {name: p}\nspec:\n";

describe("report builder", () => {
  it("reports all 17 threats, Unknown with a reason where no check exists yet", () => {
    const r = report();
    assert.deepEqual(
      r.threats.map((t) => t.id),
      [...THREAT_IDS],
    );
    const e02 = r.threats.find((t) => t.id === "E-02");
    assert.equal(e02?.status, "Unknown");
    assert.equal(e02.reason, "not evaluated yet");
  });

  it("marks a threat Violated when it has open findings, from any served API version", () => {
    const r = report();
    assert.equal(status(r, "S-01"), "Violated");
    assert.equal(r.threats.find((t) => t.id === "S-01")?.counts.open, 2);
  });

  it("reports Unknown, never Mitigated, when a check could not read its input", () => {
    assert.equal(status(report(), "R-02"), "Unknown");
  });

  it("turns a threat Waived when an active waiver covers every finding", () => {
    const policy = policyFromYaml(
      `${policyHead}  waivers:\n  - {threat: S-01, reason: migration, owner: team-a, expires: "2026-06-02"}\n`,
    );
    const r = report(policy);
    assert.equal(status(r, "S-01"), "Waived");
    // The same findings still count against I-01, which the waiver does not name.
    assert.equal(status(r, "I-01"), "Violated");
    assert.equal(r.waivers[0]?.state, "Active");
    assert.equal(r.waivers[0].matchedFindings, 2);
  });

  it("gives an expired waiver no effect and reports it as expired", () => {
    const policy = policyFromYaml(
      `${policyHead}  waivers:\n  - {threat: S-01, reason: migration, expires: "2026-05-31"}\n`,
    );
    const r = report(policy);
    assert.equal(status(r, "S-01"), "Violated");
    assert.equal(r.waivers[0]?.state, "Expired");
  });

  it("waives only the resources a waiver names, with wildcards", () => {
    const policy = policyFromYaml(
      `${policyHead}  waivers:\n  - {threat: S-01, check: "flag-*", resources: [{kind: PeerAuthentication, namespace: "sh*"}], reason: r, expires: "2027-01-01"}\n`,
    );
    const s01 = report(policy).threats.find((t) => t.id === "S-01");
    assert.equal(s01?.status, "Violated");
    assert.deepEqual(
      s01.findings.map((f) => [f.resource.name, f.waived !== undefined]),
      [
        ["old-api", false],
        ["loose", true],
      ],
    );
  });

  it("turns an Unknown threat Attested when the policy attests it", () => {
    const policy = policyFromYaml(
      `${policyHead}  attestations:\n  - {threat: R-02, statement: audit policy ships to the SIEM, expires: "2027-01-01"}\n`,
    );
    const r02 = report(policy).threats.find((t) => t.id === "R-02");
    assert.equal(r02?.status, "Attested");
    assert.equal(r02.reason, "audit policy ships to the SIEM");
  });

  it("applies risk overrides and disabled threats, and leaves disabled threats out of the score", () => {
    const policy = policyFromYaml(
      `${policyHead}  threats:\n    S-01: {risk: Low}\n    I-01: {enabled: false}\n`,
    );
    const r = report(policy);
    assert.equal(r.threats.find((t) => t.id === "S-01")?.risk, "Low");
    assert.equal(status(r, "I-01"), "Disabled");
    assert.equal(r.summary.enabled, 16);
    assert.equal(r.riskSummary.Low.threats.join(), "S-01");
  });

  it("caps findings per threat and says how many were left out", () => {
    const policy = defaultPolicy();
    const r = buildReport(evaluateObjects(input, checks), policy, checks, NOW, { capFindings: 1 });
    const s01 = r.threats.find((t) => t.id === "S-01");
    assert.equal(s01?.findings.length, 1);
    assert.equal(s01.omittedFindings, 1);
    assert.equal(s01.counts.open, 2);
  });
});
