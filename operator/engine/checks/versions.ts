import type { Check } from "../check.js";

export const VERSION_CHECKS: readonly Check[] = [];
