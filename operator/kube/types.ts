// The cache's public contract, shared by the controller and the metrics module.
import type { Snapshot } from "../engine/snapshot.js";

export interface ObjectChange {
  /** Engine kind key, `group/Kind`. */
  kind: string;
  namespace?: string;
  /** Empty for RELISTED. */
  name: string;
  type: "ADDED" | "MODIFIED" | "DELETED" | "RELISTED";
}

export interface KindStatus {
  kind: string;
  available: boolean;
  /** Why the kind cannot be read: forbidden, not installed, or the error text. */
  reason?: string;
  /** The first list of the current availability period completed. */
  synced: boolean;
  objects: number;
  /** The served version watched. */
  version?: string;
}

export interface CacheMetrics {
  watchEvent(kind: string): void;
  watchRestart(kind: string): void;
  objects(kind: string, n: number): void;
  available(kind: string, up: boolean): void;
}

export interface ClusterCache {
  /**
   * A Snapshot of the stripped objects (namespacesComplete: true); `unavailable` holds the kinds
   * that are forbidden, not installed, or failing before their first list, with the reason.
   * Rebuilt only when something changed since the last call.
   */
  snapshot(): Snapshot;
  /** Each change after the initial sync, and a RELISTED per kind after each later list. */
  onChange(listener: (change: ObjectChange) => void): () => void;
  /** Resolves when discovery succeeded and every available kind completed its first list. */
  waitForSync(signal?: AbortSignal): Promise<void>;
  kinds(): KindStatus[];
  start(): Promise<void>;
  stop(): Promise<void>;
}
