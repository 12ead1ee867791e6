// The contract every check follows: a pure function from the evaluation context to findings, or
// to an `Unknown` verdict when an input it needs could not be read.

import type { Mesh } from "./mesh.js";
import type { ThreatPolicy } from "./policy.js";
import { refOf, type Snapshot } from "./snapshot.js";
import type {
  CheckInfo,
  Finding,
  KubeObject,
  ResourceRef,
  Severity,
  UnknownInput,
} from "./types.js";

export interface CheckContext {
  snapshot: Snapshot;
  mesh: Mesh;
  policy: ThreatPolicy;
  now: Date;
}

/** Where a namespace-scoped check runs: an in-scope namespace, or the mesh root namespace. */
export interface NamespaceTarget {
  namespace: string;
  inScope: boolean;
  isRoot: boolean;
}

export interface CheckOutput {
  findings: Finding[];
  unknown: UnknownInput[];
}

export interface FindingOptions {
  severity?: Severity;
  remediation?: string;
}

/** Collects one check's output; checks call `finding` and `unknown` and never build records. */
export class Emitter {
  readonly output: CheckOutput = { findings: [], unknown: [] };

  constructor(private readonly info: CheckInfo) {}

  finding(target: KubeObject | ResourceRef, message: string, options: FindingOptions = {}): void {
    const resource = "metadata" in target ? refOf(target) : target;
    this.output.findings.push({
      check: this.info.id,
      threats: [...this.info.threats],
      severity: options.severity ?? this.info.severity,
      resource,
      message,
      remediation: options.remediation ?? this.info.remediation,
    });
  }

  unknown(reason: string): void {
    this.output.unknown.push({ check: this.info.id, threats: [...this.info.threats], reason });
  }
}

export interface ClusterCheck extends CheckInfo {
  scope: "cluster";
  run(ctx: CheckContext, emit: Emitter): void;
}

export interface NamespaceCheck extends CheckInfo {
  scope: "namespace";
  run(ctx: CheckContext, target: NamespaceTarget, emit: Emitter): void;
}

export type Check = ClusterCheck | NamespaceCheck;

/** A reference to a Namespace, for findings about a whole namespace. */
export function namespaceRef(name: string): ResourceRef {
  return { apiVersion: "v1", kind: "Namespace", name };
}

/** The Namespace object when the input declares it, else a reference to it. */
export function namespaceTarget(ctx: CheckContext, namespace: string): KubeObject | ResourceRef {
  return ctx.snapshot.namespace(namespace) ?? namespaceRef(namespace);
}

/**
 * Reports `Unknown` for every input kind that could not be read. Returns true when the check
 * can go on.
 */
export function inputsAvailable(ctx: CheckContext, check: CheckInfo, emit: Emitter): boolean {
  let ok = true;
  for (const kind of check.inputs) {
    const reason = ctx.snapshot.unavailable(kind);
    if (reason !== undefined) {
      emit.unknown(`${kind.replace(/^\//, "")} could not be read: ${reason}`);
      ok = false;
    }
  }
  return ok;
}
