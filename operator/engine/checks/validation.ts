import type { Check } from "../check.js";

export const VALIDATION_CHECKS: readonly Check[] = [];
