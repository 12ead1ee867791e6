import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  auditLoggingUnobservable,
  configOutsideGitops,
  GITOPS_CHECKS,
} from "../../../operator/engine/checks/gitops.js";
import { defaultPolicy } from "../../../operator/engine/policy.js";
import { lastSpecWriters } from "../../../operator/engine/managedfields.js";
import { buildReport } from "../../../operator/report/build.js";
import {
  evaluateObjects,
  NOW,
  objectsFromYaml,
  policyFromYaml,
  resources,
  runCheck,
  type RunOptions,
} from "../../support/engine.js";

interface Entry {
  manager: string;
  time?: string;
  operation?: string;
  fields?: string;
  subresource?: string;
}

const SPEC = '{"f:spec": {"f:hosts": {}}}';
const LABELS = '{"f:metadata": {"f:labels": {"f:team": {}}}}';

function entry(e: Entry): string {
  const sub = e.subresource === undefined ? "" : `, subresource: ${e.subresource}`;
  const time = e.time === undefined ? "" : `, time: "${e.time}"`;
  return `{manager: ${e.manager}, operation: ${e.operation ?? "Update"}${time}, fieldsType: FieldsV1, fieldsV1: ${e.fields ?? SPEC}${sub}}`;
}

function vs(ns: string, entries: Entry[] | string | undefined, kind = "VirtualService"): string {
  const group = kind === "AuthorizationPolicy" ? "security.istio.io/v1" : "networking.istio.io/v1";
  const managed =
    entries === undefined
      ? ""
      : `, managedFields: ${typeof entries === "string" ? entries : `[${entries.map(entry).join(", ")}]`}`;
  return `---
apiVersion: ${group}
kind: ${kind}
metadata: {name: reviews, namespace: ${ns}${managed}}
spec: {hosts: [reviews]}
`;
}

const SHOP_NS = `---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
`;

const T1 = "2026-05-01T10:00:00Z";
const T2 = "2026-05-02T10:00:00Z";

interface Case {
  name: string;
  yaml: string;
  expect: string[];
  message?: RegExp;
  options?: RunOptions;
}

const cases: Case[] = [
  {
    name: "reports a VirtualService whose spec was last written by kubectl edit",
    yaml:
      SHOP_NS +
      vs("shop", [
        { manager: "argocd-controller", operation: "Apply", time: T1 },
        { manager: "kubectl-edit", time: T2 },
      ]),
    expect: ["VirtualService shop/reviews"],
    message: /last written by field manager kubectl-edit \(Update at 2026-05-02T10:00:00Z\)/,
  },
  {
    name: "passes an object whose spec was last written by Argo CD",
    yaml:
      SHOP_NS +
      vs("shop", [
        { manager: "kubectl-client-side-apply", time: T1 },
        { manager: "argocd-controller", operation: "Apply", time: T2 },
      ]),
    expect: [],
  },
  {
    name: "ignores a later status write, which does not change what the object asks for",
    yaml:
      SHOP_NS +
      vs("shop", [
        { manager: "kustomize-controller", operation: "Apply", time: T1 },
        { manager: "pilot-discovery", time: T2, subresource: "status", fields: '{"f:status": {}}' },
        { manager: "some-tool", time: T2, subresource: "status" },
      ]),
    expect: [],
  },
  {
    name: "ignores a later writer that only changed metadata",
    yaml:
      SHOP_NS +
      vs("shop", [
        { manager: "helm-controller", time: T1 },
        { manager: "kubectl-label", time: T2, fields: LABELS },
      ]),
    expect: [],
  },
  {
    name: "accepts field managers the policy names as controllers or GitOps managers",
    yaml: SHOP_NS + vs("shop", [{ manager: "flagger", time: T2 }]),
    options: {
      policy: policyFromYaml(`apiVersion: meshcompliance.io/v1alpha1
kind: ThreatPolicy
metadata: {name: p}
spec: {controllers: [flagger], gitops: {managers: [fleet-*]}}`),
    },
    expect: [],
  },
  {
    name: "no longer accepts a default GitOps manager once the policy replaces the list",
    yaml: SHOP_NS + vs("shop", [{ manager: "argocd-controller", time: T2 }]),
    options: {
      policy: policyFromYaml(`apiVersion: meshcompliance.io/v1alpha1
kind: ThreatPolicy
metadata: {name: p}
spec: {gitops: {managers: [fleet-agent]}}`),
    },
    expect: ["VirtualService shop/reviews"],
  },
  {
    name: "accepts Istio's own components as writers",
    yaml: SHOP_NS + vs("shop", [{ manager: "istio-operator", operation: "Apply", time: T2 }]),
    expect: [],
  },
  {
    name: "judges nothing and reports no unknown when managedFields are absent",
    yaml: SHOP_NS + vs("shop", undefined),
    expect: [],
  },
  {
    name: "reports security policy in the root namespace",
    yaml: vs("istio-system", [{ manager: "kubectl-create", time: T1 }], "AuthorizationPolicy"),
    expect: ["AuthorizationPolicy istio-system/reviews"],
  },
  {
    name: "accepts a tie when one of the writers at the latest time is allowed",
    yaml:
      SHOP_NS +
      vs("shop", [
        { manager: "kubectl-edit", time: T2 },
        { manager: "argocd-controller", time: T2 },
      ]),
    expect: [],
  },
  {
    name: "tolerates managedFields of the wrong type",
    yaml:
      SHOP_NS +
      vs("shop", '"not a list"') +
      vs("shop", "[1, {manager: 3}]").replace("reviews", "x"),
    expect: [],
  },
];

