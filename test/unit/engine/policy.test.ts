import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PolicyValidationError, parseThreatPolicy } from "../../../operator/engine/policy.js";
import { objectsFromYaml } from "../../support/engine.js";

function parse(spec: string) {
  const [obj] = objectsFromYaml(
    `apiVersion: meshcompliance.io/v1alpha1\nkind: ThreatPolicy\nmetadata: {name: p}\nspec:\n${spec}`,
  );
  return parseThreatPolicy(obj!);
}

function errorsOf(spec: string): string[] {
  try {
    parse(spec);
  } catch (err) {
    assert.ok(err instanceof PolicyValidationError);
    return err.errors.map((e) => `${e.field}: ${e.message}`);
  }
  return [];
}

describe("ThreatPolicy parsing", () => {
  it("applies the defaults when the spec is empty", () => {
    const p = parse("  {}\n");
    assert.equal(p.maxFindingsPerThreat, 20);
    assert.deepEqual(p.waivers, []);
    assert.ok(p.gitopsManagers.includes("argocd-application-controller"));
  });

  it("requires a reason and an expiry on every waiver, naming the field", () => {
    const errors = errorsOf(
      "  waivers:\n  - threat: E-02\n  - threat: S-01\n    reason: ok\n    expires: soon\n",
    );
    assert.deepEqual(errors, [
      "spec.waivers[0].reason: required, a non-empty string",
      "spec.waivers[0].expires: required (an RFC 3339 date such as 2027-01-31 or 2027-01-31T00:00:00Z)",
      'spec.waivers[1].expires: "soon" is not a date (expected RFC 3339, e.g. 2027-01-31)',
    ]);
  });

  it("rejects a waiver whose check is not one of its threat's checks, listing them", () => {
    const checks = [
      { id: "mtls-mesh-permissive", threats: ["S-01" as const, "I-01" as const] },
      { id: "authz-allow-all", threats: ["E-02" as const] },
    ];
    const [obj] = objectsFromYaml(
      "apiVersion: meshcompliance.io/v1alpha1\nkind: ThreatPolicy\nmetadata: {name: p}\nspec:\n" +
        "  waivers:\n" +
        "  - {threat: S-01, check: mtls-mesh-permisive, reason: r, expires: 2027-01-01}\n" +
        "  - {threat: S-01, check: authz-allow-all, reason: r, expires: 2027-01-01}\n" +
        "  - {threat: E-02, check: authz-allow-all, reason: r, expires: 2027-01-01}\n",
    );
    assert.throws(
      () => parseThreatPolicy(obj!, checks),
      (err: unknown) => {
        assert.ok(err instanceof PolicyValidationError);
        assert.deepEqual(
          err.errors.map((e) => `${e.field}: ${e.message}`),
          [
            'spec.waivers[0].check: "mtls-mesh-permisive" is not a check of S-01 (its checks: mtls-mesh-permissive)',
            'spec.waivers[1].check: "authz-allow-all" is not a check of S-01 (its checks: mtls-mesh-permissive)',
          ],
        );
        return true;
      },
    );
    assert.equal(
      parseThreatPolicy(obj!).waivers.length,
      3,
      "without the checks, ids are taken as given",
    );
  });

  it("rejects unknown threat ids and risk levels", () => {
    const errors = errorsOf("  threats:\n    X-99: {enabled: false}\n    E-02: {risk: Severe}\n");
    assert.deepEqual(errors, [
      'spec.threats.X-99: "X-99" is not a threat id (S-01 … E-03)',
      'spec.threats.E-02.risk: "Severe" is not one of Critical, High, Medium, Low',
    ]);
  });

  it("reads risk overrides, disabled threats and allowed EnvoyFilters", () => {
    const p = parse(
      "  threats:\n    E-02: {risk: Medium}\n    D-01: {enabled: false}\n  envoyFilters:\n    allowed:\n    - {namespace: istio-system, name: 'ratelimit-*'}\n",
    );
    assert.equal(p.threats["E-02"]?.risk, "Medium");
    assert.equal(p.threats["D-01"]?.enabled, false);
    assert.deepEqual(p.envoyFiltersAllowed, [{ namespace: "istio-system", name: "ratelimit-*" }]);
  });

  it("rejects a fingerprint that is not sha256 and a service account without namespace", () => {
    const errors = errorsOf(
      "  injector: {fingerprint: abc}\n  trustedSubjects:\n  - {kind: ServiceAccount, name: ci}\n",
    );
    assert.deepEqual(errors, [
      "spec.trustedSubjects[0].namespace: required for a ServiceAccount",
      "spec.injector.fingerprint: must look like sha256:<64 hex digits>",
    ]);
  });
});

describe("ThreatPolicy value types", () => {
  it("rejects threat settings that are not maps and enabled values that are not booleans", () => {
    const errors = errorsOf("  threats:\n    D-01: false\n    E-02: {enabled: 'no'}\n");
    assert.deepEqual(errors, [
      "spec.threats.D-01: must be a map such as {enabled: false}, got boolean false",
      'spec.threats.E-02.enabled: must be true or false, got string "no"',
    ]);
  });

  it("rejects lists given as other values and dates that do not exist", () => {
    const errors = errorsOf(
      "  attestations: 'yes'\n  waivers:\n  - {threat: E-02, reason: r, expires: '2027-02-30'}\n",
    );
    assert.deepEqual(
      errors,
      [
        '"2027-02-30" is not a date (expected RFC 3339, e.g. 2027-01-31)',
        'must be a list, got string "yes"',
      ].map((m, i) => `${i === 0 ? "spec.waivers[0].expires" : "spec.attestations"}: ${m}`),
    );
  });
});
