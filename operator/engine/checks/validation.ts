// T-02: Istio's validating webhook. Without it, or when it fails open, malformed or hostile Istio
// configuration is accepted by the API server and only rejected (if at all) when istiod tries to
// use it, after it has replaced the configuration that worked.

import {
  inputsAvailable,
  type Check,
  type CheckContext,
  type ClusterCheck,
  type Emitter,
} from "../check.js";
import { obj, objs, str, strs } from "../fields.js";
import { istiodNamespaces } from "../fingerprint.js";
import { K } from "../kinds.js";
import { globMatch } from "../selectors.js";
import { SEVERITIES, type KubeObject, type Severity } from "../types.js";

const DEFAULT_VALIDATOR = "istiod-default-validator";
const WEBHOOK = "validation.istio.io";
const ISTIO_GROUPS = [
  "security.istio.io",
  "networking.istio.io",
  "telemetry.istio.io",
  "extensions.istio.io",
];

interface Problem {
  text: string;
  severity: Severity;
}

/** Revision validators (`istio-validator-<rev>-<ns>`) only see objects labelled for their revision. */
function revisionValidators(ctx: CheckContext): string[] {
  return ctx.snapshot
    .all(K.ValidatingWebhookConfiguration)
    .map((w) => w.metadata.name ?? "")
    .filter((n) => n.startsWith("istio-validator"))
    .sort();
}

function clientProblems(ctx: CheckContext, entry: Record<string, unknown>): Problem[] {
  const config = obj(entry.clientConfig) ?? {};
  const service = obj(config.service);
  const url = str(config.url);
  if (!service) {
    if (url !== undefined && ctx.policy.injectorAllowedURLs.some((p) => globMatch(p, url))) {
      return [];
    }
    const what = url === undefined ? "has no service or url to call" : `calls url ${url}`;
    return [{ text: `${what}, not istiod`, severity: "high" }];
  }
  const name = str(service.name) ?? "";
  const ns = str(service.namespace) ?? "";
  const namespaces = istiodNamespaces(ctx.snapshot, ctx.mesh.rootNamespace);
  const istiod = name === "istiod" || name.startsWith("istiod-");
  if (istiod && namespaces.includes(ns)) return [];
  return [
    {
      text: `calls Service ${ns}/${name || "(unnamed)"} instead of istiod in ${namespaces.join(" or ")}`,
      severity: "high",
    },
  ];
}

function failOpenProblem(config: KubeObject, entry: Record<string, unknown>): Problem[] {
  const policy = str(entry.failurePolicy);
  // admissionregistration v1beta1 defaulted failurePolicy to Ignore; v1 defaults to Fail.
  const ignore =
    policy === "Ignore" || (policy === undefined && config.apiVersion.endsWith("/v1beta1"));
  if (!ignore) return [];
  return [
    {
      text:
        "fails open (failurePolicy Ignore); a fresh install starts that way and istiod switches " +
        "it to Fail once it is ready, so Ignore that persists means validation is not enforced",
      severity: "medium",
    },
  ];
}

/** Istio API groups that no rule of the webhook sends for CREATE and UPDATE. */
function uncoveredGroups(entry: Record<string, unknown>): string[] {
  const rules = objs(entry.rules);
  return ISTIO_GROUPS.filter(
    (group) =>
      !rules.some((rule) => {
        const groups = strs(rule.apiGroups);
        const ops = strs(rule.operations);
        const groupOk = groups.includes("*") || groups.includes(group);
        const opsOk = ops.includes("*") || (ops.includes("CREATE") && ops.includes("UPDATE"));
        return groupOk && opsOk;
      }),
  );
}

function validatorProblems(ctx: CheckContext, config: KubeObject): Problem[] {
  const entry = objs(config.webhooks).find((w) => str(w.name) === WEBHOOK);
  if (!entry) return [{ text: `has no webhook named ${WEBHOOK}`, severity: "high" }];
  const problems = [...clientProblems(ctx, entry), ...failOpenProblem(config, entry)];
  const missing = uncoveredGroups(entry);
  if (missing.length > 0) {
    problems.push({ text: `does not validate ${missing.join(", ")}`, severity: "high" });
  }
  return problems;
}

