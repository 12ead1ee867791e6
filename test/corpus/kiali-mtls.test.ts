// Kiali's PeerAuthentication and DestinationRule mTLS fixtures. Kiali checks consistency (does the
// client side agree with the server side) and stays silent when both agree that TLS is off; we
// check compliance, so every DISABLE or PERMISSIVE is a finding whether or not the two agree. Each
// case lists the exact findings of our S-01/T-01/I-01 checks and the verdict the corpus README
// states for it.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { DESTINATION_RULE_CHECKS } from "../../operator/engine/checks/destinationrule.js";
import { MTLS_CHECKS } from "../../operator/engine/checks/mtls.js";
import type { ThreatId } from "../../operator/engine/types.js";
import { evaluateObjects, objectsFromYaml } from "../support/engine.js";

const UPSTREAM = new URL("../../../../shared/cases/upstream/", import.meta.url);
const DIR = new URL("kiali-validations/", UPSTREAM);
const skip = existsSync(UPSTREAM) ? false : "../shared/cases/upstream not found";

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

describe(
  "kiali-validations: PeerAuthentication and DestinationRule mTLS fixtures",
  { skip },
  () => {
    for (const c of CASES) {
      it(`${c.file} (Kiali: ${c.kiali}) fails ${c.fails.join(", ")}`, () => {
        const got = run(c.file);
        assert.deepEqual([...got.findings].sort(), [...c.findings].sort(), c.note);
        for (const threat of c.fails) assert.ok(got.failing.has(threat), `${threat} should fail`);
      });
    }
  },
);
