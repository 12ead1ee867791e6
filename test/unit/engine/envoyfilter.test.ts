import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { envoyFilterUnexpected } from "../../../operator/engine/checks/envoyfilter.js";
import { classifyExtension } from "../../../operator/engine/envoyfilter.js";
import { objectsFromYaml, policyFromYaml, resources, runCheck } from "../../support/engine.js";

const ALLOW_RATELIMIT = `
apiVersion: meshcompliance.io/v1alpha1
kind: ThreatPolicy
metadata: {name: default}
spec:
  envoyFilters:
    allowed:
      - {namespace: "istio-*", name: "filter-ratelimit*"}
      - selector: {matchLabels: {owner: platform}}
`;

function filter(name: string, ns: string, spec: string, labels = "{}"): string {
  return `
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: ${name}, namespace: ${ns}, labels: ${labels}}
spec:
${spec}`;
}

const SELECTED = `  workloadSelector: {labels: {app: web}}\n`;

const REMOVE_RBAC = `${SELECTED}  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
            subFilter: {name: envoy.filters.http.rbac}
    patch: {operation: REMOVE}
`;

const LUA = `${SELECTED}  configPatches:
  - applyTo: HTTP_FILTER
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.lua
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
          defaultSourceCode: {inlineString: "function envoy_on_request(h) end"}
`;

function cluster(address: string, port: number): string {
  return `${SELECTED}  configPatches:
  - applyTo: CLUSTER
    patch:
      operation: ADD
      value:
        name: c
        load_assignment:
          cluster_name: c
          endpoints:
          - lb_endpoints:
            - endpoint: {address: {socket_address: {address: "${address}", port_value: ${port}}}}
`;
}

const cases: {
  name: string;
  yaml: string;
  policy?: string;
  expect: string[];
  severity?: string;
}[] = [
  {
    name: "reports an EnvoyFilter that the policy does not allow",
    yaml: filter("lua", "shop", LUA),
    expect: ["EnvoyFilter shop/lua"],
    severity: "high",
  },
  {
    name: "reports nothing when no extension exists",
    yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
    expect: [],
  },
  {
    name: "accepts an EnvoyFilter allowed by namespace and name globs",
    yaml: filter("filter-ratelimit", "istio-system", SELECTED),
    policy: ALLOW_RATELIMIT,
    expect: [],
  },
  {
    name: "accepts an EnvoyFilter allowed by a label selector",
    yaml: filter("anything", "shop", LUA, "{owner: platform}"),
    policy: ALLOW_RATELIMIT,
    expect: [],
  },
  {
    name: "rates the removal of the rbac filter critical",
    yaml: filter("no-authz", "shop", REMOVE_RBAC),
    expect: ["EnvoyFilter shop/no-authz"],
    severity: "critical",
  },
  {
    name: "raises a root-namespace EnvoyFilter without a selector (mesh-wide)",
    yaml: filter("wide", "istio-system", "  configPatches: []\n"),
    expect: ["EnvoyFilter istio-system/wide"],
    severity: "high",
  },
  {
    name: "rates a WasmPlugin high because it runs code in the proxy",
    yaml: `
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: auth, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  url: oci://example.com/auth:1
`,
    expect: ["WasmPlugin shop/auth"],
    severity: "high",
  },
  {
    name: "rates a selector-less TrafficExtension with Lua critical (code raised by scope)",
    yaml: `
apiVersion: extensions.istio.io/v1alpha1
kind: TrafficExtension
metadata: {name: lua, namespace: shop}
spec:
  lua: {inlineCode: "function envoy_on_request(h) end"}
`,
    expect: ["TrafficExtension shop/lua"],
    severity: "critical",
  },
  {
    name: "rates a cluster aimed at the Envoy admin port critical",
    yaml: filter("admin", "shop", cluster("127.0.0.1", 15000)),
    expect: ["EnvoyFilter shop/admin"],
    severity: "critical",
  },
];

