import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Check } from "../../../operator/engine/check.js";
import {
  accessLoggingDisabledLocally,
  accessLoggingOff,
} from "../../../operator/engine/checks/logging.js";
import { resources, runCheck, type RunOptions } from "../../support/engine.js";

const doc = (...parts: string[]): string => parts.join("\n---\n");

function meshConfig(mesh: string): string {
  const body = mesh
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
  return `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |-
${body}`;
}

const DEFAULT_MESH = meshConfig(
  "defaultProviders:\n  metrics: [prometheus]\nrootNamespace: istio-system",
);
const OTEL_MESH = meshConfig(
  "extensionProviders:\n  - name: otel\n    envoyOtelAls: {service: otel.observability.svc.cluster.local, port: 4317}",
);

function telemetry(
  name: string,
  ns: string,
  accessLogging: string,
  extra: { created?: string; selector?: string } = {},
): string {
  const created = extra.created ? `, creationTimestamp: "${extra.created}"` : "";
  const selector = extra.selector ? `\n  selector: {matchLabels: {${extra.selector}}}` : "";
  return `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: ${name}, namespace: ${ns}${created}}
spec:${selector}
  accessLogging: ${accessLogging}`;
}

const NAMESPACES = `apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}`;

const ENVOY = "[{providers: [{name: envoy}]}]";
const OFF = "[{disabled: true}]";

interface Case {
  name: string;
  check: Check;
  yaml: string;
  expect: string[];
  message?: RegExp;
  unknown?: RegExp;
  options?: RunOptions;
}

