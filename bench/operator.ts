// Benchmarks of the running operator against a real API server (the test control plane): time to
// the first report and to /readyz with about 10,000 objects, event-to-metric latency for a
// PeerAuthentication change, re-evaluation cost under a steady stream of pod label changes, and the
// memory of the 50,000-pod synthetic snapshot after stripping. These are measurements, never
// pass/fail tests: the verdicts compare against the targets only to make the results easy to read.
//
// Run: `npm run build && node --expose-gc dist/bench/operator.js [--objects 10000] [--changes 200]`.
// Progress goes to standard error; the results go to bench/OPERATOR-RESULTS.md (or --out).

import { spawn, type ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { cpus, hostname, loadavg, totalmem } from "node:os";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import winston from "winston";
import { loadConfig } from "../operator/config/config.js";
import { startOperator, type OperatorRuntime } from "../operator/controller/runtime.js";
import { K } from "../operator/engine/kinds.js";
import { Snapshot } from "../operator/engine/snapshot.js";
import type { KubeObject } from "../operator/engine/types.js";
import { WATCHED_RESOURCES, type WatchedResource } from "../operator/kube/resources.js";
import { stripObject } from "../operator/kube/strip.js";
import { PREFIX } from "../operator/metrics/index.js";
import { ControlPlane } from "../test/harness/index.js";
import { operatorKubeConfig } from "../test/integration/operator-support.js";
import { generateMesh, rng, type MeshSize } from "./generate.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const MIB = 1024 * 1024;
const IN_FLIGHT = 16;
const LATENCY_TARGET_MS = 1_000;
const MEMORY_TARGET_MIB = 256;
const FLIP_NAME = "bench-flip";
const MEMORY_SIZE: MeshSize = { namespaces: 5_000, pods: 50_000, policies: 10_000 };

interface Settings {
  objects: number;
  changes: number;
  streamSeconds: number;
  rate: number;
  seed: number;
  only: Set<string>;
  out: string;
  phase: string | undefined;
}

const USAGE = `Usage: node --expose-gc dist/bench/operator.js [flags]
  --objects N         objects created on the API server (default 10000)
  --changes N         PeerAuthentication flips timed for event-to-metric latency (default 200)
  --stream-seconds N  length of the pod-change stream (default 30)
  --rate N            pod label changes per second in the stream (default 20)
  --seed N            generator seed (default 42)
  --only LIST         live,memory (default both)
  --out FILE          results file (default bench/OPERATOR-RESULTS.md; "-" for standard output)`;

function settings(): Settings {
  const { values } = parseArgs({
    options: {
      objects: { type: "string", default: "10000" },
      changes: { type: "string", default: "200" },
      "stream-seconds": { type: "string", default: "30" },
      rate: { type: "string", default: "20" },
      seed: { type: "string", default: "42" },
      only: { type: "string", default: "live,memory" },
      out: { type: "string", default: `${REPO}bench/OPERATOR-RESULTS.md` },
      phase: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const int = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n <= 0)
      throw new Error(`--${name} ${text}: expected a positive integer`);
    return n;
  };
  return {
    objects: int("objects", values.objects),
    changes: int("changes", values.changes),
    streamSeconds: int("stream-seconds", values["stream-seconds"]),
    rate: int("rate", values.rate),
    seed: int("seed", values.seed),
    only: new Set(values.only.split(",").map((s) => s.trim())),
    out: values.out,
    phase: values.phase,
  };
}

// ---------------------------------------------------------------------------------------------
// Progress and statistics

const tty = process.stderr.isTTY;
let progressOpen = false;

function progress(line: string, transient = false): void {
  if (tty && transient) {
    process.stderr.write(`\r\x1b[2K${line}`);
    progressOpen = true;
    return;
  }
  if (progressOpen) process.stderr.write("\r\x1b[2K");
  progressOpen = false;
  if (!transient) process.stderr.write(`${line}\n`);
}

interface Stats {
  n: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

function stats(values: readonly number[]): Stats | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest-rank percentiles: with 200 samples p99 is the second largest.
  const at = (p: number): number => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    min: sorted[0]!,
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: sorted[sorted.length - 1]!,
    mean: sum / sorted.length,
  };
}

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function statsRow(what: string, s: Stats | undefined, unit: string, digits = 0): string {
  if (!s) return `| ${what} | – | – | – | – | – | 0 |`;
  const f = (n: number): string => `${fmt(n, digits)} ${unit}`;
  return `| ${what} | ${f(s.p50)} | ${f(s.p95)} | ${f(s.p99)} | ${f(s.min)} – ${f(s.max)} | ${f(s.mean)} | ${s.n} |`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function gc(): boolean {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) return false;
  collect();
  collect();
  return true;
}

// ---------------------------------------------------------------------------------------------
// A small REST client on a keep-alive agent (client-node's typed clients re-serialize bodies and
// make bounded concurrency awkward); only the control plane's loopback address is ever called.

interface Reply {
  status: number;
  body: string;
}

class Rest {
  private readonly agent: Agent;

  constructor(private readonly cp: ControlPlane) {
    this.agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT, ...cp.tls });
  }

  call(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<Reply> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const url = new URL(path, this.cp.server);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          agent: this.agent,
          timeout: 60_000,
          headers: data === undefined ? {} : { "content-type": contentType },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`timed out: ${method} ${path}`)));
      req.on("error", reject);
      req.end(data);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function plural(kind: string): string {
  const lower = kind.toLowerCase();
  return /[^aeiou]y$/.test(lower) ? `${lower.slice(0, -1)}ies` : `${lower}s`;
}

