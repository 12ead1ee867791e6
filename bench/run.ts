// Benchmarks of the engine on a synthetic mesh: full evaluation, re-evaluation of one namespace,
// JSON.parse of the same snapshot, and the offline scan against parsing its YAML alone. Figures go
// to standard output as Markdown; progress goes to standard error. Run with `npm run bench`;
// `--help` lists the flags. These are measurements, never pass/fail tests: the verdicts printed
// compare against the targets only to make the results easy to read.

import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import yaml from "js-yaml";
import type {
  Check,
  CheckContext,
  ClusterCheck,
  NamespaceCheck,
} from "../operator/engine/check.js";
import { CHECKS } from "../operator/engine/checks/index.js";
import {
  CLUSTER_PARTITION,
  evaluate,
  evaluatePartition,
  namespacePartition,
  newContext,
  partitionsOf,
} from "../operator/engine/evaluate.js";
import type { MeshOptions } from "../operator/engine/mesh.js";
import { defaultPolicy } from "../operator/engine/policy.js";
import { namespaceOf, Snapshot } from "../operator/engine/snapshot.js";
import type { KubeObject } from "../operator/engine/types.js";
import { buildReport } from "../operator/report/build.js";
import { loadManifests } from "../operator/scan/manifests.js";
import { scan } from "../operator/scan/scan.js";
import { generateMesh, type GeneratedMesh, type MeshSize } from "./generate.js";

type Phase = "eval" | "partition" | "json" | "scan";
const PHASES: readonly Phase[] = ["eval", "partition", "json", "scan"];

interface Settings {
  size: MeshSize;
  seed: number;
  runs: number;
  warmup: number;
  samples: number;
  only: Phase[];
  keep: boolean;
}

const USAGE = `Usage: npm run bench -- [flags]
  --namespaces N   application namespaces (default 5000)
  --pods N         application pods (default 50000)
  --policies N     Istio policies (default 10000)
  --bindings N     RBAC bindings, RoleBindings and ClusterRoleBindings (default: as many as
                   namespaces)
  --seed N         generator seed (default 42)
  --runs N         measured runs per figure (default 5; the scan uses at most 3)
  --warmup N       unmeasured runs first (default 1)
  --samples N      namespaces timed for re-evaluation (default 50)
  --only PHASE     eval, partition, json or scan; repeat or separate with commas
  --keep           keep the YAML files written for the scan`;

// A fixed clock keeps runs comparable; no check depends on the wall clock here.
const NOW = new Date("2026-06-01T00:00:00Z");
const OPERATOR_OPTIONS: MeshOptions = {
  parseYaml: (t) => yaml.load(t),
  assumeUndeclaredNamespacesEnrolled: false,
};

// --- settings -------------------------------------------------------------------------------

