// Which partitions a change can affect, and the dirty marks each policy collects until its next
// evaluation. A namespace partition reads its own namespace, the root namespace and cluster-scoped
// objects; the cluster partition may read any namespace (for the kinds its checks list as inputs).

import type { Check } from "../engine/check.js";
import { CLUSTER_PARTITION, namespacePartition } from "../engine/evaluate.js";
import { CLUSTER_SCOPED, K } from "../engine/kinds.js";
import type { ObjectChange } from "../kube/types.js";

export type Affected =
  | { scope: "none" }
  | { scope: "all" }
  | { scope: "policy"; name: string }
  | { scope: "partitions"; partitions: string[] };

const REPORT_KIND = "meshcompliance.io/ComplianceReport";

/** The mesh config and injector ConfigMaps change what every namespace is judged against. */
function isMeshConfigMap(change: ObjectChange): boolean {
  return change.kind === K.ConfigMap && /^istio($|-)/.test(change.name);
}

/** Kinds that some cluster-scope check reads: a change to them must re-run the cluster partition. */
export function clusterInputs(checks: readonly Check[]): Set<string> {
  return new Set(checks.filter((c) => c.scope === "cluster").flatMap((c) => c.inputs));
}

export function affectedBy(
  change: ObjectChange,
  rootNamespaces: ReadonlySet<string>,
  clusterKinds: ReadonlySet<string>,
): Affected {
  // The operator's own reports never feed an evaluation: writing one must not trigger another.
  if (change.kind === REPORT_KIND) return { scope: "none" };
  if (change.kind === K.ThreatPolicy && change.type !== "RELISTED") {
    return { scope: "policy", name: change.name };
  }
  if (change.type === "RELISTED" || CLUSTER_SCOPED.has(change.kind)) return { scope: "all" };
  const ns = change.namespace;
  if (ns === undefined || rootNamespaces.has(ns) || isMeshConfigMap(change))
    return { scope: "all" };
  const partitions = [namespacePartition(ns)];
  if (clusterKinds.has(change.kind)) partitions.push(CLUSTER_PARTITION);
  return { scope: "partitions", partitions };
}

/** What a policy must re-evaluate: everything, or a set of partitions. */
export type Marks = "all" | Set<string>;

/** Dirty marks per policy, merged until the policy's next evaluation takes them. */
export class DirtyMarks {
  private readonly marks = new Map<string, Marks>();

  mark(policy: string, affected: "all" | readonly string[]): void {
    const current = this.marks.get(policy);
    if (current === "all") return;
    if (affected === "all") {
      this.marks.set(policy, "all");
      return;
    }
    const set = current ?? new Set<string>();
    for (const p of affected) set.add(p);
    this.marks.set(policy, set);
  }

  /** Takes the marks of a policy, leaving it clean. */
  take(policy: string): Marks {
    const marks = this.marks.get(policy) ?? new Set<string>();
    this.marks.delete(policy);
    return marks;
  }

  /** Puts marks back after a failed evaluation, merged with any that arrived meanwhile. */
  restore(policy: string, marks: Marks): void {
    this.mark(policy, marks === "all" ? "all" : [...marks]);
  }

  forget(policy: string): void {
    this.marks.delete(policy);
  }
}