function collectionPath(o: KubeObject): string {
  const base = o.apiVersion.includes("/") ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  const ns = o.metadata.namespace;
  return ns === undefined
    ? `${base}/${plural(o.kind)}`
    : `${base}/namespaces/${ns}/${plural(o.kind)}`;
}

const objectPath = (o: KubeObject): string => `${collectionPath(o)}/${o.metadata.name ?? ""}`;

// ---------------------------------------------------------------------------------------------
// Creating the objects

interface Created {
  created: number;
  existed: number;
  skipped: Record<string, number>;
  failed: Record<string, number>;
  errors: string[];
  seconds: number;
}

/** Runs `work` over `items` with at most `limit` calls in flight. */
async function pool<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const isWebhook = (o: KubeObject): boolean => o.kind.endsWith("WebhookConfiguration");

/**
 * Istio's default validator fails closed on CREATE and UPDATE of Istio config and its service does
 * not exist here, so it would reject the PeerAuthentication flips: it is left out.
 */
function blocksUpdates(o: KubeObject): boolean {
  if (!isWebhook(o)) return false;
  const hooks = (
    o as { webhooks?: { failurePolicy?: string; rules?: { operations?: string[] }[] }[] }
  ).webhooks;
  return (hooks ?? []).some(
    (h) =>
      h.failurePolicy !== "Ignore" &&
      (h.rules ?? []).some((r) => (r.operations ?? []).includes("UPDATE")),
  );
}

/** The generated objects in creation order: namespaces, accounts, the rest, webhooks last. */
function creationGroups(objects: readonly KubeObject[]): {
  groups: KubeObject[][];
  left: string[];
} {
  const left = objects.filter(blocksUpdates).map((o) => `${o.kind} ${o.metadata.name ?? ""}`);
  const kept = objects.filter((o) => !blocksUpdates(o));
  const namespaces = kept.filter((o) => o.kind === "Namespace");
  const accounts = kept.filter((o) => o.kind === "ServiceAccount");
  const have = new Set(
    accounts.map((a) => `${a.metadata.namespace ?? ""}/${a.metadata.name ?? ""}`),
  );
  // No controller-manager runs: each namespace's default ServiceAccount is made by hand.
  for (const ns of namespaces) {
    const name = ns.metadata.name ?? "";
    if (have.has(`${name}/default`)) continue;
    accounts.push({
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "default", namespace: name },
    });
  }
  const rest = kept.filter(
    (o) => o.kind !== "Namespace" && o.kind !== "ServiceAccount" && !isWebhook(o),
  );
  return { groups: [namespaces, accounts, rest, kept.filter(isWebhook)], left };
}

type Json = Record<string, unknown>;

const record = (v: unknown): Json | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
const list = (v: unknown): Json[] =>
  (Array.isArray(v) ? v.filter((x) => record(x) !== undefined) : []) as Json[];

/**
 * The pod spec as the API server accepts it: every mounted volume declared (a missing one becomes
 * an emptyDir) and every projected token given a path, as the admission plugins would have done.
 */
function admissiblePodSpec(spec: Json | undefined): void {
  if (!spec) return;
  const volumes = list(spec["volumes"]);
  for (const v of volumes) {
    for (const source of list(record(v["projected"])?.["sources"])) {
      const token = record(source["serviceAccountToken"]);
      if (token && token["path"] === undefined) token["path"] = "token";
    }
  }
  const declared = new Set(volumes.map((v) => v["name"]));
  const containers = [...list(spec["containers"]), ...list(spec["initContainers"])];
  for (const m of containers.flatMap((c) => list(c["volumeMounts"]))) {
    if (declared.has(m["name"])) continue;
    declared.add(m["name"]);
    volumes.push({ name: m["name"], emptyDir: {} });
  }
  spec["volumes"] = volumes;
}

/**
 * A copy of a generated object that this API server accepts: TLS Secrets get empty keys (they are
 * generated without data, as the operator reads metadata only), Services lose their cluster IPs
 * (outside this server's range) and pod specs are completed as above.
 */
function admissible(o: KubeObject): KubeObject {
  const copy = structuredClone(withoutEnforcement(o)) as KubeObject & Json;
  if (copy.kind === "Secret" && copy["type"] === "kubernetes.io/tls" && copy["data"] === undefined)
    copy["data"] = { "tls.crt": "", "tls.key": "" };
  const spec = record(copy["spec"]);
  if (copy.kind === "Service" && spec) {
    delete spec["clusterIP"];
    delete spec["clusterIPs"];
  }
  if (copy.kind === "Pod") admissiblePodSpec(spec);
  else admissiblePodSpec(record(record(spec?.["template"])?.["spec"]));
  return copy;
}

const ENFORCE = "pod-security.kubernetes.io/enforce";

/**
 * Istio's init container needs NET_ADMIN, which Pod Security "baseline" rejects at creation; in a
 * real cluster those pods predate the label or use the CNI. The namespaces are created without
 * their enforce labels and get them back once the pods exist (a label change only warns).
 */
function withoutEnforcement(o: KubeObject): KubeObject {
  const labels = o.metadata.labels;
  if (o.kind !== "Namespace" || !labels || !(ENFORCE in labels)) return o;
  const kept = Object.fromEntries(Object.entries(labels).filter(([k]) => !k.startsWith(ENFORCE)));
  return { ...o, metadata: { ...o.metadata, labels: kept } };
}

async function restoreEnforcement(rest: Rest, namespaces: readonly KubeObject[]): Promise<void> {
  const enforced = namespaces.filter((o) => o.metadata.labels?.[ENFORCE] !== undefined);
  await pool(enforced, IN_FLIGHT, async (o) => {
    const reply = await rest.call(
      "PATCH",
      objectPath(o),
      { metadata: { labels: o.metadata.labels } },
      "application/merge-patch+json",
    );
    if (reply.status !== 200)
      throw new Error(`labelling ${o.metadata.name ?? ""}: ${reply.status}`);
  });
}

