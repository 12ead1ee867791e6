import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Check } from "../../../operator/engine/check.js";
import {
  foreignPodMutation,
  injectorWebhookChanged,
  injectorWebhookIntegrity,
  proxyImageUntrusted,
  rbacWebhookWrite,
} from "../../../operator/engine/checks/injector.js";
import { injectorFingerprint } from "../../../operator/engine/fingerprint.js";
import { Snapshot } from "../../../operator/engine/snapshot.js";
import { objectsFromYaml, policyFromYaml, resources, runCheck } from "../../support/engine.js";

function hook(name: string, service: string, extra = "", labels = "{}"): string {
  return `
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: ${name}, labels: ${labels}}
webhooks:
- name: namespace.sidecar-injector.istio.io
  clientConfig:
    ${service}
    caBundle: AAAA
  failurePolicy: Fail
  rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  ${extra}
`;
}

const ISTIOD_SVC = "service: {name: istiod, namespace: istio-system, path: /inject, port: 443}";

const ISTIOD = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, namespace: istio-system}
spec:
  template:
    spec:
      containers: [{name: discovery, image: "docker.io/istio/pilot:1.26.0"}]
`;

const INJECTOR_CM = `
apiVersion: v1
kind: ConfigMap
metadata: {name: istio-sidecar-injector, namespace: istio-system}
data:
  values: '{"global": {"hub": "registry.example.com/istio", "proxy": {"image": "proxyv2"}}}'
  config: "policy: enabled"
