import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  appliesTo,
  denyByDefault,
  effectOf,
  parseAuthorizationPolicy,
  tcpRuleEffect,
  type AuthzEffect,
} from "../../../operator/engine/authz.js";
import {
  authzAllowAll,
  authzIdentityWithoutMtls,
  authzNoDefaultDeny,
  authzSelectorMatchesNothing,
  authzUnknownSourceNamespace,
  authzUnsafePattern,
} from "../../../operator/engine/checks/authz.js";
import type { Check } from "../../../operator/engine/check.js";
import { K } from "../../../operator/engine/kinds.js";
import { objectsFromYaml, policyFromYaml, resources, runCheck } from "../../support/engine.js";

// ------------------------------------------------------------------------------------------------
// Builders for compact YAML fixtures

function ns(name: string, labels = "istio-injection: enabled"): string {
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${name}
  labels: {${labels}}
---
`;
}

const ROOT = ns("istio-system", "");

function pod(namespace: string, name: string, app: string): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${namespace}
  labels: {app: ${app}}
  annotations: {sidecar.istio.io/status: "{}"}
spec:
  containers: [{name: app, image: app}, {name: istio-proxy, image: proxyv2}]
---
`;
}

interface ApOptions {
  namespace?: string;
  name?: string;
  spec: string;
  annotations?: string;
}