async function createAll(rest: Rest, objects: readonly KubeObject[]): Promise<Created> {
  const started = performance.now();
  const result: Created = {
    created: 0,
    existed: 0,
    skipped: {},
    failed: {},
    errors: [],
    seconds: 0,
  };
  const { groups } = creationGroups(objects);
  const total = groups.reduce((n, g) => n + g.length, 0);
  let done = 0;
  for (const group of groups) {
    await pool(group, IN_FLIGHT, async (o) => {
      const reply = await rest.call("POST", collectionPath(o), admissible(o));
      done += 1;
      if (done % 250 === 0) progress(`  created ${fmt(done)} / ${fmt(total)} objects`, true);
      if (reply.status === 201 || reply.status === 200) result.created += 1;
      else if (reply.status === 409) result.existed += 1;
      else if (reply.status === 404) {
        result.skipped[o.kind] = (result.skipped[o.kind] ?? 0) + 1;
        if (result.skipped[o.kind] === 1)
          result.errors.push(
            `${o.apiVersion} ${o.kind} ${o.metadata.name ?? ""}: 404 ${reply.body.slice(0, 200)}`,
          );
      } else {
        result.failed[o.kind] = (result.failed[o.kind] ?? 0) + 1;
        if (result.failed[o.kind] === 1)
          result.errors.push(
            `${o.kind} ${o.metadata.name ?? ""}: ${reply.status} ${reply.body.slice(0, 200)}`,
          );
      }
    });
  }
  await restoreEnforcement(rest, groups[0] ?? []);
  result.seconds = (performance.now() - started) / 1_000;
  return result;
}

// ---------------------------------------------------------------------------------------------
// The operator, with its own timing of each evaluation taken from its debug log

interface Evaluation {
  at: number;
  ms: number;
  full: boolean;
  evaluated: number;
}

interface Captured {
  logger: winston.Logger;
  evaluations: Evaluation[];
  problems: string[];
}

function capturingLogger(): Captured {
  const evaluations: Evaluation[] = [];
  const problems: string[] = [];
  // The capture is a format that keeps nothing for the (silent) console transport.
  const capture = winston.format((info) => {
    if (info.message === "evaluated") {
      evaluations.push({
        at: performance.now(),
        ms: Number(info["ms"]),
        full: info["full"] === true,
        evaluated: Number(info["evaluated"]),
      });
    } else if (info.level === "warn" || info.level === "error") {
      problems.push(`${info.level}: ${String(info.message)}`);
    }
    return false;
  });
  const logger = winston.createLogger({ level: "debug", format: capture() });
  // winston's transports are typed as interfaces over TransportStream, which the rule cannot
  // match to the class; the Console transport is a real one.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
  logger.add(new winston.transports.Console({ silent: true }));
  return { logger, evaluations, problems };
}

async function startBenchOperator(
  cp: ControlPlane,
  logger: winston.Logger,
): Promise<OperatorRuntime> {
  const kubeConfig = await operatorKubeConfig(cp);
  // Production defaults except the listen address (a free loopback port) and the replica name.
  const config = loadConfig(
    ["--metrics-address=127.0.0.1:0", "--identity=bench-operator"],
    {},
    { hostname: hostname(), pid: process.pid },
  );
  return startOperator({ config, kubeConfig, logger });
}