describe("config-outside-gitops", () => {
  for (const c of cases) {
    it(c.name, () => {
      const { findings, unknown } = runCheck(configOutsideGitops, c.yaml, c.options);
      assert.deepEqual(unknown, []);
      assert.deepEqual(resources(findings), c.expect);
      for (const f of findings) assert.deepEqual(f.threats, ["T-02", "R-02"]);
      if (c.message) assert.match(findings[0]?.message ?? "", c.message);
    });
  }
});

describe("managedFields: last spec writer", () => {
  it("orders entries by time and treats a missing time as the oldest", () => {
    const [object] = objectsFromYaml(
      vs("shop", [{ manager: "no-time" }, { manager: "late", time: T1 }]),
    );
    assert.ok(object);
    assert.deepEqual(
      lastSpecWriters(object).map((w) => w.manager),
      ["late"],
    );
  });
});

describe("audit-logging-unobservable", () => {
  const ATTEST = `apiVersion: meshcompliance.io/v1alpha1
kind: ThreatPolicy
metadata: {name: p}
spec:
  attestations:
  - {threat: R-02, statement: audit logs on, evidence: ticket-1, expires: "2027-01-31"}`;

  it("always reports unknown, since audit logging cannot be seen from inside the cluster", () => {
    const { findings, unknown } = runCheck(auditLoggingUnobservable, SHOP_NS);
    assert.deepEqual(findings, []);
    assert.deepEqual(
      unknown.map((u) => u.reason),
      [
        "API-server audit logging cannot be seen from inside the cluster; attest it in the " +
          "ThreatPolicy (spec.attestations)",
      ],
    );
  });

  it("leaves R-02 Unknown without an attestation and Attested with one", () => {
    const objects = objectsFromYaml(SHOP_NS);
    const statusOf = (options: RunOptions): string | undefined => {
      const policy = options.policy ?? defaultPolicy();
      const evaluation = evaluateObjects(objects, GITOPS_CHECKS, { policy });
      const report = buildReport(evaluation, policy, GITOPS_CHECKS, NOW);
      return report.threats.find((t) => t.id === "R-02")?.status;
    };
    assert.equal(statusOf({}), "Unknown");
    assert.equal(statusOf({ policy: policyFromYaml(ATTEST) }), "Attested");
  });
});
