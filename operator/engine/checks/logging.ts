import type { Check } from "../check.js";

export const LOGGING_CHECKS: readonly Check[] = [];