async function until(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  everyMs = 20,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return performance.now();
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

interface Metric {
  get(): Promise<{ values: { labels: Record<string, string | number>; value: number }[] }>;
}

function metric(runtime: OperatorRuntime, name: string): Metric {
  const m = runtime.metrics.registry.getSingleMetric(PREFIX + name) as Metric | undefined;
  if (!m) throw new Error(`no metric ${PREFIX}${name}`);
  return m;
}

// ---------------------------------------------------------------------------------------------
// Live phases

interface Startup {
  cacheSyncedMs: number;
  readyzMs: number;
  firstReportMs: number;
  firstEvaluationMs: number | undefined;
  watchedObjects: number;
}

async function measureStartup(
  cp: ControlPlane,
  rest: Rest,
  captured: Captured,
): Promise<{ runtime: OperatorRuntime; startup: Startup }> {
  const t0 = performance.now();
  const runtime = await startBenchOperator(cp, captured.logger);
  const synced = performance.now();
  const address = runtime.server?.address();
  if (!address) throw new Error("the operator serves no HTTP");
  const readyz = until("/readyz", 300_000, async () => {
    const res = await fetch(`http://127.0.0.1:${address.port}/readyz`);
    await res.arrayBuffer();
    return res.ok;
  });
  const report = until(
    "the ComplianceReport status",
    300_000,
    async () => {
      const reply = await rest.call(
        "GET",
        "/apis/meshcompliance.io/v1alpha1/compliancereports/default",
      );
      if (reply.status !== 200) return false;
      return (JSON.parse(reply.body) as { status?: unknown }).status !== undefined;
    },
    50,
  );
  const [tReady, tReport] = await Promise.all([readyz, report]);
  const watchedObjects = runtime.cache.kinds().reduce((n, k) => n + k.objects, 0);
  return {
    runtime,
    startup: {
      cacheSyncedMs: synced - t0,
      readyzMs: tReady - t0,
      firstReportMs: tReport - t0,
      firstEvaluationMs: captured.evaluations.find((e) => e.full)?.ms,
      watchedObjects,
    },
  };
}

interface Latency {
  endToEnd: number[];
  apiCall: number[];
  pollMs: number[];
  timeouts: number;
  namespaces: number;
}

async function hasMode(
  gauge: Metric,
  namespace: string,
  mode: string,
  poll: number[],
): Promise<boolean> {
  const t = performance.now();
  const { values } = await gauge.get();
  poll.push(performance.now() - t);
  return values.some(
    (s) =>
      s.labels["namespace"] === namespace &&
      s.labels["name"] === FLIP_NAME &&
      s.labels["mode"] === mode,
  );
}

function flipPolicy(namespace: string, mode: string): KubeObject {
  // The selector matches no workload: the flip changes the object's series, not the mesh's verdicts.
  return {
    apiVersion: "security.istio.io/v1",
    kind: "PeerAuthentication",
    metadata: { name: FLIP_NAME, namespace },
    spec: { selector: { matchLabels: { "bench-flip": "none" } }, mtls: { mode } },
  };
}

async function measureLatency(
  rest: Rest,
  runtime: OperatorRuntime,
  namespaces: readonly string[],
  changes: number,
): Promise<Latency> {
  const gauge = metric(runtime, "peer_authentication_mode");
  const chosen = namespaces.slice(0, Math.min(20, namespaces.length));
  const mode = new Map<string, string>();
  const poll: number[] = [];
  for (const ns of chosen) {
    const reply = await rest.call(
      "POST",
      collectionPath(flipPolicy(ns, "STRICT")),
      flipPolicy(ns, "STRICT"),
    );
    if (reply.status !== 201 && reply.status !== 409)
      throw new Error(
        `creating ${FLIP_NAME} in ${ns}: ${reply.status} ${reply.body.slice(0, 200)}`,
      );
    mode.set(ns, "STRICT");
  }
  for (const ns of chosen)
    await until(`${FLIP_NAME} in ${ns}`, 60_000, () => hasMode(gauge, ns, "STRICT", []));
  const result: Latency = {
    endToEnd: [],
    apiCall: [],
    pollMs: poll,
    timeouts: 0,
    namespaces: chosen.length,
  };
  for (let i = 0; i < changes; i++) {
    const ns = chosen[i % chosen.length]!;
    const next = mode.get(ns) === "STRICT" ? "PERMISSIVE" : "STRICT";
    mode.set(ns, next);
    const t0 = performance.now();
    const reply = await rest.call(
      "PATCH",
      objectPath(flipPolicy(ns, next)),
      { spec: { mtls: { mode: next } } },
      "application/merge-patch+json",
    );
    const tApi = performance.now();
    if (reply.status !== 200)
      throw new Error(
        `patching ${FLIP_NAME} in ${ns}: ${reply.status} ${reply.body.slice(0, 200)}`,
      );
    try {
      const t1 = await until(`${next} in ${ns}`, 30_000, () => hasMode(gauge, ns, next, poll), 5);
      result.endToEnd.push(t1 - t0);
      result.apiCall.push(tApi - t0);
    } catch {
      result.timeouts += 1;
    }
    if ((i + 1) % 10 === 0)
      progress(`  ${i + 1} / ${changes} flips, last ${fmt(result.endToEnd.at(-1) ?? 0)} ms`, true);
    // Independent events: let the debounced re-evaluation of the last flip start before the next.
    await sleep(50);
  }
  return result;
}

interface Stream {
  sent: number;
  failed: number;
  seconds: number;
  evaluations: Evaluation[];
  cpuMs: number;
  settleMs: number;
  histogram: { count: number; sum: number };
}

async function histogramTotals(runtime: OperatorRuntime): Promise<{ count: number; sum: number }> {
  const { values } = await metric(runtime, "evaluation_duration_seconds").get();
  const pick = (suffix: string): number =>
    values
      .filter(
        (v) =>
          (v as { metricName?: string }).metricName ===
          `${PREFIX}evaluation_duration_seconds_${suffix}`,
      )
      .reduce((n, v) => n + v.value, 0);
  return { count: pick("count"), sum: pick("sum") };
}

async function measureStream(
  rest: Rest,
  runtime: OperatorRuntime,
  captured: Captured,
  pods: readonly KubeObject[],
  s: Settings,
): Promise<Stream> {
  await runtime.controller.idle();
  const random = rng(s.seed + 1);
  const before = {
    evaluations: captured.evaluations.length,
    cpu: process.cpuUsage(),
    histogram: await histogramTotals(runtime),
  };
  const interval = 1_000 / s.rate;
  const total = s.streamSeconds * s.rate;
  const inFlight = new Set<Promise<void>>();
  let sent = 0;
  let failed = 0;
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = t0 + i * interval - performance.now();
    if (wait > 0) await sleep(wait);
    const pod = pods[Math.floor(random() * pods.length)]!;
    const call = rest
      .call(
        "PATCH",
        objectPath(pod),
        { metadata: { labels: { "bench-change": String(i) } } },
        "application/merge-patch+json",
      )
      .then(
        (r) => {
          if (r.status === 200) sent += 1;
          else failed += 1;
        },
        () => {
          failed += 1;
        },
      );
    const tracked = call.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    if ((i + 1) % s.rate === 0) progress(`  ${i + 1} / ${total} pod changes`, true);
  }
  await Promise.all(inFlight);
  const tSent = performance.now();
  // Wait for the debounce and the last evaluation the stream caused.
  await sleep(1_000);
  await runtime.controller.idle();
  const cpu = process.cpuUsage(before.cpu);
  const after = await histogramTotals(runtime);
  return {
    sent,
    failed,
    seconds: (tSent - t0) / 1_000,
    evaluations: captured.evaluations.slice(before.evaluations),
    cpuMs: (cpu.user + cpu.system) / 1_000,
    settleMs: performance.now() - tSent,
    histogram: {
      count: after.count - before.histogram.count,
      sum: after.sum - before.histogram.sum,
    },
  };
}