function intFlag(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--${name} must be a whole number, got ${value}`);
  return n;
}

function parseSettings(argv: string[]): Settings | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      namespaces: { type: "string" },
      pods: { type: "string" },
      policies: { type: "string" },
      bindings: { type: "string" },
      seed: { type: "string" },
      runs: { type: "string" },
      warmup: { type: "string" },
      samples: { type: "string" },
      only: { type: "string", multiple: true },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return undefined;
  const only = (values.only ?? []).flatMap((v) => v.split(",")).filter((v) => v !== "");
  for (const phase of only) {
    if (!PHASES.includes(phase as Phase)) {
      throw new Error(`--only must be one of ${PHASES.join(", ")}, got ${phase}`);
    }
  }
  const namespaces = intFlag(values.namespaces, "namespaces", 5000);
  return {
    size: {
      namespaces,
      pods: intFlag(values.pods, "pods", 50000),
      policies: intFlag(values.policies, "policies", 10000),
      bindings: intFlag(values.bindings, "bindings", namespaces),
    },
    seed: intFlag(values.seed, "seed", 42),
    runs: Math.max(1, intFlag(values.runs, "runs", 5)),
    warmup: intFlag(values.warmup, "warmup", 1),
    samples: Math.max(1, intFlag(values.samples, "samples", 50)),
    only: only.length > 0 ? (only as Phase[]) : [...PHASES],
    keep: values.keep,
  };
}

// --- progress and statistics ----------------------------------------------------------------

/** One rewritten line on a terminal; plain start and end lines when stderr is a file or pipe. */
class ProgressLine {
  private readonly tty = process.stderr.isTTY;
  private last = 0;
  private label = "";
  private started = 0;

  start(label: string): void {
    this.label = label;
    this.started = performance.now();
    if (!this.tty) process.stderr.write(`${label}...\n`);
  }

  update(done: number, total: number): void {
    if (!this.tty) return;
    const now = performance.now();
    if (now - this.last < 100 && done < total) return;
    this.last = now;
    const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
    const secs = ((now - this.started) / 1000).toFixed(1);
    process.stderr.write(`\r\x1b[K${this.label}: ${done}/${total} (${pct}%) ${secs} s`);
  }

  done(): void {
    const secs = ((performance.now() - this.started) / 1000).toFixed(1);
    if (this.tty) process.stderr.write(`\r\x1b[K${this.label}: done in ${secs} s\n`);
    else process.stderr.write(`${this.label}: done in ${secs} s\n`);
  }
}

const progress = new ProgressLine();

interface Stats {
  median: number;
  min: number;
  max: number;
  n: number;
}

function stats(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] ?? 0)
      : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return { median, min: sorted[0] ?? 0, max: sorted[sorted.length - 1] ?? 0, n: sorted.length };
}

/** Nearest-rank percentile. */
function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0;
}

function ms(value: number): string {
  if (value >= 100) return `${value.toFixed(0)} ms`;
  if (value >= 10) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)} ms`;
}

function row(name: string, s: Stats, extra = ""): string {
  return `| ${name} | ${ms(s.median)} | ${ms(s.min)} – ${ms(s.max)} | ${s.n} | ${extra} |`;
}

const TABLE_HEAD = "| figure | median | min – max | runs | target / note |\n|---|---|---|---|---|";

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

function verdict(value: number, limit: number): string {
  return value <= limit ? "met" : "**missed**";
}

/** Forces a full collection so that heap figures describe live data, not garbage. */
const collect: () => void = (() => {
  setFlagsFromString("--expose-gc");
  const gc: unknown = runInNewContext("gc");
  return typeof gc === "function" ? (gc as () => void) : () => undefined;
})();

function timed<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const value = fn();
  return [value, performance.now() - t0];
}

// --- full evaluation ------------------------------------------------------------------------

interface EvalRun {
  snapshot: number;
  evaluate: number;
  report: number;
  total: number;
  findings: number;
}

function evaluateOnce(objects: readonly KubeObject[]): EvalRun {
  const policy = defaultPolicy();
  const [snapshot, tSnap] = timed(() => new Snapshot(objects, { namespacesComplete: true }));
  const [evaluation, tEval] = timed(() =>
    evaluate(snapshot, policy, NOW, OPERATOR_OPTIONS, CHECKS),
  );
  const [, tReport] = timed(() =>
    buildReport(evaluation, policy, CHECKS, NOW, { capFindings: policy.maxFindingsPerThreat }),
  );
  const findings = evaluation.partitions.reduce((n, p) => n + p.findings.length, 0);
  return {
    snapshot: tSnap,
    evaluate: tEval,
    report: tReport,
    total: tSnap + tEval + tReport,
    findings,
  };
}

function benchEvaluation(mesh: GeneratedMesh, s: Settings, files: Map<Check, string>): string[] {
  const runs: EvalRun[] = [];
  const total = s.warmup + s.runs;
  progress.start("full evaluation");
  for (let i = 0; i < total; i++) {
    const run = evaluateOnce(mesh.objects);
    if (i >= s.warmup) runs.push(run);
    progress.update(i + 1, total);
  }
  progress.done();

  collect();
  const before = process.memoryUsage().heapUsed;
  const snapshot = new Snapshot(mesh.objects, { namespacesComplete: true });
  const evaluation = evaluate(snapshot, defaultPolicy(), NOW, OPERATOR_OPTIONS, CHECKS);
  collect();
  const mem = process.memoryUsage();
  const totalStats = stats(runs.map((r) => r.total));
  const partitions = evaluation.partitions.length;
  return [
    "### Full evaluation",
    "",
    `${CHECKS.length} checks, ${partitions} partitions, ` +
      `${runs[0]?.findings ?? 0} findings before the report's per-threat cap.`,
    "",
    TABLE_HEAD,
    row("snapshot build (`new Snapshot`)", stats(runs.map((r) => r.snapshot))),
    row("evaluate (all partitions)", stats(runs.map((r) => r.evaluate))),
    row("report build (`buildReport`)", stats(runs.map((r) => r.report))),
    row("total", totalStats, `≤ 1 s: ${verdict(totalStats.median, 1000)}`),
    "",
    `Memory with the snapshot loaded and evaluated (after a full GC): heap used ` +
      `${mib(mem.heapUsed)} (generated objects included; the snapshot index and evaluation add ` +
      `${mib(Math.max(0, mem.heapUsed - before))}), RSS ${mib(mem.rss)}; peak RSS so far ` +
      `${mib(process.resourceUsage().maxRSS * 1024)}.`,
    "",
    ...checkTimes(mesh.objects, files),
  ];
}

// --- where the evaluation time goes ----------------------------------------------------------

/** Which checks/<family>.ts file registers each check, read from the compiled modules. */
async function familyFiles(): Promise<Map<Check, string>> {
  const dir = new URL("../operator/engine/checks/", import.meta.url);
  const files = new Map<Check, string>();
  const names = (await readdir(dir)).filter((n) => n.endsWith(".js") && n !== "index.js");
  for (const name of names.sort()) {
    const module = (await import(new URL(name, dir).href)) as Record<string, unknown>;
    const registered = Object.values(module)
      .filter((v): v is unknown[] => Array.isArray(v))
      .flat()
      .filter((c): c is Check => CHECKS.includes(c as Check));
    for (const check of registered) files.set(check, `checks/${name.replace(/\.js$/, ".ts")}`);
  }
  return files;
}

/** The same check with its run timed into `totals`; `this` stays the original check. */
function timedCheck(check: Check, totals: Map<Check, number>): Check {
  const add = (t0: number): void => {
    totals.set(check, (totals.get(check) ?? 0) + performance.now() - t0);
  };
  if (check.scope === "cluster") {
    const wrapped: ClusterCheck = {
      ...check,
      run(ctx, emit) {
        const t0 = performance.now();
        check.run(ctx, emit);
        add(t0);
      },
    };
    return wrapped;
  }
  const wrapped: NamespaceCheck = {
    ...check,
    run(ctx, target, emit) {
      const t0 = performance.now();
      check.run(ctx, target, emit);
      add(t0);
    },
  };
  return wrapped;
}

/** Mesh membership and workloads, which the first check to ask would otherwise pay for. */
function warmMesh(ctx: CheckContext, partitions: readonly string[]): void {
  for (const p of partitions) {
    if (p === CLUSTER_PARTITION) continue;
    const ns = p.slice("namespace/".length);
    ctx.mesh.enrollment(ns);
    ctx.mesh.workloads(ns);
  }
}

/** One evaluation done partition by partition as `evaluate` does, with each check timed. */
function checkTimes(objects: readonly KubeObject[], files: Map<Check, string>): string[] {
  const totals = new Map<Check, number>();
  const checks = CHECKS.map((c) => timedCheck(c, totals));
  const snapshot = new Snapshot(objects, { namespacesComplete: true });
  const [ctx, tCtx] = timed(() => newContext(snapshot, defaultPolicy(), NOW, OPERATOR_OPTIONS));
  const partitions = partitionsOf(ctx.mesh);
  const [, tMesh] = timed(() => {
    warmMesh(ctx, partitions);
  });
  const [, tAll] = timed(() => {
    for (const p of partitions) evaluatePartition(ctx, p, checks);
  });
  const inChecks = [...totals.values()].reduce((a, b) => a + b, 0);
  const lines = [...totals]
    .sort((a, b) => b[1] - a[1])
    .map(([c, t]) => `| \`${c.id}\` (${c.scope}) | ${files.get(c) ?? "?"} | ${ms(t)} |`);
  return [
    "Where one evaluation's time goes (a single instrumented run, so only roughly comparable with " +
      "the medians above):",
    "",
    "| step | file | time |",
    "|---|---|---|",
    `| context (\`newContext\`: mesh config, revisions) | engine/evaluate.ts, mesh.ts | ${ms(tCtx)} |`,
    `| enrolment and workloads of every namespace | engine/mesh.ts | ${ms(tMesh)} |`,
    ...lines,
    `| partition loop outside the checks | engine/evaluate.ts, check.ts | ${ms(tAll - inChecks)} |`,
    "",
  ];
}

// --- re-evaluation of one namespace ---------------------------------------------------------

/** Evenly spread in-scope namespaces, so that the sample covers every namespace flavour. */
function sampleNamespaces(scoped: readonly string[], count: number): string[] {
  const step = Math.max(1, Math.floor(scoped.length / count));
  const out: string[] = [];
  for (let i = 0; i < scoped.length && out.length < count; i += step) {
    const ns = scoped[i];
    if (ns !== undefined) out.push(ns);
  }
  return out;
}

/** The snapshot after one object changed: the same list with one Namespace relabelled. */
function changedObjects(objects: readonly KubeObject[], namespace: string): KubeObject[] {
  const copy = [...objects];
  const i = copy.findIndex((o) => o.kind === "Namespace" && o.metadata.name === namespace);
  const target = copy[i];
  if (target) {
    copy[i] = {
      ...target,
      metadata: { ...target.metadata, labels: { ...target.metadata.labels, changed: "yes" } },
    };
  }
  return copy;
}

function benchPartition(mesh: GeneratedMesh, s: Settings): string[] {
  const policy = defaultPolicy();
  const snapshot = new Snapshot(mesh.objects, { namespacesComplete: true });
  const warmCtx = newContext(snapshot, policy, NOW, OPERATOR_OPTIONS);
  const scoped = warmCtx.mesh.scopedNamespaces().filter((ns) => ns !== warmCtx.mesh.rootNamespace);
  const sample = sampleNamespaces(scoped, s.samples);
  // Warm the code paths (JIT) on namespaces outside the sample.
  const warm = scoped.filter((ns) => !sample.includes(ns)).slice(0, Math.max(5, s.warmup * 20));
  for (const ns of warm) evaluatePartition(warmCtx, namespacePartition(ns), CHECKS);

  progress.start("re-evaluation of one namespace");
  const existing: number[] = [];
  const fresh: number[] = [];
  const cold: number[] = [];
  sample.forEach((ns, i) => {
    existing.push(timed(() => evaluatePartition(warmCtx, namespacePartition(ns), CHECKS))[1]);
    const [, t] = timed(() => {
      const ctx = newContext(snapshot, policy, NOW, OPERATOR_OPTIONS);
      return evaluatePartition(ctx, namespacePartition(ns), CHECKS);
    });
    fresh.push(t);
    // Parsed policies, RBAC and gateway indexes are kept per Snapshot; a changed object means a
    // new Snapshot, so this variant starts from one that nothing has read yet (built untimed).
    const unread = new Snapshot(mesh.objects, { namespacesComplete: true });
    const [, tCold] = timed(() => {
      const ctx = newContext(unread, policy, NOW, OPERATOR_OPTIONS);
      return evaluatePartition(ctx, namespacePartition(ns), CHECKS);
    });
    cold.push(tCold);
    progress.update(i + 1, sample.length);
  });
  const rebuild: number[] = [];
  for (let i = 0; i < s.warmup + s.runs; i++) {
    const objects = changedObjects(mesh.objects, sample[i % sample.length] ?? "");
    const [, t] = timed(() => new Snapshot(objects, { namespacesComplete: true }));
    if (i >= s.warmup) rebuild.push(t);
  }
  progress.done();

  const coldStats = stats(cold);
  const rootPartition = stats(
    [0, 1, 2].map(
      () =>
        timed(() =>
          evaluatePartition(
            newContext(snapshot, policy, NOW, OPERATOR_OPTIONS),
            namespacePartition(warmCtx.mesh.rootNamespace),
            CHECKS,
          ),
        )[1],
    ),
  );
  return [
    "### Re-evaluation of one namespace",
    "",
    `${sample.length} in-scope namespaces, spread evenly over ${scoped.length}; each timed once ` +
      "per variant. The runs column counts namespaces.",
    "",
    TABLE_HEAD,
    row(
      "`evaluatePartition`, fresh context over a Snapshot nothing has read yet",
      coldStats,
      `≤ 20 ms: ${verdict(coldStats.median, 20)}; p95 ${ms(percentile(cold, 0.95))}, ` +
        `max ${verdict(coldStats.max, 20)}`,
    ),
    row(
      "`evaluatePartition`, fresh context (`newContext` = new Mesh), same Snapshot",
      stats(fresh),
      `per-Snapshot caches warm; p95 ${ms(percentile(fresh, 0.95))}`,
    ),
    row(
      "`evaluatePartition`, existing context",
      stats(existing),
      `lower bound; p95 ${ms(percentile(existing, 0.95))}`,
    ),
    row("root namespace partition, fresh context", rootPartition, "information"),
    row("`new Snapshot` after one changed object", stats(rebuild), "see note"),
    "",
  ];
}

// --- JSON.parse -----------------------------------------------------------------------------

function benchJson(mesh: GeneratedMesh, s: Settings): string[] {
  progress.start("JSON.parse of the snapshot");
  const text = JSON.stringify(mesh.objects);
  const times: number[] = [];
  const total = s.warmup + s.runs;
  for (let i = 0; i < total; i++) {
    // The previous result is garbage; collect it now so that its cost does not land in this run.
    collect();
    const [, t] = timed(() => JSON.parse(text) as unknown);
    if (i >= s.warmup) times.push(t);
    progress.update(i + 1, total);
  }
  progress.done();
  return [
    "### JSON.parse of the same snapshot",
    "",
    TABLE_HEAD,
    row(
      `JSON.parse (${mesh.objects.length} objects, ${mib(Buffer.byteLength(text))})`,
      stats(times),
      "reference",
    ),
    "",
  ];
}

// --- offline scan ---------------------------------------------------------------------------

/** One multi-document file per namespace, and one for the cluster-scoped objects. */
async function writeManifests(
  mesh: GeneratedMesh,
): Promise<{ dir: string; bytes: number; objects: number }> {
  const dir = await mkdtemp(join(tmpdir(), "mesh-bench-"));
  const groups = new Map<string, KubeObject[]>();
  for (const o of mesh.objects) {
    const key = namespaceOf(o) ?? "_cluster";
    const list = groups.get(key);
    if (list) list.push(o);
    else groups.set(key, [o]);
  }
  progress.start("writing YAML files");
  let bytes = 0;
  let done = 0;
  for (const [key, objects] of groups) {
    const text = objects.map((o) => yaml.dump(o, { noRefs: true, lineWidth: -1 })).join("---\n");
    bytes += Buffer.byteLength(text);
    await writeFile(join(dir, `${key}.yaml`), text);
    done += 1;
    if (done % 100 === 0 || done === groups.size) progress.update(done, groups.size);
  }
  progress.done();
  return { dir, bytes, objects: mesh.objects.length };
}

/**
 * What "merely parsing" means: read every file and js-yaml `loadAll` it, nothing more. With `keep`,
 * the documents are held until every file is parsed, as any consumer of the parse would hold them;
 * without, each file's documents become garbage at once, which the garbage collector rewards.
 */
async function parseOnly(dir: string, keep: boolean): Promise<number> {
  const names = (await readdir(dir)).sort();
  const kept: unknown[][] = [];
  let docs = 0;
  for (const name of names) {
    const parsed = yaml.loadAll(await readFile(join(dir, name), "utf8"));
    docs += parsed.length;
    if (keep) kept.push(parsed);
  }
  return docs;
}

/**
 * Times one step in its own frame, so that nothing it returned stays reachable (a suspended async
 * function keeps its temporaries) once it is over.
 */
async function timeStep(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/**
 * Collects the previous step's garbage first, from outside that step's frame, so that it is not
 * charged to the next step.
 */
async function cleanStep(fn: () => Promise<unknown>): Promise<number> {
  collect();
  return timeStep(fn);
}

interface ScanTimes {
  kept: number[];
  discarded: number[];
  load: number[];
  scanned: number[];
}

async function measureScan(dir: string, s: Settings): Promise<ScanTimes> {
  const runs = Math.min(3, s.runs);
  const total = Math.min(1, s.warmup) + runs;
  const times: ScanTimes = { kept: [], discarded: [], load: [], scanned: [] };
  progress.start("scan against YAML parsing");
  // The steps alternate within each run, so that drift in the machine's load hits all alike.
  for (let i = 0; i < total; i++) {
    const kept = await cleanStep(() => parseOnly(dir, true));
    const discarded = await cleanStep(() => parseOnly(dir, false));
    const load = await cleanStep(() => loadManifests([dir]));
    const scanned = await cleanStep(() => scan([dir], defaultPolicy(), NOW));
    if (i >= total - runs) {
      times.kept.push(kept);
      times.discarded.push(discarded);
      times.load.push(load);
      times.scanned.push(scanned);
    }
    progress.update(i + 1, total);
  }
  progress.done();
  return times;
}

function ratioRow(name: string, ratios: readonly number[], limit: number): string {
  const r = stats(ratios);
  return (
    `| ${name} | ${r.median.toFixed(2)}× | ${r.min.toFixed(2)}× – ${r.max.toFixed(2)}× | ` +
    `${r.n} | ≤ ${limit}×: ${verdict(r.median, limit)} |`
  );
}

async function benchScan(
  files: { dir: string; bytes: number; objects: number },
  s: Settings,
): Promise<string[]> {
  let times: ScanTimes;
  try {
    times = await measureScan(files.dir, s);
  } finally {
    if (!s.keep) await rm(files.dir, { recursive: true, force: true });
  }
  const ratio = (base: number[]): number[] => times.scanned.map((t, i) => t / (base[i] ?? t));
  return [
    "### Offline scan against YAML parsing alone",
    "",
    `${files.objects} objects in ${mib(files.bytes)} of YAML, one file per namespace plus one ` +
      `for cluster-scoped objects${s.keep ? ` (kept in ${files.dir})` : ""}. The generated ` +
      "objects are released before these runs, and a full GC precedes each step.",
    "",
    TABLE_HEAD,
    row("read + js-yaml `loadAll`, documents kept (baseline)", stats(times.kept)),
    row("read + js-yaml `loadAll`, each file's documents dropped", stats(times.discarded)),
    row("`loadManifests` alone (read, split, parse each document, check)", stats(times.load)),
    row("`scan(paths)` (read, parse, evaluate, report)", stats(times.scanned)),
    ratioRow("ratio scan / parse, documents kept", ratio(times.kept), 1.3),
    ratioRow("ratio scan / parse, documents dropped", ratio(times.discarded), 1.3),
    "",
  ];
}

// --- main -----------------------------------------------------------------------------------

function header(s: Settings, mesh: GeneratedMesh): string[] {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const counts = Object.entries(mesh.counts)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  return [
    `## Run of ${new Date().toISOString()}`,
    "",
    `Machine: ${cpu}, ${cpus().length} cores, ${mib(totalmem())} memory; Node ${process.version}.`,
    `Sizes: ${s.size.namespaces} namespaces, ${s.size.pods} pods, ${s.size.policies} Istio ` +
      `policies, ${String(s.size.bindings)} RBAC bindings (seed ${s.seed}); ${mesh.objects.length} objects: ${counts}.`,
    `Runs: ${s.warmup} warm-up, ${s.runs} measured (scan: at most 3). ` +
      `Load average at the start: ${loadText()}.`,
    "",
  ];
}

/** Other work on the machine skews every figure, so the results say how busy it was. */
function loadText(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ");
}

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  if (!settings) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  progress.start("generating the mesh");
  let mesh: GeneratedMesh | undefined = generateMesh(settings.size, settings.seed, (d, t) => {
    progress.update(d, t);
  });
  progress.done();

  const out = header(settings, mesh);
  if (settings.only.includes("eval")) {
    out.push(...benchEvaluation(mesh, settings, await familyFiles()));
  }
  if (settings.only.includes("partition")) out.push(...benchPartition(mesh, settings));
  if (settings.only.includes("json")) out.push(...benchJson(mesh, settings));
  if (settings.only.includes("scan")) {
    const files = await writeManifests(mesh);
    // A real scan starts with an empty heap; the generated objects would slow its collections.
    mesh = undefined;
    collect();
    out.push(...(await benchScan(files, settings)));
  }
  out.push(
    `Peak RSS of the whole run: ${mib(process.resourceUsage().maxRSS * 1024)}. ` +
      `Load average at the end: ${loadText()}.`,
    "",
  );
  process.stdout.write(out.join("\n"));
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
