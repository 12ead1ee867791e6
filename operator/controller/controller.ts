// The reconcile loop: cache changes mark partitions dirty per ThreatPolicy, the queue runs one
// policy at a time, and each run gathers (snapshot), evaluates (dirty partitions only), builds the
// report from the stored partitions and, on the leader, writes the report, the policy status and
// Events. Every replica evaluates, so /readyz, /report and the metrics work on followers too.

import { performance } from "node:perf_hooks";
import type { Logger } from "winston";
import type { Check } from "../engine/check.js";
import { K } from "../engine/kinds.js";
import type { MeshOptions } from "../engine/mesh.js";
import { parseThreatPolicy, PolicyValidationError, type ThreatPolicy } from "../engine/policy.js";
import type { Snapshot } from "../engine/snapshot.js";
import type { KubeObject } from "../engine/types.js";
import type { ClusterCache, ObjectChange } from "../kube/types.js";
import type { ComplianceReportStatus } from "../report/types.js";
import { capReport, DEFAULT_MAX_REPORT_BYTES } from "./cap.js";
import { affectedBy, clusterInputs, DirtyMarks } from "./changes.js";
import { isRetryable } from "./errors.js";
import { PartitionStore } from "./evaluator.js";
import { KeyQueue, type KeyFailure, type Timers } from "./queue.js";
import { ReportPublisher, type Writers } from "./publish.js";

export interface ControllerMetrics {
  recordEvaluation(result: "success" | "error", durationSeconds: number): void;
  setReports(statuses: readonly ComplianceReportStatus[]): void;
}

export interface ControllerOptions {
  cache: Pick<ClusterCache, "snapshot" | "onChange" | "kinds">;
  checks: readonly Check[];
  meshOptions: MeshOptions;
  logger: Logger;
  now?: () => Date;
  debounceMs: number;
  resyncIntervalMs: number;
  /** Namespaces listed per report (the rest are counted). */
  reportNamespaces: number;
  maxReportBytes?: number;
  /** How often kind availability is compared, to re-evaluate when a kind appears or goes. */
  availabilityPollMs?: number;
  writers?: Writers;
  isLeader?: () => boolean;
  metrics?: ControllerMetrics;
  timers?: Timers;
}

export class Controller {
  private readonly queue: KeyQueue;
  private readonly marks = new DirtyMarks();
  private readonly store: PartitionStore;
  private readonly clusterKinds: Set<string>;
  private readonly reports = new Map<string, ComplianceReportStatus>();
  private readonly publisher: ReportPublisher | undefined;
  private readonly pendingFirst = new Set<string>();
  private readonly seenGeneration = new Map<string, number | undefined>();
  private readonly seenUid = new Map<string, string | undefined>();
  /** The uid and generation of each invalid policy last logged as invalid. */
  private readonly invalidLogged = new Map<string, string>();
  private readonly valid = new Map<string, ThreatPolicy>();
  private policies = new Set<string>();
  private availability = "";
  private started = false;
  private unsubscribe: (() => void) | undefined;
  private readonly intervals: NodeJS.Timeout[] = [];

  constructor(private readonly options: ControllerOptions) {
    this.store = new PartitionStore(options.checks, options.meshOptions);
    this.clusterKinds = clusterInputs(options.checks);
    const failure = (f: KeyFailure): void => {
      this.failed(f);
    };
    this.queue = new KeyQueue((key) => this.reconcile(key), {
      debounceMs: options.debounceMs,
      retryable: isRetryable,
      onFailure: failure,
      ...(options.timers ? { timers: options.timers } : {}),
    });
    if (options.writers) {
      this.publisher = new ReportPublisher(options.writers, options.logger, () => this.now());
    }
  }

