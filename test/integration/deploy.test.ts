// The rendered manifests on a real API server: every object of the base is applied (server-side,
// with strict field validation, so a misspelt field fails), the overlays are applied as dry runs,
// Pod Security admission has nothing to warn about, and the operator's ServiceAccount can do what
// the operator needs and no more.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { renderKustomization, type Manifest } from "../../hack/render-manifests.js";
import { useControlPlane, waitFor, type ControlPlane } from "../harness/index.js";
import { kubeCall } from "../support/kube-http.js";

const root = new URL("../../../", import.meta.url);
const deploy = (path: string): string => fileURLToPath(new URL(`deploy/${path}`, root));
const NAMESPACE = "mesh-compliance-system";
const SERVICE_ACCOUNT = `system:serviceaccount:${NAMESPACE}:mesh-compliance-operator`;

/** Where each kind the manifests hold is served; a kind missing here fails the test loudly. */
const PLURALS: Record<string, string> = {
  Namespace: "namespaces",
  ServiceAccount: "serviceaccounts",
  ClusterRole: "clusterroles",
  ClusterRoleBinding: "clusterrolebindings",
  Role: "roles",
  RoleBinding: "rolebindings",
  Deployment: "deployments",
  PodDisruptionBudget: "poddisruptionbudgets",
  Service: "services",
  ServiceMonitor: "servicemonitors",
  PrometheusRule: "prometheusrules",
  ThreatPolicy: "threatpolicies",
};

/** Objects that others depend on go first, as kubectl apply orders them. */
const ORDER = ["Namespace", "ServiceAccount", "ClusterRole", "Role"];
const rank = (m: Manifest): number => {
  const i = ORDER.indexOf(m.kind);
  return i === -1 ? ORDER.length : i;
};

function objectPath(m: Manifest): string {
  const plural = PLURALS[m.kind];
  assert.ok(plural, `no REST path known for ${m.kind}`);
  const prefix = m.apiVersion.includes("/") ? `/apis/${m.apiVersion}` : `/api/${m.apiVersion}`;
  const ns = m.metadata.namespace === undefined ? "" : `/namespaces/${m.metadata.namespace}`;
  return `${prefix}${ns}/${plural}/${m.metadata.name}`;
}

interface Applied {
  object: string;
  status: number;
  warnings: string[];
  message: string;
}

async function apply(cp: ControlPlane, objects: Manifest[], dryRun: boolean): Promise<Applied[]> {
  const results: Applied[] = [];
  for (const m of [...objects].sort((a, b) => rank(a) - rank(b))) {
    const query = `fieldManager=deploy-test&fieldValidation=Strict&force=true${dryRun ? "&dryRun=All" : ""}`;
    const reply = await kubeCall(cp, "PATCH", `${objectPath(m)}?${query}`, {
      body: m,
      contentType: "application/apply-patch+yaml",
    });
    const object = `${m.kind} ${m.metadata.namespace ?? ""}/${m.metadata.name}`;
    const message = typeof reply.body.message === "string" ? reply.body.message : "";
    results.push({ object, status: reply.status, warnings: reply.warnings, message });
  }
  return results;
}

/**
 * Stand-ins for the Prometheus Operator's CRDs, which the test control plane does not have. Their
 * schemas accept anything, so these tests prove the objects are accepted where those kinds exist,
 * not that their specs are valid for the Prometheus Operator.
 */
