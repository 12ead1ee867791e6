// Kubernetes Events when a finding opens or resolves and when a threat turns Violated or stops
// being so. Transitions are computed against the report stored in the cluster (read back after a
// restart), never against memory, and each Event's name is derived from the transition and the
// stored report's resourceVersion, so a replay after a crash creates no duplicate. Rate-limited by
// a token bucket; Events over the limit are dropped and counted.

import { createHash } from "node:crypto";
import type { Finding } from "../engine/types.js";
import type { ComplianceReportStatus } from "../report/types.js";
import { API_VERSION, type EventBody, type EventSink } from "./api.js";

export type EventReason = "FindingOpened" | "FindingResolved" | "ThreatViolated" | "ThreatResolved";

export interface Transition {
  reason: EventReason;
  /** Stable identity of what changed: the finding's check and resource, or the threat id. */
  key: string;
  message: string;
  finding?: Finding;
}

function findingKey(f: Finding): string {
  const r = f.resource;
  return `${f.check}|${r.kind}|${r.namespace ?? ""}|${r.name}`;
}

interface OpenFindings {
  open: Map<string, Finding>;
  /** Threats whose listed findings are all of them (nothing left out by the cap). */
  complete: Set<string>;
}

function openFindings(report: ComplianceReportStatus): OpenFindings {
  const open = new Map<string, Finding>();
  const complete = new Set<string>();
  for (const t of report.threats) {
    if (t.omittedFindings === 0) complete.add(t.id);
    for (const f of t.findings) if (!f.waived) open.set(findingKey(f), f);
  }
  return { open, complete };
}

/** True when `list` is known to hold every open finding of at least one of the finding's threats. */
function knownFor(f: Finding, list: OpenFindings): boolean {
  return f.threats.some((t) => list.complete.has(t));
}

function findingTransitions(before: OpenFindings, after: OpenFindings): Transition[] {
  const out: Transition[] = [];
  for (const [key, f] of after.open) {
    if (before.open.has(key) || !knownFor(f, before)) continue;
    out.push({ reason: "FindingOpened", key, message: f.message, finding: f });
  }
  for (const [key, f] of before.open) {
    if (after.open.has(key) || !knownFor(f, after)) continue;
    const message = `Resolved: ${f.message}`;
    out.push({ reason: "FindingResolved", key, message, finding: f });
  }
  return out;
}

function threatTransitions(
  previous: ComplianceReportStatus,
  next: ComplianceReportStatus,
): Transition[] {
  const before = new Map(previous.threats.map((t) => [t.id, t.status]));
  return next.threats.flatMap((t): Transition[] => {
    const was = before.get(t.id);
    if (was === undefined || (was === "Violated") === (t.status === "Violated")) return [];
    const reason = t.status === "Violated" ? "ThreatViolated" : "ThreatResolved";
    const message = `${t.id} ${t.title}: ${was} -> ${t.status} (risk ${t.risk})`;
    return [{ reason, key: t.id, message }];
  });
}

/**
 * What changed between the stored report and the new one. The first report of a policy creates no
 * Events: everything would be "new", and the report itself is the record.
 * Where a cap left findings out, a finding is reported as opened or resolved only if the list on
 * the other side is known to be complete for one of its threats.
 */
export function transitions(
  previous: ComplianceReportStatus | undefined,
  next: ComplianceReportStatus,
): Transition[] {
  if (previous?.threats === undefined) return [];
  return [
    ...threatTransitions(previous, next),
    ...findingTransitions(openFindings(previous), openFindings(next)),
  ];
}

export interface RecorderOptions {
  sink: EventSink;
  perMinute: number;
  /** This replica's name, recorded as the reporting instance. */
  instance: string;
  /** Where Events about cluster-scoped objects go. */
  clusterNamespace: string;
  now: () => Date;
}

/** Names must be DNS subdomains; resource names like `system:foo` are not. */
function safeName(text: string): string {
  const cleaned = text.toLowerCase().replace(/[^a-z0-9.-]+/g, "-");
  return cleaned.replace(/^[^a-z0-9]+/, "").slice(0, 200) || "x";
}

export class EventRecorder {
  private tokens: number;
  private refilledAt: number;
  dropped = 0;

  constructor(private readonly options: RecorderOptions) {
    this.tokens = options.perMinute;
    this.refilledAt = options.now().getTime();
  }

  private take(): boolean {
    const now = this.options.now().getTime();
    const perMs = this.options.perMinute / 60_000;
    this.tokens = Math.min(this.options.perMinute, this.tokens + (now - this.refilledAt) * perMs);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Records the transitions; returns how many Events were created. */
  async record(policy: string, changes: Transition[], previousVersion: string): Promise<number> {
    let created = 0;
    for (const change of changes) {
      if (!this.take()) {
        this.dropped += 1;
        continue;
      }
      await this.options.sink.create(...this.event(policy, change, previousVersion));
      created += 1;
    }
    return created;
  }

  private event(policy: string, change: Transition, version: string): [string, EventBody] {
    const resource = change.finding?.resource;
    const namespace = resource?.namespace ?? this.options.clusterNamespace;
    const regarding = resource ?? { apiVersion: API_VERSION, kind: "ThreatPolicy", name: policy };
    const hash = createHash("sha256")
      .update(`${policy}\n${change.reason}\n${change.key}\n${version}`)
      .digest("hex")
      .slice(0, 16);
    const at = this.options.now().toISOString();
    const event: EventBody = {
      metadata: { name: `${safeName(regarding.name)}.${hash}`, namespace },
      involvedObject: {
        apiVersion: regarding.apiVersion,
        kind: regarding.kind,
        name: regarding.name,
        ...(resource?.namespace === undefined ? {} : { namespace: resource.namespace }),
      },
      reason: change.reason,
      message: `[${policy}] ${change.message}`.slice(0, 1024),
      type:
        change.reason === "FindingOpened" || change.reason === "ThreatViolated"
          ? "Warning"
          : "Normal",
      source: { component: "mesh-compliance-operator" },
      reportingComponent: "meshcompliance.io/operator",
      reportingInstance: this.options.instance,
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
    };
    return [namespace, event];
  }
}
