// The project's CRDs on a real API server: the schema rejects invalid ThreatPolicies with a message
// that names the field, and `kubectl get compliancereports` shows the columns users read. kubectl
// renders the server's Table output, so the Table is what these tests read.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { useControlPlane } from "../harness/index.js";
import { kubeCall } from "../support/kube-http.js";

const GROUP_PATH = "/apis/meshcompliance.io/v1alpha1";
const TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io";

const call = kubeCall;

function threatPolicy(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: "meshcompliance.io/v1alpha1",
    kind: "ThreatPolicy",
    metadata: { name },
    spec,
  };
}

const HEX64 = "0123456789abcdef".repeat(4);

const VALID_SPEC = {
  meshRootNamespace: "istio-system",
  namespaceSelector: { matchExpressions: [{ key: "env", operator: "In", values: ["prod"] }] },
  threats: {
    "R-02": { enabled: false },
    "E-02": { risk: "Critical", parameters: { requireDenyAll: true } },
  },
  envoyFilters: { allowed: [{ namespace: "istio-system", name: "stats-*" }] },
  trustedSubjects: [
    { kind: "Group", name: "platform-admins" },
    { kind: "ServiceAccount", name: "argocd-application-controller", namespace: "argocd" },
  ],
  trustedProxyImages: ["docker.io/istio/proxyv2:*"],
  gitops: { managers: ["argocd-controller"] },
  controllers: ["pilot-discovery"],
  waivers: [
    {
      threat: "I-01",
      check: "mtls-permissive-policy",
      resources: [{ kind: "PeerAuthentication", namespace: "legacy", name: "*" }],
      reason: "legacy clients migrate in Q3",
      owner: "team-legacy",
      expires: "2027-01-31",
    },
  ],
  attestations: [
    {
      threat: "R-02",
      statement: "API-server audit logging is on",
      evidence: "https://wiki.example/audit",
      expires: "2027-01-31T00:00:00Z",
    },
  ],
  injector: {
    allowedURLs: [],
    fingerprint: `sha256:${HEX64}`,
    allowedMutatingWebhooks: ["cert-manager-webhook"],
  },
  multiCluster: { enabled: false },
  minimumIstioVersion: "1.26",
  reporting: { maxFindingsPerThreat: 50 },
};

interface RejectionCase {
  name: string;
  spec: Record<string, unknown>;
  /** Each must appear in the API server's message. */
  expect: RegExp[];
}

