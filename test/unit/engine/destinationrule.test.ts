import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Check } from "../../../operator/engine/check.js";
import {
  destinationRuleTlsDisabled,
  destinationRuleTlsUnverified,
  hostNamespace,
} from "../../../operator/engine/checks/destinationrule.js";
import { resources, runCheck } from "../../support/engine.js";

const NAMESPACES = `apiVersion: v1
kind: Namespace
metadata:
  name: app
  labels:
    istio-injection: enabled
---
apiVersion: v1
kind: Namespace
metadata:
  name: legacy
  labels:
    istio-injection: disabled
---
apiVersion: v1
kind: Namespace
metadata:
  name: istio-system`;

function dr(name: string, host: string, trafficPolicy: string, namespace = "app"): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  host: "${host}"
${trafficPolicy}`;
}

const DISABLE = "  trafficPolicy:\n    tls:\n      mode: DISABLE";
const doc = (...parts: string[]): string => parts.join("\n---\n");

interface Case {
  name: string;
  check: Check;
  yaml: string;
  expect: string[];
  message?: RegExp;
}

const CASES: Case[] = [
  {
    name: "reports DISABLE for a short service name in an enrolled namespace",
    check: destinationRuleTlsDisabled,
    yaml: doc(NAMESPACES, dr("r", "reviews", DISABLE)),
    expect: ["DestinationRule app/r"],
  },
  {
    name: "passes ISTIO_MUTUAL",
    check: destinationRuleTlsDisabled,
    yaml: doc(
      NAMESPACES,
      dr("r", "reviews", "  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUAL"),
    ),
    expect: [],
  },
  {
    name: "reports DISABLE set per port",
    check: destinationRuleTlsDisabled,
    yaml: doc(
      NAMESPACES,
      dr(
        "r",
        "reviews.app.svc.cluster.local",
        "  trafficPolicy:\n    portLevelSettings:\n      - port:\n          number: 9080\n        tls:\n          mode: DISABLE",
      ),
    ),
    expect: ["DestinationRule app/r"],
    message: /port 9080/,
  },
  {
    name: "reports DISABLE set per subset",
    check: destinationRuleTlsDisabled,
    yaml: doc(
      NAMESPACES,
      dr(
        "r",
        "reviews.app.svc",
        "  subsets:\n    - name: v1\n      trafficPolicy:\n        tls:\n          mode: DISABLE",
      ),
    ),
    expect: ["DestinationRule app/r"],
    message: /subset v1/,
  },
  {
    name: "reports a mesh-wide wildcard host in the root namespace",
    check: destinationRuleTlsDisabled,
    yaml: doc(NAMESPACES, dr("all", "*.local", DISABLE, "istio-system")),
    expect: ["DestinationRule istio-system/all"],
  },
  {
    name: "passes DISABLE towards a namespace outside the mesh",
    check: destinationRuleTlsDisabled,
    yaml: doc(NAMESPACES, dr("r", "db.legacy.svc.cluster.local", DISABLE)),
    expect: [],
  },
  {
    name: "passes DISABLE towards an external DNS name",
    check: destinationRuleTlsDisabled,
    yaml: doc(NAMESPACES, dr("r", "api.example.com", DISABLE)),
    expect: [],
  },
  {
    name: "passes DISABLE towards a ServiceEntry host",
    check: destinationRuleTlsDisabled,
    yaml: doc(
      NAMESPACES,
      "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: legacy-db\n  namespace: app\nspec:\n  hosts: [db.internal.cluster.local]\n  resolution: DNS",
      dr("r", "db.internal.cluster.local", DISABLE),
    ),
    expect: [],
  },
  {
    name: "resolves name.namespace only for a declared namespace",
    check: destinationRuleTlsDisabled,
    yaml: doc(NAMESPACES, dr("r", "reviews.app", DISABLE), dr("ext", "example.com", DISABLE)),
    expect: ["DestinationRule app/r"],
  },
  // destinationrule-tls-unverified
  {
    name: "reports insecureSkipVerify",
    check: destinationRuleTlsUnverified,
    yaml: doc(
      NAMESPACES,
      dr(
        "r",
        "api.example.com",
        "  trafficPolicy:\n    tls:\n      mode: SIMPLE\n      insecureSkipVerify: true",
      ),
    ),
    expect: ["DestinationRule app/r"],
  },
  {
    name: "passes an empty caCertificates (system trust store, SANs checked)",
    check: destinationRuleTlsUnverified,
    yaml: doc(
      NAMESPACES,
      dr(
        "r",
        "api.example.com",
        '  trafficPolicy:\n    tls:\n      mode: SIMPLE\n      caCertificates: ""',
      ),
    ),
    expect: [],
  },
  {
    name: "treats a string insecureSkipVerify as absent",
    check: destinationRuleTlsUnverified,
    yaml: doc(
      NAMESPACES,
      dr(
        "r",
        "api.example.com",
        '  trafficPolicy:\n    tls:\n      mode: SIMPLE\n      insecureSkipVerify: "yes"',
      ),
    ),
    expect: [],
  },
  {
    name: "reports insecureSkipVerify on a subset port",
    check: destinationRuleTlsUnverified,
    yaml: doc(
      NAMESPACES,
      dr(
        "r",
        "api.example.com",
        "  subsets:\n    - name: v2\n      trafficPolicy:\n        portLevelSettings:\n          - port: {number: 443}\n            tls: {mode: SIMPLE, insecureSkipVerify: true}",
      ),
    ),
    expect: ["DestinationRule app/r"],
    message: /subset v2 port 443/,
  },
];

describe("DestinationRule checks", () => {
  for (const c of CASES) {
    it(`${c.check.id}: ${c.name}`, () => {
      const run = runCheck(c.check, c.yaml);
      assert.deepEqual(run.unknown, []);
      assert.deepEqual(resources(run.findings), c.expect);
      if (c.message) {
        for (const f of run.findings) assert.match(f.message, c.message);
      }
    });
  }

  it("resolves hosts to namespaces the way Kubernetes service names read", () => {
    const known = (n: string): boolean => n === "app";
    assert.equal(hostNamespace("reviews", "app", known), "app");
    assert.equal(hostNamespace("reviews.app", "x", known), "app");
    assert.equal(hostNamespace("reviews.other", "x", known), undefined);
    assert.equal(hostNamespace("reviews.b.svc", "x", known), "b");
    assert.equal(hostNamespace("*.b.svc.cluster.local", "x", known), "b");
    assert.equal(hostNamespace("*", "x", known), "*");
    assert.equal(hostNamespace("www.example.com", "x", known), undefined);
  });

  it("reports unknown when DestinationRules cannot be read", () => {
    const run = runCheck(destinationRuleTlsDisabled, NAMESPACES, {
      snapshot: { unavailable: new Map([["networking.istio.io/DestinationRule", "forbidden"]]) },
    });
    assert.deepEqual(run.findings, []);
    assert.ok(run.unknown.length >= 1);
  });
});