function ap(o: ApOptions): string {
  const annotations = o.annotations ? `\n  annotations: {${o.annotations}}` : "";
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${o.name ?? "p"}
  namespace: ${o.namespace ?? "shop"}${annotations}
spec: ${o.spec}
---
`;
}

function pa(namespace: string, mode: string, selector = ""): string {
  const sel = selector ? `selector: {matchLabels: {${selector}}}, ` : "";
  return `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: pa-${namespace}${selector ? "-wl" : ""}
  namespace: ${namespace}
spec: {${sel}mtls: {mode: ${mode}}}
---
`;
}

const SHOP = ROOT + ns("shop") + pod("shop", "web-1", "web");
const STRICT = pa("istio-system", "STRICT");

interface Case {
  name: string;
  check: Check;
  yaml: string;
  expect: string[];
  severities?: string[];
  message?: RegExp;
  multiCluster?: boolean;
  namespacesComplete?: boolean;
}

function runCases(cases: Case[]): void {
  for (const c of cases) {
    it(c.name, () => {
      const policy = c.multiCluster
        ? policyFromYaml(`apiVersion: meshcompliance.io/v1alpha1
kind: ThreatPolicy
metadata: {name: mc}
spec: {multiCluster: {enabled: true}}`)
        : undefined;
      const { findings, unknown } = runCheck(c.check, c.yaml, {
        ...(policy ? { policy } : {}),
        snapshot: { namespacesComplete: c.namespacesComplete ?? false },
      });
      assert.deepEqual(unknown, []);
      assert.ok(findings.every((f) => f.check === c.check.id && f.threats.includes("E-02")));
      assert.deepEqual(resources(findings), c.expect);
      if (c.severities) assert.deepEqual(findings.map((f) => f.severity).sort(), c.severities);
      if (c.message) {
        const re = c.message;
        assert.ok(
          findings.some((f) => re.test(f.message)),
          findings.map((f) => f.message).join("\n"),
        );
      }
    });
  }
}

function policy(yaml: string): ReturnType<typeof parseAuthorizationPolicy> {
  const [o] = objectsFromYaml(yaml);
  assert.ok(o);
  return parseAuthorizationPolicy(o);
}

// ------------------------------------------------------------------------------------------------

describe("AuthorizationPolicy semantics", () => {
  const effects: { name: string; yaml: string; effect: AuthzEffect }[] = [
    {
      name: "an ALLOW with no rules field allows nothing",
      yaml: ap({ spec: "{}" }),
      effect: "allow-nothing",
    },
    {
      name: "an ALLOW with `rules: []` allows nothing, like an absent field",
      yaml: ap({ spec: "{rules: []}" }),
      effect: "allow-nothing",
    },
    {
      name: "an ALLOW with one empty rule allows everything",
      yaml: ap({ spec: "{rules: [{}]}" }),
      effect: "allow-all",
    },
    {
      name: "a rule whose from and to entries are empty matches everything",
      yaml: ap({ spec: "{rules: [{from: [{source: {}}], to: [{operation: {principals: []}}]}]}" }),
      effect: "allow-all",
    },
    {
      name: "an action left out means ALLOW",
      yaml: ap({ spec: "{rules: [{from: [{source: {namespaces: [a]}}]}]}" }),
      effect: "conditional",
    },
    {
      name: "a DENY with no rules does nothing",
      yaml: ap({ spec: "{action: DENY}" }),
      effect: "none",
    },
    {
      name: "a DENY with one empty rule denies everything",
      yaml: ap({ spec: "{action: DENY, rules: [{}]}" }),
      effect: "deny-all",
    },
    {
      name: "AUDIT never blocks, even with an empty rule",
      yaml: ap({ spec: "{action: AUDIT, rules: [{}]}" }),
      effect: "none",
    },
    {
      name: "CUSTOM depends on the external authorizer",
      yaml: ap({ spec: "{action: CUSTOM, provider: {name: x}, rules: [{}]}" }),
      effect: "conditional",
    },
    {
      name: "an action Istio does not know enforces nothing",
      yaml: ap({ spec: "{action: allow}" }),
      effect: "none",
    },
    {
      name: "dry-run `true` enforces nothing",
      yaml: ap({ spec: "{}", annotations: '"istio.io/dry-run": "true"' }),
      effect: "none",
    },
    {
      name: "dry-run `1` enforces nothing",
      yaml: ap({ spec: "{}", annotations: '"istio.io/dry-run": "1"' }),
      effect: "none",
    },
    {
      name: "dry-run `T` enforces nothing",
      yaml: ap({ spec: "{}", annotations: '"istio.io/dry-run": "T"' }),
      effect: "none",
    },
    {
      name: "dry-run `yes` is unparsable, so the policy is enforced",
      yaml: ap({ spec: "{}", annotations: '"istio.io/dry-run": "yes"' }),
      effect: "allow-nothing",
    },
    {
      name: "dry-run `false` is enforced",
      yaml: ap({ spec: "{}", annotations: '"istio.io/dry-run": "false"' }),
      effect: "allow-nothing",
    },
    {
      name: "a rule with an unknown when key is skipped by istiod, so it cannot match everything",
      yaml: ap({ spec: "{action: DENY, rules: [{when: [{key: request.bogus, values: [x]}]}]}" }),
      effect: "conditional",
    },
    {
      name: "a rules field of the wrong type reads as absent",
      yaml: ap({ spec: '{rules: "oops"}' }),
      effect: "allow-nothing",
    },
  ];
  for (const c of effects) {
    it(c.name, () => {
      assert.equal(effectOf(policy(c.yaml)), c.effect);
    });
  }

  it("applies a root-namespace policy with a selector to matching workloads in every namespace", () => {
    const p = policy(
      ap({ namespace: "istio-system", spec: "{selector: {matchLabels: {app: web}}}" }),
    );
    assert.equal(appliesTo(p, "istio-system", "shop", { app: "web", v: "1" }), true);
    assert.equal(appliesTo(p, "istio-system", "bank", { app: "web" }), true);
    assert.equal(appliesTo(p, "istio-system", "shop", { app: "db" }), false);
    assert.equal(appliesTo(p, "istio-system", "shop", undefined), false);
  });

  it("applies a namespace policy only in its namespace, and an empty matchLabels to all of it", () => {
    const p = policy(ap({ spec: "{selector: {matchLabels: {}}}" }));
    assert.equal(appliesTo(p, "istio-system", "shop", undefined), true);
    assert.equal(appliesTo(p, "istio-system", "bank", {}), false);
  });

  it("never applies a policy with targetRefs or targetRef to sidecars", () => {
    const refs = policy(
      ap({ spec: "{targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]}" }),
    );
    const ref = policy(ap({ spec: "{targetRef: {kind: Service, group: '', name: svc}}" }));
    assert.equal(appliesTo(refs, "istio-system", "shop", {}), false);
    assert.equal(appliesTo(ref, "istio-system", "shop", {}), false);
  });

  it("lets a deny-all DENY win over an allow-all ALLOW", () => {
    const all = [
      policy(ap({ spec: "{rules: [{}]}" })),
      policy(ap({ spec: "{action: DENY, rules: [{}]}" })),
    ];
    assert.equal(denyByDefault(all, "istio-system", "shop", {}), true);
  });

  it("does not count a CUSTOM policy as deny-by-default", () => {
    const custom = [policy(ap({ spec: "{action: CUSTOM, provider: {name: x}, rules: [{}]}" }))];
    assert.equal(denyByDefault(custom, "istio-system", "shop", {}), false);
  });

  it("never matches an ALLOW rule with an HTTP-only condition on TCP", () => {
    const rule = {
      from: [{ source: { namespaces: ["a"] } }],
      to: [{ operation: { methods: ["GET"] } }],
    };
    assert.equal(tcpRuleEffect("ALLOW", rule), "never");
    assert.equal(tcpRuleEffect("ALLOW", { to: [{ operation: { ports: ["80"] } }] }), "conditional");
  });

  it("widens a DENY rule on TCP by dropping its HTTP-only conditions", () => {
    assert.equal(
      tcpRuleEffect("DENY", { to: [{ operation: { methods: ["GET"] } }] }),
      "everything",
    );
    assert.equal(
      tcpRuleEffect("DENY", { when: [{ key: "request.headers[x]", values: ["y"] }] }),
      "everything",
    );
    const mixed = { from: [{ source: { namespaces: ["a"], requestPrincipals: ["p"] } }] };
    assert.equal(tcpRuleEffect("DENY", mixed), "conditional");
  });
});

describe("authz-no-default-deny", () => {
  runCases([
    {
      name: "reports an in-scope namespace with a meshed workload and no AuthorizationPolicy",
      check: authzNoDefaultDeny,
      yaml: SHOP,
      expect: ["Namespace shop"],
      message: /none of its 1 meshed workloads is covered/,
    },
    {
      name: "passes a namespace with an allow-nothing policy (`spec: {}`)",
      check: authzNoDefaultDeny,
      yaml: SHOP + ap({ spec: "{}" }),
      expect: [],
    },
    {
      name: "passes a namespace with `rules: []`, which Istio reads as no rules",
      check: authzNoDefaultDeny,
      yaml: SHOP + ap({ spec: "{rules: []}" }),
      expect: [],
    },
    {
      name: "passes a namespace covered by a mesh-wide allow-nothing in the root namespace",
      check: authzNoDefaultDeny,
      yaml: SHOP + ap({ namespace: "istio-system", spec: "{}" }),
      expect: [],
    },
    {
      name: "counts a conditional ALLOW policy as deny-by-default, since unmatched requests are denied",
      check: authzNoDefaultDeny,
      yaml: SHOP + ap({ spec: "{rules: [{from: [{source: {namespaces: [front]}}]}]}" }),
      expect: [],
    },
    {
      name: "reports an allow-all (`rules: [{}]`) as not deny-by-default",
      check: authzNoDefaultDeny,
      yaml: SHOP + ap({ spec: "{rules: [{}]}" }),
      expect: ["Namespace shop"],
    },
    {
      name: "reports a namespace where an allow-all reopens a mesh-wide allow-nothing",
      check: authzNoDefaultDeny,
      yaml:
        SHOP +
        ap({ namespace: "istio-system", spec: "{}" }) +
        ap({ name: "open", spec: "{rules: [{}]}" }),
      expect: ["Namespace shop"],
    },
    {
      name: "passes a deny-all DENY even when an allow-all ALLOW exists",
      check: authzNoDefaultDeny,
      yaml:
        SHOP +
        ap({ spec: "{action: DENY, rules: [{}]}" }) +
        ap({ name: "open", spec: "{rules: [{}]}" }),
      expect: [],
    },
    {
      name: "reports a DENY policy with no rules, which does nothing",
      check: authzNoDefaultDeny,
      yaml: SHOP + ap({ spec: "{action: DENY}" }),
      expect: ["Namespace shop"],
    },
    {
      name: "reports an AUDIT policy, which never blocks",
      check: authzNoDefaultDeny,
      yaml: SHOP + ap({ spec: "{action: AUDIT, rules: [{}]}" }),
      expect: ["Namespace shop"],
    },
    {
      name: "does not count a CUSTOM policy as deny-by-default",
      check: authzNoDefaultDeny,
      yaml: SHOP + ap({ spec: "{action: CUSTOM, provider: {name: ext}, rules: [{}]}" }),
      expect: ["Namespace shop"],
    },
    {
      name: "reports an allow-nothing marked dry-run `true` and names it",
      check: authzNoDefaultDeny,
      yaml: SHOP + ap({ name: "dry", spec: "{}", annotations: '"istio.io/dry-run": "true"' }),
      expect: ["Namespace shop"],
      message: /dry-run, so enforcing nothing: shop\/dry/,
    },
    {
      name: "reports an allow-nothing marked dry-run `1`",
      check: authzNoDefaultDeny,
      yaml: SHOP + ap({ spec: "{}", annotations: '"istio.io/dry-run": "1"' }),
      expect: ["Namespace shop"],
    },
    {
      name: "reports an allow-nothing marked dry-run `T`",
      check: authzNoDefaultDeny,
      yaml: SHOP + ap({ spec: "{}", annotations: '"istio.io/dry-run": "T"' }),
      expect: ["Namespace shop"],
    },
    {
      name: "treats dry-run `yes` as unparsable, so the allow-nothing is enforced",
      check: authzNoDefaultDeny,
      yaml: SHOP + ap({ spec: "{}", annotations: '"istio.io/dry-run": "yes"' }),
      expect: [],
    },
    {
      name: "ignores an allow-nothing with targetRefs, which never applies to sidecars",
      check: authzNoDefaultDeny,
      yaml: SHOP + ap({ spec: "{targetRefs: [{kind: Service, group: '', name: web}]}" }),
      expect: ["Namespace shop"],
    },
    {
      name: "passes a workload covered by a root-namespace policy with a matching selector",
      check: authzNoDefaultDeny,
      yaml: SHOP + ap({ namespace: "istio-system", spec: "{selector: {matchLabels: {app: web}}}" }),
      expect: [],
    },
    {
      name: "lists the workloads a selector leaves open when only some are covered",
      check: authzNoDefaultDeny,
      yaml:
        SHOP + pod("shop", "db-1", "db") + ap({ spec: "{selector: {matchLabels: {app: web}}}" }),
      expect: ["Namespace shop"],
      message: /1 of 2 meshed workloads are not covered: Pod db-1/,
    },
    {
      name: "judges namespace-wide policies when the namespace has no workloads",
      check: authzNoDefaultDeny,
      yaml: ROOT + ns("shop") + ap({ spec: "{selector: {matchLabels: {app: web}}}" }),
      expect: ["Namespace shop"],
    },
    {
      name: "passes a namespace without workloads that has a namespace-wide allow-nothing",
      check: authzNoDefaultDeny,
      yaml: ROOT + ns("shop") + ap({ spec: "{}" }),
      expect: [],
    },
    {
      name: "does not judge namespaces outside the scope",
      check: authzNoDefaultDeny,
      yaml: ROOT + ns("shop", "istio-injection: disabled") + pod("shop", "web-1", "web"),
      expect: [],
    },
  ]);

  it("reports Unknown when AuthorizationPolicies could not be read", () => {
    const { findings, unknown } = runCheck(authzNoDefaultDeny, SHOP, {
      snapshot: { unavailable: new Map([[K.AuthorizationPolicy, "forbidden"]]) },
    });
    assert.deepEqual(findings, []);
    assert.equal(unknown.length, 1);
    assert.match(unknown[0]?.reason ?? "", /AuthorizationPolicy could not be read: forbidden/);
  });
});

describe("authz-allow-all", () => {
  runCases([
    {
      name: "reports an enforced ALLOW with an empty rule",
      check: authzAllowAll,
      yaml: SHOP + ap({ spec: "{rules: [{}]}" }),
      expect: ["AuthorizationPolicy shop/p"],
      severities: ["high"],
    },
    {
      name: "rates a mesh-wide allow-all as critical",
      check: authzAllowAll,
      yaml: SHOP + ap({ namespace: "istio-system", spec: "{rules: [{}]}" }),
      expect: ["AuthorizationPolicy istio-system/p"],
      severities: ["critical"],
      message: /every workload in the mesh/,
    },
    {
      name: "names the rule index of the empty rule",
      check: authzAllowAll,
      yaml: SHOP + ap({ spec: "{rules: [{from: [{source: {namespaces: [a]}}]}, {to: [{}]}]}" }),
      expect: ["AuthorizationPolicy shop/p"],
      message: /rule 1 with no condition/,
    },
    {
      name: "rates an allow-all on an ingress gateway low, as a public entry point",
      check: authzAllowAll,
      yaml:
        SHOP +
        ap({
          namespace: "istio-system",
          spec: "{selector: {matchLabels: {istio: ingressgateway}}, rules: [{}]}",
        }),
      expect: ["AuthorizationPolicy istio-system/p"],
      severities: ["low"],
      message: /an ingress gateway, accepts every request/,
    },
    {
      name: "rates an allow-all on a Gateway API gateway low",
      check: authzAllowAll,
      yaml:
        SHOP +
        ap({
          spec: '{selector: {matchLabels: {"gateway.networking.k8s.io/gateway-name": web}}, rules: [{}]}',
        }),
      expect: ["AuthorizationPolicy shop/p"],
      severities: ["low"],
    },
    {
      name: "keeps an allow-all on an egress gateway high: every workload could leave the mesh",
      check: authzAllowAll,
      yaml:
        SHOP +
        ap({
          namespace: "istio-system",
          spec: "{selector: {matchLabels: {istio: egressgateway}}, rules: [{}]}",
        }),
      expect: ["AuthorizationPolicy istio-system/p"],
      severities: ["high"],
    },
    {
      name: "passes an allow-nothing (no rules)",
      check: authzAllowAll,
      yaml: SHOP + ap({ spec: "{}" }),
      expect: [],
    },
    {
      name: "passes a DENY with an empty rule (deny-all)",
      check: authzAllowAll,
      yaml: SHOP + ap({ spec: "{action: DENY, rules: [{}]}" }),
      expect: [],
    },
    {
      name: "passes a dry-run allow-all, which enforces nothing",
      check: authzAllowAll,
      yaml: SHOP + ap({ spec: "{rules: [{}]}", annotations: '"istio.io/dry-run": "True"' }),
      expect: [],
    },
  ]);
});

describe("authz-unsafe-pattern", () => {
  runCases([
    {
      name: "reports an ALLOW that matches with notPaths and notNamespaces",
      check: authzUnsafePattern,
      yaml:
        SHOP +
        ap({
          spec: "{rules: [{from: [{source: {notNamespaces: [evil]}}], to: [{operation: {notPaths: [/admin]}}]}]}",
        }),
      expect: ["AuthorizationPolicy shop/p"],
      severities: ["medium"],
      message: /rule 0 notNamespaces, rule 0 notPaths/,
    },
    {
      name: "reports an ALLOW with a when notValues",
      check: authzUnsafePattern,
      yaml: SHOP + ap({ spec: "{rules: [{when: [{key: source.ip, notValues: [10.0.0.1]}]}]}" }),
      expect: ["AuthorizationPolicy shop/p"],
      message: /source\.ip notValues/,
    },
    {
      name: "reports a DENY on positive paths, which path normalisation can bypass",
      check: authzUnsafePattern,
      yaml: SHOP + ap({ spec: "{action: DENY, rules: [{to: [{operation: {paths: [/admin]}}]}]}" }),
      expect: ["AuthorizationPolicy shop/p"],
      message: /paths \[\/admin\]/,
    },
    {
      name: "passes a DENY with notPaths",
      check: authzUnsafePattern,
      yaml:
        SHOP + ap({ spec: "{action: DENY, rules: [{to: [{operation: {notPaths: [/public]}}]}]}" }),
      expect: [],
    },
    {
      name: "passes an ALLOW with positive matches",
      check: authzUnsafePattern,
      yaml: SHOP + ap({ spec: "{rules: [{to: [{operation: {paths: [/api], methods: [GET]}}]}]}" }),
      expect: [],
    },
    {
      name: "lowers a dry-run policy to low",
      check: authzUnsafePattern,
      yaml:
        SHOP +
        ap({
          spec: "{rules: [{to: [{operation: {notMethods: [DELETE]}}]}]}",
          annotations: '"istio.io/dry-run": "t"',
        }),
      expect: ["AuthorizationPolicy shop/p"],
      severities: ["low"],
    },
  ]);
});

describe("authz-identity-without-mtls", () => {
  const denyPrincipals = ap({
    spec: "{action: DENY, rules: [{from: [{source: {principals: [cluster.local/ns/x/sa/y]}}]}]}",
  });
  runCases([
    {
      name: "reports a DENY on principals when mTLS is PERMISSIVE by default (bypassed by plaintext)",
      check: authzIdentityWithoutMtls,
      yaml: SHOP + denyPrincipals,
      expect: ["AuthorizationPolicy shop/p"],
      severities: ["high"],
      message: /plaintext reaches Pod shop\/web-1 \(mTLS PERMISSIVE/,
    },
    {
      name: "passes the same DENY when the mesh is STRICT",
      check: authzIdentityWithoutMtls,
      yaml: SHOP + STRICT + denyPrincipals,
      expect: [],
    },
    {
      name: "reports an ALLOW on notNamespaces as admitting plaintext",
      check: authzIdentityWithoutMtls,
      yaml:
        SHOP +
        pa("shop", "PERMISSIVE") +
        ap({ spec: "{rules: [{from: [{source: {notNamespaces: [evil]}}]}]}" }),
      expect: ["AuthorizationPolicy shop/p"],
      severities: ["high"],
    },
    {
      name: "rates an ALLOW on positive principals medium: it fails closed for plaintext",
      check: authzIdentityWithoutMtls,
      yaml: SHOP + ap({ spec: "{rules: [{from: [{source: {principals: [a]}}]}]}" }),
      expect: ["AuthorizationPolicy shop/p"],
      severities: ["medium"],
    },
    {
      name: "reports a DENY on the source.namespace when key",
      check: authzIdentityWithoutMtls,
      yaml:
        SHOP +
        ap({ spec: "{action: DENY, rules: [{when: [{key: source.namespace, values: [bad]}]}]}" }),
      expect: ["AuthorizationPolicy shop/p"],
      severities: ["high"],
    },
    {
      name: "passes a DENY on notPrincipals only, which denies plaintext too",
      check: authzIdentityWithoutMtls,
      yaml:
        SHOP + ap({ spec: "{action: DENY, rules: [{from: [{source: {notPrincipals: [a]}}]}]}" }),
      expect: [],
    },
    {
      name: "passes a workload made STRICT by a workload-level PeerAuthentication",
      check: authzIdentityWithoutMtls,
      yaml:
        SHOP +
        pa("shop", "STRICT", "app: web") +
        ap({
          spec: "{selector: {matchLabels: {app: web}}, action: DENY, rules: [{from: [{source: {serviceAccounts: [ns/sa]}}]}]}",
        }),
      expect: [],
    },
    {
      name: "reports a STRICT workload with a PERMISSIVE port",
      check: authzIdentityWithoutMtls,
      yaml:
        SHOP +
        `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: web, namespace: shop}
