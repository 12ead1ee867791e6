import type { Check } from "../check.js";

export const INJECTOR_CHECKS: readonly Check[] = [];
