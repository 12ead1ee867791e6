// Keeps the latest result of every partition per policy, so that a change re-evaluates only the
// partitions it marked and the report is rebuilt from the stored rest. Pure apart from that store:
// the snapshot and the clock come in as arguments.

import type { Check } from "../engine/check.js";
import {
  evaluatePartition,
  newContext,
  partitionsOf,
  type Evaluation,
  type PartitionResult,
} from "../engine/evaluate.js";
import type { MeshOptions } from "../engine/mesh.js";
import type { ThreatPolicy } from "../engine/policy.js";
import type { Snapshot } from "../engine/snapshot.js";
import { buildReport } from "../report/build.js";
import type { ComplianceReportStatus } from "../report/types.js";
import type { Marks } from "./changes.js";

export interface PolicyEvaluation {
  /** The full report, uncapped (served by /report; the written report is capped from it). */
  report: ComplianceReportStatus;
  /** Partitions evaluated in this run. */
  evaluated: number;
  /** Partitions the report covers. */
  partitions: number;
  full: boolean;
}

interface PolicyState {
  generation: number | undefined;
  rootNamespace: string;
  results: Map<string, PartitionResult>;
}

export class PartitionStore {
  private readonly states = new Map<string, PolicyState>();

  constructor(
    private readonly checks: readonly Check[],
    private readonly meshOptions: MeshOptions,
  ) {}

  /** Root namespaces of the evaluated policies: a change there affects every partition. */
  rootNamespaces(): Set<string> {
    return new Set([...this.states.values()].map((s) => s.rootNamespace));
  }

  /** The generation of the policy as last evaluated, to ignore status-only policy updates. */
  evaluatedGeneration(policy: string): number | undefined {
    return this.states.get(policy)?.generation;
  }

  has(policy: string): boolean {
    return this.states.has(policy);
  }

  forget(policy: string): void {
    this.states.delete(policy);
  }

  evaluate(snapshot: Snapshot, policy: ThreatPolicy, marks: Marks, now: Date): PolicyEvaluation {
    const ctx = newContext(snapshot, policy, now, this.meshOptions);
    const previous = this.states.get(policy.name);
    const full =
      marks === "all" ||
      previous === undefined ||
      previous.generation !== policy.generation ||
      previous.rootNamespace !== ctx.mesh.rootNamespace;

    const results = new Map<string, PartitionResult>();
    let evaluated = 0;
    for (const partition of partitionsOf(ctx.mesh)) {
      const kept = full || marks.has(partition) ? undefined : previous.results.get(partition);
      if (kept) {
        results.set(partition, kept);
        continue;
      }
      results.set(partition, evaluatePartition(ctx, partition, this.checks));
      evaluated += 1;
    }
    this.states.set(policy.name, {
      generation: policy.generation,
      rootNamespace: ctx.mesh.rootNamespace,
      results,
    });

    const inScope = ctx.mesh.scopedNamespaces();
    const scoped = new Set(inScope);
    const evaluation: Evaluation = {
      rootNamespace: ctx.mesh.rootNamespace,
      inScope,
      outOfScope: snapshot.namespaces().filter((ns) => !scoped.has(ns)),
      assumptions: [...new Set(ctx.mesh.assumptions)].sort(),
      partitions: [...results.values()],
    };
    const report = buildReport(evaluation, policy, this.checks, now);
    return { report, evaluated, partitions: results.size, full };
  }
}
