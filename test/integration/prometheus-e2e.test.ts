// End to end: the operator runs against the test control plane under its own ServiceAccount and the
// shipped ClusterRole; a real Prometheus (Debian's package) scrapes it every second with the
// shipped alert rules loaded. Making the mesh PERMISSIVE must raise the alerts in Prometheus's
// alerts API, and restoring STRICT must resolve them. Everything listens on 127.0.0.1.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import {
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
} from "@kubernetes/client-node";
import yaml from "js-yaml";
import { controlPlaneSkipReason, useControlPlane, waitFor } from "../harness/index.js";
import { findOnPath, ROOT, RULES_FILE } from "../unit/observability/promtool.js";

const PROMETHEUS = findOnPath("prometheus");
const CLI = join(ROOT, "dist/operator/cli/main.js");
const SHOP = "e2e-shop";
const ROOT_NS = "istio-system";
const PA = { group: "security.istio.io", version: "v1", plural: "peerauthentications" };
const DEADLINE_MS = 90_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** Child processes this file started; killed on every exit path, the process's own included. */
const children = new Set<ChildProcess>();
function killAll(): void {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
}
process.on("exit", killAll);

function start(command: string, args: string[], logFile: string): ChildProcess {
  const log = openSync(logFile, "a");
  const child = spawn(command, args, { stdio: ["ignore", log, log], env: process.env });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Waits for a condition, with the deadline every wait of this file shares. */
async function until(what: string, condition: () => Promise<boolean>): Promise<void> {
  await waitFor(what, DEADLINE_MS, async () => ((await condition()) ? true : undefined));
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

async function ok(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
}

interface Alert {
  labels: Record<string, string>;
  state: string;
}

async function firing(prometheus: string): Promise<Alert[]> {
  const body = (await getJson(`${prometheus}/api/v1/alerts`)) as { data: { alerts: Alert[] } };
  return body.data.alerts.filter((a) => a.state === "firing");
}

function has(alerts: Alert[], name: string, labels: Record<string, string>): boolean {
  return alerts.some(
    (a) =>
      a.labels.alertname === name && Object.entries(labels).every(([k, v]) => a.labels[k] === v),
  );
}

async function query(prometheus: string, promql: string): Promise<number[]> {
  const url = `${prometheus}/api/v1/query?query=${encodeURIComponent(promql)}`;
  const body = (await getJson(url)) as { data: { result: { value: [number, string] }[] } };
  return body.data.result.map((r) => Number(r.value[1]));
}

const PERMISSIVE_ALERT = "MeshCompliancePeerAuthenticationNotStrict";
const PLAINTEXT_ALERT = "MeshCompliancePlaintextAccepted";
const PLAINTEXT_GAUGE = `mesh_compliance_effective_plaintext_workloads{namespace="${SHOP}"}`;

const MESH = `
apiVersion: v1
kind: Namespace
metadata: { name: ${ROOT_NS} }
---
apiVersion: v1
kind: Namespace
metadata: { name: ${SHOP}, labels: { istio-injection: enabled } }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: ${SHOP} }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: web, image: "registry.example/web:1" }] }
---
apiVersion: meshcompliance.io/v1alpha1
kind: ThreatPolicy
metadata: { name: e2e }
spec: {}
`;

function meshWidePolicy(mode: string): KubernetesObject {
  const text = `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: ${ROOT_NS} }
spec: { mtls: { mode: ${mode} } }
`;
  return yaml.load(text) as KubernetesObject;
}

describe("alerts in a real Prometheus scraping the operator", { skip: skipReason() }, () => {
  const fixture = useControlPlane({ label: "prometheus-e2e" });
  const dir = mkdtempSync(join(tmpdir(), "mesh-compliance-e2e-"));
  let operator: ChildProcess | undefined;
  let prometheusProcess: ChildProcess | undefined;
  let prometheus = "";
  let objects: KubernetesObjectApi;
  let custom: CustomObjectsApi;
  let failed = false;

  before(async () => {
    if (fixture.skip !== undefined) return;
    failed = true; // until the setup has finished
    const kc = fixture.cp.kubeConfig;
    objects = KubernetesObjectApi.makeApiClient(kc);
    custom = kc.makeApiClient(CustomObjectsApi);
    await grantShippedRole();
    for (const doc of yaml.loadAll(MESH)) await objects.create(doc as KubernetesObject);
    await objects.create(meshWidePolicy("STRICT"));
    const token = await fixture.cp.serviceAccountToken({
      namespace: "default",
      name: "mesh-compliance-operator",
      clusterRole: "mesh-compliance-operator",
    });
    const kubeconfig = join(dir, "operator.kubeconfig");
    writeFileSync(kubeconfig, fixture.cp.kubeConfigForToken(token).exportConfig());

    const metricsPort = await freePort();
    operator = start(
      process.execPath,
      [
        CLI,
        "operator",
        `--kubeconfig=${kubeconfig}`,
        `--metrics-address=127.0.0.1:${String(metricsPort)}`,
        "--leader-election=false",
        "--debounce=100ms",
        "--log-format=json",
        "--log-level=debug",
      ],
      join(dir, "operator.log"),
    );
    const metrics = `http://127.0.0.1:${String(metricsPort)}`;
    await until("operator ready", () => ok(`${metrics}/readyz`)).catch(async (error: unknown) => {
      // The operator's own view of why it is not ready, kept with the logs.
      const text = await fetch(`${metrics}/metrics`).then((r) => r.text(), String);
      writeFileSync(join(dir, "metrics.txt"), text);
      throw error;
    });

    prometheus = await startPrometheus(metricsPort);
    failed = false;
  });

  after(async () => {
    await stop(prometheusProcess);
    await stop(operator);
    killAll();
    if (failed)
      process.stderr.write(`prometheus-e2e: logs kept in ${dir}\n${tail("operator.log")}`);
    else rmSync(dir, { recursive: true, force: true });
  });
  afterEach((context) => {
    if ((context as { passed?: boolean }).passed === false) failed = true;
  });

  function tail(file: string): string {
    try {
      return readFileSync(join(dir, file), "utf8").split("\n").slice(-40).join("\n");
    } catch {
      return `(no ${file})`;
    }
  }

  /** The shipped ClusterRole, created from deploy/base/rbac.yaml as it is. */
  async function grantShippedRole(): Promise<void> {
    const docs = yaml.loadAll(readFileSync(join(ROOT, "deploy/base/rbac.yaml"), "utf8"));
    const role = docs.find((d) => (d as KubernetesObject | null)?.kind === "ClusterRole");
    assert.ok(role, "deploy/base/rbac.yaml has no ClusterRole");
    await objects.create(role);
  }

  async function startPrometheus(metricsPort: number): Promise<string> {
    const port = await freePort();
    const config = {
      global: { scrape_interval: "1s", evaluation_interval: "1s", scrape_timeout: "1s" },
      rule_files: [RULES_FILE],
      scrape_configs: [
        {
          job_name: "mesh-compliance-operator",
          static_configs: [{ targets: [`127.0.0.1:${String(metricsPort)}`] }],
        },
      ],
    };
    const configFile = join(dir, "prometheus.yml");
    writeFileSync(configFile, yaml.dump(config));
    prometheusProcess = start(
      PROMETHEUS ?? "prometheus",
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, "tsdb")}`,
        `--web.listen-address=127.0.0.1:${String(port)}`,
        "--log.level=warn",
      ],
      join(dir, "prometheus.log"),
    );
    const url = `http://127.0.0.1:${String(port)}`;
    await until("Prometheus ready", () => ok(`${url}/-/ready`));
    return url;
  }

  async function setMode(mode: string | undefined): Promise<void> {
    if (mode === undefined) {
      await custom.deleteNamespacedCustomObject({ ...PA, namespace: ROOT_NS, name: "default" });
      return;
    }
    const exists = await custom
      .getNamespacedCustomObject({ ...PA, namespace: ROOT_NS, name: "default" })
      .then(
        () => true,
        () => false,
      );
    if (!exists) await objects.create(meshWidePolicy(mode));
    else {
      const patch = meshWidePolicy(mode);
      await objects.patch(patch, undefined, undefined, "e2e", undefined, PatchStrategy.MergePatch);
    }
  }

  async function waitForAlerts(what: string, check: (alerts: Alert[]) => boolean): Promise<number> {
    const started = Date.now();
    await until(what, async () => check(await firing(prometheus)));
    return Date.now() - started;
  }

  it("scrapes the operator and raises no mTLS alert while the mesh is STRICT", async (t) => {
    await until(
      "the plaintext gauge of the shop namespace in Prometheus",
      async () => (await query(prometheus, PLAINTEXT_GAUGE)).length === 1,
    );
    assert.deepEqual(await query(prometheus, PLAINTEXT_GAUGE), [0]);
    const alerts = await firing(prometheus);
    assert.ok(!has(alerts, PERMISSIVE_ALERT, {}), "no PeerAuthentication alert");
    assert.ok(!has(alerts, PLAINTEXT_ALERT, {}), "no plaintext alert");
    t.diagnostic(`scraped; ${String(alerts.length)} alert(s) firing, none about mTLS`);
  });

  it("fires both mTLS alerts when the mesh-wide policy becomes PERMISSIVE, and resolves them on STRICT", async (t) => {
    await setMode("PERMISSIVE");
    const fired = await waitForAlerts(
      "PERMISSIVE alerts firing",
      (a) =>
        has(a, PERMISSIVE_ALERT, { namespace: ROOT_NS, name: "default", mode: "PERMISSIVE" }) &&
        has(a, PLAINTEXT_ALERT, { namespace: SHOP }),
    );
    t.diagnostic(`change to firing alerts: ${String(fired)} ms`);

    await setMode("STRICT");
    const resolved = await waitForAlerts(
      "mTLS alerts resolved",
      (a) => !has(a, PERMISSIVE_ALERT, {}) && !has(a, PLAINTEXT_ALERT, {}),
    );
    t.diagnostic(`change to resolved alerts: ${String(resolved)} ms`);
  });

  it("fires the plaintext alert when the mesh-wide STRICT policy is deleted, which leaves no PERMISSIVE object", async (t) => {
    await setMode(undefined);
    const fired = await waitForAlerts("plaintext alert firing", (a) =>
      has(a, PLAINTEXT_ALERT, { namespace: SHOP }),
    );
    assert.ok(!has(await firing(prometheus), PERMISSIVE_ALERT, {}), "no PERMISSIVE object exists");
    t.diagnostic(`deletion to firing alert: ${String(fired)} ms`);

    await setMode("STRICT");
    await waitForAlerts("plaintext alert resolved", (a) => !has(a, PLAINTEXT_ALERT, {}));
  });
});

function skipReason(): string | false {
  if (PROMETHEUS === undefined)
    return "prometheus not found on PATH (run hack/install-promtool.sh)";
  return controlPlaneSkipReason() ?? false;
}
