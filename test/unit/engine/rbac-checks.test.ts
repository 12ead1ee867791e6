import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Check } from "../../../operator/engine/check.js";
import { mtlsMeshNotStrict } from "../../../operator/engine/checks/mtls.js";
import {
  rbacCaSecretRead,
  rbacControlPlaneAccess,
  rbacIstioConfigWrite,
} from "../../../operator/engine/checks/rbac.js";
import type { Severity } from "../../../operator/engine/types.js";
import { policyFromYaml, resources, runCheck, type RunOptions } from "../../support/engine.js";

// ---- fixture builders ----------------------------------------------------------------------

function clusterRole(name: string, rules: string, labels = "{}", aggregate = ""): string {
  const aggregation = aggregate
    ? `aggregationRule:\n  clusterRoleSelectors: [{matchLabels: ${aggregate}}]\n`
    : "";
  return `---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ${name}, labels: ${labels}}
${aggregation}rules: ${rules}
`;
}

function role(ns: string, name: string, rules: string): string {
  return `---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: ${name}, namespace: ${ns}}
rules: ${rules}
`;
}

function crb(name: string, roleName: string, subjects: string): string {
  return `---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ${name}}
roleRef: {kind: ClusterRole, name: ${roleName}}
subjects: ${subjects}
`;
}

function rb(ns: string, name: string, roleKind: string, roleName: string, subjects: string) {
  return `---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ${name}, namespace: ${ns}}
roleRef: {kind: ${roleKind}, name: ${roleName}}
subjects: ${subjects}
`;
}

const ISTIOD = `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, namespace: istio-system}
`;

/** What a default cluster and Istio install grant: admins, controllers, istiod, gateways. */
const BASELINE =
  ISTIOD +
  clusterRole("cluster-admin", '[{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]') +
  crb("cluster-admin", "cluster-admin", '[{kind: Group, name: "system:masters"}]') +
  crb("kcm", "cluster-admin", '[{kind: User, name: "system:kube-controller-manager"}]') +
  crb(
    "gc",
    "cluster-admin",
    "[{kind: ServiceAccount, name: generic-garbage-collector, namespace: kube-system}]",
  ) +
  role(
    "istio-system",
    "istiod",
    "[{apiGroups: [networking.istio.io], resources: [gateways], verbs: [create]}, " +
      '{apiGroups: [""], resources: [secrets, configmaps], verbs: [create, get, list, watch, update, delete]}]',
  ) +
  rb("istio-system", "istiod", "Role", "istiod", "[{kind: ServiceAccount, name: istiod}]") +
  role(
    "istio-system",
    "gw-sds",
    '[{apiGroups: [""], resources: [secrets], verbs: [get, list, watch]}]',
  ) +
  rb(
    "istio-system",
    "gw-sds",
    "Role",
    "gw-sds",
    "[{kind: ServiceAccount, name: istio-ingressgateway-service-account}]",
  );

const EDIT_PODS = '[{apiGroups: [""], resources: [pods], verbs: [create, delete]}]';
const DEV = "[{kind: User, name: dev}]";
const OPS = "[{kind: Group, name: ops}]";

function policy(spec: string): RunOptions {
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
  expect: string[];
  severities?: Severity[];
  message?: RegExp;
  options?: RunOptions;
}

function runCases(cases: readonly Case[]): void {
  for (const c of cases) {
    it(c.name, () => {
      const { findings, unknown } = runCheck(c.check, c.yaml, c.options);
      assert.deepEqual(unknown, []);
      assert.deepEqual(resources(findings), c.expect);
      for (const f of findings) assert.equal(f.check, c.check.id);
      if (c.severities) assert.deepEqual(findings.map((f) => f.severity).sort(), c.severities);
      if (c.message) assert.match(findings[0]?.message ?? "", c.message);
    });
  }
}

// ---- rbac-control-plane-access -------------------------------------------------------------

