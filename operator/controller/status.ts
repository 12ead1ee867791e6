// Writes the ComplianceReport of each ThreatPolicy (same name, owned by the policy) and the policy's
// own status. A status is written only when it differs from the stored one (ignoring evaluatedAt),
// with the stored resourceVersion as a precondition; a conflict (409) re-reads and re-applies
// quietly. The last stored status is remembered, so an unchanged evaluation costs no request.

import { isDeepStrictEqual } from "node:util";
import { retry } from "ts-retry-promise";
import type { ComplianceReportStatus } from "../report/types.js";
import { API_VERSION, type ClusterObjects, type Plural, type StoredObject } from "./api.js";
import { ConflictError } from "./errors.js";

export interface PolicyRef {
  name: string;
  uid: string;
  generation?: number;
}

export interface WriteResult {
  written: boolean;
  /** The status stored before this write (undefined when the report was just created). */
  previous: ComplianceReportStatus | undefined;
  /** resourceVersion of the object the change was computed against. */
  previousVersion: string;
  conflicts: number;
}

interface Known {
  resourceVersion: string;
  status: unknown;
  /** For a report: the uid of the ThreatPolicy that owns it. */
  owner?: string;
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** The ThreatPolicy status the CRD declares (printer columns: Ready, Score, Violated). */
export interface PolicyStatus {
  observedGeneration?: number;
  conditions: Condition[];
  score?: number;
  scoreText?: string;
  enabled?: number;
  mitigated?: number;
  violated?: number;
  /** The ComplianceReport that holds the details. */
  report?: string;
}

function withoutTime(status: unknown): unknown {
  if (typeof status !== "object" || status === null) return status;
  const rest: Record<string, unknown> = { ...(status as Record<string, unknown>) };
  delete rest.evaluatedAt;
  return rest;
}

export function sameReport(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(withoutTime(a), withoutTime(b));
}

/** Conflicts are retried at once with short, growing pauses; other errors end the write. */
const CONFLICT_RETRY = {
  retries: 8,
  delay: 20,
  backoff: (attempt: number, delay: number) => delay * 2 ** attempt,
  maxBackOff: 2_000,
  timeout: 20_000,
  retryIf: (error: unknown) => error instanceof ConflictError,
};

export class StatusWriter {
  private readonly known = new Map<string, Known>();

  constructor(
    private readonly api: ClusterObjects,
    private readonly now: () => Date,
  ) {}

  /**
   * Forgets what was stored: the next write reads it back and compares. Done after losing the
   * lease and on every resync, so a report deleted or edited by hand is restored.
   */
  reset(): void {
    this.known.clear();
  }

  /** Forgets one policy and its report (the policy was deleted; one of that name may return). */
  forget(name: string): void {
    this.known.delete(`compliancereports/${name}`);
    this.known.delete(`threatpolicies/${name}`);
  }

  async writeReport(policy: PolicyRef, status: ComplianceReportStatus): Promise<WriteResult> {
    const key = `compliancereports/${policy.name}`;
    let conflicts = 0;
    return retry(
      async () => {
        let current = this.known.get(key) ?? (await this.readReport(policy, key));
        if (policy.uid !== "" && current.owner !== policy.uid) {
          current = await this.adoptReport(policy, key);
        }
        const previous = current.status as ComplianceReportStatus | undefined;
        const base = { previous, previousVersion: current.resourceVersion, conflicts };
        if (sameReport(current.status, status)) return { written: false, ...base };
        try {
          await this.replace(key, "compliancereports", policy.name, current, status);
        } catch (error) {
          if (error instanceof ConflictError) conflicts += 1;
          throw error;
        }
        return { written: true, ...base };
      },
      { ...CONFLICT_RETRY, retryIf: CONFLICT_RETRY.retryIf },
    );
  }

  /**
   * Writes the policy's status when it changed; lastTransitionTime is kept for every condition
   * whose status did not flip. Returns true when it wrote.
   */
  async writePolicyStatus(name: string, next: PolicyStatus): Promise<boolean> {
    const key = `threatpolicies/${name}`;
    return retry(async () => {
      const current = this.known.get(key) ?? (await this.readPolicy(name, key));
      if (current === undefined) return false;
      const merged = mergeConditions(current.status as PolicyStatus | undefined, next);
      if (isDeepStrictEqual(current.status, merged)) return false;
      await this.replace(key, "threatpolicies", name, current, merged);
      return true;
    }, CONFLICT_RETRY);
  }

