#!/usr/bin/env node
/* global fetch */
// `make demo`: the operator's main job on one command. Starts the test control plane (real
// kube-apiserver and etcd, built or reused by hack/controlplane/build.sh), installs the CRDs, applies
// the hardened example mesh and its ThreatPolicy (deploy/examples/policies/hardened.yaml), runs
// `mesh-compliance operator` as a child process against it, prints the ComplianceReport table (what
// `kubectl get compliancereports` shows), the threat table and key gauges, then switches the
// mesh-wide PeerAuthentication to PERMISSIVE and shows both change. The operator runs under its own
// ServiceAccount with the shipped RBAC. Everything it started is stopped on the way out; with
// `--keep` it first waits for Ctrl-C, leaving both running to explore.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const dist = (p) => join(root, "dist", p);
const { ControlPlane, waitFor } = await import(dist("test/harness/index.js"));
const support = await import(dist("test/integration/operator-support.js"));
const { CustomObjectsApi, AdmissionregistrationV1Api } = await import("@kubernetes/client-node");

const say = (line = "") => process.stdout.write(`${line}\n`);

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function age(timestamp) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(timestamp)) / 1000));
  return s < 120 ? `${s}s` : `${Math.round(s / 60)}m`;
}

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) =>
    r
      .map((c, i) => String(c).padEnd(widths[i]))
      .join("   ")
      .trimEnd(),
  );
}

function reportRow(r) {
  const s = r.status ?? {};
  const sum = s.summary ?? {};
  const cells = [s.policy, s.scoreText, s.mitigatedText, sum.violated, sum.violatedCritical];
  return [
    r.metadata.name,
    ...cells,
    sum.violatedHigh,
    sum.waived,
    age(r.metadata.creationTimestamp),
  ].map((c) => c ?? "");
}

async function printReports(kc) {
  const api = kc.makeApiClient(CustomObjectsApi);
  const list = await api.listClusterCustomObject({
    group: "meshcompliance.io",
    version: "v1alpha1",
    plural: "compliancereports",
  });
  say("$ mesh-compliance: kubectl get compliancereports (kubectl is not needed)");
  const rows = [
    ["NAME", "POLICY", "SCORE", "MITIGATED", "VIOLATED", "CRITICAL", "HIGH", "WAIVED", "AGE"],
  ];
  for (const r of list.items) rows.push(reportRow(r));
  for (const line of table(rows)) say(line);
  return list.items[0]?.status;
}

function printThreats(status) {
  say();
  const rows = [["THREAT", "STATUS", "RISK", "OPEN", "TITLE"]];
  for (const t of status.threats) rows.push([t.id, t.status, t.risk, t.counts.open, t.title]);
  for (const line of table(rows)) say(line);
  // Why each threat is not mitigated: its first findings, or the reason it could not be judged.
  say();
  for (const t of status.threats.filter((x) => x.status === "Violated" || x.status === "Unknown")) {
    const why = t.findings.slice(0, 2).map((f) => f.message);
    for (const line of why.length > 0 ? why : [t.reason ?? ""]) say(`${t.id} ${t.status}: ${line}`);
  }
}

async function printGauges(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const wanted = [
    /^mesh_compliance_score\{/,
    /^mesh_compliance_peer_authentication_mode\{namespace="istio-system"/,
    /^mesh_compliance_threat_mitigated\{[^}]*threat="(S-01|I-01)"/,
    /^mesh_compliance_effective_plaintext_workloads\{/,
  ];
  say();
  say("key gauges (GET /metrics):");
  for (const line of text.split("\n")) if (wanted.some((re) => re.test(line))) say(`  ${line}`);
}

const children = [];
let cp;
async function cleanup() {
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  await Promise.all(
    children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : null)),
  );
  await cp?.stop();
}
// `--keep` leaves the control plane and the operator running for exploring, until Ctrl-C.
const keep = process.argv.includes("--keep");
let stopRequested;
const interrupted = new Promise((resolve) => (stopRequested = resolve));
// `on`, not `once`: the control plane's own signal handler ends the process only when no other
// handler is left, and the operator child must be stopped here first.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    if (keep) stopRequested();
    else void cleanup().then(() => process.exit(signal === "SIGINT" ? 130 : 143));
  });
}

