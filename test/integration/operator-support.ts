// Helpers for the operator's integration tests: run the operator in-process under its own
// ServiceAccount bound to the shipped RBAC (deploy/base/rbac.yaml), apply example manifests with the
// admin client, and read reports back.

import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  ApiException,
  CustomObjectsApi,
  KubernetesObjectApi,
  type KubeConfig,
  type KubernetesObject,
} from "@kubernetes/client-node";
import yaml from "js-yaml";
import winston from "winston";
import { loadConfig } from "../../operator/config/config.js";
import { startOperator, type OperatorRuntime } from "../../operator/controller/runtime.js";
import type { KubeObject } from "../../operator/engine/types.js";
import type { ComplianceReportStatus } from "../../operator/report/types.js";
import type { ControlPlane, PolicyRule } from "../harness/index.js";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const OPERATOR_NAMESPACE = "mesh-compliance-system";
export const OPERATOR_ACCOUNT = "mesh-compliance-operator";
const CR = { group: "meshcompliance.io", version: "v1alpha1" };

export function yamlObjects(file: string): KubeObject[] {
  return yaml
    .loadAll(readFileSync(file, "utf8"))
    .filter((d): d is KubeObject => typeof d === "object" && d !== null);
}

export function exampleObjects(name: string): KubeObject[] {
  const dir = `${REPO}deploy/examples/${name}/`;
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .flatMap((f) => yamlObjects(dir + f));
}

const isWebhook = (o: KubeObject): boolean => o.kind.endsWith("WebhookConfiguration");

/**
 * Creates objects with the admin client: Namespaces first, webhook configurations last, so that the
 * API server never calls the examples' webhooks (whose services do not exist) while the rest is
 * created. Existing objects are left alone.
 */
export async function applyObjects(
  kc: KubeConfig,
  objects: KubeObject[],
  options: { fieldManager?: string } = {},
): Promise<string[]> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  const order = (o: KubeObject): number => (o.kind === "Namespace" ? 0 : isWebhook(o) ? 2 : 1);
  const sorted = [...objects].sort((a, b) => order(a) - order(b));
  const skipped: string[] = [];
  for (const object of sorted) {
    try {
      await api.create(
        withTlsData(object) as KubernetesObject,
        undefined,
        undefined,
        options.fieldManager,
      );
    } catch (error) {
      const code = error instanceof ApiException ? (error as ApiException<unknown>).code : 0;
      // Kinds whose CRDs this control plane lacks (cert-manager) are left out.
      if (code === 404 && (error as Error).message.includes("resource metadata")) {
        skipped.push(`${object.kind} ${object.metadata.name ?? ""}`);
        continue;
      }
      if (code !== 409) throw error;
    }
    // No controller-manager runs: Pods need the namespace's default ServiceAccount made by hand.
    if (object.kind === "Namespace") {
      await applyObjects(
        kc,
        [
          {
            apiVersion: "v1",
            kind: "ServiceAccount",
            metadata: { name: "default", namespace: object.metadata.name ?? "" },
          },
        ],
        options,
      );
    }
  }
  return skipped;
}

/** The examples list TLS Secrets without data (the operator reads metadata only); the API needs the keys. */
function withTlsData(object: KubeObject): KubeObject {
  if (object.kind !== "Secret" || object.type !== "kubernetes.io/tls" || object.data !== undefined)
    return object;
  return { ...object, data: { "tls.crt": "", "tls.key": "" } };
}

/** A token for the operator's ServiceAccount, bound by the shipped rbac.yaml (applied here). */
export async function operatorKubeConfig(cp: ControlPlane): Promise<KubeConfig> {
  await applyObjects(cp.kubeConfig, [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: OPERATOR_NAMESPACE } },
    ...yamlObjects(`${REPO}deploy/base/rbac.yaml`),
  ]);
  const token = await cp.serviceAccountToken({
    namespace: OPERATOR_NAMESPACE,
    name: OPERATOR_ACCOUNT,
  });
  return cp.kubeConfigForToken(token);
}

/**
 * A token for another ServiceAccount in the operator's namespace, bound to the shipped ClusterRole
 * minus some resources (and to the shipped leader-election Role), for tests of missing access.
 */
