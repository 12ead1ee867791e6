// Reads series out of a prom-client registry in a form tests can compare.

import type { Registry } from "prom-client";

export type Series = Record<string, number>;

/** `{a="x",b="y"}` style keys (labels sorted) mapped to values, for one metric. */
export async function seriesOf(registry: Registry, name: string): Promise<Series> {
  const metrics = await registry.getMetricsAsJSON();
  const metric = metrics.find((m) => m.name === name);
  if (!metric) throw new Error(`metric ${name} is not registered`);
  const out: Series = {};
  for (const v of metric.values) {
    const labels = Object.entries(v.labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, val]) => `${k}=${String(val)}`)
      .join(",");
    const suffix = "metricName" in v && typeof v.metricName === "string" ? v.metricName : name;
    out[suffix === name ? labels : `${suffix}{${labels}}`] = v.value;
  }
  return out;
}