describe("envoyfilter-unexpected", () => {
  for (const c of cases) {
    it(c.name, () => {
      const options = c.policy ? { policy: policyFromYaml(c.policy) } : {};
      const { findings, unknown } = runCheck(envoyFilterUnexpected, c.yaml, options);
      assert.deepEqual(resources(findings), c.expect);
      assert.deepEqual(unknown, []);
      if (c.severity) assert.equal(findings[0]?.severity, c.severity);
      for (const f of findings) assert.equal(f.check, "envoyfilter-unexpected");
    });
  }

  it("reports Unknown when EnvoyFilters could not be read", () => {
    const { findings, unknown } = runCheck(
      envoyFilterUnexpected,
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
      {
        snapshot: { unavailable: new Map([["networking.istio.io/EnvoyFilter", "forbidden"]]) },
      },
    );
    assert.deepEqual(findings, []);
    assert.ok(unknown.length > 0);
  });
});

function traitsOf(yaml: string): string[] {
  const [o] = objectsFromYaml(yaml);
  assert.ok(o);
  return classifyExtension(o, "istio-system").traits.map((t) => t.id);
}

describe("EnvoyFilter risk classification", () => {
  const table: { name: string; yaml: string; traits: string[]; risk?: string }[] = [
    {
      name: "a REPLACE of ext_authz found by typed_config @type is critical",
      yaml: filter(
        "x",
        "shop",
        `${SELECTED}  configPatches:
  - applyTo: HTTP_FILTER
    patch:
      operation: MERGE
      value:
        typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz}
        disabled: true
`,
      ),
      traits: ["security-filter-removed"],
      risk: "critical",
    },
    {
      name: "a REMOVE of the HTTP connection manager removes the HTTP authorization filters with it",
      yaml: filter(
        "x",
        "shop",
        `${SELECTED}  configPatches:
  - applyTo: NETWORK_FILTER
    match: {listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager}}}}
    patch: {operation: REMOVE}
`,
      ),
      traits: ["security-filter-removed"],
      risk: "critical",
    },
    {
      name: "a REMOVE of network filters without a filter name removes every filter",
      yaml: filter(
        "x",
        "shop",
        `${SELECTED}  configPatches:\n  - applyTo: NETWORK_FILTER\n    patch: {operation: REMOVE}\n`,
      ),
      traits: ["security-filter-removed"],
      risk: "critical",
    },
    {
      name: "a MERGE into the rbac filter that does not disable it is high",
      yaml: filter(
        "x",
        "shop",
        `${SELECTED}  configPatches:
  - applyTo: HTTP_FILTER
    match: {listener: {filterChain: {filter: {subFilter: {name: envoy.filters.http.rbac}}}}}
    patch: {operation: MERGE, value: {typed_config: {}}}
`,
      ),
      traits: ["security-filter-modified"],
      risk: "high",
    },
    {
      name: "a patch on the inbound capture listener 15006 is high",
      yaml: filter(
        "x",
        "shop",
        `${SELECTED}  configPatches:
  - applyTo: LISTENER
    match: {listener: {portNumber: 15006}}
    patch: {operation: MERGE, value: {}}
`,
      ),
      traits: ["capture-listener"],
      risk: "high",
    },
    {
      name: "a cluster aimed outside the mesh is high",
      yaml: filter("x", "shop", cluster("internal.org.net", 443)),
      traits: ["external-cluster"],
      risk: "high",
    },
    {
      name: "a cluster aimed at a cluster.local service adds no trait",
      yaml: filter("x", "shop", cluster("ratelimit.default.svc.cluster.local", 8081)),
      traits: [],
      risk: "medium",
    },
    {
      name: "a root-namespace EnvoyFilter with a selector reaches every namespace",
      yaml: filter("x", "istio-system", SELECTED),
      traits: ["root-namespace"],
      risk: "high",
    },
    {
      name: "an empty workloadSelector counts as no selector",
      yaml: filter("x", "shop", "  workloadSelector: {labels: {}}\n"),
      traits: ["namespace-wide"],
      risk: "high",
    },
    {
      name: "targetRefs narrow an extension to one object even in the root namespace",
      yaml: filter("x", "istio-system", "  targetRefs: [{kind: Gateway, name: gw}]\n"),
      traits: [],
      risk: "medium",
    },
    {
      name: "wrong field types are treated as absent",
      yaml: filter("x", "shop", `${SELECTED}  configPatches: "not a list"\n`),
      traits: [],
      risk: "medium",
    },
  ];
  for (const c of table) {
    it(c.name, () => {
      assert.deepEqual(traitsOf(c.yaml), c.traits);
      if (c.risk) {
        const [o] = objectsFromYaml(c.yaml);
        assert.ok(o);
        assert.equal(classifyExtension(o, "istio-system").risk, c.risk);
      }
    });
  }
});
