import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { validationWebhookMissing } from "../../../operator/engine/checks/validation.js";
import { policyFromYaml, resources, runCheck, type RunOptions } from "../../support/engine.js";

const ISTIOD = `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, namespace: istio-system}
`;

const GROUPS = "[security.istio.io, networking.istio.io, telemetry.istio.io, extensions.istio.io]";

function validator(options: {
  name?: string;
  apiVersion?: string;
  webhook?: string;
  client?: string;
  failurePolicy?: string;
  groups?: string;
}): string {
  const failure =
    options.failurePolicy === undefined ? "" : `  failurePolicy: ${options.failurePolicy}\n`;
  return `---
apiVersion: ${options.apiVersion ?? "admissionregistration.k8s.io/v1"}
kind: ValidatingWebhookConfiguration
metadata: {name: ${options.name ?? "istiod-default-validator"}}
webhooks:
- name: ${options.webhook ?? "validation.istio.io"}
  clientConfig: ${options.client ?? "{service: {name: istiod, namespace: istio-system, path: /validate}}"}
${failure}  rules:
  - apiGroups: ${options.groups ?? GROUPS}
    apiVersions: ["*"]
    operations: [CREATE, UPDATE]
    resources: ["*"]
`;
}

const CLUSTER: RunOptions = { snapshot: { namespacesComplete: true } };

interface Case {
  name: string;
  yaml: string;
  expect: string[];
  severity?: string;
  message?: RegExp;
  options?: RunOptions;
}

const cases: Case[] = [
  {
    name: "passes a default validator that calls istiod and fails closed",
    yaml: ISTIOD + validator({ failurePolicy: "Fail" }),
    expect: [],
  },
  {
    name: "passes a v1 validator without failurePolicy, which defaults to Fail",
    yaml: ISTIOD + validator({}),
    expect: [],
  },
  {
    name: "reports failurePolicy Ignore at medium, explaining that istiod switches it when ready",
    yaml: ISTIOD + validator({ failurePolicy: "Ignore" }),
    expect: ["ValidatingWebhookConfiguration istiod-default-validator"],
    severity: "medium",
    message: /fails open \(failurePolicy Ignore\).*switches it to Fail/,
  },
  {
    name: "reports a v1beta1 validator without failurePolicy, which defaults to Ignore",
    yaml: ISTIOD + validator({ apiVersion: "admissionregistration.k8s.io/v1beta1" }),
    expect: ["ValidatingWebhookConfiguration istiod-default-validator"],
    severity: "medium",
  },
  {
    name: "reports a validator that calls another Service",
    yaml:
      ISTIOD +
      validator({ client: "{service: {name: evil, namespace: istio-system, path: /validate}}" }),
    expect: ["ValidatingWebhookConfiguration istiod-default-validator"],
    severity: "high",
    message: /calls Service istio-system\/evil instead of istiod in istio-system/,
  },
  {
    name: "reports a validator that calls istiod in another namespace",
    yaml:
      ISTIOD + validator({ client: "{service: {name: istiod, namespace: shop, path: /validate}}" }),
    expect: ["ValidatingWebhookConfiguration istiod-default-validator"],
    severity: "high",
  },
  {
    name: "accepts istiod in the namespace its Deployment runs in",
    yaml:
      ISTIOD.replace("istio-system", "istio-control") +
      validator({ client: "{service: {name: istiod-1-26, namespace: istio-control}}" }),
    expect: [],
  },
  {
    name: "reports a URL the policy does not allow",
    yaml: ISTIOD + validator({ client: "{url: 'https://validate.example.com/validate'}" }),
    expect: ["ValidatingWebhookConfiguration istiod-default-validator"],
    message: /calls url https:\/\/validate.example.com\/validate, not istiod/,
  },
  {
    name: "accepts an external control plane's URL that the policy allows",
    yaml: ISTIOD + validator({ client: "{url: 'https://validate.example.com/validate'}" }),
    options: {
      policy: policyFromYaml(`apiVersion: meshcompliance.io/v1alpha1
kind: ThreatPolicy
metadata: {name: p}
spec: {injector: {allowedURLs: ["https://validate.example.com/*"]}}`),
    },
    expect: [],
  },
  {
    name: "reports a validator whose rules leave out an Istio API group",
    yaml: ISTIOD + validator({ groups: "[networking.istio.io]" }),
    expect: ["ValidatingWebhookConfiguration istiod-default-validator"],
    severity: "high",
    message: /does not validate security.istio.io, telemetry.istio.io, extensions.istio.io/,
  },
  {
    name: "reports a default validator without the validation.istio.io webhook",
    yaml: ISTIOD + validator({ webhook: "rev.validation.istio.io" }),
    expect: ["ValidatingWebhookConfiguration istiod-default-validator"],
    severity: "high",
  },
  {
    name: "reports a missing default validator offline at medium, naming the revision validator",
    yaml:
      ISTIOD +
      validator({ name: "istio-validator-istio-system", webhook: "rev.validation.istio.io" }),
    expect: ["ValidatingWebhookConfiguration istiod-default-validator"],
    severity: "medium",
    message: /Only istio-validator-istio-system exist.*labelled with their istio.io\/rev/,
  },
  {
    name: "reports a missing default validator in a cluster snapshot at high, even with none at all",
    yaml: ISTIOD,
    options: CLUSTER,
    expect: ["ValidatingWebhookConfiguration istiod-default-validator"],
    severity: "high",
  },
  {
    name: "tolerates webhooks and rules of the wrong type",
    yaml: `---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: istiod-default-validator}
webhooks: [{name: validation.istio.io, clientConfig: "x", rules: "y"}]
`,
    expect: ["ValidatingWebhookConfiguration istiod-default-validator"],
    message: /has no service or url to call/,
  },
];

describe("validation-webhook-missing", () => {
  for (const c of cases) {
    it(c.name, () => {
      const { findings, unknown } = runCheck(validationWebhookMissing, c.yaml, c.options);
      assert.deepEqual(unknown, []);
      assert.deepEqual(resources(findings), c.expect);
      if (c.severity) assert.equal(findings[0]?.severity, c.severity);
      if (c.message) assert.match(findings[0]?.message ?? "", c.message);
    });
  }

  it("reports unknown for an offline input without any ValidatingWebhookConfiguration", () => {
    const { findings, unknown } = runCheck(validationWebhookMissing, ISTIOD);
    assert.deepEqual(findings, []);
    assert.match(unknown[0]?.reason ?? "", /no ValidatingWebhookConfiguration in the input/);
  });

  it("reports unknown when ValidatingWebhookConfigurations could not be read", () => {
    const { findings, unknown } = runCheck(validationWebhookMissing, ISTIOD, {
      snapshot: {
        namespacesComplete: true,
        unavailable: new Map([
          ["admissionregistration.k8s.io/ValidatingWebhookConfiguration", "forbidden"],
        ]),
      },
    });
    assert.deepEqual(findings, []);
    assert.match(unknown[0]?.reason ?? "", /could not be read: forbidden/);
  });
});
