// istioctl analyze's own test inputs, for the analyzers that overlap our mTLS (S-01/T-01/I-01)
// and authorization (E-02) checks: IST0127 NoMatchingWorkloadsFound and IST0101
// ReferencedResourceNotFound on AuthorizationPolicies, IST0166 IneffectiveSelector, IST0171
// NegativeConditionStatus, IST0103 PodMissingProxy, IST0144 InvalidApplicationUID and
// IST0128/IST0129 (DestinationRule TLS without CA certificates). Each case states the resources the
// analyzer flags (from the folder's README; `default/` is added where the YAML sets no namespace,
// since both tools place the object there) and the resources we flag. Where they differ, the case
// says why. The T-03/E-03 analyzers are in istio-analyzers.test.ts.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import type { Check } from "../../operator/engine/check.js";
import {
  authzAllowAll,
  authzSelectorMatchesNothing,
  authzUnknownSourceNamespace,
  authzUnsafePattern,
} from "../../operator/engine/checks/authz.js";
import {
  destinationRuleTlsDisabled,
  destinationRuleTlsUnverified,
} from "../../operator/engine/checks/destinationrule.js";
import { proxyCaptureBypass, workloadOutsideMesh } from "../../operator/engine/checks/workloads.js";
import { objectsFromYaml, resources, runCheck } from "../support/engine.js";

const UPSTREAM = new URL("../../../../shared/cases/upstream/", import.meta.url);
const DIR = new URL("istio-analyzers-testdata/", UPSTREAM);
const skip = existsSync(DIR) ? false : "../shared/cases/upstream not found";

interface Case {
  name: string;
  files: string[];
  checks: Check[];
  /** Resources the analyzer flags, per the README's table (deduplicated). */
  analyzer: string[];
  /** Resources we flag. */
  ours: string[];
  /** Why we differ from the analyzer, when we do. */
  differs?: string;
}

const POLICY_CHECKS = [
  authzAllowAll,
  authzUnsafePattern,
  authzSelectorMatchesNothing,
  authzUnknownSourceNamespace,
];
const CAPTURE_CHECKS = [proxyCaptureBypass, workloadOutsideMesh];
const DR_CHECKS = [destinationRuleTlsUnverified, destinationRuleTlsDisabled];

const SYSTEM_TRUST =
  "an empty CA list makes the proxy verify the server against the system trust store, with SANs " +
  "checked automatically; only insecureSkipVerify: true turns verification off, so this is not " +
  "an unverified connection (the analyzer asks for an explicit CA)";

function drCase(file: string, analyzer: string[]): Case {
  return {
    name: `${file}: TLS origination with ${analyzer.length ? "no caCertificates" : "a CA or a workload-scoped credential"}`,
    files: [file],
    checks: DR_CHECKS,
    analyzer,
    ours: [],
    ...(analyzer.length ? { differs: SYSTEM_TRUST } : {}),
  };
}

