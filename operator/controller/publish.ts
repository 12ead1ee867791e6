// The write step of a reconcile, run on the leader only: the ComplianceReport status, Events for
// what changed since the stored report, and the ThreatPolicy's status and conditions.

import type { Logger } from "winston";
import type { PolicyValidationError } from "../engine/policy.js";
import type { KubeObject } from "../engine/types.js";
import type { ComplianceReportStatus } from "../report/types.js";
import { EventRecorder, transitions } from "./events.js";
import type { PolicyStatus, StatusWriter } from "./status.js";

export type StatusWriteResult = "created" | "updated" | "unchanged" | "conflict" | "error";

export interface Writers {
  status: StatusWriter;
  events?: EventRecorder;
  metrics?: { statusWrite(result: StatusWriteResult): void };
}

/** The stored report adds the printer columns' text fields to the built status. */
export type StoredReport = ComplianceReportStatus & { scoreText: string; mitigatedText: string };

export function storedReport(status: ComplianceReportStatus): StoredReport {
  const s = status.summary;
  const applicable = s.enabled - s.notApplicable;
  return {
    ...status,
    scoreText: `${s.score}%`,
    mitigatedText: `${s.mitigated + s.attested}/${applicable}`,
  };
}

function readyStatus(
  report: ComplianceReportStatus,
  generation: number | undefined,
  at: string,
): PolicyStatus {
  const s = report.summary;
  const status: PolicyStatus = {
    conditions: [
      {
        type: "Ready",
        status: "True",
        reason: "Evaluated",
        message: `the ComplianceReport ${report.policy} holds the evaluation`,
        lastTransitionTime: at,
      },
      {
        type: "Invalid",
        status: "False",
        reason: "Valid",
        message: "the policy is valid",
        lastTransitionTime: at,
      },
    ],
    score: s.score,
    scoreText: `${s.score}%`,
    enabled: s.enabled,
    mitigated: s.mitigated + s.attested,
    violated: s.violated,
    report: report.policy,
  };
  return withGeneration(status, generation);
}

function withGeneration(status: PolicyStatus, generation: number | undefined): PolicyStatus {
  if (generation === undefined) return status;
  return {
    ...status,
    observedGeneration: generation,
    conditions: status.conditions.map((c) => ({ ...c, observedGeneration: generation })),
  };
}

export class ReportPublisher {
  constructor(
    private readonly writers: Writers,
    private readonly logger: Logger,
    private readonly now: () => Date,
  ) {}

  reset(): void {
    this.writers.status.reset();
  }

  forget(policy: string): void {
    this.writers.status.forget(policy);
  }

  async publish(policy: KubeObject, report: ComplianceReportStatus): Promise<void> {
    const name = policy.metadata.name ?? "";
    const ref = { name, uid: policy.metadata.uid ?? "" };
    let result;
    try {
      result = await this.writers.status.writeReport(ref, storedReport(report));
    } catch (error) {
      this.writers.metrics?.statusWrite("error");
      throw error;
    }
    for (let i = 0; i < result.conflicts; i++) this.writers.metrics?.statusWrite("conflict");
    const outcome = !result.written ? "unchanged" : result.previous ? "updated" : "created";
    this.writers.metrics?.statusWrite(outcome);
    if (result.written) {
      this.logger.info("ComplianceReport written", {
        policy: name,
        score: report.summary.score,
        violated: report.summary.violated,
        conflicts: result.conflicts,
      });
      await this.events(name, transitions(result.previous, report), result.previousVersion);
    }
    const status = readyStatus(report, policy.metadata.generation, this.now().toISOString());
    await this.writers.status.writePolicyStatus(name, status);
  }

  async invalid(policy: KubeObject, error: PolicyValidationError): Promise<void> {
    const at = this.now().toISOString();
    const status: PolicyStatus = {
      conditions: [
        {
          type: "Ready",
          status: "False",
          reason: "Invalid",
          message: "the policy is invalid; see the Invalid condition",
          lastTransitionTime: at,
        },
        {
          type: "Invalid",
          status: "True",
          reason: "InvalidSpec",
          message: error.message,
          lastTransitionTime: at,
        },
      ],
    };
    await this.writers.status.writePolicyStatus(
      error.policyName,
      withGeneration(status, policy.metadata.generation),
    );
  }

  /** Events are best effort: a failure is logged once per run and does not fail the reconcile. */
  private async events(
    policy: string,
    changes: ReturnType<typeof transitions>,
    version: string,
  ): Promise<void> {
    const recorder = this.writers.events;
    if (!recorder || changes.length === 0) return;
    try {
      const created = await recorder.record(policy, changes, version);
      this.logger.debug("events recorded", { policy, created, dropped: recorder.dropped });
    } catch (error) {
      this.logger.warn("could not create Events", {
        policy,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
