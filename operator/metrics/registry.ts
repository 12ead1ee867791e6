// The operator's Prometheus metrics. Labels are bounded (policy, threat, risk, category,
// namespace, object names, kind, result) and never carry messages or timestamps. Health series
// for known label sets start at 0; per-object and per-policy series are computed at scrape time,
// so objects and policies that are gone disappear from the next scrape.

import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { resourceKindKey, WATCHED_RESOURCES } from "../kube/resources.js";
import type { ComplianceReportStatus } from "../report/types.js";
import { ObjectSeriesCache, type ObjectSeries, type Sample, type ScrapeView } from "./objects.js";
import { reportSeries, type ReportSeries } from "./reports.js";

export const PREFIX = "mesh_compliance_";

/** What the cache reports; the same shape as the cache's own CacheMetrics contract. */
export interface CacheMetrics {
  watchEvent(kind: string): void;
  watchRestart(kind: string): void;
  objects(kind: string, n: number): void;
  available(kind: string, up: boolean): void;
}

export type EvaluationResult = "success" | "error";
export const EVALUATION_RESULTS: readonly EvaluationResult[] = ["success", "error"];

/** created/updated: a write landed; unchanged: skipped; conflict: a 409 (retried); error: gave up. */
export type StatusWriteResult = "created" | "updated" | "unchanged" | "conflict" | "error";
export const STATUS_WRITE_RESULTS: readonly StatusWriteResult[] = [
  "created",
  "updated",
  "unchanged",
  "conflict",
  "error",
];

export interface MetricsOptions {
  /** The cache view for per-object series; may be set later with `setSource`. */
  source?: () => ScrapeView | undefined;
  /** `mesh_compliance_namespace_findings`; off for meshes with very many namespaces. Default on. */
  namespaceFindings?: boolean;
  /** Kinds whose health series start at 0; default: every watched kind. */
  kinds?: readonly string[];
  /** Seconds since the epoch; injectable for tests. */
  now?: () => number;
}

export interface Metrics {
  registry: Registry;
  cacheMetrics: CacheMetrics;
  /** Called after each evaluation; a success also sets the last evaluation time. */
  recordEvaluation(result: EvaluationResult, durationSeconds: number): void;
  /** The reports of every current ThreatPolicy; policies left out lose their series. */
  setReports(statuses: readonly ComplianceReportStatus[]): void;
  statusWrite(result: StatusWriteResult): void;
  setSource(source: () => ScrapeView | undefined): void;
}

type Select<T> = (series: T) => Sample[];

function emit(gauge: Gauge, samples: Sample[]): void {
  gauge.reset();
  for (const s of samples) gauge.set(s.labels, s.value);
}

interface State {
  source: (() => ScrapeView | undefined) | undefined;
  reports: readonly ComplianceReportStatus[];
  namespaceFindings: boolean;
  objects: ObjectSeriesCache;
  /** The report series of `reports`, computed once per setReports rather than per gauge. */
  reportSeries: { of: readonly ComplianceReportStatus[]; series: ReportSeries } | undefined;
}

interface GaugeSpec<T> {
  name: string;
  help: string;
  labelNames: string[];
  pick: Select<T>;
}

/** A gauge whose series are computed at scrape time from `series`. */
function scrapeGauge<T>(registry: Registry, spec: GaugeSpec<T>, series: () => T | undefined): void {
  new Gauge({
    name: PREFIX + spec.name,
    help: spec.help,
    labelNames: spec.labelNames,
    registers: [registry],
    collect() {
      const current = series();
      emit(this, current === undefined ? [] : spec.pick(current));
    },
  });
}

function objectGauge(registry: Registry, state: State, spec: GaugeSpec<ObjectSeries>): void {
  scrapeGauge(registry, spec, () => {
    const view = state.source?.();
    return view ? state.objects.get(view) : undefined;
  });
}

function reportGauge(registry: Registry, state: State, spec: GaugeSpec<ReportSeries>): void {
  scrapeGauge(registry, spec, () => {
    if (state.reportSeries?.of !== state.reports) {
      const options = { namespaceFindings: state.namespaceFindings };
      state.reportSeries = { of: state.reports, series: reportSeries(state.reports, options) };
    }
    return state.reportSeries.series;
  });
}

function registerObjectGauges(registry: Registry, state: State): void {
  objectGauge(registry, state, {
    name: "peer_authentication_mode",
    help: "1 per PeerAuthentication, labelled with its top-level mode (UNSET when it inherits).",
    labelNames: ["namespace", "name", "mode"],
    pick: (s) => s.peerAuthenticationMode,
  });
  objectGauge(registry, state, {
    name: "effective_plaintext_workloads",
    help: "Meshed workloads per in-scope namespace whose effective mTLS mode accepts plaintext.",
    labelNames: ["namespace"],
    pick: (s) => s.effectivePlaintextWorkloads,
  });
  objectGauge(registry, state, {
    name: "envoyfilter_info",
    help: "1 per EnvoyFilter; allowed says whether every ThreatPolicy allows it, risk its class.",
    labelNames: ["namespace", "name", "allowed", "risk"],
    pick: (s) => s.envoyFilterInfo,
  });
  objectGauge(registry, state, {
    name: "envoyfilter_created_timestamp_seconds",
    help: "Creation time of each EnvoyFilter, in seconds since the epoch.",
    labelNames: ["namespace", "name"],
    pick: (s) => s.envoyFilterCreated,
  });
  objectGauge(registry, state, {
    name: "webhook_fingerprint_info",
    help: "1 per sidecar-injector webhook configuration, labelled with its content fingerprint.",
    labelNames: ["name", "fingerprint"],
    pick: (s) => s.webhookFingerprint,
  });
}

