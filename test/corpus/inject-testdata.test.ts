// Istio's injector test data: workloads before injection and the golden result after it. The
// injected outputs are the most realistic proxies there are, so they anchor the proxy checks of
// I-03, D-01 and E-01. Each folder README verdict is asserted; the surprising ones are explained.

import { it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import type { Check } from "../../operator/engine/check.js";
import { POD_SECURITY_CHECKS } from "../../operator/engine/checks/podsecurity.js";
import { RESOURCE_CHECKS } from "../../operator/engine/checks/resources.js";
import type { Finding, UnknownInput } from "../../operator/engine/types.js";
import { evaluateObjects, objectsFromYaml } from "../support/engine.js";
import { corpusDescribe } from "../support/corpus.js";

const DIR = new URL("../../../../shared/cases/upstream/istio-inject-testdata/", import.meta.url);
const CHECKS: readonly Check[] = [...POD_SECURITY_CHECKS, ...RESOURCE_CHECKS];

function scan(file: string): { findings: Finding[]; unknown: UnknownInput[] } {
  const objects = objectsFromYaml(readFileSync(new URL(file, DIR), "utf8"));
  const partitions = evaluateObjects(objects, CHECKS).partitions;
  return {
    findings: partitions.flatMap((p) => p.findings),
    unknown: partitions.flatMap((p) => p.unknown),
  };
}

function messages(run: { findings: Finding[] }, check: string): string[] {
  return run.findings.filter((f) => f.check === check).map((f) => f.message);
}

function injectedFiles(): string[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith(".injected"))
    .sort();
}

corpusDescribe("inject testdata: injected proxies", () => {
  it("passes the default sidecar's privileges, limits and read-only root (hello)", () => {
    const run = scan("hello.yaml.injected");
    assert.deepEqual(messages(run, "proxy-privileges"), []);
    assert.deepEqual(messages(run, "init-privileges"), []);
    assert.deepEqual(messages(run, "sidecar-resources-unbounded"), []);
    // Only the application container is writable: istio-init is exempt by design.
    const writable = messages(run, "writable-root-filesystem");
    assert.equal(writable.length, 1);
    assert.match(writable[0] ?? "", /container\(s\) hello with/);
    // The README: no seccompProfile anywhere, so the whole pod is reported.
    assert.match(messages(run, "seccomp-missing")[0] ?? "", /istio-init.*istio-proxy/);
  });

  it("sees the CNI validation container instead of istio-init and still wants seccomp", () => {
    const run = scan("hello.yaml.cni.injected");
    assert.deepEqual(messages(run, "init-privileges"), []);
    assert.match(messages(run, "seccomp-missing")[0] ?? "", /istio-validation/);
  });

  it("allows the TPROXY proxy's root and NET_ADMIN, set through the mesh's proxy config", () => {
    // The pod carries no interceptionMode annotation: the mode reaches the proxy through
    // ISTIO_META_INTERCEPTION_MODE, which the check reads.
    assert.deepEqual(messages(scan("hello-tproxy.yaml.injected"), "proxy-privileges"), []);
    assert.deepEqual(
      messages(scan("proxy-override-runas.yaml.tproxy.injected"), "proxy-privileges"),
      [],
    );
  });

  it("keeps a user-chosen non-root UID (1234) on the proxy", () => {
    assert.deepEqual(messages(scan("proxy-override-runas.yaml.injected"), "proxy-privileges"), []);
  });

  it("reports the missing limit of each null or zero resource variant", () => {
    const expected: [string, RegExp][] = [
      ["proxy-resources-null.yaml.injected", /no cpu limits,? so/],
      ["proxy-resources-zero.yaml.injected", /no cpu limits,? so/],
      ["proxy-resources-memory-null.yaml.injected", /no memory limits,? so/],
      ["proxy-resources-mixed-null.yaml.injected", /no cpu limits,? so/],
    ];
    for (const [file, re] of expected) {
      const found = messages(scan(file), "sidecar-resources-unbounded");
      assert.equal(found.length, 1, file);
      assert.match(found[0] ?? "", re, file);
    }
  });

  it("judges resource annotations on a template before injection as bounded", () => {
    // proxyCPULimit 1000m and proxyMemoryLimit 2Gi become the proxy's limits.
    const run = scan("resource_annotations.yaml");
    assert.deepEqual(messages(run, "sidecar-resources-unbounded"), []);
    assert.ok(!run.unknown.some((u) => u.check === "sidecar-resources-unbounded"));
    assert.deepEqual(
      messages(scan("resource_annotations.yaml.injected"), "sidecar-resources-unbounded"),
      [],
    );
  });

  it("reports proxy privileges only where the injected proxy really lacks hardening", () => {
    const flagged = injectedFiles().filter((f) => messages(scan(f), "proxy-privileges").length > 0);
    assert.deepEqual(flagged, [
      // The gateway, grpc-agent and spire templates set only runAsUser/runAsGroup 1337 on the
      // proxy: no drop ALL and no allowPrivilegeEscalation=false, so the runtime's default
      // capabilities stay. A real gap, not noise.
      "gateway-spire.yaml.injected",
      "gateway-with-default-container.yaml.injected",
      "gateway.yaml.injected",
      "grpc-agent.yaml.injected",
      // The user's istio-proxy override sets allowPrivilegeEscalation: true.
      "proxy-override.yaml.injected",
      "sidecar-spire.yaml.injected",
    ]);
  });

  it("never reports istio-init of the stock template, which keeps to NET_ADMIN and NET_RAW", () => {
    const flagged = injectedFiles().filter((f) => messages(scan(f), "init-privileges").length > 0);
    assert.deepEqual(flagged, []);
  });

  it("says unknown, not pass, for a template before injection without the injector", () => {
    const run = scan("hello.yaml");
    const checks = new Set(run.unknown.map((u) => u.check));
    for (const id of ["proxy-privileges", "init-privileges", "sidecar-resources-unbounded"]) {
      assert.ok(checks.has(id), id);
    }
  });
});
