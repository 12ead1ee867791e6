import type { Check } from "../check.js";

export const MTLS_CHECKS: readonly Check[] = [];