interface Live {
  size: MeshSize;
  generated: number;
  created: Created;
  leftOut: string[];
  startup: Startup;
  latency: Latency;
  stream: Stream;
  processMemory: { heapMiB: number; rssMiB: number; gc: boolean };
  problems: string[];
}

function liveSize(objects: number): MeshSize {
  // Measured proportions of the generator: these sizes give about `objects` objects in total.
  return {
    namespaces: Math.max(2, Math.round(objects * 0.0165)),
    pods: Math.max(2, Math.round(objects * 0.33)),
    policies: Math.max(10, Math.round(objects * 0.13)),
  };
}

async function live(s: Settings): Promise<Live> {
  const size = liveSize(s.objects);
  const mesh = generateMesh(size, s.seed);
  progress(
    `live: ${fmt(mesh.objects.length)} generated objects (${size.namespaces} namespaces, ${size.pods} pods, ${size.policies} policies)`,
  );
  progress("live: starting the control plane");
  const cp = await ControlPlane.start({
    label: "bench-operator",
    // The harness's /24 holds 254 Services; the mesh has thousands.
    apiServerFlags: { "--service-cluster-ip-range": "10.0.0.0/16" },
    log: (line) => {
      progress(`  control plane: ${line}`);
    },
  });
  const rest = new Rest(cp);
  let runtime: OperatorRuntime | undefined;
  const captured = capturingLogger();
  try {
    progress(`live: creating objects, ${IN_FLIGHT} in flight`);
    const created = await createAll(rest, mesh.objects);
    progress(
      `live: created ${fmt(created.created)} in ${fmt(created.seconds, 1)} s; failed ${JSON.stringify(created.failed)}; skipped ${JSON.stringify(created.skipped)}`,
    );
    for (const e of created.errors) progress(`  ${e}`);
    const policy = await rest.call("POST", "/apis/meshcompliance.io/v1alpha1/threatpolicies", {
      apiVersion: "meshcompliance.io/v1alpha1",
      kind: "ThreatPolicy",
      metadata: { name: "default" },
      spec: {},
    });
    if (policy.status !== 201 && policy.status !== 409)
      throw new Error(`ThreatPolicy: ${policy.status} ${policy.body.slice(0, 300)}`);
    progress("live: starting the operator under its ServiceAccount");
    const started = await measureStartup(cp, rest, captured);
    runtime = started.runtime;
    const st = started.startup;
    progress(
      `live: cache synced ${fmt(st.cacheSyncedMs)} ms, /readyz ${fmt(st.readyzMs)} ms, first report ${fmt(st.firstReportMs)} ms (${fmt(st.watchedObjects)} watched objects)`,
    );
    progress(`live: event-to-metric latency, ${s.changes} PeerAuthentication flips`);
    const latency = await measureLatency(rest, runtime, mesh.namespaces, s.changes);
    const l = stats(latency.endToEnd);
    progress(
      `live: latency p50 ${fmt(l?.p50 ?? 0)} ms, p99 ${fmt(l?.p99 ?? 0)} ms, max ${fmt(l?.max ?? 0)} ms, ${latency.timeouts} timeouts`,
    );
    progress(`live: ${s.streamSeconds} s of pod label changes at ${s.rate}/s`);
    const pods = mesh.objects.filter(
      (o) => o.kind === "Pod" && o.metadata.namespace !== "istio-system",
    );
    const stream = await measureStream(rest, runtime, captured, pods, s);
    progress(
      `live: ${stream.sent} changes, ${stream.evaluations.length} evaluations, ${fmt(stream.cpuMs / Math.max(1, stream.sent), 1)} ms CPU per change`,
    );
    const collected = gc();
    const mem = process.memoryUsage();
    return {
      size,
      generated: mesh.objects.length,
      created,
      leftOut: creationGroups(mesh.objects).left,
      startup: st,
      latency,
      stream,
      processMemory: { heapMiB: mem.heapUsed / MIB, rssMiB: mem.rss / MIB, gc: collected },
      problems: captured.problems,
    };
  } finally {
    await runtime?.stop().catch((e: unknown) => {
      progress(`operator stop failed: ${String(e)}`);
    });
    rest.close();
    progress("live: stopping the control plane");
    await cp.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Memory, in a child process per variant so that one variant's garbage does not count for another

type MemoryVariant = "stripped" | "unstripped";

/**
 * How the objects reach the cache. `json`, as the reflectors receive them: every list page of
 * {@link PAGE_SIZE} objects of one kind is serialized to JSON text and parsed with JSON.parse
 * before the objects are stripped, so each object has its own strings and its own exactly-sized
 * objects, as on a real cluster. `generated`, the older method: the generator's objects are
 * stripped directly; they share the generator's string constants and are built by object
 * literals and template strings, so their sizes are the generator's, not the API server's.
 */
type MemoryMethod = "json" | "generated";

const MEMORY_METHODS: readonly MemoryMethod[] = ["json", "generated"];
/** The cache's default list page size (ClusterCacheOptions.pageSize). */
const PAGE_SIZE = 500;

interface MemoryResult {
  variant: MemoryVariant;
  method: MemoryMethod;
  objects: number;
  pods: number;
  droppedKinds: Record<string, number>;
  baselineHeapMiB: number;
  objectsHeapMiB: number;
  heapMiB: number;
  rssMiB: number;
  snapshotMs: number;
  stripMs: number;
  /** Serializing and parsing the pages (json method only); not part of stripMs. */
  decodeMs: number;
  gc: boolean;
}

function resourceFor(o: KubeObject): { resource: WatchedResource; version: string } | undefined {
  const slash = o.apiVersion.indexOf("/");
  const group = slash < 0 ? "" : o.apiVersion.slice(0, slash);
  const version = slash < 0 ? o.apiVersion : o.apiVersion.slice(slash + 1);
  const resource = WATCHED_RESOURCES.find((r) => r.group === group && r.kind === o.kind);
  return resource ? { resource, version } : undefined;
}

interface KindObjects {
  resource: WatchedResource;
  version: string;
  objects: KubeObject[];
}

interface Loaded {
  kept: KubeObject[];
  dropped: Record<string, number>;
  stripMs: number;
  decodeMs: number;
}

/** The generated objects of watched kinds, grouped by kind as the reflectors list them. */
function byKind(generated: readonly KubeObject[], dropped: Record<string, number>): KindObjects[] {
  const kinds = new Map<string, KindObjects>();
  for (const o of generated) {
    const r = resourceFor(o);
    // The cache holds watched kinds only (ServiceAccounts, for one, are not watched).
    if (!r) {
      dropped[o.kind] = (dropped[o.kind] ?? 0) + 1;
      continue;
    }
    const key = `${o.apiVersion} ${o.kind}`;
    let entry = kinds.get(key);
    if (!entry) {
      entry = { ...r, objects: [] };
      kinds.set(key, entry);
    }
    entry.objects.push(o);
  }
  return [...kinds.values()];
}

/** Generates the mesh and keeps what the cache would; the generator's objects are then garbage. */
function load(variant: MemoryVariant, method: MemoryMethod, seed: number): Loaded {
  const generated = generateMesh(MEMORY_SIZE, seed).objects;
  const out: Loaded = { kept: [], dropped: {}, stripMs: 0, decodeMs: 0 };
  const keep = (r: KindObjects, items: readonly unknown[]): void => {
    const t0 = performance.now();
    for (const item of items) {
      out.kept.push(
        variant === "stripped" ? stripObject(r.resource, r.version, item) : (item as KubeObject),
      );
    }
    out.stripMs += performance.now() - t0;
  };
  for (const r of byKind(generated, out.dropped)) {
    if (method === "generated") {
      keep(r, r.objects);
      continue;
    }
    for (let i = 0; i < r.objects.length; i += PAGE_SIZE) {
      const t0 = performance.now();
      const text = JSON.stringify({
        kind: `${r.resource.kind}List`,
        items: r.objects.slice(i, i + PAGE_SIZE),
      });
      const page = JSON.parse(text) as { items: unknown[] };
      out.decodeMs += performance.now() - t0;
      keep(r, page.items);
    }
  }
  return out;
}

function memoryPhase(variant: MemoryVariant, method: MemoryMethod, seed: number): MemoryResult {
  const collected = gc();
  const baselineHeapMiB = process.memoryUsage().heapUsed / MIB;
  const { kept, dropped, stripMs, decodeMs } = load(variant, method, seed);
  gc();
  const objectsHeapMiB = process.memoryUsage().heapUsed / MIB;
  const t1 = performance.now();
  const snapshot = new Snapshot(kept, { namespacesComplete: true });
  const snapshotMs = performance.now() - t1;
  gc();
  const mem = process.memoryUsage();
  // Read after the measurement, so that the snapshot is still reachable while memory is read.
  const pods = snapshot.all(K.Pod).length;
  return {
    variant,
    method,
    objects: kept.length,
    pods,
    droppedKinds: dropped,
    baselineHeapMiB,
    objectsHeapMiB,
    heapMiB: mem.heapUsed / MIB,
    rssMiB: mem.rss / MIB,
    snapshotMs,
    stripMs,
    decodeMs,
    gc: collected,
  };
}

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

function runChild(
  variant: MemoryVariant,
  method: MemoryMethod,
  seed: number,
): Promise<MemoryResult> {
  const script = fileURLToPath(import.meta.url);
  const child = spawn(
    process.execPath,
    [
      "--expose-gc",
      "--max-old-space-size=4096",
      script,
      `--phase=memory:${variant}:${method}`,
      `--seed=${seed}`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  children.add(child);
  const chunks: Buffer[] = [];
  child.stdout.on("data", (c: Buffer) => chunks.push(c));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code) => {
      children.delete(child);
      if (code !== 0) {
        reject(new Error(`memory child (${variant}, ${method}) exited with ${code}`));
        return;
      }
      resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")) as MemoryResult);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Results

function machine(): string[] {
  const cpu = cpus();
  const commit = (() => {
    try {
      const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
        cwd: REPO,
        encoding: "utf8",
      }).trim();
      const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], {
        cwd: REPO,
        encoding: "utf8",
      }).trim();
      return dirty === "" ? head : `${head} (with uncommitted changes in the working tree)`;
    } catch {
      return "unknown";
    }
  })();
  const load = loadavg()
    .map((n) => n.toFixed(2))
    .join(", ");
  return [
    `- Date: ${new Date().toISOString()}`,
    `- Commit: ${commit}`,
    `- CPU: ${cpu[0]?.model ?? "unknown"}, ${cpu.length} cores (shared with other work)`,
    `- Memory: ${fmt(totalmem() / MIB / 1024, 1)} GiB; Node ${process.version}`,
    `- Load average at the end (1, 5, 15 min): ${load}`,
  ];
}

const verdict = (ok: boolean): string => (ok ? "met" : "**missed**");

function liveSection(r: Live, s: Settings): string[] {
  const l = stats(r.latency.endToEnd);
  const evalMs = stats(r.stream.evaluations.map((e) => e.ms));
  const evaluated = stats(r.stream.evaluations.map((e) => e.evaluated));
  const perChange = r.stream.cpuMs / Math.max(1, r.stream.sent);
  const st = r.startup;
  return [
    "## Live operator on the test control plane",
    "",
    `Synthetic mesh (bench/generate.ts, seed ${s.seed}) at ${r.size.namespaces} namespaces, ${fmt(r.size.pods)} pods, ${fmt(r.size.policies)} policies: ${fmt(r.generated)} objects generated, ${fmt(r.created.created)} created in ${fmt(r.created.seconds, 1)} s with ${IN_FLIGHT} requests in flight; ${fmt(st.watchedObjects)} objects in the operator's cache (ServiceAccounts, Roles and bindings are not all watched). Skipped (kind not installed): ${JSON.stringify(r.created.skipped)}. Failed: ${JSON.stringify(r.created.failed)}. Left out: ${r.leftOut.join(", ") || "none"} (it fails closed on UPDATE of Istio config and its service does not exist, so it would reject the PeerAuthentication changes).`,
    "",
    "The operator runs in the benchmark's process under its ServiceAccount with the shipped ClusterRole (deploy/base/rbac.yaml), with production defaults (200 ms debounce, leader election on) and a ThreatPolicy `default` with an empty spec.",
    "",
    "### Start-up",
    "",
    "| from operator start to | time |",
    "| --- | --- |",
    `| cache synced (every kind listed) | ${fmt(st.cacheSyncedMs)} ms |`,
    `| /readyz answers 200 | ${fmt(st.readyzMs)} ms |`,
    `| ComplianceReport \`default\` has a status (time to the first report) | ${fmt(st.firstReportMs)} ms |`,
    `| first full evaluation (operator's own timing, part of the above) | ${st.firstEvaluationMs === undefined ? "–" : `${fmt(st.firstEvaluationMs)} ms`} |`,
    "",
    "### Event-to-metric latency",
    "",
    `${r.latency.endToEnd.length} changes of a PeerAuthentication's mode (STRICT ⇄ PERMISSIVE, merge PATCH as admin), rotating over ${r.latency.namespaces} namespaces, one at a time with 50 ms between them. Measured from just before the PATCH is sent until \`mesh_compliance_peer_authentication_mode{namespace, name, mode}\` on the operator's registry shows the new mode, polled in-process every ~5 ms (each poll runs the gauge's collect, as a scrape does). It therefore includes the API request, the watch event, the cache update and the scrape-time series. Each poll recomputes the per-object series after a change (as a scrape does), on the same two cores, so a figure can include up to one poll. Timeouts (30 s): ${r.latency.timeouts}.`,
    "",
    "| figure | p50 | p95 | p99 | min – max | mean | n |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    statsRow("change → metric", l, "ms"),
    statsRow("PATCH round trip alone", stats(r.latency.apiCall), "ms"),
    statsRow("one poll of the gauge", stats(r.latency.pollMs), "ms", 2),
    "",
    `Target: p99 under ${fmt(LATENCY_TARGET_MS)} ms: ${l ? verdict(l.p99 < LATENCY_TARGET_MS && r.latency.timeouts === 0) : "not measured"}.`,
    "",
    "### Re-evaluation under a stream of pod changes",
    "",
    `${fmt(r.stream.sent)} pod label changes (merge PATCH of one label on a random application pod) over ${fmt(r.stream.seconds, 1)} s at ${s.rate}/s; ${r.stream.failed} failed. Evaluations are the controller's own timing (its \`evaluated\` debug log); the histogram \`mesh_compliance_evaluation_duration_seconds\` counted ${r.stream.histogram.count} evaluations taking ${fmt(r.stream.histogram.sum * 1_000)} ms in all over the same window.`,
    "",
    "| figure | p50 | p95 | p99 | min – max | mean | n |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    statsRow("evaluation duration", evalMs, "ms"),
    statsRow("partitions evaluated per evaluation", evaluated, ""),
    "",
    `- Evaluations: ${r.stream.evaluations.length} for ${r.stream.sent} changes (the debounce batches changes), ${r.stream.evaluations.filter((e) => e.full).length} of them full.`,
    `- CPU time of the whole process over the stream: ${fmt(r.stream.cpuMs)} ms, ${fmt(perChange, 2)} ms per change (${fmt((r.stream.cpuMs / 1_000 / (r.stream.seconds + r.stream.settleMs / 1_000)) * 100, 1)} % of one core). This includes the benchmark's own HTTP client (sending the PATCHes) and the watch decoding, so it is an upper bound for the operator.`,
    `- Process memory after the live phases${r.processMemory.gc ? " (after a forced GC)" : " (no --expose-gc: without a forced GC)"}: heap used ${fmt(r.processMemory.heapMiB)} MiB, RSS ${fmt(r.processMemory.rssMiB)} MiB (operator cache and state for ${fmt(st.watchedObjects)} objects plus the benchmark's generated objects).`,
    `- Warnings and errors the operator logged during the run: ${r.problems.length}${r.problems.length ? ` (first: ${r.problems.slice(0, 3).join("; ")})` : ""}.`,
    "",
  ];
}

const METHOD_TEXT: Record<MemoryMethod, string> = {
  json: "JSON pages",
  generated: "generator's objects",
};

function memorySection(results: MemoryResult[]): string[] {
  const rows = results.map(
    (m) =>
      `| ${m.variant} | ${METHOD_TEXT[m.method]} | ${fmt(m.objects)} | ${fmt(m.heapMiB)} MiB | ${fmt(m.heapMiB - m.baselineHeapMiB)} MiB | ${fmt(m.objectsHeapMiB - m.baselineHeapMiB)} MiB | ${fmt(m.rssMiB)} MiB | ${fmt(m.stripMs)} ms | ${m.method === "json" ? `${fmt(m.decodeMs)} ms` : "–"} | ${fmt(m.snapshotMs)} ms |`,
  );
  const honest = results.find((m) => m.variant === "stripped" && m.method === "json");
  const dropped = honest ? JSON.stringify(honest.droppedKinds) : "{}";
  const heap = honest
    ? `${verdict(honest.heapMiB < MEMORY_TARGET_MIB)} (${fmt(honest.heapMiB)} MiB)`
    : "not measured";
  const rss = honest
    ? `${verdict(honest.rssMiB < MEMORY_TARGET_MIB)} (${fmt(honest.rssMiB)} MiB)`
    : "not measured";
  return [
    "## Memory with the 50,000-pod snapshot",
    "",
    `generateMesh(${MEMORY_SIZE.namespaces} namespaces, ${fmt(MEMORY_SIZE.pods)} pods, ${fmt(MEMORY_SIZE.policies)} policies), each row in its own \`node --expose-gc\` process. The objects of watched kinds are kept (${dropped} dropped, as the cache does not watch them), either passed through \`stripObject\` as the cache does or kept whole; the generator's list is then released, the engine \`Snapshot\` is built over them, a full GC is forced and memory is read with the snapshot still reachable.`,
    "",
    `Two methods. "JSON pages" is what the reflectors do: the objects of each kind go through JSON text in list pages of ${PAGE_SIZE} (JSON.stringify, then JSON.parse) and each parsed item is stripped, so every object has its own strings and objects of the sizes JSON.parse gives them, as objects read from an API server do. "generator's objects" strips the generator's objects directly (the method of the earlier results), whose strings and object layouts are the generator's own. The strip column times \`stripObject\` (or keeping the object) only; serializing and parsing the pages is the decode column.`,
    "",
    "| variant | method | objects | heap used | heap above baseline | of which the objects alone (before the Snapshot) | RSS | strip | decode pages | build Snapshot |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
    `Target: under ${MEMORY_TARGET_MIB} MiB with the snapshot loaded, judged on the stripped JSON-pages row. Heap used: ${heap}; RSS: ${rss}. RSS still holds the peak of generating the whole mesh at once (V8 does not give all freed pages back), which the operator never has: its reflectors strip each list page as it arrives. Heap used is the closer figure for the steady state; it includes the process baseline (the modules the benchmark loads) and covers the snapshot only, not the evaluation state or the metrics. The generated objects carry managedFields on Istio objects only and little status, so the unstripped rows understate what stripping saves on a real cluster.`,
    "",
  ];
}

function document(
  s: Settings,
  liveResult: Live | undefined,
  memory: MemoryResult[],
  liveError: string | undefined,
): string {
  const lines = [
    "# Operator benchmarks",
    "",
    "Produced by `node --expose-gc dist/bench/operator.js` (bench/operator.ts) after `npm run build`; flags: `--objects`, `--changes`, `--stream-seconds`, `--rate`, `--seed`, `--only live,memory`, `--out`. These are measurements, not tests; the verdicts only compare with the targets of issue 5.",
    "",
    "## Machine",
    "",
    ...machine(),
    "",
  ];
  if (liveResult) lines.push(...liveSection(liveResult, s));
  else if (liveError)
    lines.push("## Live operator on the test control plane", "", `Not measured: ${liveError}`, "");
  if (memory.length > 0) lines.push(...memorySection(memory));
  return `${lines.join("\n")}\n`;
}

/** `memory:<variant>:<method>`: this process is one memory measurement. */
function memoryChildPhase(
  phase: string | undefined,
): { variant: MemoryVariant; method: MemoryMethod } | undefined {
  const [what, variant, method] = (phase ?? "").split(":");
  if (what !== "memory") return undefined;
  if (variant !== "stripped" && variant !== "unstripped")
    throw new Error(`--phase ${phase ?? ""}: unknown variant`);
  if (method !== "json" && method !== "generated")
    throw new Error(`--phase ${phase ?? ""}: unknown method`);
  return { variant, method };
}

async function main(): Promise<void> {
  const s = settings();
  const phase = memoryChildPhase(s.phase);
  if (phase) {
    process.stdout.write(JSON.stringify(memoryPhase(phase.variant, phase.method, s.seed)));
    return;
  }
  let liveResult: Live | undefined;
  let liveError: string | undefined;
  if (s.only.has("live")) {
    try {
      liveResult = await live(s);
    } catch (error) {
      liveError = error instanceof Error ? error.message : String(error);
      progress(`live: failed: ${liveError}`);
    }
  }
  const memory: MemoryResult[] = [];
  if (s.only.has("memory")) {
    for (const method of MEMORY_METHODS) {
      for (const variant of ["stripped", "unstripped"] as const) {
        progress(`memory: ${variant}, ${METHOD_TEXT[method]} (child process)`);
        const m = await runChild(variant, method, s.seed);
        progress(
          `memory: ${variant}, ${METHOD_TEXT[method]}: heap ${fmt(m.heapMiB)} MiB, RSS ${fmt(m.rssMiB)} MiB, strip ${fmt(m.stripMs)} ms, ${fmt(m.objects)} objects`,
        );
        memory.push(m);
      }
    }
  }
  const text = document(s, liveResult, memory, liveError);
  if (s.out === "-") process.stdout.write(text);
  else {
    writeFileSync(s.out, text);
    progress(`wrote ${s.out}`);
  }
  if (liveError !== undefined) process.exitCode = 1;
}

main().catch((error: unknown) => {
  progress(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
