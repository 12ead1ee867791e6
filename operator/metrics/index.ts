// The operator's metrics: one registry factory and the pure series builders behind it.

export {
  createMetrics,
  PREFIX,
  EVALUATION_RESULTS,
  STATUS_WRITE_RESULTS,
  type CacheMetrics,
  type EvaluationResult,
  type Metrics,
  type MetricsOptions,
  type StatusWriteResult,
} from "./registry.js";
export { objectSeries, ObjectSeriesCache, type ScrapeView, type Sample } from "./objects.js";
export { reportSeries } from "./reports.js";