function prometheusOperatorCrd(kind: string, plural: string): Record<string, unknown> {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.monitoring.coreos.com` },
    spec: {
      group: "monitoring.coreos.com",
      scope: "Namespaced",
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
          },
        },
      ],
    },
  };
}

async function installPrometheusOperatorCrds(cp: ControlPlane): Promise<void> {
  const crds = [
    prometheusOperatorCrd("ServiceMonitor", "servicemonitors"),
    prometheusOperatorCrd("PrometheusRule", "prometheusrules"),
  ];
  for (const crd of crds) {
    const reply = await kubeCall(
      cp,
      "POST",
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
      {
        body: crd,
      },
    );
    assert.ok(reply.status === 201 || reply.status === 409, JSON.stringify(reply.body));
  }
  await waitFor("the Prometheus Operator kinds to be served", 60_000, async () => {
    const reply = await kubeCall(cp, "GET", "/apis/monitoring.coreos.com/v1");
    const names = ((reply.body.resources ?? []) as { name: string }[]).map((r) => r.name);
    return names.includes("servicemonitors") && names.includes("prometheusrules")
      ? true
      : undefined;
  });
}

interface AccessQuestion {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  allowed: boolean;
}

/** What the operator's ServiceAccount may and may not do once the base RBAC is applied. */
const ACCESS: AccessQuestion[] = [
  { verb: "list", group: "", resource: "secrets", allowed: true },
  { verb: "get", group: "", resource: "secrets", namespace: "istio-system", allowed: false },
  { verb: "watch", group: "security.istio.io", resource: "peerauthentications", allowed: true },
  { verb: "update", group: "security.istio.io", resource: "peerauthentications", allowed: false },
  { verb: "delete", group: "", resource: "pods", namespace: "default", allowed: false },
  { verb: "create", group: "meshcompliance.io", resource: "compliancereports", allowed: true },
  { verb: "delete", group: "meshcompliance.io", resource: "compliancereports", allowed: false },
  { verb: "update", group: "meshcompliance.io", resource: "threatpolicies", allowed: false },
  {
    verb: "patch",
    group: "meshcompliance.io",
    resource: "threatpolicies",
    subresource: "status",
    allowed: true,
  },
  { verb: "create", group: "", resource: "events", namespace: "default", allowed: true },
  {
    verb: "update",
    group: "coordination.k8s.io",
    resource: "leases",
    namespace: NAMESPACE,
    allowed: true,
  },
  {
    verb: "update",
    group: "coordination.k8s.io",
    resource: "leases",
    namespace: "kube-system",
    allowed: false,
  },
];

async function canI(cp: ControlPlane, q: AccessQuestion): Promise<boolean> {
  const resourceAttributes = { ...q, allowed: undefined };
  const reply = await kubeCall(cp, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
    body: {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: { user: SERVICE_ACCOUNT, resourceAttributes },
    },
  });
  assert.equal(reply.status, 201, JSON.stringify(reply.body));
  return (reply.body.status as { allowed?: boolean }).allowed === true;
}

describe("rendered manifests on the API server", () => {
  const env = useControlPlane({ label: "deploy.test" });
  const run = { skip: env.skip };

  it("applies every object of the base with strict field validation", run, async () => {
    await installPrometheusOperatorCrds(env.cp);
    const results = await apply(env.cp, renderKustomization(deploy("base")), false);
    const failed = results.filter((r) => r.status !== 200 && r.status !== 201);
    assert.deepEqual(failed, []);
    assert.equal(results.length, 12);
  });

  it("gets no warning from admission, Pod Security included", run, async () => {
    const results = await apply(env.cp, renderKustomization(deploy("base")), true);
    assert.deepEqual(
      results.filter((r) => r.warnings.length > 0),
      [],
    );
  });

  it(
    "would be warned by Pod Security without the hardening (the check above can fail)",
    run,
    async () => {
      const deployment = renderKustomization(deploy("base")).filter((m) => m.kind === "Deployment");
      const spec = (deployment[0]?.spec as { template: { spec: Record<string, unknown> } }).template
        .spec;
      delete spec.securityContext;
      const [result] = await apply(env.cp, deployment, true);
      assert.match(
        result?.warnings.join("\n") ?? "",
        /would violate PodSecurity .*restricted:latest.*seccompProfile/,
      );
    },
  );

  for (const overlay of ["overlays/no-prometheus-operator", "overlays/no-secrets"]) {
    it(`applies every object of ${overlay} (dry run)`, run, async () => {
      const results = await apply(env.cp, renderKustomization(deploy(overlay)), true);
      const failed = results.filter((r) => r.status !== 200 && r.status !== 201);
      assert.deepEqual(failed, []);
    });
  }

  for (const q of ACCESS) {
    const what = `${q.verb} ${q.resource}${q.subresource ? `/${q.subresource}` : ""}`;
    const where = q.namespace === undefined ? "cluster-wide" : `in ${q.namespace}`;
    it(`${q.allowed ? "lets" : "does not let"} the operator ${what} ${where}`, run, async () => {
      assert.equal(await canI(env.cp, q), q.allowed);
    });
  }
});
