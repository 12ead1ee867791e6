import type { Check } from "../check.js";

export const DESTINATION_RULE_CHECKS: readonly Check[] = [];
