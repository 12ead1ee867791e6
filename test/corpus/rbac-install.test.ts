// Istio's rendered install manifests against the S-03, T-02 and R-02 checks. istiod's and the
// gateways' own roles are trusted, so the rendered RBAC must give no high or critical finding.
// Every finding a default install does give is listed here with the reason a reviewer would
// agree with it.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { it } from "node:test";
import { configOutsideGitops } from "../../operator/engine/checks/gitops.js";
import {
  rbacCaSecretRead,
  rbacControlPlaneAccess,
  rbacIstioConfigWrite,
} from "../../operator/engine/checks/rbac.js";
import { validationWebhookMissing } from "../../operator/engine/checks/validation.js";
import type { KubeObject } from "../../operator/engine/types.js";
import { corpusDescribe } from "../support/corpus.js";
import { objectsFromYaml, resources, runCheck } from "../support/engine.js";

const UPSTREAM = new URL(
  "../../../../shared/cases/upstream/istio-install-golden/",
  import.meta.url,
);
const GENERATED = new URL("cmd/mesh/testdata/manifest-generate/output/", UPSTREAM);
const CHARTS = new URL("pkg/helm/testdata/output/", UPSTREAM);

function load(dir: URL, file: string): KubeObject[] {
  return objectsFromYaml(readFileSync(new URL(file, dir), "utf8"));
}

const DEFAULT_INSTALLS = [
  "pilot_default.golden.yaml",
  "all_on.golden-show-in-gh-pull-request.yaml",
];
const READER = "ServiceAccount istio-system/istio-reader-service-account";

corpusDescribe("install golden: RBAC of a default install", () => {
  for (const file of DEFAULT_INSTALLS) {
    it(`gives no control-plane access or Istio config write finding (${file})`, () => {
      const objects = load(GENERATED, file);
      for (const check of [rbacControlPlaneAccess, rbacIstioConfigWrite]) {
        const { findings, unknown } = runCheck(check, objects);
        assert.deepEqual(resources(findings), [], check.id);
        assert.deepEqual(unknown, [], check.id);
      }
    });

    // istio-reader-clusterrole grants get/list/watch on every Secret, so the reader account can
    // read istio-ca-secret. Istio creates it for remote clusters' istiod (multi-cluster); a
    // reviewer would want to know that a token for it is as good as the CA key, but it is part
    // of the install, hence low rather than critical.
    it(`reports only istio-reader-service-account's Secret access, at low (${file})`, () => {
      const { findings, unknown } = runCheck(rbacCaSecretRead, load(GENERATED, file));
      assert.deepEqual(unknown, []);
      assert.deepEqual(resources(findings), [READER]);
      assert.deepEqual(
        findings.map((f) => f.severity),
        ["low"],
      );
    });

    // Rendered files carry no managedFields, so the spec writer of Istio objects is not judged.
    it(`gives neither a finding nor unknown for config-outside-gitops (${file})`, () => {
      const { findings, unknown } = runCheck(configOutsideGitops, load(GENERATED, file));
      assert.deepEqual(findings, []);
      assert.deepEqual(unknown, []);
    });
  }
});

corpusDescribe("install golden: validating webhook", () => {
  // The README reads istio-validator-istio-system as "the default" validator. It is the
  // revision validator: its objectSelector admits only objects labelled istio.io/rev=default,
  // and istiod-default-validator is left out of these renders (the charts add it only with
  // defaultRevision set; istioctl install creates it itself). We therefore report the default
  // validator as missing, at medium because an offline render may simply not contain it, and
  // we do not report the revision validator's failurePolicy Ignore, which istiod switches to
  // Fail once it is ready.
  for (const file of DEFAULT_INSTALLS) {
    it(`reports istiod-default-validator missing at medium, naming the revision validator (${file})`, () => {
      const { findings, unknown } = runCheck(validationWebhookMissing, load(GENERATED, file));
      assert.deepEqual(unknown, []);
      assert.deepEqual(resources(findings), [
        "ValidatingWebhookConfiguration istiod-default-validator",
      ]);
      const [first] = findings;
      assert.ok(first);
      assert.equal(first.severity, "medium");
      assert.match(first.message, /Only istio-validator-istio-system exist/);
    });
  }

  const chartCases: { file: string; expect: string[]; why: string }[] = [
    { file: "base-webhook-failure-policy.golden.yaml", expect: [], why: "Fail, calls istiod" },
    { file: "base-webhook-cabundle-policy.golden.yaml", expect: [], why: "Fail, with caBundle" },
    { file: "base-webhook-upgrade-failure-policy.golden.yaml", expect: [], why: "Fail" },
    {
      file: "base-webhook-install.golden.yaml",
      expect: ["ValidatingWebhookConfiguration istiod-default-validator"],
      why: "Ignore until istiod is ready; a snapshot cannot tell it from Ignore that persists",
    },
    {
      file: "base-webhook-upgrade-ignore.golden.yaml",
      expect: ["ValidatingWebhookConfiguration istiod-default-validator"],
      why: "Ignore kept through an upgrade",
    },
  ];
  for (const c of chartCases) {
    it(`judges ${c.file} (${c.why})`, () => {
      const { findings, unknown } = runCheck(validationWebhookMissing, load(CHARTS, c.file));
      assert.deepEqual(unknown, []);
      assert.deepEqual(resources(findings), c.expect);
      for (const f of findings) assert.equal(f.severity, "medium");
    });
  }
});
