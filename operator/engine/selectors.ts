// Kubernetes label selectors: `matchLabels` plus `matchExpressions`, and Istio's
// `selector.matchLabels` workload selectors.

import { arr, isObj, obj, str, stringMap, strs } from "./fields.js";

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** Parses a selector; undefined when the value is absent or not an object. */
export function parseSelector(value: unknown): LabelSelector | undefined {
  const o = obj(value);
  if (!o) return undefined;
  const selector: LabelSelector = {};
  if (isObj(o.matchLabels)) selector.matchLabels = stringMap(o.matchLabels);
  const expressions = arr(o.matchExpressions).filter(isObj);
  if (expressions.length > 0) {
    selector.matchExpressions = expressions.map((e) => ({
      key: str(e.key) ?? "",
      operator: str(e.operator) ?? "",
      values: strs(e.values),
    }));
  }
  return selector;
}

/** True when the selector selects nothing in particular (absent, or no labels and expressions). */
export function isEmptySelector(selector: LabelSelector | undefined): boolean {
  if (!selector) return true;
  const labels = Object.keys(selector.matchLabels ?? {}).length;
  return labels === 0 && (selector.matchExpressions?.length ?? 0) === 0;
}

/** Kubernetes semantics: an empty selector matches everything. */
export function selectorMatches(
  selector: LabelSelector | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (!selector) return true;
  const have = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (have[k] !== v) return false;
  }
  return (selector.matchExpressions ?? []).every((e) => expressionMatches(e, have));
}

function expressionMatches(
  e: { key: string; operator: string; values?: string[] },
  labels: Record<string, string>,
): boolean {
  const value = labels[e.key];
  const values = e.values ?? [];
  switch (e.operator) {
    case "In":
      return value !== undefined && values.includes(value);
    case "NotIn":
      return value === undefined || !values.includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    default:
      // An operator the API server would have rejected matches nothing.
      return false;
  }
}

/** Istio workload selectors (`spec.selector.matchLabels`): labels only. */
export function workloadSelector(spec: unknown): Record<string, string> | undefined {
  const selector = obj(obj(spec)?.selector);
  if (!selector) return undefined;
  return stringMap(selector.matchLabels);
}

/**
 * Shell-style glob with `*` only, as used in waivers and allow-lists. Matched by placing the parts
 * between the stars leftmost in order, which is exact for `*`-only globs and linear in practice. A
 * regular expression of `.*` groups would backtrack exponentially on a pattern with many stars,
 * and policy authors' patterns must not be able to stall an evaluation.
 */
export function globMatch(pattern: string, value: string): boolean {
  if (pattern === "*") return true;
  if (!pattern.includes("*")) return pattern === value;
  const parts = pattern.split("*");
  const head = parts[0] ?? "";
  const tail = parts[parts.length - 1] ?? "";
  if (value.length < head.length + tail.length) return false;
  if (!value.startsWith(head) || !value.endsWith(tail)) return false;
  const end = value.length - tail.length;
  let from = head.length;
  for (const part of parts.slice(1, -1)) {
    if (part === "") continue;
    const found = value.indexOf(part, from);
    if (found < 0 || found + part.length > end) return false;
    from = found + part.length;
  }
  return true;
}
