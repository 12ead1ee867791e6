import type { Check } from "../check.js";

export const RBAC_CHECKS: readonly Check[] = [];
