import type { Check } from "../check.js";

export const EXPOSURE_CHECKS: readonly Check[] = [];