`;

const DEFAULT_INSTALL = hook("istio-sidecar-injector", ISTIOD_SVC) + "---" + ISTIOD;

function policy(spec: string): { policy: ReturnType<typeof policyFromYaml> } {
  return {
    policy: policyFromYaml(
      `apiVersion: meshcompliance.io/v1alpha1\nkind: ThreatPolicy\nmetadata: {name: p}\nspec:\n${spec}`,
    ),
  };
}

interface Case {
  name: string;
  check: Check;
  yaml: string;
  options?: ReturnType<typeof policy>;
  expect: string[];
  unknown?: boolean;
}

const cases: Case[] = [
  // injector-webhook-integrity
  {
    name: "accepts a default injector that calls istiod on /inject and fails closed",
    check: injectorWebhookIntegrity,
    yaml: DEFAULT_INSTALL,
    expect: [],
  },
  {
    name: "reports an injector webhook that calls another Service",
    check: injectorWebhookIntegrity,
    yaml: hook(
      "istio-sidecar-injector",
      "service: {name: evil, namespace: istio-system, path: /inject}",
    ),
    expect: ["MutatingWebhookConfiguration istio-sidecar-injector"],
  },
  {
    name: "reports an injector webhook that calls istiod outside istiod's namespace",
    check: injectorWebhookIntegrity,
    yaml:
      hook(
        "istio-sidecar-injector",
        "service: {name: istiod, namespace: attacker, path: /inject}",
      ) +
      "---" +
      ISTIOD,
    expect: ["MutatingWebhookConfiguration istio-sidecar-injector"],
  },
  {
    name: "reports an injector webhook on another path than /inject",
    check: injectorWebhookIntegrity,
    yaml: hook(
      "istio-sidecar-injector",
      "service: {name: istiod, namespace: istio-system, path: /x}",
    ),
    expect: ["MutatingWebhookConfiguration istio-sidecar-injector"],
  },
  {
    name: "reports an injector webhook that fails open",
    check: injectorWebhookIntegrity,
    yaml: hook("istio-sidecar-injector", ISTIOD_SVC).replace(
      "failurePolicy: Fail",
      "failurePolicy: Ignore",
    ),
    expect: ["MutatingWebhookConfiguration istio-sidecar-injector"],
  },
  {
    name: "reports a v1beta1 injector webhook without failurePolicy, which defaults to Ignore",
    check: injectorWebhookIntegrity,
    yaml: hook("istio-sidecar-injector", ISTIOD_SVC)
      .replace("failurePolicy: Fail", "")
      .replace("admissionregistration.k8s.io/v1", "admissionregistration.k8s.io/v1beta1"),
    expect: ["MutatingWebhookConfiguration istio-sidecar-injector"],
  },
  {
    name: "accepts a v1 injector webhook without failurePolicy, which defaults to Fail",
    check: injectorWebhookIntegrity,
    yaml: hook("istio-sidecar-injector", ISTIOD_SVC).replace("failurePolicy: Fail", ""),
    expect: [],
  },
  {
    name: "expects Service istiod-<rev> for a revisioned injector, read from its istio.io/rev label",
    check: injectorWebhookIntegrity,
    yaml:
      hook(
        "istio-sidecar-injector-canary",
        "service: {name: istiod-canary, namespace: istio-system, path: /inject}",
        "",
        "{istio.io/rev: canary}",
      ) +
      "---" +
      hook(
        "istio-revision-tag-prod",
        "service: {name: istiod, namespace: istio-system, path: /inject}",
        "",
        "{istio.io/rev: canary, istio.io/tag: prod}",
      ),
    expect: ["MutatingWebhookConfiguration istio-revision-tag-prod"],
  },
  {
    name: "reports a URL client config that the policy does not allow",
    check: injectorWebhookIntegrity,
    yaml: hook("istio-sidecar-injector", "url: https://istiod.example.com/inject/cluster/c1"),
    expect: ["MutatingWebhookConfiguration istio-sidecar-injector"],
  },
  {
    name: "accepts a URL client config that the policy allows (external control plane)",
    check: injectorWebhookIntegrity,
    yaml: hook("istio-sidecar-injector", "url: https://istiod.example.com/inject/cluster/c1"),
    options: policy("  injector:\n    allowedURLs: ['https://istiod.example.com/inject/*']"),
    expect: [],
  },
  {
    name: "says Unknown, not pass, when the input has no Istio injector webhook",
    check: injectorWebhookIntegrity,
    yaml: ISTIOD,
    expect: [],
    unknown: true,
  },
  // injector-webhook-changed
  {
    name: "reports nothing when no fingerprint is pinned",
    check: injectorWebhookChanged,
    yaml: DEFAULT_INSTALL,
    expect: [],
  },
  {
    name: "reports an injector whose fingerprint differs from the pinned one",
    check: injectorWebhookChanged,
    yaml: DEFAULT_INSTALL,
    options: policy(`  injector:\n    fingerprint: sha256:${"0".repeat(64)}`),
    expect: ["MutatingWebhookConfiguration istio-sidecar-injector"],
  },
  // foreign-pod-mutation
  {
    name: "reports another webhook that mutates pods in an enrolled namespace",
    check: foreignPodMutation,
    yaml:
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio-injection: enabled}}\n---" +
      hook("vault-agent", "service: {name: vault, namespace: vault, path: /mutate}"),
    expect: ["MutatingWebhookConfiguration vault-agent"],
  },
  {
    name: "ignores a pod webhook whose namespaceSelector matches no in-scope namespace",
    check: foreignPodMutation,
    yaml:
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio-injection: enabled}}\n---" +
      hook(
        "vault-agent",
        "service: {name: vault, namespace: vault}",
        "namespaceSelector: {matchLabels: {vault: on}}",
      ),
    expect: [],
  },
  {
    name: "matches namespaceSelectors on the kubernetes.io/metadata.name label the API server adds",
    check: foreignPodMutation,
    yaml:
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio-injection: enabled}}\n---" +
      hook(
        "vault-agent",
        "service: {name: vault, namespace: vault}",
        "namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}",
      ),
    expect: ["MutatingWebhookConfiguration vault-agent"],
  },
  {
    name: "ignores a pod webhook the policy allows",
    check: foreignPodMutation,
    yaml:
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio-injection: enabled}}\n---" +
      hook("vault-agent", "service: {name: vault, namespace: vault}"),
    options: policy("  injector:\n    allowedMutatingWebhooks: ['vault-*']"),
    expect: [],
  },
  {
    name: "ignores webhooks on other resources than pods",
    check: foreignPodMutation,
    yaml:
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio-injection: enabled}}\n---" +
      hook("svc-hook", "service: {name: x, namespace: x}").replace(
        "resources: [pods]",
        "resources: [services]",
      ),
    expect: [],
  },
  // rbac-webhook-write
  {
    name: "reports a ClusterRoleBinding that lets an untrusted group patch webhooks",
    check: rbacWebhookWrite,
    yaml: `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: hooks}
