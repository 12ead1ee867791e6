// Shared types of the pure evaluation engine. Nothing here performs I/O.

export type ThreatId =
  | "S-01"
  | "S-02"
  | "S-03"
  | "T-01"
  | "T-02"
  | "T-03"
  | "R-01"
  | "R-02"
  | "I-01"
  | "I-02"
  | "I-03"
  | "D-01"
  | "D-02"
  | "D-03"
  | "E-01"
  | "E-02"
  | "E-03";

export type Risk = "Critical" | "High" | "Medium" | "Low";
export type Severity = "critical" | "high" | "medium" | "low" | "info";

export const SEVERITIES: readonly Severity[] = ["critical", "high", "medium", "low", "info"];
export const RISKS: readonly Risk[] = ["Critical", "High", "Medium", "Low"];

export type ThreatStatus =
  "Mitigated" | "Violated" | "Waived" | "Attested" | "Unknown" | "NotApplicable" | "Disabled";

/** Metadata the engine reads. Objects arrive as parsed YAML/JSON, so every field is optional. */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  generation?: number;
  resourceVersion?: string;
  ownerReferences?: { apiVersion?: string; kind?: string; name?: string; uid?: string }[];
  managedFields?: unknown[];
}

/** A Kubernetes object as it was read. `spec` and the rest stay untyped until a check reads them. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface ResourceRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export interface WaiverMatch {
  reason: string;
  owner?: string;
  expires: string;
}

export interface Finding {
  check: string;
  threats: ThreatId[];
  severity: Severity;
  resource: ResourceRef;
  message: string;
  remediation: string;
  /** Set by the report builder when an active waiver covers the finding. */
  waived?: WaiverMatch;
}

/** A check that could not read an input says so instead of passing. */
export interface UnknownInput {
  check: string;
  threats: ThreatId[];
  reason: string;
}

export type CheckScope = "cluster" | "namespace";

export interface CheckInfo {
  id: string;
  threats: ThreatId[];
  severity: Severity;
  scope: CheckScope;
  title: string;
  /** What the check detects and why it matters. */
  description: string;
  /** How to fix a finding, ideally with a minimal manifest. */
  remediation: string;
  /** Kinds the check reads, as `group/Kind` keys ("" group for the core API). */
  inputs: string[];
}
