import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  isTrustedSubject,
  RbacIndex,
  subjectText,
  type AccessRequest,
} from "../../../operator/engine/rbac.js";
import { Snapshot } from "../../../operator/engine/snapshot.js";
import { objectsFromYaml } from "../../support/engine.js";

const RBAC = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: aggregate-admin}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {rbac.example.com/aggregate-to-admin: "true"}}]
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: aggregate-edit, labels: {rbac.example.com/aggregate-to-admin: "true"}}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {rbac.example.com/aggregate-to-edit: "true"}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: pod-exec, labels: {rbac.example.com/aggregate-to-edit: "true"}}
rules: [{apiGroups: [""], resources: [pods/exec], verbs: [create, get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admins}
roleRef: {kind: ClusterRole, name: aggregate-admin}
subjects: [{kind: User, name: alice}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: everything}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: shop-owner, namespace: shop}
roleRef: {kind: ClusterRole, name: everything}
subjects: [{kind: Group, name: "system:serviceaccounts:shop"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: scaler, namespace: shop}
rules:
- {apiGroups: [apps], resources: ["*/scale"], verbs: [update]}
- {apiGroups: [""], resources: [secrets], verbs: [get], resourceNames: [istio-ca-secret]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: scaler, namespace: shop}
roleRef: {kind: Role, name: scaler}
subjects: [{kind: ServiceAccount, name: hpa}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: all-authenticated}
roleRef: {kind: ClusterRole, name: readers}
subjects: [{kind: Group, name: "system:authenticated"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: readers}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get, list]}]
`;

const index = new RbacIndex(new Snapshot(objectsFromYaml(RBAC)));

function who(request: AccessRequest): string[] {
  return [
    ...new Set(
      index.whoCan(request).map((g) => {
        const names = g.resourceNames ? ` [${g.resourceNames.join(",")}]` : "";
        return `${subjectText(g.subject)}${names}`;
      }),
    ),
  ].sort();
}

const cases: { name: string; request: AccessRequest; expect: string[] }[] = [
  {
    name: "resolves ClusterRoles aggregated through another aggregated ClusterRole",
    request: { verb: "create", group: "", resource: "pods/exec", namespace: "web" },
    expect: ["User alice"],
  },
  {
    name: "does not grant the parent resource from a subresource rule",
    request: { verb: "create", group: "", resource: "pods", namespace: "web" },
    expect: [],
  },
  {
    name: "scopes a RoleBinding that points at a ClusterRole to its namespace",
    request: { verb: "delete", group: "apps", resource: "deployments", namespace: "shop" },
    expect: ["Group system:serviceaccounts:shop"],
  },
  {
    name: "does not let a RoleBinding grant anything in another namespace",
    request: { verb: "delete", group: "apps", resource: "deployments", namespace: "other" },
    expect: [],
  },
  {
    name: "does not let a RoleBinding grant cluster-wide rights",
    request: { verb: "delete", group: "apps", resource: "deployments" },
    expect: [],
  },
  {
    name: "matches */scale against the scale subresource of any resource",
    request: { verb: "update", group: "apps", resource: "deployments/scale", namespace: "shop" },
    expect: ["Group system:serviceaccounts:shop", "ServiceAccount shop/hpa"],
  },
  {
    name: "reports name-limited rules with their resourceNames when any object is asked for",
    request: { verb: "get", group: "", resource: "secrets", namespace: "shop" },
    expect: ["Group system:serviceaccounts:shop", "ServiceAccount shop/hpa [istio-ca-secret]"],
  },
  {
    name: "does not grant a name-limited rule for another object",
    request: { verb: "get", group: "", resource: "secrets", name: "cacerts", namespace: "shop" },
    expect: ["Group system:serviceaccounts:shop"],
  },
  {
    name: "grants a name-limited rule for the named object",
    request: {
      verb: "get",
      group: "",
      resource: "secrets",
      name: "istio-ca-secret",
      namespace: "shop",
    },
    expect: ["Group system:serviceaccounts:shop", "ServiceAccount shop/hpa"],
  },
  {
    name: "returns group subjects such as system:authenticated from ClusterRoleBindings",
    request: { verb: "list", group: "", resource: "configmaps", namespace: "any" },
    expect: ["Group system:authenticated"],
  },
];

describe("RBAC analysis", () => {
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(who(c.request), c.expect);
    });
  }

  it("reuses one index per snapshot", () => {
    const snapshot = new Snapshot(objectsFromYaml(RBAC));
    assert.equal(RbacIndex.of(snapshot), RbacIndex.of(snapshot));
    assert.equal(RbacIndex.of(snapshot).hasBindings, true);
    assert.equal(new RbacIndex(new Snapshot([])).hasBindings, false);
  });

  it("ignores bindings with wrong field types instead of throwing", () => {
    const broken = new RbacIndex(
      new Snapshot(
        objectsFromYaml(`
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: broken}
roleRef: "admin"
subjects: "everyone"
`),
      ),
    );
    assert.deepEqual(broken.whoCan({ verb: "get", group: "", resource: "pods" }), []);
  });
});

describe("trusted subjects", () => {
  const trust = {
    trusted: [{ kind: "User" as const, name: "ci-*" }],
    istiodNamespaces: ["istio-system"],
  };
  const table: {
    name: string;
    subject: Parameters<typeof isTrustedSubject>[0];
    trusted: boolean;
  }[] = [
    {
      name: "trusts system:masters",
      subject: { kind: "Group", name: "system:masters" },
      trusted: true,
    },
    {
      name: "trusts the controller manager",
      subject: { kind: "User", name: "system:kube-controller-manager" },
      trusted: true,
    },
    {
      name: "trusts Kubernetes controllers' service accounts in kube-system",
      subject: { kind: "ServiceAccount", name: "replicaset-controller", namespace: "kube-system" },
      trusted: true,
    },
    {
      name: "trusts istiod and gateway service accounts in istiod's namespace",
      subject: {
        kind: "ServiceAccount",
        name: "istio-ingressgateway-service-account",
        namespace: "istio-system",
      },
      trusted: true,
    },
    {
      name: "does not trust an istiod-named service account elsewhere",
      subject: { kind: "ServiceAccount", name: "istiod", namespace: "shop" },
      trusted: false,
    },
    {
      name: "does not trust every service account",
      subject: { kind: "Group", name: "system:serviceaccounts" },
      trusted: false,
    },
    {
      name: "does not trust system:authenticated",
      subject: { kind: "Group", name: "system:authenticated" },
      trusted: false,
    },
    {
      name: "trusts subjects the policy lists, with globs",
      subject: { kind: "User", name: "ci-deployer" },
      trusted: true,
    },
  ];
  for (const c of table) {
    it(c.name, () => {
      assert.equal(isTrustedSubject(c.subject, trust), c.trusted);
    });
  }
});