const CASES: Case[] = [
  {
    name: "authorizationpolicies.yaml: policies whose selector matches no workload (IST0127)",
    files: ["authorizationpolicies.yaml"],
    checks: [authzSelectorMatchesNothing],
    analyzer: [
      "AuthorizationPolicy httpbin-empty/httpbin-empty-namespace-wide",
      "AuthorizationPolicy httpbin/httpbin-nopods",
      "AuthorizationPolicy istio-system/meshwide-httpbin-v1",
      "AuthorizationPolicy test-ambient/no-workload",
    ],
    ours: [
      "AuthorizationPolicy httpbin/httpbin-nopods",
      "AuthorizationPolicy istio-system/meshwide-httpbin-v1",
      "AuthorizationPolicy test-ambient/no-workload",
    ],
    differs:
      "httpbin-empty-namespace-wide has no selector: it covers whatever is deployed in its " +
      "namespace later, so an empty namespace is not a label typo; we judge selectors only",
  },
  {
    name: "authorizationpolicies.yaml: source namespaces that match no namespace (IST0101)",
    files: ["authorizationpolicies.yaml"],
    checks: [authzUnknownSourceNamespace],
    analyzer: [
      "AuthorizationPolicy httpbin/httpbin-bogus-not-ns",
      "AuthorizationPolicy httpbin/httpbin-bogus-ns",
    ],
    ours: [],
    differs:
      "the unmatched values are patterns (`*-bogus`, `bogus-*`), which name namespaces that may be " +
      "created later on purpose; we report only exact names that do not exist",
  },
  {
    name: "authorizationpolicies.yaml: no allow-all or negative-match policy besides httpbin-bogus-not-ns",
    files: ["authorizationpolicies.yaml"],
    checks: [authzAllowAll, authzUnsafePattern],
    analyzer: [],
    ours: ["AuthorizationPolicy httpbin/httpbin-bogus-not-ns"],
    differs:
      "httpbin-bogus-not-ns allows with notNamespaces, which admits every namespace not listed " +
      "(authz-unsafe-pattern); the analyzer does not judge negative matches",
  },
  {
    name: "k8sgateway-selector.yaml: a selector on a Gateway API gateway pod (IST0166)",
    files: ["k8sgateway-selector.yaml"],
    checks: POLICY_CHECKS,
    analyzer: ["AuthorizationPolicy default/ap-ineffective"],
    ours: [],
    differs:
      "our checks treat a selector that matches a pod's labels as applying; Istio ignores " +
      "selectors on pods of Gateway API gateways (targetRefs is needed). No check models that " +
      "yet, so an allow-nothing policy meant for such a gateway is taken as effective",
  },
  {
    name: "condition-analyzer.yaml: AuthorizationPolicies whose status reports a problem (IST0171)",
    files: ["condition-analyzer.yaml"],
    checks: POLICY_CHECKS,
    analyzer: [
      "AuthorizationPolicy default/negative-condition-authz",
      "AuthorizationPolicy default/negative-condition-authz-partially-invalid",
    ],
    ours: [],
    differs:
      "we judge the spec, not the status conditions the control plane writes; both policies " +
      "have an empty spec here",
  },
  {
    name: "injection.yaml: pods without a proxy in injected namespaces (IST0103)",
    files: ["injection.yaml"],
    checks: [workloadOutsideMesh],
    analyzer: ["Pod default/noninjectedpod"],
    ours: [
      "Pod default/noninjectedpod",
      "Pod default/noninjectedpodhostnetwork",
      "Pod default/podinjectiondisabled",
      "Pod default/podinjectiondisabled-label",
      "Pod default/podinjectiondisabled-label-and-anno",
    ],
    differs:
      "an explicit opt-out (sidecar.istio.io/inject=false) is what the analyzer accepts, but the " +
      "pod still sends and accepts plaintext in a meshed namespace, so we report it; a host-network " +
      "pod is reported at low severity because it can never be meshed",
  },
  // The two bare Pods carry no istio-proxy container, so we flag them for being outside the mesh
  // (workload-outside-mesh) rather than for the UID: the same resource for a different reason.
  {
    name: "pod-sec-uid.yaml: a Pod running as UID 1337 (IST0144)",
    files: ["pod-sec-uid.yaml"],
    checks: CAPTURE_CHECKS,
    analyzer: ["Pod default/pod-sec-uid"],
    ours: ["Pod default/pod-sec-uid"],
  },
  {
    name: "pod-con-sec-uid.yaml: a container running as UID 1337 (IST0144)",
    files: ["pod-con-sec-uid.yaml"],
    checks: CAPTURE_CHECKS,
    analyzer: ["Pod default/con-sec-uid"],
    ours: ["Pod default/con-sec-uid"],
  },
  {
    name: "deployment-pod-sec-uid.yaml: a Deployment whose pods run as UID 1337 (IST0144)",
    files: ["deployment-pod-sec-uid.yaml"],
    checks: CAPTURE_CHECKS,
    analyzer: ["Deployment default/deploy-pod-sec-uid"],
    ours: ["Deployment default/deploy-pod-sec-uid"],
  },
  {
    name: "deployment-con-sec-uid.yaml: a Deployment container running as UID 1337 (IST0144)",
    files: ["deployment-con-sec-uid.yaml"],
    checks: CAPTURE_CHECKS,
    analyzer: ["Deployment default/deploy-con-sec-uid"],
    ours: ["Deployment default/deploy-con-sec-uid"],
  },
  drCase("destinationrule-simple-destination.yaml", ["DestinationRule default/db-tls"]),
  drCase("destinationrule-mutual-destination.yaml", ["DestinationRule default/db-mtls"]),
  drCase("destinationrule-simple-port.yaml", ["DestinationRule default/db-tls"]),
  drCase("destinationrule-simple-destination-credentialname.yaml", [
    "DestinationRule default/db-tls",
  ]),
  drCase("destinationrule-simple-destination-credentialname-selector.yaml", []),
  drCase("destinationrule-simple-port-credentialname.yaml", ["DestinationRule default/db-tls"]),
  drCase("destinationrule-simple-port-credentialname-selector.yaml", []),
  drCase("destinationrule-mutual-port.yaml", ["DestinationRule default/db-mtls"]),
  drCase("destinationrule-compound-simple-mutual.yaml", ["DestinationRule default/db-mtls"]),
  drCase("destinationrule-compound-mutual-simple.yaml", ["DestinationRule default/db-mtls"]),
  drCase("destinationrule-with-ca.yaml", []),
];

function load(files: string[]): string {
  return files.map((f) => readFileSync(new URL(f, DIR), "utf8")).join("\n---\n");
}

function flagged(c: Case): string[] {
  const objects = objectsFromYaml(load(c.files));
  const all = c.checks.flatMap((check) => resources(runCheck(check, objects).findings));
  return [...new Set(all)].sort();
}

describe("istio analyzer corpus: mTLS and authorization overlap", () => {
  for (const c of CASES) {
    it(c.name, { skip }, () => {
      const ours = flagged(c);
      assert.deepEqual(ours, [...c.ours].sort());
      // Agreement or a recorded reason: every difference from the analyzer must be explained.
      const analyzer = [...c.analyzer].sort();
      const same = ours.length === analyzer.length && analyzer.every((r, i) => r === ours[i]);
      if (!same) assert.ok(c.differs, "differs from istioctl analyze without a recorded reason");
    });
  }
});