export async function restrictedOperatorKubeConfig(
  cp: ControlPlane,
  account: string,
  withoutResources: readonly string[],
): Promise<KubeConfig> {
  await operatorKubeConfig(cp);
  const shipped = yamlObjects(`${REPO}deploy/base/rbac.yaml`).find(
    (o) => o.kind === "ClusterRole",
  ) as (KubeObject & { rules: PolicyRule[] }) | undefined;
  if (!shipped) throw new Error("deploy/base/rbac.yaml has no ClusterRole");
  const rules = shipped.rules
    .map((r) => ({ ...r, resources: r.resources.filter((x) => !withoutResources.includes(x)) }))
    .filter((r) => r.resources.length > 0);
  const role = `${OPERATOR_ACCOUNT}-${account}`;
  await cp.ensureClusterRole(role, rules);
  await applyObjects(cp.kubeConfig, [
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: `${account}-leader-election`, namespace: OPERATOR_NAMESPACE },
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Role",
        name: `${OPERATOR_ACCOUNT}-leader-election`,
      },
      subjects: [{ kind: "ServiceAccount", name: account, namespace: OPERATOR_NAMESPACE }],
    },
  ]);
  const token = await cp.serviceAccountToken({
    namespace: OPERATOR_NAMESPACE,
    name: account,
    clusterRole: role,
  });
  return cp.kubeConfigForToken(token);
}

/** Silent, unless MESH_COMPLIANCE_TEST_LOGS is set: then the operator's logs go to stderr. */
export const quietLogger = (): winston.Logger =>
  process.env.MESH_COMPLIANCE_TEST_LOGS
    ? winston.createLogger({
        level: "debug",
        format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
        transports: [
          // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- winston's transport typings do not match its classes
          new winston.transports.Console({ stderrLevels: ["error", "warn", "info", "debug"] }),
        ],
      })
    : winston.createLogger({ silent: true });

export interface StartOptions {
  args?: string[];
  identity?: string;
  kubeConfig: KubeConfig;
  logger?: winston.Logger;
}

/** Starts the operator in-process with test-friendly timings (short debounce and lease). */
export async function runOperator(options: StartOptions): Promise<OperatorRuntime> {
  const config = loadConfig(
    [
      "--metrics-address=127.0.0.1:0",
      "--debounce=100ms",
      "--lease-duration=3s",
      "--renew-deadline=2s",
      "--retry-period=500ms",
      `--identity=${options.identity ?? "test-operator"}`,
      ...(options.args ?? []),
    ],
    {},
    { hostname: "test", pid: process.pid },
  );
  return startOperator({
    config,
    kubeConfig: options.kubeConfig,
    logger: options.logger ?? quietLogger(),
    discoveryIntervalMs: 1_000,
    retryUnavailableMs: 1_000,
  });
}

export function threatPolicy(name: string, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: "meshcompliance.io/v1alpha1",
    kind: "ThreatPolicy",
    metadata: { name },
    spec,
  };
}

export interface StoredCr {
  metadata: {
    name: string;
    uid?: string;
    resourceVersion: string;
    generation?: number;
    ownerReferences?: { uid?: string; controller?: boolean }[];
  };
  status?: Record<string, unknown>;
}

export async function getReport(kc: KubeConfig, name: string): Promise<StoredCr | undefined> {
  return getCr(kc, "compliancereports", name);
}

export async function getCr(
  kc: KubeConfig,
  plural: string,
  name: string,
): Promise<StoredCr | undefined> {
  try {
    return (await kc
      .makeApiClient(CustomObjectsApi)
      .getClusterCustomObject({ ...CR, plural, name })) as StoredCr;
  } catch (error) {
    if (error instanceof ApiException && (error as ApiException<unknown>).code === 404)
      return undefined;
    throw error;
  }
}

export function statuses(report: {
  threats: ComplianceReportStatus["threats"];
}): Record<string, string> {
  return Object.fromEntries(report.threats.map((t) => [t.id, t.status]));
}

export async function metricsText(runtime: OperatorRuntime): Promise<string> {
  return runtime.metrics.registry.metrics();
}