  private async replace(
    key: string,
    plural: Plural,
    name: string,
    current: Known,
    status: unknown,
  ): Promise<void> {
    const kind = plural === "compliancereports" ? "ComplianceReport" : "ThreatPolicy";
    try {
      const stored = await this.api.replaceStatus(plural, {
        apiVersion: API_VERSION,
        kind,
        metadata: { name, resourceVersion: current.resourceVersion },
        status,
      });
      const owner = current.owner;
      const resourceVersion = stored.metadata.resourceVersion ?? "";
      this.known.set(
        key,
        owner === undefined ? { resourceVersion, status } : { resourceVersion, status, owner },
      );
    } catch (error) {
      this.known.delete(key);
      throw error;
    }
  }

  private async readReport(policy: PolicyRef, key: string): Promise<Known> {
    const stored =
      (await this.api.get("compliancereports", policy.name)) ?? (await this.createReport(policy));
    return this.remember(key, stored);
  }

  private remember(key: string, stored: StoredObject): Known {
    const known: Known = {
      resourceVersion: stored.metadata.resourceVersion ?? "",
      status: stored.status,
    };
    const owner = controllerUid(stored);
    if (owner !== undefined) known.owner = owner;
    this.known.set(key, known);
    return known;
  }

  /**
   * Makes the report owned by this policy. A policy deleted and created again under the same name
   * (`kubectl replace --force`, a GitOps prune) has a new uid; a report still owned by the old one
   * would be garbage-collected as an orphan.
   */
  private async adoptReport(policy: PolicyRef, key: string): Promise<Known> {
    const stored = await this.api.get("compliancereports", policy.name);
    if (stored === undefined) return this.remember(key, await this.createReport(policy));
    const others = (stored.metadata.ownerReferences ?? []).filter(
      (r) => !isRecord(r) || r["controller"] !== true,
    );
    const updated = await this.api.replace("compliancereports", {
      ...stored,
      metadata: { ...stored.metadata, ownerReferences: [...others, ownerReference(policy)] },
    });
    return this.remember(key, updated);
  }

  private async createReport(policy: PolicyRef): Promise<StoredObject> {
    try {
      return await this.api.create("compliancereports", {
        apiVersion: API_VERSION,
        kind: "ComplianceReport",
        metadata: { name: policy.name, ownerReferences: [ownerReference(policy)] },
        spec: { policy: policy.name },
      });
    } catch (error) {
      // Another writer created it between our read and create: read theirs and go on.
      if (error instanceof ConflictError) {
        const stored = await this.api.get("compliancereports", policy.name);
        if (stored) return stored;
      }
      throw error;
    }
  }

  private async readPolicy(name: string, key: string): Promise<Known | undefined> {
    const stored = await this.api.get("threatpolicies", name);
    if (stored === undefined) return undefined;
    const known = {
      resourceVersion: stored.metadata.resourceVersion ?? "",
      status: stored.status ?? {},
    };
    this.known.set(key, known);
    return known;
  }

  /** The clock is used for condition transitions. */
  timestamp(): string {
    return this.now()
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z");
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function ownerReference(policy: PolicyRef): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: "ThreatPolicy",
    name: policy.name,
    uid: policy.uid,
    controller: true,
    blockOwnerDeletion: false,
  };
}

/** The uid of the object's controlling owner, if it has one. */
function controllerUid(stored: StoredObject): string | undefined {
  for (const ref of stored.metadata.ownerReferences ?? []) {
    if (isRecord(ref) && ref["controller"] === true && typeof ref["uid"] === "string") {
      return ref["uid"];
    }
  }
  return undefined;
}

/** Keeps each condition's lastTransitionTime unless its status flipped. */
export function mergeConditions(
  current: PolicyStatus | undefined,
  next: PolicyStatus,
): PolicyStatus {
  const before = new Map((current?.conditions ?? []).map((c) => [c.type, c]));
  const conditions = next.conditions.map((c) => {
    const old = before.get(c.type);
    return old !== undefined && old.status === c.status
      ? { ...c, lastTransitionTime: old.lastTransitionTime }
      : c;
  });
  return { ...next, conditions };
}
