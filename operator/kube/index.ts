// The operator's view of the cluster: reflectors, the cache and the list of watched kinds.
export { createClusterCache, type ClusterCacheOptions } from "./cache.js";
export type { CacheMetrics, ClusterCache, KindStatus, ObjectChange } from "./types.js";
export { WATCHED_RESOURCES, resourceKindKey, type WatchedResource } from "./resources.js";
export { REASON_FORBIDDEN, REASON_NOT_INSTALLED } from "./reflector.js";
export { stripObject } from "./strip.js";
export type { BackoffOptions } from "./backoff.js";