function worst(problems: readonly Problem[]): Severity {
  const ranks = problems.map((p) => SEVERITIES.indexOf(p.severity));
  return SEVERITIES[Math.min(...ranks)] ?? "high";
}

const ABSENT_REF = {
  apiVersion: "admissionregistration.k8s.io/v1",
  kind: "ValidatingWebhookConfiguration",
  name: DEFAULT_VALIDATOR,
};

function reportAbsent(ctx: CheckContext, emit: Emitter): void {
  const revisions = revisionValidators(ctx);
  const others =
    revisions.length > 0
      ? ` Only ${revisions.join(", ")} exist, and they check only objects labelled with their ` +
        `istio.io/rev.`
      : "";
  // Offline, the input may simply not hold it: the charts render it only with defaultRevision
  // set, and `istioctl manifest generate` output leaves it out.
  const offline = !ctx.snapshot.namespacesComplete;
  const caveat = offline
    ? " If these manifests were rendered rather than read from the cluster, check the cluster: " +
      "the charts render it only when defaultRevision is set, and istioctl install creates it itself."
    : "";
  emit.finding(
    ABSENT_REF,
    `ValidatingWebhookConfiguration ${DEFAULT_VALIDATOR} is missing, so Istio configuration ` +
      `without a revision label is accepted unvalidated.${others}${caveat}`,
    { severity: offline ? "medium" : "high" },
  );
}

export const validationWebhookMissing: ClusterCheck = {
  id: "validation-webhook-missing",
  threats: ["T-02"],
  severity: "high",
  scope: "cluster",
  title: "Istio configuration is not validated on admission",
  description:
    "Checks that ValidatingWebhookConfiguration istiod-default-validator exists, that its " +
    "webhook validation.istio.io calls istiod (or a URL the policy allows for an external " +
    "control plane) for CREATE and UPDATE of every Istio API group, and that it fails closed. " +
    "Revision validators (istio-validator-<rev>-<ns>) only see objects labelled with their " +
    "revision and do not replace it. failurePolicy Ignore is reported at medium: a fresh " +
    "install starts with Ignore and istiod switches it to Fail once ready, which a single " +
    "snapshot cannot tell apart from Ignore that persists. An offline input with no " +
    "ValidatingWebhookConfiguration at all gives Unknown.",
  remediation:
    "Install the default validator (istioctl install, Helm with defaultRevision set, or " +
    "`istioctl tag set default --revision <rev>`) and let istiod manage its failurePolicy:\n" +
    "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\n" +
    "metadata: {name: istiod-default-validator}\nwebhooks:\n  - name: validation.istio.io\n" +
    "    clientConfig: {service: {name: istiod, namespace: istio-system, path: /validate}}\n" +
    "    failurePolicy: Fail\n    rules:\n      - apiGroups: [security.istio.io, " +
    "networking.istio.io, telemetry.istio.io, extensions.istio.io]\n" +
    "        apiVersions: ['*']\n        operations: [CREATE, UPDATE]\n        resources: ['*']",
  inputs: [K.ValidatingWebhookConfiguration, K.Deployment],
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    const all = ctx.snapshot.all(K.ValidatingWebhookConfiguration);
    if (all.length === 0 && !ctx.snapshot.namespacesComplete) {
      emit.unknown(
        "no ValidatingWebhookConfiguration in the input, so Istio's admission validation " +
          "cannot be judged",
      );
      return;
    }
    const config = all.find((w) => w.metadata.name === DEFAULT_VALIDATOR);
    if (!config) {
      reportAbsent(ctx, emit);
      return;
    }
    const problems = validatorProblems(ctx, config);
    if (problems.length === 0) return;
    emit.finding(
      config,
      `ValidatingWebhookConfiguration ${DEFAULT_VALIDATOR} ${problems.map((p) => p.text).join("; ")}, ` +
        `so invalid or hostile Istio configuration can be admitted.`,
      { severity: worst(problems) },
    );
  },
};

export const VALIDATION_CHECKS: readonly Check[] = [validationWebhookMissing];
