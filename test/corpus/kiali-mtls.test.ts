// Kiali's PeerAuthentication and DestinationRule mTLS fixtures. Kiali checks consistency (does the
// client side agree with the server side) and stays silent when both agree that TLS is off; we
// check compliance, so every DISABLE or PERMISSIVE is a finding whether or not the two agree. Each
// case lists the exact findings of our S-01/T-01/I-01 checks and the verdict the corpus README
// states for it.

import { it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { DESTINATION_RULE_CHECKS } from "../../operator/engine/checks/destinationrule.js";
import { MTLS_CHECKS } from "../../operator/engine/checks/mtls.js";
import type { ThreatId } from "../../operator/engine/types.js";
import { evaluateObjects, objectsFromYaml } from "../support/engine.js";
import { corpusDescribe } from "../support/corpus.js";

const UPSTREAM = new URL("../../../../shared/cases/upstream/", import.meta.url);
const DIR = new URL("kiali-validations/", UPSTREAM);

interface Case {
  file: string;
  kiali: string;
  /** Threats the README's "our verdict" column says fail. */
  fails: ThreatId[];
  /** Our findings as `check Kind namespace/name`. */
  findings: string[];
  /** Why a fixture's detail differs from what a reader of the README might expect. */
  note?: string;
}

const MESH_DISABLE = [
  "mtls-mesh-not-strict PeerAuthentication istio-system/disable-mesh-mtls",
  "mtls-permissive-policy PeerAuthentication istio-system/disable-mesh-mtls",
];
const NO_MESH_POLICY = "mtls-mesh-not-strict Namespace /istio-system";
const BOOKINFO_PLAINTEXT = "mtls-effective-plaintext Namespace /bookinfo";
const BOOKINFO_NS_DISABLE =
  "mtls-permissive-policy PeerAuthentication bookinfo/disable-mtls-bookinfo";
const GRAFANA_ROOT_SELECTOR =
  "mtls-conflicting-policies PeerAuthentication istio-system/grafana-ports-mtls-disabled";

const CASES: Case[] = [
  {
    file: "peerauthentications/disabled_meshwide_checker_1.yaml",
    kiali: "none",
    fails: ["S-01", "T-01", "I-01"],
    findings: [
      ...MESH_DISABLE,
      GRAFANA_ROOT_SELECTOR,
      "destinationrule-tls-disabled DestinationRule istio-system/disable-mesh-mtls",
    ],
    note: "the grafana policy has a selector in the root namespace, so Istio ignores it entirely",
  },
  {
    file: "peerauthentications/disabled_meshwide_checker_2.yaml",
    kiali: "KIA0506",
    fails: ["S-01", "T-01", "I-01"],
    findings: [...MESH_DISABLE, GRAFANA_ROOT_SELECTOR, BOOKINFO_PLAINTEXT],
  },
  {
    file: "peerauthentications/disabled_meshwide_checker_3.yaml",
    kiali: "none",
    fails: ["S-01", "T-01", "I-01"],
    findings: MESH_DISABLE,
    note:
      "the grafana DestinationRule DISABLE targets istio-system, which is not enrolled (the control " +
      "plane namespace is never injected), so it is not an in-mesh host",
  },
  {
    file: "peerauthentications/disabled_namespacewide_checker_1.yaml",
    kiali: "none",
    fails: ["S-01", "T-01", "I-01"],
    findings: [
      NO_MESH_POLICY,
      BOOKINFO_PLAINTEXT,
      BOOKINFO_NS_DISABLE,
      "destinationrule-tls-disabled DestinationRule bookinfo/disable-mtls-bookinfo",
    ],
  },
  {
    file: "peerauthentications/disabled_namespacewide_checker_2.yaml",
    kiali: "KIA0505",
    fails: ["S-01", "T-01", "I-01"],
    findings: [NO_MESH_POLICY, BOOKINFO_PLAINTEXT, BOOKINFO_NS_DISABLE],
  },
  {
    file: "peerauthentications/disabled_namespacewide_checker_3.yaml",
    kiali: "none",
    fails: ["S-01", "T-01", "I-01"],
    findings: [
      NO_MESH_POLICY,
      BOOKINFO_PLAINTEXT,
      BOOKINFO_NS_DISABLE,
      "destinationrule-tls-disabled DestinationRule istio-system/disable-mesh-mtls",
    ],
  },
  {
    file: "peerauthentications/disabled_namespacewide_checker_4.yaml",
    kiali: "KIA0505",
    fails: ["S-01", "T-01", "I-01"],
    findings: [NO_MESH_POLICY, BOOKINFO_PLAINTEXT, BOOKINFO_NS_DISABLE],
  },
  {
    file: "peerauthentications/disabled_namespacewide_checker_5.yaml",
    kiali: "none",
    fails: ["S-01", "T-01", "I-01"],
    findings: [NO_MESH_POLICY, BOOKINFO_PLAINTEXT, BOOKINFO_NS_DISABLE],
  },
  {
    file: "peerauthentications/disabled_namespacewide_checker_6.yaml",
    kiali: "none",
    fails: ["S-01", "T-01", "I-01"],
    findings: [
      BOOKINFO_PLAINTEXT,
      BOOKINFO_NS_DISABLE,
      "destinationrule-tls-disabled DestinationRule bookinfo/bookinfo-disable-mtls",
    ],
    note: "the mesh is STRICT, so mtls-mesh-not-strict passes; the namespace override is the failure",
  },
  {
    file: "destinationrules/disabled_meshwide_checker_1.yaml",
    kiali: "none",
    fails: ["S-01", "T-01", "I-01"],
    findings: [
      ...MESH_DISABLE,
      "destinationrule-tls-disabled DestinationRule istio-system/disable-mesh-mtls",
    ],
  },
  {
    file: "destinationrules/disabled_meshwide_checker_2.yaml",
    kiali: "KIA0208",
    fails: ["T-01"],
    findings: ["destinationrule-tls-disabled DestinationRule bookinfo/disable-mesh-mtls"],
  },
  {
    file: "destinationrules/disabled_meshwide_checker_3.yaml",
    kiali: "none",
    fails: ["S-01", "T-01", "I-01"],
    findings: [
      NO_MESH_POLICY,
      BOOKINFO_PLAINTEXT,
      "mtls-permissive-policy PeerAuthentication bookinfo/disable-grafana-mtls",
      "destinationrule-tls-disabled DestinationRule istio-system/mesh-enable-mtls",
    ],
  },
  {
    file: "destinationrules/disabled_meshwide_checker_4.yaml",
    kiali: "none",
    fails: ["S-01", "T-01", "I-01"],
    findings: [
      "mtls-mesh-not-strict PeerAuthentication istio-system/permissive-mesh-mtls",
      "mtls-permissive-policy PeerAuthentication istio-system/permissive-mesh-mtls",
      BOOKINFO_PLAINTEXT,
      "destinationrule-tls-disabled DestinationRule bookinfo/enable-mesh-mtls",
    ],
  },
  {
    file: "destinationrules/no-subset-labels-checker.yaml",
    kiali: "(no test)",
    fails: ["S-01", "T-01", "I-01"],
    findings: [
      NO_MESH_POLICY,
      BOOKINFO_PLAINTEXT,
      "destinationrule-tls-disabled DestinationRule bookinfo/no-subset-labels",
    ],
    note: "the README states T-01 only; with no PeerAuthentication at all the mesh is PERMISSIVE",
  },
];

function run(file: string): { findings: string[]; failing: Set<ThreatId> } {
  const objects = objectsFromYaml(readFileSync(new URL(file, DIR), "utf8"));
  const evaluation = evaluateObjects(objects, [...MTLS_CHECKS, ...DESTINATION_RULE_CHECKS]);
  const all = evaluation.partitions.flatMap((p) => p.findings);
  assert.deepEqual(
    evaluation.partitions.flatMap((p) => p.unknown),
    [],
  );
  const findings = all.map(
    (f) => `${f.check} ${f.resource.kind} ${f.resource.namespace ?? ""}/${f.resource.name}`,
  );
  return { findings, failing: new Set(all.flatMap((f) => f.threats)) };
}

corpusDescribe("kiali-validations: PeerAuthentication and DestinationRule mTLS fixtures", () => {
  for (const c of CASES) {
    it(`${c.file} (Kiali: ${c.kiali}) fails ${c.fails.join(", ")}`, () => {
      const got = run(c.file);
      assert.deepEqual([...got.findings].sort(), [...c.findings].sort(), c.note);
      for (const threat of c.fails) assert.ok(got.failing.has(threat), `${threat} should fail`);
    });
  }
});

// The authorization fixtures carry S-01/T-01 verdicts too. Only the threats are compared here (the
// AuthorizationPolicy side is judged elsewhere); a verdict of "pass" means no finding on bookinfo.
interface AuthzCase {
  n: string;
  fails: ThreatId[];
  /** For pass verdicts: whether any finding at all is expected, and why. */
  passNote?: string;
}

const AUTHZ: AuthzCase[] = [
  { n: "1", fails: ["S-01"] },
  {
    n: "2",
    fails: [],
    passNote: "bookinfo is STRICT; the mesh still has no mesh-wide STRICT policy (cluster finding)",
  },
  { n: "3", fails: ["S-01", "T-01", "I-01"] },
  {
    n: "4",
    fails: [],
    passNote:
      "the README says pass for bookinfo; we also report that no mesh-wide STRICT policy exists, " +
      "which concerns every other namespace",
  },
  { n: "5", fails: ["S-01", "T-01"] },
  { n: "6", fails: ["S-01"] },
  { n: "7", fails: ["T-01"] },
  { n: "71", fails: ["T-01"] },
  { n: "8", fails: ["T-01"] },
  { n: "9", fails: ["S-01", "T-01"] },
  { n: "10", fails: ["T-01"] },
  { n: "101", fails: ["T-01"] },
  { n: "11", fails: ["S-01", "T-01", "I-01"] },
  { n: "12", fails: ["S-01"] },
  { n: "13", fails: ["S-01", "T-01"] },
  { n: "14", fails: [] },
  { n: "15", fails: ["T-01"] },
  { n: "16", fails: ["S-01", "T-01"] },
  { n: "17", fails: ["T-01"] },
  { n: "18", fails: ["S-01"] },
  { n: "19", fails: ["T-01"] },
  { n: "20", fails: ["T-01"] },
  { n: "21", fails: ["T-01"] },
  { n: "22", fails: ["T-01"] },
  { n: "23", fails: ["S-01", "T-01"] },
];

corpusDescribe("kiali-validations: S-01/T-01 verdicts of the authorization fixtures", () => {
  for (const c of AUTHZ) {
    const file = `authorization/mtls_enabled_checker_${c.n}.yaml`;
    const verdict = c.fails.length > 0 ? `fails ${c.fails.join(", ")}` : "passes bookinfo";
    it(`${file} ${verdict}`, () => {
      const got = run(file);
      for (const threat of c.fails) assert.ok(got.failing.has(threat), `${threat} should fail`);
      if (c.fails.length > 0) return;
      const onBookinfo = got.findings.filter(
        (f) => f.includes(" bookinfo/") || f.endsWith("/bookinfo"),
      );
      assert.deepEqual(onBookinfo, []);
      const expected = c.passNote === undefined ? [] : [NO_MESH_POLICY];
      assert.deepEqual(got.findings, expected, c.passNote);
    });
  }
});
