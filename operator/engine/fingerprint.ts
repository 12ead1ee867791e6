// Identity of the sidecar injector: which webhook configurations are Istio's, where istiod runs,
// and a fingerprint of everything that decides what gets injected. The fingerprint leaves out
// `caBundle`, which istiod rewrites at run time, so that only real changes move it.

import { createHash } from "node:crypto";
import { at, isObj, obj, objs, str, stringMap } from "./fields.js";
import { K } from "./kinds.js";
import type { Snapshot } from "./snapshot.js";
import type { KubeObject } from "./types.js";

const INJECTOR = "istio-sidecar-injector";
const TAG_PREFIX = "istio-revision-tag-";

/** True for `istio-sidecar-injector`, `istio-sidecar-injector-<rev>` and `istio-revision-tag-<tag>`. */
export function isInjectorWebhookName(name: string): boolean {
  return name === INJECTOR || name.startsWith(`${INJECTOR}-`) || name.startsWith(TAG_PREFIX);
}

/** Istio's injector MutatingWebhookConfigurations, sorted by name. */
export function injectorWebhooks(snapshot: Snapshot): KubeObject[] {
  return snapshot
    .all(K.MutatingWebhookConfiguration)
    .filter((w) => isInjectorWebhookName(w.metadata.name ?? ""))
    .sort((a, b) => (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""));
}

/**
 * The revision a webhook configuration serves: its `istio.io/rev` label, else the name suffix of
 * `istio-sidecar-injector-<rev>`; "default" for the unrevisioned injector; undefined for a tag
 * whose target revision is not labelled.
 */
export function webhookRevision(webhook: KubeObject): string | undefined {
  const label = stringMap(webhook.metadata.labels)["istio.io/rev"];
  if (label) return label;
  const name = webhook.metadata.name ?? "";
  if (name === INJECTOR) return "default";
  if (name.startsWith(`${INJECTOR}-`)) return name.slice(INJECTOR.length + 1);
  return undefined;
}

/** An istiod Deployment: `istiod` or `istiod-<rev>`, or labelled `app: istiod`. */
export function isIstiodDeployment(d: KubeObject): boolean {
  const name = d.metadata.name ?? "";
  if (name === "istiod" || name.startsWith("istiod-")) return true;
  return stringMap(d.metadata.labels).app === "istiod";
}

/**
 * Namespaces where istiod runs: those of istiod Deployments, preferring the root namespace's;
 * the root namespace when the snapshot has none.
 */
export function istiodNamespaces(snapshot: Snapshot, rootNamespace: string): string[] {
  const found = new Set<string>();
  for (const d of snapshot.all(K.Deployment)) {
    if (isIstiodDeployment(d)) found.add(d.metadata.namespace ?? "default");
  }
  if (found.size === 0) return [rootNamespace];
  return [...found].sort((a, b) => Number(b === rootNamespace) - Number(a === rootNamespace));
}

/** Names of the ConfigMaps that shape injection for the given revisions. */
function injectorConfigMapNames(revisions: Iterable<string>): Set<string> {
  const names = new Set(["istio", INJECTOR]);
  for (const rev of revisions) {
    if (rev === "default") continue;
    names.add(`istio-${rev}`);
    names.add(`${INJECTOR}-${rev}`);
  }
  return names;
}

/** The injector and mesh ConfigMaps in istiod's namespaces, sorted by namespace and name. */
export function injectorConfigMaps(
  snapshot: Snapshot,
  namespaces: readonly string[],
  webhooks: readonly KubeObject[],
): KubeObject[] {
  const revisions = webhooks.map(webhookRevision).filter((r): r is string => r !== undefined);
  const names = injectorConfigMapNames(revisions);
  return namespaces
    .flatMap((ns) => snapshot.inNamespace(K.ConfigMap, ns))
    .filter((cm) => names.has(cm.metadata.name ?? ""))
    .sort((a, b) => keyText(a).localeCompare(keyText(b)));
}

function keyText(o: KubeObject): string {
  return `${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}`;
}

/** A webhook entry without `clientConfig.caBundle`. */
function withoutCaBundle(webhook: Record<string, unknown>): Record<string, unknown> {
  const clientConfig = obj(webhook.clientConfig);
  if (!clientConfig) return webhook;
  const rest = Object.fromEntries(Object.entries(clientConfig).filter(([k]) => k !== "caBundle"));
  return { ...webhook, clientConfig: rest };
}

/** JSON with object keys sorted at every level, so equal content gives equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isObj(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key]);
  return out;
}

export interface InjectorFingerprint {
  /** `sha256:<hex>`. */
  fingerprint: string;
  webhooks: string[];
  configMaps: string[];
}

/**
 * Fingerprint of the injector: its webhooks (without caBundle) and the `istio[-rev]` and
 * `istio-sidecar-injector[-rev]` ConfigMaps in istiod's namespace. Undefined when the snapshot
 * holds no injector webhook. Objects read from a live cluster carry API-server defaults that
 * files lack, so pin a fingerprint taken from the same kind of source it is compared with.
 */
export function injectorFingerprint(
  snapshot: Snapshot,
  rootNamespace: string,
): InjectorFingerprint | undefined {
  const webhooks = injectorWebhooks(snapshot);
  if (webhooks.length === 0) return undefined;
  const configMaps = injectorConfigMaps(
    snapshot,
    istiodNamespaces(snapshot, rootNamespace),
    webhooks,
  );
  const content = {
    webhooks: webhooks.map((w) => ({
      name: w.metadata.name ?? "",
      webhooks: objs(w.webhooks).map(withoutCaBundle),
    })),
    configMaps: configMaps.map((cm) => ({
      namespace: cm.metadata.namespace ?? "",
      name: cm.metadata.name ?? "",
      data: stringMap(cm.data),
      binaryData: stringMap(cm.binaryData),
    })),
  };
  const hex = createHash("sha256").update(canonicalJson(content)).digest("hex");
  return {
    fingerprint: `sha256:${hex}`,
    webhooks: webhooks.map((w) => w.metadata.name ?? ""),
    configMaps: configMaps.map(keyText),
  };
}

/** The proxy image hub and name from the injector ConfigMap's `values` (JSON). */
export function injectorProxyImage(cm: KubeObject): { hub?: string; image: string } | undefined {
  const text = str(at(cm, "data", "values"));
  if (text === undefined) return undefined;
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch {
    return undefined;
  }
  const hub = str(at(values, "global", "hub"));
  const image = str(at(values, "global", "proxy", "image")) ?? "proxyv2";
  return hub === undefined ? { image } : { hub, image };
}
