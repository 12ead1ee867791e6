// Kyverno's require-authorizationpolicy and create-authorizationpolicy policies. Kyverno passes a
// namespace that holds any AuthorizationPolicy; authz-no-default-deny looks at what the policies
// enforce. We agree on the published cases and differ, on purpose, for allow-all and dry-run
// policies, which Kyverno accepts although they leave the namespace open.

import { it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { authzNoDefaultDeny } from "../../operator/engine/checks/authz.js";
import { policyFromYaml, resources, runCheck } from "../support/engine.js";
import { corpusDescribe } from "../support/corpus.js";

const UPSTREAM = new URL("../../../../shared/cases/upstream/", import.meta.url);
const DIR = new URL("kyverno-policies-istio/istio/", UPSTREAM);

// The fixture namespaces carry no injection label; a ThreatPolicy selecting every namespace puts
// them in scope, as a cluster-wide Kyverno policy would.
const ALL_NAMESPACES = `apiVersion: meshcompliance.io/v1alpha1
kind: ThreatPolicy
metadata: {name: all}
spec: {namespaceSelector: {}}`;

function read(rel: string): string {
  return readFileSync(new URL(rel, DIR), "utf8");
}

function noDefaultDeny(yamlText: string, namespace: string): string[] {
  const { findings, unknown } = runCheck(authzNoDefaultDeny, yamlText, {
    policy: policyFromYaml(ALL_NAMESPACES),
    assumeEnrolled: false,
  });
  assert.deepEqual(unknown, []);
  return resources(findings.filter((f) => f.resource.name === namespace));
}

const T = "require-authorizationpolicy/.chainsaw-test/";

corpusDescribe("kyverno require-authorizationpolicy vs authz-no-default-deny", () => {
  const good =
    read(`${T}chainsaw-step-01-apply-1.yaml`) +
    "\n---\n" +
    read(`${T}chainsaw-step-01-apply-2.yaml`);
  const bad = read(`${T}chainsaw-step-01-apply-3.yaml`);

  it("agrees: the namespace with a `spec: {}` default-deny passes", () => {
    assert.deepEqual(noDefaultDeny(good, "istio-reqauthzpol-good-ns"), []);
  });

  it("agrees: the namespace without an AuthorizationPolicy fails", () => {
    assert.deepEqual(noDefaultDeny(bad, "istio-reqauthzpol-bad-ns"), [
      "Namespace istio-reqauthzpol-bad-ns",
    ]);
  });

  it("differs on purpose: an allow-all policy satisfies Kyverno but leaves the namespace open", () => {
    const allowAll = good.replace("spec: {}", "spec:\n  rules:\n  - {}");
    assert.deepEqual(noDefaultDeny(allowAll, "istio-reqauthzpol-good-ns"), [
      "Namespace istio-reqauthzpol-good-ns",
    ]);
  });

  it("differs on purpose: a dry-run default-deny satisfies Kyverno but enforces nothing", () => {
    const dryRun = good.replace(
      "name: default-deny",
      'name: default-deny\n  annotations:\n    istio.io/dry-run: "true"',
    );
    assert.deepEqual(noDefaultDeny(dryRun, "istio-reqauthzpol-good-ns"), [
      "Namespace istio-reqauthzpol-good-ns",
    ]);
  });

  it("differs on purpose: a DENY policy without rules satisfies Kyverno but does nothing", () => {
    const denyNothing = good.replace("spec: {}", "spec:\n  action: DENY");
    assert.deepEqual(noDefaultDeny(denyNothing, "istio-reqauthzpol-good-ns"), [
      "Namespace istio-reqauthzpol-good-ns",
    ]);
  });
});

corpusDescribe("kyverno create-authorizationpolicy vs authz-no-default-deny", () => {
  it("agrees: the generated `default-deny` (spec: {}) makes the namespace deny-by-default", () => {
    const C = "create-authorizationpolicy/.chainsaw-test/";
    const input =
      read(`${C}chainsaw-step-05-apply-1.yaml`) +
      "\n---\n" +
      read(`${C}chainsaw-step-06-assert-1.yaml`);
    assert.deepEqual(noDefaultDeny(input, "istio-cr-authpol-ns"), []);
    assert.deepEqual(
      noDefaultDeny(read(`${C}chainsaw-step-05-apply-1.yaml`), "istio-cr-authpol-ns"),
      ["Namespace istio-cr-authpol-ns"],
    );
  });
});
