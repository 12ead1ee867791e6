import type { Check } from "../check.js";

export const GATEWAY_CHECKS: readonly Check[] = [];