const controlPlane: Case[] = [
  {
    name: "reports a user bound cluster-wide to a role that creates and deletes pods",
    check: rbacControlPlaneAccess,
    yaml: BASELINE + clusterRole("pod-editor", EDIT_PODS) + crb("dev-pods", "pod-editor", DEV),
    expect: ["User dev"],
    severities: ["critical"],
    message: /create\/delete pods in istio-system \(through ClusterRoleBinding dev-pods/,
  },
  {
    name: "reports nothing for a default install's admins, controllers, istiod and gateways",
    check: rbacControlPlaneAccess,
    yaml: BASELINE,
    expect: [],
  },
  {
    name: "resolves an aggregated ClusterRole that a RoleBinding in istio-system points at",
    check: rbacControlPlaneAccess,
    yaml:
      BASELINE +
      clusterRole("admin", "[]", "{}", '{"rbac.authorization.k8s.io/aggregate-to-admin": "true"}') +
      clusterRole(
        "exec",
        '[{apiGroups: [""], resources: [pods/exec], verbs: [create]}]',
        '{"rbac.authorization.k8s.io/aggregate-to-admin": "true"}',
      ) +
      rb("istio-system", "ops-admin", "ClusterRole", "admin", OPS),
    expect: ["Group ops"],
    message:
      /create pods\/exec in istio-system \(through RoleBinding istio-system\/ops-admin → ClusterRole admin\)/,
  },
  {
    name: "resolves wildcard rules in a Role of istiod's namespace",
    check: rbacControlPlaneAccess,
    yaml:
      BASELINE +
      role("istio-system", "all", '[{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]') +
      rb("istio-system", "ci", "Role", "all", "[{kind: ServiceAccount, name: ci, namespace: ci}]"),
    expect: ["ServiceAccount ci/ci"],
  },
  {
    name: "ignores a RoleBinding to a powerful ClusterRole in another namespace",
    check: rbacControlPlaneAccess,
    yaml: BASELINE + rb("shop", "shop-admin", "ClusterRole", "cluster-admin", DEV),
    expect: [],
  },
  {
    name: "reports get on pods/exec, which opens a shell before Kubernetes 1.35",
    check: rbacControlPlaneAccess,
    yaml:
      BASELINE +
      role("istio-system", "exec", '[{apiGroups: [""], resources: [pods/exec], verbs: [get]}]') +
      rb("istio-system", "exec", "Role", "exec", DEV),
    expect: ["User dev"],
    message: /get pods\/exec/,
  },
  {
    name: "reports a token request for service accounts in istiod's namespace",
    check: rbacControlPlaneAccess,
    yaml:
      BASELINE +
      role(
        "istio-system",
        "tok",
        '[{apiGroups: [""], resources: [serviceaccounts/token], verbs: [create]}]',
      ) +
      rb("istio-system", "tok", "Role", "tok", DEV),
    expect: ["User dev"],
  },
  {
    name: "ignores create limited by resourceNames, which the API server never authorizes",
    check: rbacControlPlaneAccess,
    yaml:
      BASELINE +
      role(
        "istio-system",
        "cm",
        '[{apiGroups: [""], resources: [configmaps], verbs: [create], resourceNames: [lock]}]',
      ) +
      rb("istio-system", "cm", "Role", "cm", DEV),
    expect: [],
  },
  {
    name: "reports name-limited updates with the names they cover",
    check: rbacControlPlaneAccess,
    yaml:
      BASELINE +
      role(
        "istio-system",
        "cm",
        '[{apiGroups: [""], resources: [configmaps], verbs: [update], resourceNames: [istio]}]',
      ) +
      rb("istio-system", "cm", "Role", "cm", DEV),
    expect: ["User dev"],
    message: /update configmaps named istio in istio-system/,
  },
  {
    name: "trusts kube-system service accounts, system:kube-* users and the policy's subjects",
    check: rbacControlPlaneAccess,
    yaml:
      BASELINE +
      crb("sched", "cluster-admin", '[{kind: User, name: "system:kube-scheduler"}]') +
      crb("argo", "cluster-admin", "[{kind: ServiceAccount, name: argocd, namespace: argocd}]"),
    options: policy("  trustedSubjects: [{kind: ServiceAccount, name: argocd, namespace: argocd}]"),
    expect: [],
  },
  {
    name: "does not trust an istiod service account outside istiod's namespace",
    check: rbacControlPlaneAccess,
    yaml:
      BASELINE +
      crb("fake", "cluster-admin", "[{kind: ServiceAccount, name: istiod, namespace: shop}]"),
    expect: ["ServiceAccount shop/istiod"],
  },
  {
    name: "judges the namespace of the istiod Deployment rather than istio-system",
    check: rbacControlPlaneAccess,
    yaml:
      BASELINE.replace("namespace: istio-system}\n", "namespace: istio-control}\n") +
      rb("istio-system", "old", "ClusterRole", "cluster-admin", DEV) +
      rb("istio-control", "new", "ClusterRole", "cluster-admin", OPS),
    expect: ["Group ops"],
  },
  {
    name: "falls back to the mesh config's root namespace when no istiod Deployment is present",
    check: rbacControlPlaneAccess,
    yaml:
      BASELINE.replace(ISTIOD, "") +
      `---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data: {mesh: "rootNamespace: mesh-root"}
` +
      rb("mesh-root", "x", "ClusterRole", "cluster-admin", DEV),
    expect: ["User dev"],
  },
  {
    name: "reports one finding per subject across several bindings",
    check: rbacControlPlaneAccess,
    yaml:
      BASELINE +
      clusterRole("pod-editor", EDIT_PODS) +
      crb("a", "pod-editor", DEV) +
      rb("istio-system", "b", "ClusterRole", "cluster-admin", DEV),
    expect: ["User dev"],
    message: /ClusterRoleBinding a.*RoleBinding istio-system\/b/,
  },
];

// ---- rbac-ca-secret-read -------------------------------------------------------------------

const SECRETS_READ = '[{apiGroups: [""], resources: [secrets], verbs: [list]}]';

const caSecret: Case[] = [
  {
    name: "reports a service account that may list Secrets in every namespace",
    check: rbacCaSecretRead,
    yaml:
      BASELINE +
      clusterRole("secret-lister", SECRETS_READ) +
      crb("es", "secret-lister", "[{kind: ServiceAccount, name: eso, namespace: eso}]"),
    expect: ["ServiceAccount eso/eso"],
    severities: ["critical"],
    message: /list Secret istio-ca-secret, Secret cacerts in istio-system/,
  },
  {
    name: "reports nothing for the default install's istiod and gateway Secret access",
    check: rbacCaSecretRead,
    yaml: BASELINE,
    expect: [],
  },
  {
    name: "ignores get limited to other Secret names",
    check: rbacCaSecretRead,
    yaml:
      BASELINE +
      role(
        "istio-system",
        "one",
        '[{apiGroups: [""], resources: [secrets], verbs: [get, list, watch], resourceNames: [app-tls]}]',
      ) +
      rb("istio-system", "one", "Role", "one", DEV),
    expect: [],
  },
  {
    name: "reports get limited to cacerts by name",
    check: rbacCaSecretRead,
    yaml:
      BASELINE +
      role(
        "istio-system",
        "ca",
        '[{apiGroups: [""], resources: [secrets], verbs: [get], resourceNames: [cacerts]}]',
      ) +
      rb("istio-system", "ca", "Role", "ca", DEV),
    expect: ["User dev"],
    message: /get Secret cacerts in istio-system/,
  },
  {
    name: "reports watch, which streams whole Secrets, through an aggregated role",
    check: rbacCaSecretRead,
    yaml:
      BASELINE +
      clusterRole("agg", "[]", "{}", '{"example.com/agg": "true"}') +
      clusterRole(
        "watcher",
        '[{apiGroups: [""], resources: ["*"], verbs: [watch]}]',
        '{"example.com/agg": "true"}',
      ) +
      crb("agg", "agg", OPS),
    expect: ["Group ops"],
    message: /watch Secret/,
  },
  {
    name: "ignores a RoleBinding to a Secret reader in an application namespace",
    check: rbacCaSecretRead,
    yaml:
      BASELINE +
      clusterRole("secret-lister", SECRETS_READ) +
      rb("shop", "s", "ClusterRole", "secret-lister", DEV),
    expect: [],
  },
  {
    name: "reports istio-reader-service-account at low severity with the reason it exists",
    check: rbacCaSecretRead,
    yaml:
      BASELINE +
      clusterRole("istio-reader", SECRETS_READ) +
      crb(
        "reader",
        "istio-reader",
        "[{kind: ServiceAccount, name: istio-reader-service-account, namespace: istio-system}]",
      ),
    expect: ["ServiceAccount istio-system/istio-reader-service-account"],
    severities: ["low"],
    message: /remote clusters/,
  },
];

// ---- rbac-istio-config-write ---------------------------------------------------------------

const ISTIO_ADMIN_LABEL = '{"rbac.authorization.k8s.io/aggregate-to-admin": "true"}';
const VS_WRITE =
  "[{apiGroups: [networking.istio.io], resources: [virtualservices, gateways, destinationrules], verbs: [create, update]}]";

const configWrite: Case[] = [
  {
    name: "reports a group with cluster-wide write on an Istio API group",
    check: rbacIstioConfigWrite,
    yaml:
      BASELINE +
      clusterRole("net", '[{apiGroups: [networking.istio.io], resources: ["*"], verbs: [patch]}]') +
      crb("net", "net", OPS),
    expect: ["Group ops"],
    severities: ["high"],
    message: /^Group ops may patch virtualservices, .*envoyfilters.* in every namespace \(through/,
  },
  {
    name: "reports nothing for read-only access and the default install",
    check: rbacIstioConfigWrite,
    yaml:
      BASELINE +
      clusterRole(
        "view-istio",
        '[{apiGroups: ["*"], resources: ["*"], verbs: [get, list, watch]}]',
      ) +
      crb("view", "view-istio", OPS),
    expect: [],
  },
  {
    name: "resolves wildcard API groups bound cluster-wide",
    check: rbacIstioConfigWrite,
    yaml:
      BASELINE +
      clusterRole("all", '[{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]') +
      crb("ci", "all", "[{kind: ServiceAccount, name: ci, namespace: ci}]"),
    expect: ["ServiceAccount ci/ci"],
    severities: ["high"],
  },
  {
    name: "reports security policy writes in the root namespace, which apply mesh-wide",
    check: rbacIstioConfigWrite,
    yaml:
      BASELINE +
      role(
        "istio-system",
        "authz",
        "[{apiGroups: [security.istio.io], resources: [authorizationpolicies], verbs: [create]}]",
      ) +
      rb("istio-system", "authz", "Role", "authz", DEV),
    expect: ["User dev"],
    severities: ["high"],
  },
  {
    name: "reports a RoleBinding to a ClusterRole writing VirtualServices at medium severity",
    check: rbacIstioConfigWrite,
    yaml:
      BASELINE + clusterRole("routes", VS_WRITE) + rb("shop", "r", "ClusterRole", "routes", DEV),
    expect: ["User dev"],
    severities: ["medium"],
    message: /create\/update virtualservices, gateways in shop \(exported to every namespace\)/,
  },
  {
    name: "reports namespace admins with aggregated Istio rights at low severity",
    check: rbacIstioConfigWrite,
    yaml:
      BASELINE +
      clusterRole("admin", "[]", "{}", ISTIO_ADMIN_LABEL) +
      clusterRole("istio-edit", VS_WRITE, ISTIO_ADMIN_LABEL) +
      rb("shop", "owners", "ClusterRole", "admin", OPS),
    expect: ["Group ops"],
    severities: ["low"],
  },
  {
    name: "ignores namespace-scoped writers of objects that stay in their namespace",
    check: rbacIstioConfigWrite,
    yaml:
      BASELINE +
      role(
        "shop",
        "dr",
        "[{apiGroups: [networking.istio.io, security.istio.io], resources: [destinationrules, authorizationpolicies], verbs: [create]}]",
      ) +
      rb("shop", "dr", "Role", "dr", DEV),
    expect: [],
  },
  {
    name: "ignores VirtualService writers when the mesh exports VirtualServices locally by default",
    check: rbacIstioConfigWrite,
    yaml:
      BASELINE +
      `---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data: {mesh: "defaultVirtualServiceExportTo: ['.']"}
` +
      role(
        "shop",
        "vs",
        "[{apiGroups: [networking.istio.io], resources: [virtualservices], verbs: [create]}]",
      ) +
      rb("shop", "vs", "Role", "vs", DEV),
    expect: [],
  },
  {
    name: "groups cluster-wide and namespace rights of one subject into one finding",
    check: rbacIstioConfigWrite,
    yaml:
      BASELINE +
      clusterRole(
        "tel",
        "[{apiGroups: [telemetry.istio.io], resources: [telemetries], verbs: [delete]}]",
      ) +
      crb("tel", "tel", DEV) +
      clusterRole("routes", VS_WRITE) +
      rb("shop", "r", "ClusterRole", "routes", DEV),
    expect: ["User dev"],
    severities: ["high"],
    message: /delete telemetries in every namespace.*virtualservices, gateways in shop/,
  },
  {
    name: "trusts subjects the policy lists",
    check: rbacIstioConfigWrite,
    yaml:
      BASELINE +
      crb("argo", "cluster-admin", "[{kind: ServiceAccount, name: argo, namespace: argocd}]"),
    options: policy("  trustedSubjects: [{kind: ServiceAccount, name: argo, namespace: argocd}]"),
    expect: [],
  },
];

describe("rbac-control-plane-access", () => {
  runCases(controlPlane);
});

describe("rbac-ca-secret-read", () => {
  runCases(caSecret);
});

describe("rbac-istio-config-write", () => {
  runCases(configWrite);
});

describe("RBAC checks without RBAC objects", () => {
  for (const check of [rbacControlPlaneAccess, rbacCaSecretRead, rbacIstioConfigWrite]) {
    it(`reports ${check.id} as unknown when the input holds no bindings`, () => {
      const { findings, unknown } = runCheck(check, ISTIOD);
      assert.deepEqual(findings, []);
      assert.equal(unknown.length, 1);
      assert.match(unknown[0]?.reason ?? "", /no RoleBindings or ClusterRoleBindings/);
    });
    it(`reports ${check.id} as unknown when RoleBindings could not be read`, () => {
      const { unknown } = runCheck(check, BASELINE, {
        snapshot: {
          unavailable: new Map([["rbac.authorization.k8s.io/RoleBinding", "forbidden"]]),
        },
      });
      assert.match(unknown[0]?.reason ?? "", /RoleBinding could not be read: forbidden/);
    });
  }
});

describe("mesh config feed: the root namespace", () => {
  const meshConfig = (root: string): string => `---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data: {mesh: "rootNamespace: ${root}"}
`;
  const strict = (ns: string): string => `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: ${ns}}
spec: {mtls: {mode: STRICT}}
`;

  it("treats a selector-less PeerAuthentication in the configured root namespace as mesh-wide", () => {
    const { findings } = runCheck(mtlsMeshNotStrict, meshConfig("mesh-root") + strict("mesh-root"));
    assert.deepEqual(resources(findings), []);
  });

  it("no longer treats istio-system's PeerAuthentication as mesh-wide under another root", () => {
    const { findings } = runCheck(
      mtlsMeshNotStrict,
      meshConfig("mesh-root") + strict("istio-system"),
    );
    assert.deepEqual(resources(findings), ["Namespace mesh-root"]);
  });

  it("judges root-namespace Istio writes in the configured root namespace", () => {
    const writer = role(
      "mesh-root",
      "pa",
      "[{apiGroups: [security.istio.io], resources: [peerauthentications], verbs: [update]}]",
    );
    const yaml =
      BASELINE + meshConfig("mesh-root") + writer + rb("mesh-root", "pa", "Role", "pa", DEV);
    const { findings } = runCheck(rbacIstioConfigWrite, yaml);
    assert.deepEqual(resources(findings), ["User dev"]);
    assert.equal(findings[0]?.severity, "high");
  });
});