spec: {selector: {matchLabels: {app: web}}, mtls: {mode: STRICT}, portLevelMtls: {"8080": {mode: PERMISSIVE}}}
---
` +
        denyPrincipals,
      expect: ["AuthorizationPolicy shop/p"],
      message: /port 8080 PERMISSIVE/,
    },
    {
      name: "passes policies without identity conditions",
      check: authzIdentityWithoutMtls,
      yaml: SHOP + ap({ spec: "{action: DENY, rules: [{to: [{operation: {ports: ['22']}}]}]}" }),
      expect: [],
    },
    {
      name: "judges a mesh-wide DENY once, in the root namespace, against the mesh-wide mode",
      check: authzIdentityWithoutMtls,
      yaml:
        SHOP +
        ns("bank") +
        pod("bank", "api-1", "api") +
        ap({
          namespace: "istio-system",
          spec: "{action: DENY, rules: [{from: [{source: {namespaces: [x]}}]}]}",
        }),
      expect: ["AuthorizationPolicy istio-system/p"],
      message: /plaintext reaches every workload in the mesh/,
    },
    {
      name: "reports a mesh-wide DENY in a namespace that weakens a STRICT mesh",
      check: authzIdentityWithoutMtls,
      yaml:
        SHOP +
        STRICT +
        pa("shop", "PERMISSIVE") +
        ap({
          namespace: "istio-system",
          spec: "{action: DENY, rules: [{from: [{source: {namespaces: [x]}}]}]}",
        }),
      expect: ["AuthorizationPolicy istio-system/p"],
      message: /Pod shop\/web-1/,
    },
    {
      name: "judges the selector's labels when the input holds no workloads",
      check: authzIdentityWithoutMtls,
      yaml:
        ROOT +
        ns("shop") +
        ap({
          spec: "{selector: {matchLabels: {app: web}}, action: DENY, rules: [{from: [{source: {principals: [a]}}]}]}",
        }),
      expect: ["AuthorizationPolicy shop/p"],
    },
    {
      name: "ignores dry-run and AUDIT policies",
      check: authzIdentityWithoutMtls,
      yaml:
        SHOP +
        ap({
          name: "dry",
          spec: "{action: DENY, rules: [{from: [{source: {principals: [a]}}]}]}",
          annotations: '"istio.io/dry-run": "true"',
        }) +
        ap({
          name: "audit",
          spec: "{action: AUDIT, rules: [{from: [{source: {principals: [a]}}]}]}",
        }),
      expect: [],
    },
  ]);
});

describe("authz-selector-matches-nothing", () => {
  const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: batch, namespace: shop}
spec:
  replicas: 0
  selector: {matchLabels: {app: batch}}
  template:
    metadata: {labels: {app: batch}}
    spec: {containers: [{name: app, image: app}]}
---
`;
  const cronjob = `apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: nightly}}
        spec: {containers: [{name: app, image: app}]}
---
`;
  runCases([
    {
      name: "reports a selector that matches no pod in the namespace",
      check: authzSelectorMatchesNothing,
      yaml: SHOP + ap({ spec: "{selector: {matchLabels: {app: wbe}}}" }),
      expect: ["AuthorizationPolicy shop/p"],
    },
    {
      name: "passes a selector that matches a pod",
      check: authzSelectorMatchesNothing,
      yaml: SHOP + ap({ spec: "{selector: {matchLabels: {app: web}}}" }),
      expect: [],
    },
    {
      name: "counts a zero-replica Deployment's template",
      check: authzSelectorMatchesNothing,
      yaml: SHOP + deployment + ap({ spec: "{selector: {matchLabels: {app: batch}}}" }),
      expect: [],
    },
    {
      name: "counts a CronJob's template",
      check: authzSelectorMatchesNothing,
      yaml: SHOP + cronjob + ap({ spec: "{selector: {matchLabels: {app: nightly}}}" }),
      expect: [],
    },
    {
      name: "matches a root-namespace selector against workloads in every namespace",
      check: authzSelectorMatchesNothing,
      yaml: SHOP + ap({ namespace: "istio-system", spec: "{selector: {matchLabels: {app: web}}}" }),
      expect: [],
    },
    {
      name: "reports a root-namespace selector that no workload anywhere matches",
      check: authzSelectorMatchesNothing,
      yaml:
        SHOP + ap({ namespace: "istio-system", spec: "{selector: {matchLabels: {app: nope}}}" }),
      expect: ["AuthorizationPolicy istio-system/p"],
      message: /in every namespace/,
    },
    {
      name: "does not judge a namespace whose workloads are not in the input",
      check: authzSelectorMatchesNothing,
      yaml: ROOT + ns("shop") + ap({ spec: "{selector: {matchLabels: {app: web}}}" }),
      expect: [],
    },
    {
      name: "does not judge selector-less policies",
      check: authzSelectorMatchesNothing,
      yaml: SHOP + ap({ spec: "{}" }),
      expect: [],
    },
  ]);
});