function registerReportGauges(registry: Registry, state: State): void {
  reportGauge(registry, state, {
    name: "threat_mitigated",
    help: "1 when the threat is Mitigated or Attested, 0 when Violated, Waived or Unknown.",
    labelNames: ["policy", "threat", "risk", "category"],
    pick: (s) => s.threatMitigated,
  });
  reportGauge(registry, state, {
    name: "threat_findings",
    help: "Findings per threat; state is open or waived.",
    labelNames: ["policy", "threat", "risk", "state"],
    pick: (s) => s.threatFindings,
  });
  reportGauge(registry, state, {
    name: "score",
    help: "Percent of the policy's scored threats that are mitigated or attested.",
    labelNames: ["policy"],
    pick: (s) => s.score,
  });
  reportGauge(registry, state, {
    name: "namespace_findings",
    help: "Open findings per namespace and threat risk level.",
    labelNames: ["policy", "namespace", "risk"],
    pick: (s) => s.namespaceFindings,
  });
  reportGauge(registry, state, {
    name: "waiver_expiry_timestamp_seconds",
    help: "Earliest expiry of the policy's waivers for a threat, in seconds since the epoch.",
    labelNames: ["policy", "threat"],
    pick: (s) => s.waiverExpiry,
  });
}

interface HealthMetrics {
  evaluations: Counter<"result">;
  duration: Histogram;
  lastEvaluation: Gauge;
  statusWrites: Counter<"result">;
  cacheMetrics: CacheMetrics;
}

function registerHealth(registry: Registry, kinds: readonly string[]): HealthMetrics {
  const registers = [registry];
  const evaluations = new Counter({
    name: `${PREFIX}evaluations_total`,
    help: "Evaluations by result (success, error).",
    labelNames: ["result"],
    registers,
  });
  const duration = new Histogram({
    name: `${PREFIX}evaluation_duration_seconds`,
    help: "Time to evaluate and build the reports.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const lastEvaluation = new Gauge({
    name: `${PREFIX}last_evaluation_timestamp_seconds`,
    help: "When the last successful evaluation finished, in seconds since the epoch; 0 before.",
    registers,
  });
  const statusWrites = new Counter({
    name: `${PREFIX}status_writes_total`,
    help: "ComplianceReport status writes by result (created, updated, unchanged, conflict, error).",
    labelNames: ["result"],
    registers,
  });
  const byKind = { labelNames: ["kind"] as const, registers };
  const events = new Counter({
    ...byKind,
    name: `${PREFIX}watch_events_total`,
    help: "Watch events received per kind.",
  });
  const restarts = new Counter({
    ...byKind,
    name: `${PREFIX}watch_restarts_total`,
    help: "Watch restarts after an error or a relist, per kind.",
  });
  const objects = new Gauge({
    ...byKind,
    name: `${PREFIX}cache_objects`,
    help: "Objects held in the cache per kind.",
  });
  const available = new Gauge({
    ...byKind,
    name: `${PREFIX}input_available`,
    help: "1 when the kind can be listed and watched, 0 when forbidden, not installed or failing.",
  });

  for (const result of EVALUATION_RESULTS) evaluations.inc({ result }, 0);
  for (const result of STATUS_WRITE_RESULTS) statusWrites.inc({ result }, 0);
  for (const kind of kinds) {
    events.inc({ kind }, 0);
    restarts.inc({ kind }, 0);
    objects.set({ kind }, 0);
    available.set({ kind }, 0);
  }
  lastEvaluation.set(0);

  const cacheMetrics: CacheMetrics = {
    watchEvent: (kind) => {
      events.inc({ kind });
    },
    watchRestart: (kind) => {
      restarts.inc({ kind });
    },
    objects: (kind, n) => {
      objects.set({ kind }, n);
    },
    available: (kind, up) => {
      available.set({ kind }, up ? 1 : 0);
    },
  };
  return { evaluations, duration, lastEvaluation, statusWrites, cacheMetrics };
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const now = options.now ?? (() => Date.now() / 1000);
  const state: State = {
    source: options.source,
    reports: [],
    namespaceFindings: options.namespaceFindings ?? true,
    objects: new ObjectSeriesCache(),
    reportSeries: undefined,
  };
  const kinds = options.kinds ?? WATCHED_RESOURCES.map(resourceKindKey);
  const health = registerHealth(registry, kinds);
  registerReportGauges(registry, state);
  registerObjectGauges(registry, state);

  return {
    registry,
    cacheMetrics: health.cacheMetrics,
    recordEvaluation(result, durationSeconds) {
      health.evaluations.inc({ result });
      health.duration.observe(durationSeconds);
      if (result === "success") health.lastEvaluation.set(now());
    },
    setReports(statuses) {
      state.reports = [...statuses];
    },
    statusWrite(result) {
      health.statusWrites.inc({ result });
    },
    setSource(source) {
      state.source = source;
    },
  };
}
