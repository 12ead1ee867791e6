// Istio's rendered install manifests against the control-plane checks of I-02, D-01, D-02 and
// E-01. A stock install is not hardened on these points, and each finding below is one a security
// reviewer would agree with; the comments say why. The renderer's golden files name the mesh root
// namespace `istio-control` while installing into istio-system, so the scan treats only declared
// namespaces as enrolled (otherwise istio-system would count as an application namespace).

import { it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { Check } from "../../operator/engine/check.js";
import { EXPOSURE_CHECKS } from "../../operator/engine/checks/exposure.js";
import { RESOURCE_CHECKS } from "../../operator/engine/checks/resources.js";
import { VERSION_CHECKS } from "../../operator/engine/checks/versions.js";
import type { KubeObject } from "../../operator/engine/types.js";
import { objectsFromYaml, evaluateObjects } from "../support/engine.js";
import { corpusDescribe } from "../support/corpus.js";

const UPSTREAM = new URL("../../../../shared/cases/upstream/", import.meta.url);
const OUT = new URL("istio-install-golden/cmd/mesh/testdata/manifest-generate/output/", UPSTREAM);
const CHECKS: readonly Check[] = [...EXPOSURE_CHECKS, ...RESOURCE_CHECKS, ...VERSION_CHECKS];

function load(file: string): KubeObject[] {
  return objectsFromYaml(readFileSync(new URL(file, OUT), "utf8"));
}

function verdicts(file: string): { findings: string[]; unknown: string[] } {
  const evaluation = evaluateObjects(load(file), CHECKS, { assumeEnrolled: false });
  const partitions = evaluation.partitions;
  return {
    findings: partitions
      .flatMap((p) => p.findings)
      .map((f) => `${f.check} ${f.severity} ${f.resource.kind} ${f.resource.name}`)
      .sort(),
    unknown: partitions.flatMap((p) => p.unknown).map((u) => u.check),
  };
}

/** What a stock istiod gets, and why a reviewer agrees. */
const ISTIOD_DEFAULTS = [
  // The HTTP debug interface (8080) and plaintext xDS (15010) are on by default; Istio's own
  // hardening guide recommends closing both. Low: reachable from inside the cluster only.
  "control-plane-debug-exposed low Deployment istiod",
  // The golden README: the HPA keeps a minimum of 1 and no PDB is rendered by default.
  "istiod-not-highly-available high Deployment istiod",
  // The golden README: requests (500m, 2048Mi) but no limits.
  "istiod-resources-missing high Deployment istiod",
];

corpusDescribe("install golden: control-plane checks on a stock install", () => {
  it("reports the stock istiod's open debug ports, missing limits and single replica", () => {
    const { findings, unknown } = verdicts("pilot_default.golden.yaml");
    assert.deepEqual(
      findings,
      [
        ...ISTIOD_DEFAULTS,
        // The renderer's tests tag images 1.1.4, far below any supported release.
        "istio-version-outdated high Deployment istiod",
      ].sort(),
    );
    // No gateway is rendered, so there is nothing to rate-limit; and no Service exposes
    // Envoy's admin port 15000. RBAC in the file has no binding granting exec or port-forward.
    assert.ok(!unknown.includes("control-plane-debug-exposed"));
  });

  it("adds the ingress gateway's missing rate limit on the full install", () => {
    const { findings, unknown } = verdicts("all_on.golden-show-in-gh-pull-request.yaml");
    assert.deepEqual(
      findings,
      [
        ...ISTIOD_DEFAULTS,
        // No local rate limit is configured by default; a mesh that limits the rate at its load
        // balancer records a waiver.
        "rate-limit-missing medium Deployment istio-ingressgateway",
      ].sort(),
    );
    // This golden file tags istiod `latest`, which names no version: unknown, not a pass.
    assert.ok(unknown.includes("istio-version-outdated"));
  });

  it("finds no Service or EnvoyFilter reaching Envoy's admin port in any rendered install", () => {
    for (const file of [
      "pilot_default.golden.yaml",
      "all_on.golden-show-in-gh-pull-request.yaml",
    ]) {
      const { findings } = verdicts(file);
      assert.ok(!findings.some((f) => f.startsWith("envoy-admin-exposed")), file);
    }
  });
});