const REJECTED: RejectionCase[] = [
  {
    name: "rejects a waiver without a reason or an expiry, naming both fields",
    spec: { waivers: [{ threat: "I-01", owner: "team-a" }] },
    expect: [
      /spec\.waivers\[0\]\.reason: Required value/,
      /spec\.waivers\[0\]\.expires: Required value/,
    ],
  },
  {
    name: "rejects a waiver whose reason is blank",
    spec: { waivers: [{ threat: "I-01", reason: "  ", expires: "2027-01-31" }] },
    expect: [/spec\.waivers\[0\]\.reason: .*must not be blank/],
  },
  {
    name: "rejects a waiver whose expiry is not a date",
    spec: { waivers: [{ threat: "I-01", reason: "r", expires: "next spring" }] },
    expect: [/spec\.waivers\[0\]\.expires: .*must be an RFC 3339 date/],
  },
  {
    name: "rejects a waiver for a threat id the model does not have",
    spec: { waivers: [{ threat: "X-09", reason: "r", expires: "2027-01-31" }] },
    expect: [/spec\.waivers\[0\]\.threat: Unsupported value: "X-09"/],
  },
  {
    name: "rejects a threats key that is not a threat id, naming the key",
    spec: { threats: { "S-04": { enabled: false }, "S-01": { enabled: true } } },
    expect: [/spec\.threats: .*unknown threat id S-04 \(expected S-01/],
  },
  {
    name: "rejects a risk override that is not a risk level",
    spec: { threats: { "S-01": { risk: "Severe" } } },
    expect: [/spec\.threats\.S-01\.risk: Unsupported value: "Severe"/],
  },
  {
    name: "rejects an injector fingerprint that is not sha256 and 64 lowercase hex digits",
    spec: { injector: { fingerprint: `sha256:${HEX64.toUpperCase()}` } },
    expect: [/spec\.injector\.fingerprint: .*must look like sha256:<64 lowercase hex digits>/],
  },
  {
    name: "rejects maxFindingsPerThreat above 1000",
    spec: { reporting: { maxFindingsPerThreat: 5000 } },
    expect: [/spec\.reporting\.maxFindingsPerThreat: Invalid value: 5000/],
  },
  {
    name: "rejects a ServiceAccount subject without a namespace",
    spec: { trustedSubjects: [{ kind: "ServiceAccount", name: "deployer" }] },
    expect: [/spec\.trustedSubjects\[0\]\.namespace: .*required for a ServiceAccount/],
  },
  {
    name: "rejects an EnvoyFilter allowance with neither a name nor a selector",
    spec: { envoyFilters: { allowed: [{ namespace: "istio-system" }] } },
    expect: [
      /spec\.envoyFilters\.allowed\[0\]: .*needs a name \(wildcards allowed\) or a selector/,
    ],
  },
  {
    name: "rejects a minimum Istio version that is not a version",
    spec: { minimumIstioVersion: "latest" },
    expect: [/spec\.minimumIstioVersion: .*must be a version like 1\.26/],
  },
  {
    name: "rejects multiCluster without enabled",
    spec: { multiCluster: {} },
    expect: [/spec\.multiCluster\.enabled: Required value/],
  },
];

const REPORT_STATUS = {
  evaluatedAt: "2026-03-01T10:00:00Z",
  policy: "default",
  observedGeneration: 3,
  rootNamespace: "istio-system",
  scoreText: "71%",
  mitigatedText: "12/17",
  summary: {
    score: 71,
    threats: 17,
    enabled: 17,
    mitigated: 11,
    violated: 5,
    waived: 1,
    attested: 1,
    unknown: 0,
    notApplicable: 0,
    disabled: 0,
    openFindings: 9,
    waivedFindings: 1,
    violatedCritical: 2,
    violatedHigh: 2,
  },
  riskSummary: {
    Critical: { total: 7, mitigated: 5, violated: 2, threats: ["S-01", "T-01"] },
  },
  threats: [
    {
      id: "I-01",
      title: "Plaintext traffic interception",
      category: "InformationDisclosure",
      likelihood: "Medium",
      impact: "High",
      risk: "High",
      status: "Violated",
      checks: ["mtls-permissive-policy"],
      counts: {
        open: 1,
        waived: 0,
        bySeverity: { critical: 0, high: 1, medium: 0, low: 0, info: 0 },
      },
      findings: [
        {
          check: "mtls-permissive-policy",
          threats: ["I-01"],
          severity: "high",
          resource: {
            apiVersion: "security.istio.io/v1",
            kind: "PeerAuthentication",
            namespace: "shop",
            name: "default",
          },
          message: "PeerAuthentication shop/default sets PERMISSIVE, so plaintext is accepted.",
          remediation: "Set spec.mtls.mode: STRICT.",
        },
      ],
      omittedFindings: 0,
    },
  ],
  namespaces: [{ namespace: "shop", open: 1, critical: 0, high: 1 }],
  omittedNamespaces: 0,
  outOfScopeNamespaces: ["kube-system"],
  waivers: [],
  assumptions: [],
};

interface Table {
  kind: string;
  columnDefinitions: { name: string }[];
  rows: { cells: unknown[] }[];
}

describe("CustomResourceDefinitions of the project", () => {
  const env = useControlPlane({ label: "crds.test" });
  const run = { skip: env.skip };

  it("accepts a ThreatPolicy that uses every field", run, async () => {
    const created = await call(env.cp, "POST", `${GROUP_PATH}/threatpolicies`, {
      body: threatPolicy("valid-all-fields", VALID_SPEC),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // Nothing was pruned: every field the engine reads survives the schema.
    assert.deepEqual(created.body.spec, VALID_SPEC);
  });

  it("accepts a ThreatPolicy with an empty spec (every default)", run, async () => {
    const created = await call(env.cp, "POST", `${GROUP_PATH}/threatpolicies`, {
      body: threatPolicy("defaults", {}),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  });

  REJECTED.forEach((c, i) => {
    it(c.name, run, async () => {
      const reply = await call(env.cp, "POST", `${GROUP_PATH}/threatpolicies`, {
        body: threatPolicy(`invalid-${i}`, c.spec),
      });
      const message = String(reply.body.message);
      assert.equal(reply.status, 422, message);
      for (const pattern of c.expect) assert.match(message, pattern);
    });
  });

  it(
    "shows a ComplianceReport with the columns of kubectl get compliancereports",
    run,
    async () => {
      const cp = env.cp;
      const base = `${GROUP_PATH}/compliancereports`;
      const created = await call(cp, "POST", base, {
        body: {
          apiVersion: "meshcompliance.io/v1alpha1",
          kind: "ComplianceReport",
          metadata: { name: "default" },
          spec: { policy: "default" },
        },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const patched = await call(cp, "PATCH", `${base}/default/status`, {
        body: { status: REPORT_STATUS },
        contentType: "application/merge-patch+json",
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));

      // The deep finding list is kept as written, not pruned by the schema.
      const stored = await call(cp, "GET", `${base}/default`);
      assert.deepEqual(stored.body.status, REPORT_STATUS);

      const table = (await call(cp, "GET", base, { accept: TABLE })).body as unknown as Table;
      assert.equal(table.kind, "Table");
      const columns = table.columnDefinitions.map((c) => c.name.toUpperCase());
      assert.deepEqual(columns, [
        "NAME",
        "POLICY",
        "SCORE",
        "MITIGATED",
        "VIOLATED",
        "CRITICAL",
        "HIGH",
        "WAIVED",
        "AGE",
      ]);
      assert.equal(table.rows.length, 1);
      const cells = table.rows[0]?.cells ?? [];
      assert.deepEqual(cells.slice(0, 8), ["default", "default", "71%", "12/17", 5, 2, 2, 1]);
      assert.match(String(cells[8]), /^\d+s$/);
    },
  );

  it("shows a ThreatPolicy's readiness and score as columns", run, async () => {
    const cp = env.cp;
    const base = `${GROUP_PATH}/threatpolicies`;
    const created = await call(cp, "POST", base, { body: threatPolicy("columns", {}) });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const status = {
      observedGeneration: 1,
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "Evaluated",
          message: "",
          lastTransitionTime: "2026-03-01T10:00:00Z",
        },
      ],
      score: 71,
      scoreText: "71%",
      enabled: 17,
      mitigated: 12,
      violated: 5,
      report: "columns",
    };
    const patched = await call(cp, "PATCH", `${base}/columns/status`, {
      body: { status },
      contentType: "application/merge-patch+json",
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const table = (await call(cp, "GET", `${base}/columns`, { accept: TABLE }))
      .body as unknown as Table;
    const columns = table.columnDefinitions.map((c) => c.name.toUpperCase());
    assert.deepEqual(columns, ["NAME", "READY", "SCORE", "VIOLATED", "AGE"]);
    assert.deepEqual(table.rows[0]?.cells.slice(0, 4), ["columns", "True", "71%", 5]);
  });
});
