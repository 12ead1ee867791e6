import type { Check } from "../check.js";

export const RESOURCE_CHECKS: readonly Check[] = [];
