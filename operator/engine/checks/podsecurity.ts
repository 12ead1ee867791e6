import type { Check } from "../check.js";

export const POD_SECURITY_CHECKS: readonly Check[] = [];
