import type { Check } from "../check.js";

export const AUTHZ_CHECKS: readonly Check[] = [];
