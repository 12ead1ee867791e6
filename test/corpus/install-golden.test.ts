// Istio's rendered install manifests (istioctl manifest generate golden files). A default install
// must give no E-03 or T-03 finding; the one golden file whose overlay rewrites the injector's
// Service must. The injector fingerprint is checked for stability on the same real objects.

import { it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { envoyFilterUnexpected } from "../../operator/engine/checks/envoyfilter.js";
import {
  foreignPodMutation,
  injectorWebhookIntegrity,
  proxyImageUntrusted,
  rbacWebhookWrite,
} from "../../operator/engine/checks/injector.js";
import { injectorFingerprint } from "../../operator/engine/fingerprint.js";
import { Snapshot } from "../../operator/engine/snapshot.js";
import type { KubeObject } from "../../operator/engine/types.js";
import { objectsFromYaml, resources, runCheck } from "../support/engine.js";
import { corpusDescribe } from "../support/corpus.js";

const UPSTREAM = new URL("../../../../shared/cases/upstream/", import.meta.url);
const OUT = new URL("istio-install-golden/cmd/mesh/testdata/manifest-generate/output/", UPSTREAM);

function load(file: string): KubeObject[] {
  return objectsFromYaml(readFileSync(new URL(file, OUT), "utf8"));
}

const DEFAULT_INSTALLS = [
  "pilot_default.golden.yaml",
  "all_on.golden-show-in-gh-pull-request.yaml",
];

corpusDescribe("install golden: a default Istio install", () => {
  for (const file of DEFAULT_INSTALLS) {
    it(`gives no injector, webhook, RBAC, image or EnvoyFilter finding (${file})`, () => {
      const objects = load(file);
      for (const check of [
        injectorWebhookIntegrity,
        foreignPodMutation,
        rbacWebhookWrite,
        proxyImageUntrusted,
        envoyFilterUnexpected,
      ]) {
        const { findings, unknown } = runCheck(check, objects);
        assert.deepEqual(resources(findings), [], check.id);
        assert.deepEqual(unknown, [], check.id);
      }
    });
  }

  it("reports the injector whose overlay points it at Service foo (pilot_override_kubernetes)", () => {
    const { findings } = runCheck(
      injectorWebhookIntegrity,
      load("pilot_override_kubernetes.golden.yaml"),
    );
    assert.deepEqual(resources(findings), [
      "MutatingWebhookConfiguration istio-sidecar-injector-istio-control",
    ]);
    assert.match(findings[0]?.message ?? "", /Service foo/);
  });
});

corpusDescribe("install golden: injector fingerprint stability", () => {
  const objects = (): KubeObject[] => load("pilot_default.golden.yaml");
  const print = (list: KubeObject[]): string =>
    injectorFingerprint(new Snapshot(list), "istio-system")?.fingerprint ?? "";

  function edit(list: KubeObject[], kind: string, name: string, change: (o: KubeObject) => void) {
    const target = list.find((o) => o.kind === kind && o.metadata.name === name);
    assert.ok(target, `${kind} ${name} present`);
    change(target);
    return list;
  }

  it("covers the injector webhook and the istio and istio-sidecar-injector ConfigMaps", () => {
    const result = injectorFingerprint(new Snapshot(objects()), "istio-system");
    assert.ok(result);
    assert.deepEqual(result.webhooks, ["istio-sidecar-injector"]);
    assert.deepEqual(result.configMaps, [
      "istio-system/istio",
      "istio-system/istio-sidecar-injector",
    ]);
  });

  it("gives the same fingerprint for the same input", () => {
    assert.match(print(objects()), /^sha256:[0-9a-f]{64}$/);
    assert.equal(print(objects()), print(objects()));
  });

  it("does not change when istiod patches caBundle", () => {
    const patched = edit(
      objects(),
      "MutatingWebhookConfiguration",
      "istio-sidecar-injector",
      (o) => {
        for (const hook of o.webhooks as { clientConfig: Record<string, unknown> }[]) {
          hook.clientConfig.caBundle = "LS0tLS1CRUdJTi0tLS0t";
        }
      },
    );
    assert.equal(print(patched), print(objects()));
  });

  it("changes when the injector ConfigMap changes", () => {
    const changed = edit(objects(), "ConfigMap", "istio-sidecar-injector", (o) => {
      const data = o.data as Record<string, string>;
      data.config = `${data.config ?? ""}\n# changed`;
    });
    assert.notEqual(print(changed), print(objects()));
  });

  it("changes when a webhook's Service changes", () => {
    const changed = edit(
      objects(),
      "MutatingWebhookConfiguration",
      "istio-sidecar-injector",
      (o) => {
        const [first] = o.webhooks as { clientConfig: { service: { name: string } } }[];
        if (first) first.clientConfig.service.name = "attacker";
      },
    );
    assert.notEqual(print(changed), print(objects()));
  });
});
