// The check catalogue, in threat order. Each file holds the checks of one family.

import type { Check } from "../check.js";
import { AUTHZ_CHECKS } from "./authz.js";
import { DESTINATION_RULE_CHECKS } from "./destinationrule.js";
import { ENVOY_FILTER_CHECKS } from "./envoyfilter.js";
import { INJECTOR_CHECKS } from "./injector.js";
import { MTLS_CHECKS } from "./mtls.js";
import { WORKLOAD_CHECKS } from "./workloads.js";
import { EXPOSURE_CHECKS } from "./exposure.js";
import { GATEWAY_CHECKS } from "./gateway.js";
import { GITOPS_CHECKS } from "./gitops.js";
import { LOGGING_CHECKS } from "./logging.js";
import { POD_SECURITY_CHECKS } from "./podsecurity.js";
import { RBAC_CHECKS } from "./rbac.js";
import { RESOURCE_CHECKS } from "./resources.js";
import { VALIDATION_CHECKS } from "./validation.js";
import { VERSION_CHECKS } from "./versions.js";

export const CHECKS: readonly Check[] = [
  ...MTLS_CHECKS,
  ...WORKLOAD_CHECKS,
  ...DESTINATION_RULE_CHECKS,
  ...ENVOY_FILTER_CHECKS,
  ...AUTHZ_CHECKS,
  ...INJECTOR_CHECKS,
  ...GATEWAY_CHECKS,
  ...RBAC_CHECKS,
  ...VALIDATION_CHECKS,
  ...GITOPS_CHECKS,
  ...LOGGING_CHECKS,
  ...EXPOSURE_CHECKS,
  ...POD_SECURITY_CHECKS,
  ...RESOURCE_CHECKS,
  ...VERSION_CHECKS,
];

const byId = new Map(CHECKS.map((c) => [c.id, c]));

export function checkById(id: string): Check | undefined {
  return byId.get(id);
}
