// istioctl analyze's own test inputs, for the analyzers that overlap T-03 (EnvoyFilter patch
// analyzers, IST0151-0155) and E-03 (webhook IST0139, external control plane IST0163/0164,
// injection image IST0146/0147/0158). Each case states the resources the analyzer flags (from the
// folder's README) and the resources we flag. Where they differ, the case says why; our question
// is "is this a security risk to the mesh", istioctl's is "is this configuration well-formed".

import { it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { Check } from "../../operator/engine/check.js";
import { envoyFilterUnexpected } from "../../operator/engine/checks/envoyfilter.js";
import {
  injectorWebhookIntegrity,
  proxyImageUntrusted,
} from "../../operator/engine/checks/injector.js";
import { objectsFromYaml, policyFromYaml, resources, runCheck } from "../support/engine.js";
import { corpusDescribe } from "../support/corpus.js";

const UPSTREAM = new URL("../../../../shared/cases/upstream/", import.meta.url);
const DIR = new URL("istio-analyzers-testdata/", UPSTREAM);

const ALLOW_TEST_COM = `
apiVersion: meshcompliance.io/v1alpha1
kind: ThreatPolicy
metadata: {name: external-control-plane}
spec:
  injector:
    allowedURLs: ["https://test.com/inject/*"]
`;

interface Case {
  name: string;
  files: string[];
  check: Check;
  policy?: string;
  /** Resources the analyzer flags, per the README's table (deduplicated). */
  analyzer: string[];
  /** Resources we flag. */
  ours: string[];
  /** Severity we give each flagged resource, where it matters. */
  severities?: Record<string, string>;
  /** Why we differ from the analyzer, when we do. */
  differs?: string;
}

const EVERY_FILTER =
  "envoyfilter-unexpected reports every EnvoyFilter that the policy does not allow, whatever its " +
  "patch order; the analyzer only judges operation misuse";

const CASES: Case[] = [
  {
    name: "webhook.yaml: injectors calling a fake Service, or istiod without the /inject path",
    files: ["webhook.yaml"],
    check: injectorWebhookIntegrity,
    analyzer: [
      "MutatingWebhookConfiguration istio-sidecar-injector-missing-overlap",
      "MutatingWebhookConfiguration istio-sidecar-injector-overlap",
    ],
    ours: [
      "MutatingWebhookConfiguration istio-sidecar-injector-missing-overlap",
      "MutatingWebhookConfiguration istio-sidecar-injector-overlap",
    ],
  },
  {
    name: "externalcontrolplane-valid-urls.yaml with the URLs allowed by the policy",
    files: ["externalcontrolplane-valid-urls.yaml"],
    check: injectorWebhookIntegrity,
    policy: ALLOW_TEST_COM,
    analyzer: [],
    ours: [],
  },
  {
    name: "externalcontrolplane-valid-urls-custom-ns.yaml with the URLs allowed by the policy",
    files: ["externalcontrolplane-valid-urls-custom-ns.yaml"],
    check: injectorWebhookIntegrity,
    policy: ALLOW_TEST_COM,
    analyzer: [],
    ours: [],
  },
  {
    name: "externalcontrolplane-valid-urls.yaml without an allow-list",
    files: ["externalcontrolplane-valid-urls.yaml"],
    check: injectorWebhookIntegrity,
    analyzer: [],
    ours: ["MutatingWebhookConfiguration istio-sidecar-injector-external-istiod"],
    differs:
      "a URL client config sends every pod to an endpoint outside the cluster; it is legitimate " +
      "only for an external control plane, which the policy must declare (injector.allowedURLs)",
  },
  {
    name: "externalcontrolplane-missing-urls.yaml: an injector webhook with an empty URL",
    files: ["externalcontrolplane-missing-urls.yaml"],
    check: injectorWebhookIntegrity,
    policy: ALLOW_TEST_COM,
    analyzer: [
      "MutatingWebhookConfiguration istio-sidecar-injector-external-istiod",
      "ValidatingWebhookConfiguration istio-validator-external-istiod",
    ],
    ours: ["MutatingWebhookConfiguration istio-sidecar-injector-external-istiod"],
    differs:
      "the validating webhook belongs to T-02 (validation-webhook-missing), not to the injector checks",
  },
  {
    name: "externalcontrolplane-missing-urls-custom-ns.yaml: the same in a custom namespace",
    files: ["externalcontrolplane-missing-urls-custom-ns.yaml"],
    check: injectorWebhookIntegrity,
    policy: ALLOW_TEST_COM,
    analyzer: [
      "MutatingWebhookConfiguration istio-sidecar-injector-custom-ns",
      "ValidatingWebhookConfiguration istio-validator-custom-ns",
    ],
    ours: ["MutatingWebhookConfiguration istio-sidecar-injector-custom-ns"],
    differs:
      "the validating webhook belongs to T-02 (validation-webhook-missing), not to the injector checks",
  },
  {
    name: "externalcontrolplane-using-ip-addr.yaml: one webhook calls an IP address",
    files: ["externalcontrolplane-using-ip-addr.yaml"],
    check: injectorWebhookIntegrity,
    policy: ALLOW_TEST_COM,
    analyzer: ["MutatingWebhookConfiguration istio-sidecar-injector-external-istiod"],
    ours: ["MutatingWebhookConfiguration istio-sidecar-injector-external-istiod"],
  },
  {
    name: "injection-with-mismatched-sidecar.yaml: proxies on an older version of the same image",
    files: ["injection-with-mismatched-sidecar.yaml", "common/sidecar-injector-configmap.yaml"],
    check: proxyImageUntrusted,
    analyzer: ["Namespace enabled-namespace", "Namespace enabled-namespace-native"],
    ours: [],
    differs:
      "IST0158 is about version skew (E-01, proxy-version-skew); every proxy here comes from the " +
      "injector's own registry (global.hub registry.istio.io/release), so none is untrusted",
  },
  {
    name: "image-auto.yaml: `image: auto` where no injection replaces it",
    files: ["image-auto.yaml"],
    check: proxyImageUntrusted,
    analyzer: [
      "Deployment not-injected/non-injected-gateway-deployment",
      "Pod default/injected-pod",
    ],
    ours: [],
    differs:
      "`auto` is a placeholder the injector replaces; left unreplaced, the pod fails to pull it, " +
      "which is an availability problem, not a foreign proxy",
  },
  {
    name: "k8sgateway-selector.yaml: a WasmPlugin (IST0166 flags only its ineffective selector)",
    files: ["k8sgateway-selector.yaml"],
    check: envoyFilterUnexpected,
    analyzer: ["WasmPlugin default/wasmplugin-ineffective"],
    ours: ["WasmPlugin default/wasmplugin-ineffective"],
    severities: { "WasmPlugin default/wasmplugin-ineffective": "high" },
  },
  {
    name: "relative-envoy-filter-operation.yaml: Lua filters with relative patch order",
    files: ["relative-envoy-filter-operation.yaml"],
    check: envoyFilterUnexpected,
    analyzer: [
      "EnvoyFilter bookinfo/test-relative-1",
      "EnvoyFilter bookinfo/test-relative-2",
      "EnvoyFilter bookinfo/test-relative-3",
    ],
    ours: [
      "EnvoyFilter bookinfo/test-relative-1",
      "EnvoyFilter bookinfo/test-relative-2",
      "EnvoyFilter bookinfo/test-relative-3",
    ],
    severities: { "EnvoyFilter bookinfo/test-relative-1": "high" },
  },
  {
    name: "absolute-envoy-filter-operation.yaml: Lua filters with a pinned order",
    files: ["absolute-envoy-filter-operation.yaml"],
    check: envoyFilterUnexpected,
    analyzer: [],
    ours: ["EnvoyFilter bookinfo/test-reviews-lua-1", "EnvoyFilter bookinfo/test-reviews-lua-2"],
    differs: `${EVERY_FILTER}; both run Lua and add a cluster outside the mesh (high)`,
  },
  {
    name: "envoy-filter-filterchain.yaml: a selector-less FILTER_CHAIN merge",
    files: ["envoy-filter-filterchain.yaml"],
    check: envoyFilterUnexpected,
    analyzer: [],
    ours: ["EnvoyFilter egress/test-patch-filter-chain"],
    severities: { "EnvoyFilter egress/test-patch-filter-chain": "high" },
    differs: `${EVERY_FILTER}; this one has no selector, so it applies to the whole namespace`,
  },
  {
    name: "envoy-filter-replace-operation.yaml: REPLACE misuse",
    files: ["envoy-filter-replace-operation.yaml"],
    check: envoyFilterUnexpected,
    analyzer: ["EnvoyFilter bookinfo/test-replace-1", "EnvoyFilter bookinfo/test-replace-3"],
    ours: [
      "EnvoyFilter bookinfo/test-replace-1",
      "EnvoyFilter bookinfo/test-replace-2",
      "EnvoyFilter bookinfo/test-replace-3",
    ],
    // test-replace-3 REPLACEs HTTP and network filters with no filter name: every filter,
    // authorization included, is replaced.
    severities: { "EnvoyFilter bookinfo/test-replace-3": "critical" },
    differs: EVERY_FILTER,
  },
  {
    name: "envoy-filter-add-operation.yaml: ADD misuse",
    files: ["envoy-filter-add-operation.yaml"],
    check: envoyFilterUnexpected,
    analyzer: ["EnvoyFilter bookinfo/test-auth-2", "EnvoyFilter bookinfo/test-auth-3"],
    ours: [
      "EnvoyFilter bookinfo/test-auth-1",
      "EnvoyFilter bookinfo/test-auth-2",
      "EnvoyFilter bookinfo/test-auth-3",
      "EnvoyFilter bookinfo/test-auth-4",
      "EnvoyFilter bookinfo/test-auth-5",
    ],
    differs: EVERY_FILTER,
  },
  {
    name: "envoy-filter-remove-operation.yaml: REMOVE misuse",
    files: ["envoy-filter-remove-operation.yaml"],
    check: envoyFilterUnexpected,
    analyzer: [
      "EnvoyFilter bookinfo/test-remove-1",
      "EnvoyFilter bookinfo/test-remove-2",
      "EnvoyFilter bookinfo/test-remove-3",
      "EnvoyFilter bookinfo/test-remove-5",
    ],
    ours: [
      "EnvoyFilter bookinfo/test-remove-1",
      "EnvoyFilter bookinfo/test-remove-2",
      "EnvoyFilter bookinfo/test-remove-3",
      "EnvoyFilter bookinfo/test-remove-4",
      "EnvoyFilter bookinfo/test-remove-5",
    ],
    // test-remove-5 removes NETWORK_FILTERs with no match: every network filter goes, rbac included.
    severities: { "EnvoyFilter bookinfo/test-remove-5": "critical" },
    differs: EVERY_FILTER,
  },
  {
    name: "envoy-filter-patch-operation.yaml (no upstream verdict): REPLACE of every HTTP filter",
    files: ["envoy-filter-patch-operation.yaml"],
    check: envoyFilterUnexpected,
    analyzer: [],
    ours: [
      "EnvoyFilter bookinfo/test-patch-1",
      "EnvoyFilter bookinfo/test-patch-2",
      "EnvoyFilter bookinfo/test-patch-3",
    ],
    severities: { "EnvoyFilter bookinfo/test-patch-1": "critical" },
    differs: "no analyzer case uses this file; we flag every filter, test-patch-1 as critical",
  },
];

function load(files: string[]): string {
  return files.map((f) => readFileSync(new URL(f, DIR), "utf8")).join("\n---\n");
}

corpusDescribe("istio analyzer corpus: T-03 and E-03 overlap", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const options = c.policy ? { policy: policyFromYaml(c.policy) } : {};
      const { findings } = runCheck(c.check, objectsFromYaml(load(c.files)), options);
      const ours = [...new Set(resources(findings))];
      assert.deepEqual(ours, [...c.ours].sort());
      for (const [resource, severity] of Object.entries(c.severities ?? {})) {
        const f = findings.find((x) => resources([x])[0] === resource);
        assert.equal(f?.severity, severity, resource);
      }
      // Agreement or a recorded reason: every difference from the analyzer must be explained.
      const same =
        ours.length === c.analyzer.length && [...c.analyzer].sort().every((r, i) => r === ours[i]);
      if (!same) assert.ok(c.differs, `differs from istioctl analyze without a recorded reason`);
    });
  }
});
