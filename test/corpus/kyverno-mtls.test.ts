// Kyverno's enforce-strict-mtls and enforce-tls-hosts-host-subnets test resources. Their expected
// pass/fail per resource must match mtls-permissive-policy and destinationrule-tls-disabled. Both
// Kyverno policies read only the top-level mode; the extra cases show the port-level and subset
// settings that they miss and that we catch.

import { it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { destinationRuleTlsDisabled } from "../../operator/engine/checks/destinationrule.js";
import { mtlsPermissivePolicy } from "../../operator/engine/checks/mtls.js";
import { resources, runCheck } from "../support/engine.js";
import { corpusDescribe } from "../support/corpus.js";

const UPSTREAM = new URL("../../../../shared/cases/upstream/", import.meta.url);
const KYVERNO = new URL("kyverno-policies-istio/", UPSTREAM);

function read(path: string): string {
  return readFileSync(new URL(path, KYVERNO), "utf8");
}

// The resources carry no namespace, so they land in `default`, which an offline scan assumes to
// be enrolled in the mesh.
const names = (kind: string, list: string[]): string[] => list.map((n) => `${kind} default/${n}`);

corpusDescribe("kyverno-policies-istio: enforce-strict-mtls", () => {
  for (const flavour of ["istio", "istio-cel"]) {
    const dir = `${flavour}/enforce-strict-mtls/.chainsaw-test/`;

    it(`${flavour}: pa-bad01..03 fail and good-pa01..05 pass`, () => {
      const yaml = `${read(`${dir}pa-bad.yaml`)}\n---\n${read(`${dir}pa-good.yaml`)}`;
      const run = runCheck(mtlsPermissivePolicy, yaml);
      assert.deepEqual(
        resources(run.findings),
        names("PeerAuthentication", ["pa-bad01", "pa-bad02", "pa-bad03"]),
      );
      const bySeverity = Object.fromEntries(run.findings.map((f) => [f.resource.name, f.severity]));
      assert.deepEqual(bySeverity, {
        "pa-bad01": "high",
        "pa-bad02": "critical",
        "pa-bad03": "critical",
      });
    });
  }

  it("catches a STRICT policy with a port-level DISABLE, which the Kyverno policy admits", () => {
    const yaml = `apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata:
  name: strict-but-port-disabled
spec:
  selector:
    matchLabels:
      app: finance
  mtls:
    mode: STRICT
  portLevelMtls:
    8080:
      mode: DISABLE`;
    const run = runCheck(mtlsPermissivePolicy, yaml);
    assert.deepEqual(
      resources(run.findings),
      names("PeerAuthentication", ["strict-but-port-disabled"]),
    );
    assert.match(run.findings[0]?.message ?? "", /port 8080 DISABLE/);
  });
});

corpusDescribe("kyverno-policies-istio: enforce-tls-hosts-host-subnets (T-01)", () => {
  const dir = "istio/enforce-tls-hosts-host-subnets/.chainsaw-test/";

  it("bad-dr01 and bad-dr02 fail; good-dr01..05 pass", () => {
    const yaml = `${read(`${dir}dr-bad.yaml`)}\n---\n${read(`${dir}dr-good.yaml`)}`;
    const run = runCheck(destinationRuleTlsDisabled, yaml);
    assert.deepEqual(resources(run.findings), names("DestinationRule", ["bad-dr01", "bad-dr02"]));
  });

  it("catches DISABLE per port and per subset, which the Kyverno policy admits", () => {
    const yaml = `apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata:
  name: port-disabled
spec:
  host: ratings.prod.svc.cluster.local
  trafficPolicy:
    portLevelSettings:
      - port:
          number: 9080
        tls:
          mode: DISABLE
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata:
  name: subset-disabled
spec:
  host: ratings.prod.svc.cluster.local
  subsets:
    - name: v1
      labels:
        version: v1
      trafficPolicy:
        tls:
          mode: DISABLE`;
    const run = runCheck(destinationRuleTlsDisabled, yaml);
    assert.deepEqual(
      resources(run.findings),
      names("DestinationRule", ["port-disabled", "subset-disabled"]),
    );
  });
});
