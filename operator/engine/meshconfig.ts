// The mesh configuration, read from the `istio` ConfigMap (or `istio-<revision>`) whose `mesh` key
// holds MeshConfig as YAML. Parsing YAML is the caller's job: the engine stays free of parsers, so
// the snapshot builder passes a parse function in.

import { K } from "./kinds.js";
import { at, bool, obj, objs, str } from "./fields.js";
import { parseSelector, type LabelSelector } from "./selectors.js";
import type { Snapshot } from "./snapshot.js";
import type { KubeObject } from "./types.js";

export interface MeshConfig {
  source: KubeObject;
  rootNamespace?: string;
  discoverySelectors: LabelSelector[];
  accessLogFile?: string;
  enableAutoMtls: boolean;
  defaultAccessLogProviders: string[];
  extensionProviders: string[];
  outboundTrafficPolicy?: string;
  raw: Record<string, unknown>;
  /** Set when the `mesh` key could not be parsed; checks that need it say `Unknown`. */
  error?: string;
}

export type YamlParse = (text: string) => unknown;

/** Finds the mesh ConfigMap: `istio` in the preferred namespace first, then anywhere. */
export function findMeshConfigMap(
  snapshot: Snapshot,
  preferredNamespace: string,
): KubeObject | undefined {
  const isMesh = (cm: KubeObject): boolean => {
    const name = cm.metadata.name ?? "";
    return (
      (name === "istio" || name.startsWith("istio-")) && typeof at(cm, "data", "mesh") === "string"
    );
  };
  const preferred = snapshot.inNamespace(K.ConfigMap, preferredNamespace).filter(isMesh);
  const candidates = preferred.length > 0 ? preferred : snapshot.all(K.ConfigMap).filter(isMesh);
  return candidates.find((cm) => cm.metadata.name === "istio") ?? candidates[0];
}

export function readMeshConfig(cm: KubeObject, parse: YamlParse): MeshConfig {
  const text = str(at(cm, "data", "mesh")) ?? "";
  let raw: Record<string, unknown> = {};
  let error: string | undefined;
  try {
    raw = obj(parse(text)) ?? {};
  } catch (err) {
    error = `data.mesh is not valid YAML: ${err instanceof Error ? err.message : String(err)}`;
  }
  const config: MeshConfig = {
    source: cm,
    discoverySelectors: objs(raw.discoverySelectors)
      .map(parseSelector)
      .filter((s): s is LabelSelector => s !== undefined),
    // Istio turns auto mTLS on unless the mesh config says otherwise.
    enableAutoMtls: bool(raw.enableAutoMtls) ?? true,
    defaultAccessLogProviders: objs(at(raw, "defaultProviders", "accessLogging"))
      .map((p) => str(p.name))
      .filter((n): n is string => n !== undefined)
      .concat(
        (Array.isArray(at(raw, "defaultProviders", "accessLogging"))
          ? (at(raw, "defaultProviders", "accessLogging") as unknown[])
          : []
        ).filter((p): p is string => typeof p === "string"),
      ),
    extensionProviders: objs(raw.extensionProviders)
      .map((p) => str(p.name))
      .filter((n): n is string => n !== undefined),
    raw,
  };
  const root = str(raw.rootNamespace);
  if (root) config.rootNamespace = root;
  const accessLogFile = str(raw.accessLogFile);
  if (accessLogFile !== undefined) config.accessLogFile = accessLogFile;
  const outbound = str(at(raw, "outboundTrafficPolicy", "mode"));
  if (outbound) config.outboundTrafficPolicy = outbound;
  if (error) config.error = error;
  return config;
}