  private now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }

  /** Starts after the cache's first sync: evaluates every policy and follows changes. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.unsubscribe = this.options.cache.onChange((c) => {
      this.changed(c);
    });
    this.availability = this.availabilitySignature();
    this.policies = new Set(policyObjects(this.options.cache.snapshot()).keys());
    for (const name of this.policies) this.pendingFirst.add(name);
    this.markAll();
    this.intervals.push(
      setInterval(() => {
        // The next writes compare with what is stored, so a report deleted or edited by hand
        // is restored within one resync.
        this.publisher?.reset();
        this.markAll();
      }, this.options.resyncIntervalMs),
      setInterval(() => {
        this.checkAvailability();
      }, this.options.availabilityPollMs ?? 2_000),
    );
    for (const t of this.intervals) t.unref();
    if (this.policies.size === 0) {
      this.options.logger.warn("no ThreatPolicy found; nothing to evaluate until one is created");
    }
  }

  /** True once every policy present at start has been evaluated once. */
  ready(): boolean {
    return this.started && this.pendingFirst.size === 0;
  }

  /** The full, uncapped reports by policy name. */
  report(): Record<string, ComplianceReportStatus> {
    return Object.fromEntries(this.reports);
  }

  /** The valid policies as last evaluated (scrape-time metrics read them). */
  validPolicies(): ThreatPolicy[] {
    return [...this.valid.values()];
  }

  /** Called when this replica gains or loses the lease. */
  leadershipChanged(leader: boolean): void {
    this.publisher?.reset();
    // A new leader writes what it has: the stored reports may be stale or missing.
    if (leader) this.markAll();
  }

  /** Stops following changes and waits for the evaluation in flight. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    for (const t of this.intervals) clearInterval(t);
    await this.queue.stop();
  }

  /** Resolves when no evaluation is pending (tests and the demo). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /**
   * Marks every policy for a full run. The policy names are read again from the cache: a kind that
   * was briefly unreadable (an API server restarting) may have made a policy look deleted, and a
   * relist brings it back without a per-object event.
   */
  private markAll(): void {
    for (const name of policyObjects(this.options.cache.snapshot()).keys()) {
      this.policies.add(name);
    }
    for (const name of this.policies) {
      this.marks.mark(name, "all");
      this.queue.add(name);
    }
  }

  private availabilitySignature(): string {
    return this.options.cache
      .kinds()
      .map((k) => `${k.kind}:${String(k.available)}:${k.reason ?? ""}`)
      .sort()
      .join(",");
  }

  /** A kind that appears (CRDs installed later) or goes (permission removed) changes everything. */
  private checkAvailability(): void {
    const now = this.availabilitySignature();
    if (now === this.availability) return;
    this.availability = now;
    this.options.logger.info("watched kinds changed availability; re-evaluating everything");
    this.markAll();
  }

  private changed(change: ObjectChange): void {
    if (change.kind === K.ThreatPolicy && change.type === "RELISTED") {
      this.markAll();
      return;
    }
    const affected = affectedBy(change, this.rootNamespaces(), this.clusterKinds);
    if (affected.scope === "none") return;
    if (affected.scope === "policy") {
      if (this.statusOnly(affected.name, change)) return;
      this.policies.add(affected.name);
      this.marks.mark(affected.name, "all");
      this.queue.add(affected.name);
      return;
    }
    const marks = affected.scope === "all" ? "all" : affected.partitions;
    for (const name of this.policies) {
      this.marks.mark(name, marks);
      this.queue.add(name);
    }
  }

  /**
   * A policy update that leaves the generation as last evaluated changed only its status (our own
   * write, usually): it must not trigger another evaluation.
   */
  private statusOnly(name: string, change: ObjectChange): boolean {
    if (change.type !== "MODIFIED" || !this.seenGeneration.has(name)) return false;
    const object = policyObjects(this.options.cache.snapshot()).get(name);
    return object !== undefined && object.metadata.generation === this.seenGeneration.get(name);
  }

  private rootNamespaces(): Set<string> {
    const roots = this.store.rootNamespaces();
    if (roots.size === 0) roots.add("istio-system");
    return roots;
  }

  private failed(f: KeyFailure): void {
    const error = f.error instanceof Error ? f.error.message : String(f.error);
    const fields = { policy: f.key, attempt: f.attempt, error };
    if (f.retryInMs === undefined) {
      this.options.logger.error("reconcile failed; not retried", fields);
      this.pendingFirst.delete(f.key);
    } else {
      this.options.logger.warn("reconcile failed; retrying", { ...fields, retryInMs: f.retryInMs });
    }
  }

  /** Gather, evaluate, build, write: one run for one policy. */
  private async reconcile(name: string): Promise<void> {
    const snapshot = this.options.cache.snapshot();
    const object = policyObjects(snapshot).get(name);
    if (object === undefined) {
      this.forget(name);
      return;
    }
    const marks = this.marks.take(name);
    this.followUid(name, object.metadata.uid);
    const generation = object.metadata.generation;
    this.seenGeneration.set(name, generation);
    let policy: ThreatPolicy;
    try {
      policy = parseThreatPolicy(object, this.options.checks);
    } catch (error) {
      if (!(error instanceof PolicyValidationError)) throw error;
      await this.invalid(object, error);
      return;
    }
    this.valid.set(name, policy);
    this.invalidLogged.delete(name);
    const report = this.evaluate(snapshot, policy, marks, generation);
    if (report === undefined) return;
    if (this.publisher && (this.options.isLeader?.() ?? true)) {
      const written = capReport(report, {
        maxFindingsPerThreat: policy.maxFindingsPerThreat,
        maxNamespaces: this.options.reportNamespaces,
        maxBytes: this.options.maxReportBytes ?? DEFAULT_MAX_REPORT_BYTES,
      });
      await this.publisher.publish(object, written);
    }
  }

  private evaluate(
    snapshot: Snapshot,
    policy: ThreatPolicy,
    marks: ReturnType<DirtyMarks["take"]>,
    generation: number | undefined,
  ): ComplianceReportStatus | undefined {
    const started = performance.now();
    try {
      const result = this.store.evaluate(snapshot, policy, marks, this.now());
      const seconds = (performance.now() - started) / 1_000;
      this.reports.set(policy.name, result.report);
      this.pendingFirst.delete(policy.name);
      this.options.metrics?.recordEvaluation("success", seconds);
      this.options.metrics?.setReports([...this.reports.values()]);
      this.options.logger.debug("evaluated", {
        policy: policy.name,
        generation,
        partitions: result.partitions,
        evaluated: result.evaluated,
        full: result.full,
        ms: Math.round(seconds * 1_000),
      });
      return result.report;
    } catch (error) {
      // A check that throws is a bug: record it, keep the previous report, do not retry.
      this.marks.restore(policy.name, marks);
      this.options.metrics?.recordEvaluation("error", (performance.now() - started) / 1_000);
      throw error;
    }
  }

  private async invalid(object: KubeObject, error: PolicyValidationError): Promise<void> {
    const name = error.policyName;
    this.valid.delete(name);
    this.store.forget(name);
    this.reports.delete(name);
    this.pendingFirst.delete(name);
    this.options.metrics?.setReports([...this.reports.values()]);
    // Once per version of the policy: every change elsewhere and every resync evaluates it again.
    const version = `${object.metadata.uid ?? ""}/${String(object.metadata.generation ?? "")}`;
    const fields = { policy: name, fields: error.errors.map((e) => e.field), error: error.message };
    if (this.invalidLogged.get(name) === version) {
      this.options.logger.debug("ThreatPolicy is invalid", fields);
    } else {
      this.invalidLogged.set(name, version);
      this.options.logger.warn("ThreatPolicy is invalid", fields);
    }
    if (this.publisher && (this.options.isLeader?.() ?? true)) {
      await this.publisher.invalid(object, error);
    }
  }

  /**
   * A policy deleted and created again under its name (faster than an evaluation, as by
   * `kubectl replace --force`) has a new uid: what was stored for the old one no longer applies.
   */
  private followUid(name: string, uid: string | undefined): void {
    const seen = this.seenUid.get(name);
    if (seen !== undefined && seen !== uid) this.publisher?.forget(name);
    this.seenUid.set(name, uid);
  }

  private forget(name: string): void {
    this.publisher?.forget(name);
    this.seenUid.delete(name);
    this.invalidLogged.delete(name);
    this.policies.delete(name);
    this.seenGeneration.delete(name);
    this.valid.delete(name);
    this.marks.forget(name);
    this.store.forget(name);
    this.pendingFirst.delete(name);
    if (this.reports.delete(name)) {
      this.options.metrics?.setReports([...this.reports.values()]);
      this.options.logger.info("ThreatPolicy deleted; its series are dropped", { policy: name });
    }
  }
}

function policyObjects(snapshot: Snapshot): Map<string, KubeObject> {
  return new Map(snapshot.all(K.ThreatPolicy).map((o) => [o.metadata.name ?? "", o]));
}
