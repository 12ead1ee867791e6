// The shipped RBAC grants exactly what the operator uses: the reads of every watched kind (derived
// from WATCHED_RESOURCES) and its few writes. A missing grant would make a kind unavailable in a
// real cluster; an extra one would widen what a stolen token can do.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { loadAll } from "js-yaml";
import { readFileSync } from "node:fs";
import {
  clusterPermissions,
  grantTriples,
  NAMESPACE_WRITES,
  readPermission,
  type Permission,
} from "../../../operator/kube/permissions.js";
import { WATCHED_RESOURCES } from "../../../operator/kube/resources.js";
import { renderKustomization, type Manifest } from "../../../hack/render-manifests.js";

const root = new URL("../../../../", import.meta.url);
const deploy = (path: string): string => fileURLToPath(new URL(`deploy/${path}`, root));

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

type RbacObject = Manifest & { rules?: Rule[]; roleRef?: { kind: string; name: string } };

const NAMESPACE = "mesh-compliance-system";
const SERVICE_ACCOUNT = {
  kind: "ServiceAccount",
  name: "mesh-compliance-operator",
  namespace: NAMESPACE,
};

function rbacObjects(objects: Manifest[]): RbacObject[] {
  return objects.filter((o) => o.apiVersion.startsWith("rbac.authorization.k8s.io/"));
}

function one(objects: RbacObject[], kind: string): RbacObject {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `expected one ${kind}, found ${found.length}`);
  return found[0]!;
}

/** Rules as permissions, one per group and resource, so they compare as grant triples. */
function permissionsOf(rules: Rule[]): Permission[] {
  return rules.flatMap((rule) =>
    (rule.apiGroups ?? []).flatMap((group) =>
      (rule.resources ?? []).map((resource) => ({ group, resource, verbs: rule.verbs ?? [] })),
    ),
  );
}

const base = rbacObjects(loadAll(readFileSync(deploy("base/rbac.yaml"), "utf8")) as Manifest[]);

describe("shipped RBAC and the operator's needs", () => {
  const clusterRole = one(base, "ClusterRole");
  const granted = grantTriples(permissionsOf(clusterRole.rules ?? []));

  it("grants the ClusterRole exactly the reads of the watched kinds and the operator's writes", () => {
    assert.deepEqual(granted, grantTriples(clusterPermissions()));
  });

  for (const resource of WATCHED_RESOURCES) {
    const p = readPermission(resource);
    it(`grants ${p.verbs.join("/")} on ${p.resource}.${p.group || "core"}`, () => {
      for (const verb of p.verbs) assert.ok(granted.includes(`${p.group} ${p.resource} ${verb}`));
    });
  }

  it("never grants get on Secrets, so no single Secret can be fetched with its data", () => {
    assert.ok(!granted.includes(" secrets get"));
    assert.ok(granted.includes(" secrets list"));
  });

  it("grants no wildcard, resource name or non-resource URL", () => {
    for (const rule of [...(clusterRole.rules ?? []), ...(one(base, "Role").rules ?? [])]) {
      const words = [...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...(rule.verbs ?? [])];
      assert.ok(!words.includes("*"), JSON.stringify(rule));
      assert.equal(rule.resourceNames, undefined);
      assert.equal(rule.nonResourceURLs, undefined);
    }
  });

  it("grants Lease access only in the operator's namespace, through a Role", () => {
    const role = one(base, "Role");
    assert.equal(role.metadata.namespace, NAMESPACE);
    assert.deepEqual(grantTriples(permissionsOf(role.rules ?? [])), grantTriples(NAMESPACE_WRITES));
    assert.ok(!granted.some((t) => t.startsWith("coordination.k8s.io ")));
  });

  it("binds both roles to the operator's ServiceAccount and nothing else", () => {
    for (const [binding, roleKind] of [
      ["ClusterRoleBinding", "ClusterRole"],
      ["RoleBinding", "Role"],
    ] as const) {
      const b = one(base, binding) as RbacObject & { subjects?: unknown[] };
      assert.deepEqual(b.subjects, [SERVICE_ACCOUNT]);
      assert.equal(b.roleRef?.kind, roleKind);
      assert.equal(b.roleRef.name, one(base, roleKind).metadata.name);
    }
  });

  it("leaves exactly the Secret rule out in the no-secrets overlay", () => {
    const overlay = one(
      rbacObjects(renderKustomization(deploy("overlays/no-secrets"))),
      "ClusterRole",
    );
    const withoutSecrets = clusterPermissions().filter((p) => p.resource !== "secrets");
    assert.deepEqual(
      grantTriples(permissionsOf(overlay.rules ?? [])),
      grantTriples(withoutSecrets),
    );
  });
});