rules: [{apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [patch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: devs-hooks}
roleRef: {kind: ClusterRole, name: hooks}
subjects: [{kind: Group, name: devs}, {kind: Group, name: system:masters}]
`,
    expect: ["ClusterRoleBinding devs-hooks"],
  },
  {
    name: "trusts istiod's service account, which patches the injector's caBundle",
    check: rbacWebhookWrite,
    yaml: `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: istiod}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: istiod}
roleRef: {kind: ClusterRole, name: istiod}
subjects: [{kind: ServiceAccount, name: istiod, namespace: istio-system}]
`,
    expect: [],
  },
  {
    name: "says Unknown when the input has no RBAC bindings",
    check: rbacWebhookWrite,
    yaml: DEFAULT_INSTALL,
    expect: [],
    unknown: true,
  },
  // proxy-image-untrusted
  {
    name: "accepts a proxy image from istiod's registry",
    check: proxyImageUntrusted,
    yaml: `${ISTIOD}---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  containers: [{name: app, image: web}, {name: istio-proxy, image: "istio/proxyv2:1.26.0"}]
`,
    expect: [],
  },
  {
    name: "reports a proxy image from another registry",
    check: proxyImageUntrusted,
    yaml: `${ISTIOD}---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  initContainers: [{name: istio-proxy, image: "evil.example.com/proxyv2:1.26.0", restartPolicy: Always}]
  containers: [{name: app, image: web}]
`,
    expect: ["Pod shop/web"],
  },
  {
    name: "derives trusted images from the injector's global.hub when istiod is absent",
    check: proxyImageUntrusted,
    yaml: `${INJECTOR_CM}---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  containers: [{name: istio-proxy, image: "registry.example.com/istio/proxyv2:1.26.0"}]
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: shop}
spec:
  containers: [{name: istio-proxy, image: "docker.io/istio/proxyv2:1.26.0"}]
`,
    expect: ["Pod shop/other"],
  },
  {
    name: "ignores image auto, which gateway injection replaces",
    check: proxyImageUntrusted,
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: gw, namespace: shop}
spec:
  template:
    metadata: {labels: {app: gw}}
    spec:
      containers: [{name: istio-proxy, image: auto}]
`,
    expect: [],
  },
];

describe("E-03 injector checks", () => {
  for (const c of cases) {
    it(c.name, () => {
      const { findings, unknown } = runCheck(c.check, c.yaml, c.options ?? {});
      assert.deepEqual(resources(findings), c.expect);
      assert.equal(unknown.length > 0, c.unknown ?? false, JSON.stringify(unknown));
      for (const f of findings) assert.equal(f.check, c.check.id);
    });
  }
});

describe("injector fingerprint", () => {
  const base = DEFAULT_INSTALL + "---" + INJECTOR_CM;
  const print = (yaml: string): string | undefined =>
    injectorFingerprint(new Snapshot(objectsFromYaml(yaml)), "istio-system")?.fingerprint;

  it("is sha256:<hex> and stable for the same input", () => {
    const first = print(base);
    assert.match(first ?? "", /^sha256:[0-9a-f]{64}$/);
    assert.equal(print(base), first);
  });

  it("ignores caBundle, which istiod rewrites at run time", () => {
    assert.equal(print(base.replace("caBundle: AAAA", "caBundle: BBBB")), print(base));
  });

  it("changes when the injector ConfigMap changes", () => {
    assert.notEqual(print(base.replace("policy: enabled", "policy: disabled")), print(base));
  });

  it("passes the check when the pinned fingerprint matches", () => {
    const pinned = print(base) ?? "";
    const { findings } = runCheck(
      injectorWebhookChanged,
      base,
      policy(`  injector:\n    fingerprint: ${pinned}`),
    );
    assert.deepEqual(findings, []);
  });
});
