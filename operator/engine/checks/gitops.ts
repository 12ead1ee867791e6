import type { Check } from "../check.js";

export const GITOPS_CHECKS: readonly Check[] = [];
