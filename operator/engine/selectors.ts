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

/** Shell-style glob with `*` only, as used in waivers and allow-lists. */
export function globMatch(pattern: string, value: string): boolean {
  if (pattern === "*") return true;
  if (!pattern.includes("*")) return pattern === value;
  return globRegExp(pattern).test(value);
}

// Policies hold a handful of patterns that are matched against every object of a large cluster, so
// compiled patterns are kept. The bound only guards against unbounded growth.
const GLOB_CACHE_LIMIT = 1000;
const globCache = new Map<string, RegExp>();

function globRegExp(pattern: string): RegExp {
  let re = globCache.get(pattern);
  if (!re) {
    const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
    re = new RegExp(`^${escaped}$`);
    if (globCache.size >= GLOB_CACHE_LIMIT) globCache.clear();
    globCache.set(pattern, re);
  }
  return re;
}
