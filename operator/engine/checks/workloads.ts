import type { Check } from "../check.js";

export const WORKLOAD_CHECKS: readonly Check[] = [];
