// Evaluation is split into partitions: one per namespace plus one for the cluster. A namespace
// partition reads only its own namespace, the mesh root namespace and cluster-scoped objects, so
// the operator can re-evaluate just the partitions that a change touches.

import { Emitter, type Check, type CheckContext } from "./check.js";
import { Mesh, type MeshOptions } from "./mesh.js";
import { threatEnabled, type ThreatPolicy } from "./policy.js";
import type { Snapshot } from "./snapshot.js";
import type { Finding, UnknownInput } from "./types.js";

export const CLUSTER_PARTITION = "cluster";

export interface PartitionResult {
  partition: string;
  findings: Finding[];
  unknown: UnknownInput[];
}

export interface Evaluation {
  rootNamespace: string;
  inScope: string[];
  outOfScope: string[];
  assumptions: string[];
  partitions: PartitionResult[];
}

export function namespacePartition(namespace: string): string {
  return `namespace/${namespace}`;
}

/** Partitions of a snapshot: the cluster, then every in-scope namespace and the root namespace. */
export function partitionsOf(mesh: Mesh): string[] {
  const namespaces = new Set(mesh.scopedNamespaces());
  namespaces.add(mesh.rootNamespace);
  return [CLUSTER_PARTITION, ...[...namespaces].sort().map(namespacePartition)];
}

function activeChecks(checks: readonly Check[], policy: ThreatPolicy): Check[] {
  return checks.filter((c) => c.threats.some((t) => threatEnabled(policy, t)));
}

/** Evaluates one partition. Pure: the same snapshot, policy and time give the same result. */
export function evaluatePartition(
  ctx: CheckContext,
  partition: string,
  checks: readonly Check[],
): PartitionResult {
  const result: PartitionResult = { partition, findings: [], unknown: [] };
  const namespace =
    partition === CLUSTER_PARTITION ? undefined : partition.slice("namespace/".length);
  const wanted = namespace === undefined ? "cluster" : "namespace";
  for (const check of activeChecks(checks, ctx.policy).filter((c) => c.scope === wanted)) {
    const emit = new Emitter(check);
    if (check.scope === "cluster" && namespace === undefined) check.run(ctx, emit);
    if (check.scope === "namespace" && namespace !== undefined) {
      const target = {
        namespace,
        inScope: ctx.mesh.inScope(namespace),
        isRoot: namespace === ctx.mesh.rootNamespace,
      };
      check.run(ctx, target, emit);
    }
    result.findings.push(...emit.output.findings);
    result.unknown.push(...emit.output.unknown);
  }
  return result;
}

export function newContext(
  snapshot: Snapshot,
  policy: ThreatPolicy,
  now: Date,
  options: MeshOptions,
): CheckContext {
  return { snapshot, policy, now, mesh: new Mesh(snapshot, policy, options) };
}

/** Evaluates every partition of the snapshot. */
export function evaluate(
  snapshot: Snapshot,
  policy: ThreatPolicy,
  now: Date,
  options: MeshOptions,
  checks: readonly Check[],
): Evaluation {
  const ctx = newContext(snapshot, policy, now, options);
  const partitions = partitionsOf(ctx.mesh).map((p) => evaluatePartition(ctx, p, checks));
  const inScope = ctx.mesh.scopedNamespaces();
  const scoped = new Set(inScope);
  return {
    rootNamespace: ctx.mesh.rootNamespace,
    inScope,
    outOfScope: snapshot.namespaces().filter((ns) => !scoped.has(ns)),
    assumptions: [...new Set(ctx.mesh.assumptions)].sort(),
    partitions,
  };
}