async function explore(port) {
  const kubeconfig = join(cp.dir, "kubeconfig.json");
  say("== still running (--keep); press Ctrl-C to stop everything");
  say(`   API server:  ${cp.server} (admin kubeconfig: ${kubeconfig})`);
  say(`   operator:    http://127.0.0.1:${port}/metrics, /report, /readyz`);
  say(`   e.g.         KUBECONFIG=${kubeconfig} kubectl get compliancereports`);
  say(`                curl -s http://127.0.0.1:${port}/report | head`);
  await interrupted;
  say();
}

try {
  say("== starting the control plane (kube-apiserver v1.34 + etcd) with the CRDs");
  cp = await ControlPlane.start({
    label: "demo",
    apiServerFlags: { "allow-privileged": "true" },
    log: () => undefined,
  });
  const admin = cp.kubeConfig;
  // The hardened mesh declares deliberate choices in its own policy: without it, its allowed
  // rate-limit EnvoyFilter would show T-03 Violated and the audit attestation would be missing.
  // The demo plays the GitOps tool: objects are applied with Flux's field manager, as in a cluster
  // run from Git, so config-outside-gitops (T-02/R-02) sees GitOps-managed objects.
  const skipped = await support.applyObjects(
    admin,
    [
      support.yamlObjects(join(root, "deploy/examples/policies/hardened.yaml"))[0],
      ...support.exampleObjects("hardened-mesh"),
    ],
    { fieldManager: "kustomize-controller" },
  );
  if (skipped.length > 0) say(`(left out, their CRDs are not installed: ${skipped.join(", ")})`);
  // The example's validating webhook calls istiod, which does not run here; it would refuse the
  // PERMISSIVE switch below.
  await admin
    .makeApiClient(AdmissionregistrationV1Api)
    .deleteValidatingWebhookConfiguration({ name: "istiod-default-validator" });

  // The operator runs as it would in a cluster: under its own ServiceAccount, bound to the
  // ClusterRole and leader-election Role of deploy/base/rbac.yaml, not with the admin's rights.
  const operatorConfig = join(cp.dir, "operator-kubeconfig.json");
  writeFileSync(operatorConfig, (await support.operatorKubeConfig(cp)).exportConfig());
  const port = await freePort();
  say(
    `== running: mesh-compliance operator as ServiceAccount ${support.OPERATOR_NAMESPACE}/${support.OPERATOR_ACCOUNT} (logs below)`,
  );
  const operator = spawn(
    process.execPath,
    [
      dist("operator/cli/main.js"),
      "operator",
      `--kubeconfig=${operatorConfig}`,
      `--metrics-address=127.0.0.1:${port}`,
      `--lease-namespace=${support.OPERATOR_NAMESPACE}`,
      "--log-format=text",
    ],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  children.push(operator);
  await waitFor("/readyz", 60_000, async () => {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
    return res?.status === 200 ? true : undefined;
  });
  await waitFor("the ComplianceReport", 30_000, async () => {
    const r = await support.getReport(admin, "hardened");
    return r?.status?.threats ? true : undefined;
  });
  say();
  printThreats(await printReports(admin));
  await printGauges(port);

  say();
  say("== switching the mesh-wide PeerAuthentication to PERMISSIVE");
  const api = admin.makeApiClient(CustomObjectsApi);
  const pa = { group: "security.istio.io", version: "v1", plural: "peerauthentications" };
  const list = await api.listNamespacedCustomObject({ ...pa, namespace: "istio-system" });
  const name = list.items[0].metadata.name;
  const started = Date.now();
  await api.patchNamespacedCustomObject({
    ...pa,
    namespace: "istio-system",
    name,
    body: [{ op: "replace", path: "/spec/mtls/mode", value: "PERMISSIVE" }],
  });
  await waitFor("S-01 Violated", 30_000, async () => {
    const r = await support.getReport(admin, "hardened");
    return r?.status?.threats?.find((t) => t.id === "S-01")?.status === "Violated"
      ? true
      : undefined;
  });
  say(`(the report changed ${Date.now() - started} ms after the switch)`);
  say();
  printThreats(await printReports(admin));
  await printGauges(port);
  say();
  if (keep) await explore(port);
  say("== stopping (SIGTERM to the operator, then the control plane)");
} catch (error) {
  process.exitCode = 1;
  process.stderr.write(`demo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
} finally {
  await cleanup();
}
