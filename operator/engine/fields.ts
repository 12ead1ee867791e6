// Safe readers for untyped object fields. Objects come from files and the API server with
// whatever shapes their authors wrote; a wrong type reads as absent instead of throwing.

export type Obj = Record<string, unknown>;

export function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function obj(value: unknown): Obj | undefined {
  return isObj(value) ? value : undefined;
}

export function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function objs(value: unknown): Obj[] {
  return arr(value).filter(isObj);
}

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function strs(value: unknown): string[] {
  return arr(value).filter((v): v is string => typeof v === "string");
}

export function num(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

export function bool(value: unknown): boolean | undefined {
  return typeof value === "boolean" ? value : undefined;
}

/** Reads a nested field: `at(o, "spec", "mtls", "mode")`. */
export function at(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (!isObj(current)) return undefined;
    current = current[key];
  }
  return current;
}

export function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObj(value)) return out;
  // Object.keys rather than Object.entries: this runs for every label map of every pod on each
  // evaluation, and entries allocates an array per pair.
  for (const k of Object.keys(value)) {
    const v = value[k];
    if (typeof v === "string") out[k] = v;
    else if (typeof v === "number" || typeof v === "boolean") out[k] = String(v);
  }
  return out;
}

const GO_TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const GO_FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/**
 * Go's strconv.ParseBool, which Istio uses for boolean annotations such as `istio.io/dry-run`.
 * Returns undefined for anything it would reject.
 */
export function parseGoBool(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (GO_TRUE.has(value)) return true;
  if (GO_FALSE.has(value)) return false;
  return undefined;
}