describe("authz-unknown-source-namespace", () => {
  const fromNs = (v: string): string =>
    ap({ spec: `{rules: [{from: [{source: {namespaces: [${v}]}}]}]}` });
  runCases([
    {
      name: "reports a source namespace that does not exist in the cluster",
      check: authzUnknownSourceNamespace,
      yaml: SHOP + fromNs("frontned"),
      expect: ["AuthorizationPolicy shop/p"],
      severities: ["medium"],
      namespacesComplete: true,
      message: /frontned/,
    },
    {
      name: "lowers the finding to low when the input may not list every namespace",
      check: authzUnknownSourceNamespace,
      yaml: SHOP + fromNs("frontned"),
      expect: ["AuthorizationPolicy shop/p"],
      severities: ["low"],
    },
    {
      name: "reports an unknown source.namespace when value",
      check: authzUnknownSourceNamespace,
      yaml:
        SHOP +
        ap({ spec: "{action: DENY, rules: [{when: [{key: source.namespace, values: [ghost]}]}]}" }),
      expect: ["AuthorizationPolicy shop/p"],
    },
    {
      name: "passes a namespace that exists",
      check: authzUnknownSourceNamespace,
      yaml: SHOP + fromNs("shop"),
      expect: [],
    },
    {
      name: "skips wildcard patterns",
      check: authzUnknownSourceNamespace,
      yaml: SHOP + fromNs("'front*'") + fromNs("'*-prod'"),
      expect: [],
    },
    {
      name: "skips everything when the policy declares a multi-cluster mesh",
      check: authzUnknownSourceNamespace,
      yaml: SHOP + fromNs("remote"),
      expect: [],
      multiCluster: true,
    },
  ]);
});