const CASES: Case[] = [
  {
    name: "reports a mesh config that turns access logging on by no route",
    check: accessLoggingOff,
    yaml: doc(NAMESPACES, DEFAULT_MESH),
    expect: ["ConfigMap istio-system/istio"],
  },
  {
    name: "passes meshConfig.accessLogFile",
    check: accessLoggingOff,
    yaml: doc(NAMESPACES, meshConfig("accessLogFile: /dev/stdout")),
    expect: [],
  },
  {
    name: "reports an empty accessLogFile",
    check: accessLoggingOff,
    yaml: doc(NAMESPACES, meshConfig('accessLogFile: ""')),
    expect: ["ConfigMap istio-system/istio"],
  },
  {
    name: "passes defaultProviders.accessLogging naming a defined provider",
    check: accessLoggingOff,
    yaml: doc(
      NAMESPACES,
      meshConfig(
        "defaultProviders:\n  accessLogging: [otel]\nextensionProviders:\n  - name: otel\n    envoyOtelAls: {service: otel, port: 4317}",
      ),
    ),
    expect: [],
  },
  {
    name: "reports defaultProviders.accessLogging naming an undefined provider",
    check: accessLoggingOff,
    yaml: doc(NAMESPACES, meshConfig("defaultProviders:\n  accessLogging: [splunk]")),
    expect: ["ConfigMap istio-system/istio"],
    message: /splunk/,
  },
  {
    name: "passes a mesh-wide Telemetry with the built-in envoy provider",
    check: accessLoggingOff,
    yaml: doc(NAMESPACES, DEFAULT_MESH, telemetry("mesh-default", "istio-system", ENVOY)),
    expect: [],
  },
  {
    name: "reports a mesh-wide Telemetry whose provider extensionProviders does not define",
    check: accessLoggingOff,
    yaml: doc(
      NAMESPACES,
      DEFAULT_MESH,
      telemetry("mesh-default", "istio-system", "[{providers: [{name: otel}]}]"),
    ),
    expect: ["Telemetry istio-system/mesh-default"],
    message: /names provider otel, which extensionProviders does not define/,
  },
  {
    name: "passes a mesh-wide Telemetry naming a provider the mesh config defines",
    check: accessLoggingOff,
    yaml: doc(
      NAMESPACES,
      OTEL_MESH,
      telemetry("mesh-default", "istio-system", "[{providers: [{name: otel}]}]"),
    ),
    expect: [],
  },
  {
    name: "reports a mesh-wide Telemetry that disables logging even with accessLogFile set",
    check: accessLoggingOff,
    yaml: doc(
      NAMESPACES,
      meshConfig("accessLogFile: /dev/stdout"),
      telemetry("mesh-default", "istio-system", OFF),
    ),
    expect: ["Telemetry istio-system/mesh-default"],
  },
  {
    name: "applies only the oldest selector-less root Telemetry (the newer enabling one is ignored)",
    check: accessLoggingOff,
    yaml: doc(
      NAMESPACES,
      DEFAULT_MESH,
      telemetry("a-old", "istio-system", OFF, { created: "2025-01-01T00:00:00Z" }),
      telemetry("b-new", "istio-system", ENVOY, { created: "2025-06-01T00:00:00Z" }),
    ),
    expect: ["Telemetry istio-system/a-old"],
  },
  {
    name: "passes when the oldest root Telemetry enables logging and a newer one disables it",
    check: accessLoggingOff,
    yaml: doc(
      NAMESPACES,
      DEFAULT_MESH,
      telemetry("z-old", "istio-system", ENVOY, { created: "2025-01-01T00:00:00Z" }),
      telemetry("a-new", "istio-system", OFF, { created: "2025-06-01T00:00:00Z" }),
    ),
    expect: [],
  },
  {
    name: "does not count a root Telemetry with a selector as mesh-wide",
    check: accessLoggingOff,
    yaml: doc(
      NAMESPACES,
      DEFAULT_MESH,
      telemetry("gw-logs", "istio-system", ENVOY, { selector: "istio: ingressgateway" }),
    ),
    expect: ["ConfigMap istio-system/istio"],
  },
  {
    name: "reports Unknown offline with neither mesh config nor a mesh-wide Telemetry",
    check: accessLoggingOff,
    yaml: NAMESPACES,
    expect: [],
    unknown: /mesh config is not in the input/,
  },
  {
    name: "trusts a root Telemetry's provider offline when the mesh config is not in the input",
    check: accessLoggingOff,
    yaml: doc(
      NAMESPACES,
      telemetry("mesh-logging", "istio-system", "[{providers: [{name: otel}]}]"),
    ),
    expect: [],
  },
  {
    name: "reports a cluster without a mesh config, where Istio's defaults log nothing",
    check: accessLoggingOff,
    yaml: NAMESPACES,
    expect: ["Namespace istio-system"],
    options: { snapshot: { namespacesComplete: true }, assumeEnrolled: false },
  },
  {
    name: "reports Unknown when Telemetries could not be read",
    check: accessLoggingOff,
    yaml: doc(NAMESPACES, DEFAULT_MESH),
    expect: [],
    unknown: /Telemetry could not be read/,
    options: {
      snapshot: { unavailable: new Map([["telemetry.istio.io/Telemetry", "forbidden"]]) },
    },
  },
  {
    name: "reports a namespace Telemetry that disables access logging",
    check: accessLoggingDisabledLocally,
    yaml: doc(NAMESPACES, OTEL_MESH, telemetry("quiet", "shop", OFF)),
    expect: ["Telemetry shop/quiet"],
    message: /for namespace shop\) turns access logging off/,
  },
  {
    name: "reports a workload Telemetry that disables server-side logs",
    check: accessLoggingDisabledLocally,
    yaml: doc(
      NAMESPACES,
      telemetry("quiet", "shop", "[{disabled: true, match: {mode: SERVER}}]", {
        selector: "app: payments",
      }),
    ),
    expect: ["Telemetry shop/quiet"],
    message: /match mode SERVER/,
  },
  {
    name: "passes a namespace Telemetry that switches providers",
    check: accessLoggingDisabledLocally,
    yaml: doc(
      NAMESPACES,
      OTEL_MESH,
      telemetry(
        "switch",
        "shop",
        "[{providers: [{name: otel}]}, {providers: [{name: envoy}], disabled: true}]",
      ),
    ),
    expect: [],
  },
  {
    name: "ignores a newer selector-less namespace Telemetry that disables logging (oldest wins)",
    check: accessLoggingDisabledLocally,
    yaml: doc(
      NAMESPACES,
      telemetry("first", "shop", ENVOY, { created: "2025-01-01T00:00:00Z" }),
      telemetry("second", "shop", OFF, { created: "2025-02-01T00:00:00Z" }),
    ),
    expect: [],
  },
  {
    name: "reports a namespace Telemetry naming only an undefined provider",
    check: accessLoggingDisabledLocally,
    yaml: doc(NAMESPACES, DEFAULT_MESH, telemetry("logs", "shop", "[{providers: [{name: loki}]}]")),
    expect: ["Telemetry shop/logs"],
    message: /names provider loki/,
  },
  {
    name: "leaves the mesh-wide root Telemetry to access-logging-off",
    check: accessLoggingDisabledLocally,
    yaml: doc(NAMESPACES, telemetry("mesh-default", "istio-system", OFF)),
    expect: [],
  },
  {
    name: "never throws on an accessLogging field of the wrong type",
    check: accessLoggingDisabledLocally,
    yaml: doc(NAMESPACES, telemetry("odd", "shop", "yes")),
    expect: [],
  },
];

describe("access logging checks", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const result = runCheck(c.check, c.yaml, c.options);
      assert.deepEqual(resources(result.findings), [...c.expect].sort());
      for (const f of result.findings) {
        assert.equal(f.check, c.check.id);
        if (c.message) assert.match(f.message, c.message);
      }
      if (c.unknown) {
        assert.equal(result.unknown.length, 1, JSON.stringify(result.unknown));
        assert.match(result.unknown[0]?.reason ?? "", c.unknown);
      } else {
        assert.deepEqual(result.unknown, []);
      }
    });
  }
});
