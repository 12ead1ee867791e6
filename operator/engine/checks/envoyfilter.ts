// T-03: proxy extensions that the policy does not expect. EnvoyFilters, WasmPlugins and
// TrafficExtensions bypass every validated Istio API, so each one must be a deliberate choice.

import { inputsAvailable, type Check, type NamespaceCheck } from "../check.js";
import { classifyExtension, extensionAllowed, EXTENSION_KINDS } from "../envoyfilter.js";
import { K } from "../kinds.js";

const EXAMPLE_ALLOWANCE = `apiVersion: meshcompliance.io/v1alpha1
kind: ThreatPolicy
metadata:
  name: default
spec:
  envoyFilters:
    allowed:
      - namespace: istio-system
        name: filter-ratelimit`;

export const envoyFilterUnexpected: NamespaceCheck = {
  id: "envoyfilter-unexpected",
  threats: ["T-03"],
  severity: "medium",
  scope: "namespace",
  title: "Unexpected EnvoyFilter, WasmPlugin or TrafficExtension",
  description:
    "Reports every EnvoyFilter, WasmPlugin and TrafficExtension that the policy's allow-list does " +
    "not cover. These objects patch Envoy directly, so one of them can remove authorization " +
    "filters, run Lua or Wasm code, rewrite the capture listeners or add clusters to the Envoy " +
    "admin port or outside the mesh. Severity rises with those traits, and with scope: an object " +
    "in the root namespace reaches every namespace, one without a selector every workload.",
  remediation:
    "Delete the object if nobody owns it. If it is deliberate, review what it does and add it to " +
    "the ThreatPolicy's allow-list, by namespace/name globs or by a label selector:\n" +
    EXAMPLE_ALLOWANCE,
  inputs: [K.EnvoyFilter, K.WasmPlugin, K.TrafficExtension],
  run(ctx, target, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    const root = ctx.mesh.rootNamespace;
    for (const kind of EXTENSION_KINDS) {
      for (const o of ctx.snapshot.inNamespace(kind, target.namespace)) {
        if (extensionAllowed(o, ctx.policy.envoyFiltersAllowed)) continue;
        const { risk, traits } = classifyExtension(o, root);
        const listed = traits.map((t) => t.detail).join("; ");
        const what = listed === "" ? "patches proxy configuration" : listed;
        emit.finding(
          o,
          `${o.kind} ${target.namespace}/${o.metadata.name ?? ""} is not in the policy's ` +
            `allow-list and changes what proxies run (${what}), so it can bypass mesh security ` +
            `controls unnoticed.`,
          { severity: risk },
        );
      }
    }
  },
};

export const ENVOY_FILTER_CHECKS: readonly Check[] = [envoyFilterUnexpected];
