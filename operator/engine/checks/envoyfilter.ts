import type { Check } from "../check.js";

export const ENVOY_FILTER_CHECKS: readonly Check[] = [];
