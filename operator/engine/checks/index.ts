// The check catalogue, in threat order. Each file holds the checks of one family.

import type { Check } from "../check.js";
import { AUTHZ_CHECKS } from "./authz.js";
import { DESTINATION_RULE_CHECKS } from "./destinationrule.js";
import { ENVOY_FILTER_CHECKS } from "./envoyfilter.js";
import { INJECTOR_CHECKS } from "./injector.js";
import { MTLS_CHECKS } from "./mtls.js";
import { WORKLOAD_CHECKS } from "./workloads.js";

export const CHECKS: readonly Check[] = [
  ...MTLS_CHECKS,
  ...WORKLOAD_CHECKS,
  ...DESTINATION_RULE_CHECKS,
  ...ENVOY_FILTER_CHECKS,
  ...AUTHZ_CHECKS,
  ...INJECTOR_CHECKS,
];

const byId = new Map(CHECKS.map((c) => [c.id, c]));

export function checkById(id: string): Check | undefined {
  return byId.get(id);
}
