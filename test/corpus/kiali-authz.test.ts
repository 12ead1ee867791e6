// Kiali's MtlsEnabledChecker fixtures (KIA0105: a rule needs peer identity but mTLS is not in force).
// Our counterpart is authz-identity-without-mtls. Kiali asks whether client and server agree on
// mTLS (DestinationRules and auto-mTLS included); we ask whether the server accepts plaintext
// (the effective PeerAuthentication mode), because that is what an attacker exploits. Where the
// two differ, the case says why.

import { it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseAuthorizationPolicy, ruleConditions } from "../../operator/engine/authz.js";
import { authzIdentityWithoutMtls } from "../../operator/engine/checks/authz.js";
import { objectsFromYaml, resources, runCheck } from "../support/engine.js";
import { corpusDescribe } from "../support/corpus.js";

const UPSTREAM = new URL("../../../../shared/cases/upstream/", import.meta.url);
const DIR = new URL("kiali-validations/authorization/", UPSTREAM);

type Kiali = "KIA0105" | "none" | "not run";

interface Case {
  file: string;
  /** Our severity for bookinfo/policy, or null for no finding. */
  ours: "high" | "medium" | null;
  kiali: { on: Kiali; off: Kiali };
  /** Why we differ from Kiali (judged against autoMtls=off, or on where off was not run). */
  differs?: string;
}

const SERVER_STRICT =
  "the server is STRICT, so no plaintext reaches the rule; the client-side DestinationRule DISABLE is reported by destinationrule-tls-disabled";
const DR_NOT_SERVER =
  "an ISTIO_MUTUAL DestinationRule only makes well-behaved clients use mTLS; the server is still PERMISSIVE and accepts plaintext from anyone else";
const STRICT_NS =
  "the namespace PeerAuthentication is STRICT; Kiali with autoMtls off also wants a DestinationRule, which only concerns clients";

const CASES: Case[] = [
  { file: "mtls_enabled_checker_1.yaml", ours: "medium", kiali: { on: "none", off: "KIA0105" } },
  {
    file: "mtls_enabled_checker_2.yaml",
    ours: null,
    kiali: { on: "none", off: "KIA0105" },
    differs: STRICT_NS,
  },
  { file: "mtls_enabled_checker_3.yaml", ours: "medium", kiali: { on: "none", off: "KIA0105" } },
  { file: "mtls_enabled_checker_4.yaml", ours: null, kiali: { on: "none", off: "none" } },
  {
    file: "mtls_enabled_checker_5.yaml",
    ours: "medium",
    kiali: { on: "none", off: "none" },
    differs: DR_NOT_SERVER,
  },
  { file: "mtls_enabled_checker_6.yaml", ours: "medium", kiali: { on: "none", off: "KIA0105" } },
  { file: "mtls_enabled_checker_7.yaml", ours: "medium", kiali: { on: "KIA0105", off: "KIA0105" } },
  { file: "mtls_enabled_checker_71.yaml", ours: null, kiali: { on: "none", off: "none" } },
  { file: "mtls_enabled_checker_8.yaml", ours: "medium", kiali: { on: "KIA0105", off: "KIA0105" } },
  { file: "mtls_enabled_checker_9.yaml", ours: "medium", kiali: { on: "KIA0105", off: "KIA0105" } },
  {
    file: "mtls_enabled_checker_10.yaml",
    ours: "medium",
    kiali: { on: "KIA0105", off: "KIA0105" },
  },
  { file: "mtls_enabled_checker_101.yaml", ours: null, kiali: { on: "none", off: "none" } },
  { file: "mtls_enabled_checker_11.yaml", ours: "medium", kiali: { on: "none", off: "KIA0105" } },
  { file: "mtls_enabled_checker_12.yaml", ours: "medium", kiali: { on: "none", off: "KIA0105" } },
  {
    file: "mtls_enabled_checker_13.yaml",
    ours: "medium",
    kiali: { on: "none", off: "none" },
    differs: DR_NOT_SERVER,
  },
  { file: "mtls_enabled_checker_14.yaml", ours: null, kiali: { on: "none", off: "none" } },
  {
    file: "mtls_enabled_checker_15.yaml",
    ours: null,
    kiali: { on: "KIA0105", off: "KIA0105" },
    differs: SERVER_STRICT,
  },
  {
    file: "mtls_enabled_checker_16.yaml",
    ours: "medium",
    kiali: { on: "KIA0105", off: "KIA0105" },
  },
  {
    file: "mtls_enabled_checker_17.yaml",
    ours: "medium",
    kiali: { on: "KIA0105", off: "KIA0105" },
  },
  // DENY rules on principals: plaintext bypasses them, so ours is high.
  { file: "mtls_enabled_checker_18.yaml", ours: null, kiali: { on: "none", off: "none" } },
  { file: "mtls_enabled_checker_19.yaml", ours: "high", kiali: { on: "not run", off: "KIA0105" } },
  { file: "mtls_enabled_checker_20.yaml", ours: "high", kiali: { on: "KIA0105", off: "not run" } },
  {
    file: "mtls_enabled_checker_21.yaml",
    ours: "high",
    kiali: { on: "none", off: "none" },
    differs: DR_NOT_SERVER,
  },
  { file: "mtls_enabled_checker_22.yaml", ours: "high", kiali: { on: "KIA0105", off: "KIA0105" } },
  { file: "mtls_enabled_checker_23.yaml", ours: "medium", kiali: { on: "none", off: "KIA0105" } },
];

corpusDescribe("kiali MtlsEnabledChecker fixtures vs authz-identity-without-mtls", () => {
  for (const c of CASES) {
    const verdict = c.ours ? `reports ${c.ours}` : "reports nothing";
    it(`${verdict} for ${c.file}`, () => {
      const { findings, unknown } = runCheck(
        authzIdentityWithoutMtls,
        readFileSync(new URL(c.file, DIR), "utf8"),
      );
      assert.deepEqual(unknown, []);
      assert.deepEqual(resources(findings), c.ours ? ["AuthorizationPolicy bookinfo/policy"] : []);
      assert.deepEqual(
        findings.map((f) => f.severity),
        c.ours ? [c.ours] : [],
      );
      // Every disagreement with Kiali is explained.
      const kiali = c.kiali.off === "not run" ? c.kiali.on : c.kiali.off;
      const agrees = (kiali === "KIA0105") === (c.ours !== null);
      assert.ok(agrees || c.differs, `${c.file}: differs from Kiali without a recorded reason`);
    });
  }

  it("agrees with Kiali's needsMtls on which policies use identity conditions", () => {
    const objects = objectsFromYaml(
      readFileSync(new URL("authz_policy_requires_mtls.yaml", DIR), "utf8"),
    );
    const needs = objects
      .map(parseAuthorizationPolicy)
      .filter((p) => p.rules.some((r) => ruleConditions(r).some((c) => c.identity)))
      .map((p) => p.name)
      .sort();
    assert.deepEqual(needs, [
      "policy-0",
      "policy-1",
      "policy-3",
      "policy-4",
      "policy-5",
      "policy-8",
      "policy-9",
    ]);
  });
});
