import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_MINIMUM_ISTIO_VERSION,
  istioVersionOutdated,
  proxyVersionSkew,
} from "../../../operator/engine/checks/versions.js";
import { compareVersions, imageVersion, parseVersion } from "../../../operator/engine/versions.js";
import { assertCheckCase, policyFromYaml, runCheck, type CheckCase } from "../../support/engine.js";

const doc = (...parts: string[]): string => parts.join("\n---\n");

const NS = `apiVersion: v1
kind: Namespace
metadata: {name: app, labels: {istio-injection: enabled}}`;

function istiod(image: string, rev = "default"): string {
  const name = rev === "default" ? "istiod" : `istiod-${rev}`;
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: istio-system, labels: {app: istiod, istio.io/rev: ${rev}}}
spec:
  template:
    spec:
      containers: [{name: discovery, image: "${image}"}]`;
}

function pod(name: string, image: string, meta = ""): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: app
  annotations: {sidecar.istio.io/status: '{"revision":"default"}'}
  ${meta}
spec:
  initContainers: [{name: istio-proxy, image: "${image}", restartPolicy: Always}]
  containers: [{name: app}]`;
}

const POLICY_126 = policyFromYaml(`apiVersion: meshcompliance.io/v1alpha1
kind: ThreatPolicy
metadata: {name: default}
spec: {minimumIstioVersion: "1.26"}`);

interface Case extends CheckCase {
  minimum126?: boolean;
}

const CASES: Case[] = [
  {
    name: "reports istiod older than the default minimum",
    check: istioVersionOutdated,
    yaml: istiod("docker.io/istio/pilot:1.27.3"),
    expect: ["Deployment istio-system/istiod"],
    message: new RegExp(`1\\.27\\.3, older than the minimum ${DEFAULT_MINIMUM_ISTIO_VERSION}`),
  },
  {
    name: "passes a distroless istiod at the default minimum",
    check: istioVersionOutdated,
    yaml: istiod(`docker.io/istio/pilot:${DEFAULT_MINIMUM_ISTIO_VERSION}.0-distroless`),
    expect: [],
  },
  {
    name: "follows the policy's minimumIstioVersion",
    check: istioVersionOutdated,
    yaml: istiod("docker.io/istio/pilot:1.27.3"),
    expect: [],
    minimum126: true,
  },
  {
    name: "says unknown for an image pinned by digest only",
    check: istioVersionOutdated,
    yaml: istiod("docker.io/istio/pilot@sha256:0123456789abcdef"),
    expect: [],
    unknown: /tag names no version/,
  },
  {
    name: "reports a sidecar one minor behind its revision's istiod",
    check: proxyVersionSkew,
    yaml: doc(NS, istiod("istio/pilot:1.30.2"), pod("p", "istio/proxyv2:1.29.4")),
    expect: ["Pod app/p"],
    severities: ["medium"],
    message: /1\.29\.4 while istiod for revision default runs 1\.30\.2/,
  },
  {
    name: "reports a patch-level skew as low",
    check: proxyVersionSkew,
    yaml: doc(NS, istiod("istio/pilot:1.30.2"), pod("p", "istio/proxyv2:1.30.1-distroless")),
    expect: ["Pod app/p"],
    severities: ["low"],
  },
  {
    name: "reports a sidecar newer than its control plane as high",
    check: proxyVersionSkew,
    yaml: doc(NS, istiod("istio/pilot:1.29.0"), pod("p", "istio/proxyv2:1.30.0")),
    expect: ["Pod app/p"],
    severities: ["high"],
  },
  {
    name: "passes a sidecar on its own revision's version when another revision differs",
    check: proxyVersionSkew,
    yaml: doc(
      NS,
      istiod("istio/pilot:1.29.0"),
      istiod("istio/pilot:1.30.1", "canary"),
      pod("p", "istio/proxyv2:1.30.1", "labels: {istio.io/rev: canary}"),
    ),
    expect: [],
  },
  {
    name: "says unknown when a sidecar's image has no version",
    check: proxyVersionSkew,
    yaml: doc(NS, istiod("istio/pilot:1.30.1"), pod("p", "istio/proxyv2@sha256:abc")),
    expect: [],
    unknown: /cannot be read from image tags/,
  },
];

describe("version checks (E-01)", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const run = runCheck(c.check, c.yaml, c.minimum126 ? { policy: POLICY_126 } : {});
      assertCheckCase(c, run);
    });
  }
});

describe("image versions", () => {
  const TAGS: [string, string | undefined][] = [
    ["docker.io/istio/pilot:1.27.3", "1.27.3"],
    ["gcr.io/istio-release/proxyv2:1.27.3-distroless", "1.27.3"],
    ["localhost:5000/istio/pilot:1.28.0@sha256:abc", "1.28.0"],
    ["localhost:5000/istio/pilot@sha256:abc", undefined],
    ["istio/pilot:latest", undefined],
    ["istio/pilot", undefined],
  ];
  for (const [image, expected] of TAGS) {
    it(`reads ${expected ?? "no version"} from ${image}`, () => {
      const v = imageVersion(image);
      assert.equal(v ? `${v.major}.${v.minor}.${v.patch ?? "x"}` : undefined, expected);
    });
  }
  it("compares a minor-only minimum as equal to any of its patches", () => {
    assert.equal(compareVersions(parseVersion("1.26.9")!, parseVersion("1.26")!), 0);
    assert.ok(compareVersions(parseVersion("1.25.9")!, parseVersion("1.26")!) < 0);
  });
});
