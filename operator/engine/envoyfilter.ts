// Risk classification of proxy extensions: EnvoyFilters, WasmPlugins and TrafficExtensions put
// configuration or code straight into Envoy, past every Istio API that validates intent. The
// classifier is pure and shared by the `envoyfilter-unexpected` check and the per-object metric.

import { arr, at, isObj, num, obj, objs, str, stringMap } from "./fields.js";
import { K, kindKey } from "./kinds.js";
import type { EnvoyFilterAllowance } from "./policy.js";
import { globMatch, selectorMatches } from "./selectors.js";
import { namespaceOf } from "./snapshot.js";
import type { KubeObject, Severity } from "./types.js";

/** Kinds that change what proxies run. */
export const EXTENSION_KINDS: readonly string[] = [K.EnvoyFilter, K.WasmPlugin, K.TrafficExtension];

export type ExtensionScope = "mesh-wide" | "every-namespace" | "namespace" | "workload";

export interface RiskTrait {
  /** Stable kebab-case id, usable in tests and documentation. */
  id: string;
  severity: Severity;
  /** What the trait is, with the precise detail (patch index, filter, address). */
  detail: string;
}

export interface ExtensionRisk {
  scope: ExtensionScope;
  traits: RiskTrait[];
  /** The worst trait, raised one level when the extension applies beyond one workload. */
  risk: Severity;
}

const ORDER: readonly Severity[] = ["info", "low", "medium", "high", "critical"];
const BASE: Severity = "medium";

/** Filters that enforce authorization or authentication; removing one opens the proxy. */
const SECURITY_FILTERS = new Set([
  "envoy.filters.http.rbac",
  "envoy.filters.network.rbac",
  "envoy.filters.http.ext_authz",
  "envoy.filters.network.ext_authz",
  "envoy.filters.http.jwt_authn",
  "envoy.ext_authz",
]);
const SECURITY_TYPE = /\bfilters\.(http|network)\.(rbac|ext_authz|jwt_authn)\./;
const HCM = "envoy.filters.network.http_connection_manager";
const LUA_NAMES = new Set(["envoy.filters.http.lua", "envoy.lua"]);
const LUA_TYPE = /\bfilters\.http\.lua\./;
const LUA_KEYS = new Set([
  "inline_code",
  "inlineCode",
  "default_source_code",
  "defaultSourceCode",
  "source_codes",
  "sourceCodes",
]);
const WASM_NAMES = new Set(["envoy.filters.http.wasm", "envoy.filters.network.wasm", "envoy.wasm"]);
const WASM_TYPE = /\b(filters\.(http|network)\.wasm\.|wasm\.v3\.)/;
/** The outbound and inbound capture listeners: patching them changes every connection. */
const CAPTURE_LISTENERS = new Map<number, string>([
  [15001, "outbound capture"],
  [15006, "inbound capture"],
]);
const CAPTURE_LISTENER_NAMES = new Set(["virtualOutbound", "virtualInbound"]);
const ENVOY_ADMIN_PORT = 15000;

export function maxSeverity(a: Severity, b: Severity): Severity {
  return ORDER.indexOf(a) >= ORDER.indexOf(b) ? a : b;
}

function raise(s: Severity): Severity {
  return ORDER[Math.min(ORDER.indexOf(s) + 1, ORDER.length - 1)] ?? s;
}

/** True for the kinds the classifier understands. */
export function isExtension(o: KubeObject): boolean {
  return EXTENSION_KINDS.includes(kindKey(o.apiVersion, o.kind));
}

/** Classifies one EnvoyFilter, WasmPlugin or TrafficExtension. Never throws on odd shapes. */
export function classifyExtension(o: KubeObject, rootNamespace: string): ExtensionRisk {
  const scope = scopeOf(o, rootNamespace);
  const traits: RiskTrait[] = [];
  const scopeTrait = scopeTraitOf(scope);
  if (scopeTrait) traits.push(scopeTrait);
  const key = kindKey(o.apiVersion, o.kind);
  if (key === K.EnvoyFilter) {
    objs(at(o, "spec", "configPatches")).forEach((p, i) => traits.push(...patchTraits(p, i)));
  } else if (key === K.WasmPlugin) {
    traits.push({ id: "wasm-code", severity: "high", detail: wasmDetail(at(o, "spec", "url")) });
  } else {
    traits.push(...trafficExtensionTraits(o));
  }
  let risk = traits.reduce<Severity>((worst, t) => maxSeverity(worst, t.severity), BASE);
  // An extension that reaches beyond one workload multiplies whatever it does.
  if (scopeTrait) risk = raise(risk);
  return { scope, traits, risk };
}

function scopeOf(o: KubeObject, rootNamespace: string): ExtensionScope {
  // targetRefs name objects of the extension's own namespace, even in the root namespace.
  const byRef = arr(at(o, "spec", "targetRefs")).length > 0 || isObj(at(o, "spec", "targetRef"));
  if (byRef) return "workload";
  const inRoot = namespaceOf(o) === rootNamespace;
  if (!hasWorkloadSelector(o)) return inRoot ? "mesh-wide" : "namespace";
  return inRoot ? "every-namespace" : "workload";
}

function hasWorkloadSelector(o: KubeObject): boolean {
  const labels =
    kindKey(o.apiVersion, o.kind) === K.EnvoyFilter
      ? at(o, "spec", "workloadSelector", "labels")
      : at(o, "spec", "selector", "matchLabels");
  // An empty label map selects every workload of the namespace, like no selector at all.
  return Object.keys(stringMap(labels)).length > 0;
}

function scopeTraitOf(scope: ExtensionScope): RiskTrait | undefined {
  switch (scope) {
    case "mesh-wide":
      return {
        id: "mesh-wide",
        severity: BASE,
        detail: "in the root namespace without a selector, so it applies to every proxy",
      };
    case "every-namespace":
      return {
        id: "root-namespace",
        severity: BASE,
        detail: "in the root namespace, so its selector matches workloads in every namespace",
      };
    case "namespace":
      return {
        id: "namespace-wide",
        severity: BASE,
        detail: "without a selector, so it applies to every workload of the namespace",
      };
    default:
      return undefined;
  }
}

function patchTraits(patch: Record<string, unknown>, index: number): RiskTrait[] {
  const where = `patch ${index}`;
  const applyTo = str(patch.applyTo) ?? "";
  const operation = str(at(patch, "patch", "operation")) ?? "";
  const value = at(patch, "patch", "value");
  const traits: RiskTrait[] = [];
  const removal = securityRemoval(patch, applyTo, operation, value);
  if (removal) traits.push({ ...removal, detail: `${where} ${removal.detail}` });
  const listener = captureListener(patch);
  if (listener) {
    traits.push({ id: "capture-listener", severity: "high", detail: `${where} ${listener}` });
  }
  const code = codeIn(value);
  if (code) traits.push({ id: `${code}-code`, severity: "high", detail: `${where} adds ${code}` });
  if (applyTo === "CLUSTER" && operation !== "REMOVE") {
    traits.push(...clusterTraits(value, where));
  }
  return traits;
}

/** The filter a patch targets: the HTTP sub-filter for HTTP_FILTER, the filter otherwise. */
function targetFilter(patch: Record<string, unknown>, applyTo: string): string | undefined {
  const filter = at(patch, "match", "listener", "filterChain", "filter");
  if (applyTo === "HTTP_FILTER") return str(at(filter, "subFilter", "name"));
  return str(at(filter, "name"));
}

function isSecurityValue(value: unknown): boolean {
  const name = str(at(value, "name"));
  const type = str(at(value, "typed_config", "@type")) ?? str(at(value, "typedConfig", "@type"));
  return (name !== undefined && SECURITY_FILTERS.has(name)) || SECURITY_TYPE.test(type ?? "");
}

function securityRemoval(
  patch: Record<string, unknown>,
  applyTo: string,
  operation: string,
  value: unknown,
): RiskTrait | undefined {
  if (applyTo !== "HTTP_FILTER" && applyTo !== "NETWORK_FILTER") return undefined;
  const target = targetFilter(patch, applyTo);
  if (operation === "REMOVE" || operation === "REPLACE")
    return removalTrait(applyTo, operation, target);
  if (operation === "MERGE") return mergeTrait(target, value);
  return undefined;
}

function removalTrait(
  applyTo: string,
  operation: string,
  target: string | undefined,
): RiskTrait | undefined {
  const verb = operation === "REMOVE" ? "removes" : "replaces";
  // Without a filter name the patch applies to every filter, the security ones included.
  if (target === undefined) {
    const layer = applyTo === "HTTP_FILTER" ? "HTTP" : "network";
    return {
      id: "security-filter-removed",
      severity: "critical",
      detail: `${verb} every ${layer} filter, authorization included`,
    };
  }
  // The HTTP connection manager carries the HTTP rbac, ext_authz and jwt_authn filters with it.
  if (SECURITY_FILTERS.has(target) || (applyTo === "NETWORK_FILTER" && target === HCM)) {
    return { id: "security-filter-removed", severity: "critical", detail: `${verb} ${target}` };
  }
  return undefined;
}

function mergeTrait(target: string | undefined, value: unknown): RiskTrait | undefined {
  const onSecurity =
    (target !== undefined && SECURITY_FILTERS.has(target)) || isSecurityValue(value);
  if (!onSecurity) return undefined;
  const name = target ?? str(at(value, "name")) ?? "an authorization filter";
  if (at(value, "disabled") === true) {
    return { id: "security-filter-removed", severity: "critical", detail: `disables ${name}` };
  }
  return { id: "security-filter-modified", severity: "high", detail: `merges into ${name}` };
}

function captureListener(patch: Record<string, unknown>): string | undefined {
  const listener = at(patch, "match", "listener");
  const port = num(at(listener, "portNumber"));
  if (port !== undefined) {
    const label = CAPTURE_LISTENERS.get(port);
    if (label) return `patches the ${label} listener ${port}`;
  }
  const name = str(at(listener, "name"));
  if (name !== undefined && CAPTURE_LISTENER_NAMES.has(name)) {
    return `patches the capture listener ${name}`;
  }
  return undefined;
}

/** Names, `@type`s and keys found anywhere in a patch value, bounded against huge documents. */
function collect(value: unknown): { names: Set<string>; keys: Set<string> } {
  const names = new Set<string>();
  const keys = new Set<string>();
  const stack: { v: unknown; depth: number }[] = [{ v: value, depth: 0 }];
  let budget = 5000;
  while (stack.length > 0 && budget-- > 0) {
    const item = stack.pop();
    if (!item || item.depth > 32) continue;
    const { v, depth } = item;
    if (Array.isArray(v)) {
      for (const e of v) stack.push({ v: e, depth: depth + 1 });
      continue;
    }
    if (!isObj(v)) continue;
    for (const [k, child] of Object.entries(v)) {
      keys.add(k);
      if ((k === "name" || k === "@type") && typeof child === "string") names.add(child);
      else stack.push({ v: child, depth: depth + 1 });
    }
  }
  return { names, keys };
}

function codeIn(value: unknown): "Lua" | "Wasm" | undefined {
  if (value === undefined) return undefined;
  const { names, keys } = collect(value);
  const list = [...names];
  if (list.some((n) => LUA_NAMES.has(n) || LUA_TYPE.test(n))) return "Lua";
  if ([...keys].some((k) => LUA_KEYS.has(k))) return "Lua";
  if (list.some((n) => WASM_NAMES.has(n) || WASM_TYPE.test(n))) return "Wasm";
  return undefined;
}

interface SocketAddress {
  address: string;
  port: number | undefined;
}

function socketAddresses(value: unknown): SocketAddress[] {
  const out: SocketAddress[] = [];
  const stack: unknown[] = [value];
  let budget = 5000;
  while (stack.length > 0 && budget-- > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) stack.push(...(v as unknown[]));
    if (!isObj(v)) continue;
    const socket = obj(v.socket_address) ?? obj(v.socketAddress);
    const address = str(socket?.address);
    if (socket && address !== undefined) {
      out.push({ address, port: num(socket.port_value) ?? num(socket.portValue) });
    }
    for (const child of Object.values(v)) if (typeof child === "object") stack.push(child);
  }
  return out;
}

function isLoopback(address: string): boolean {
  return address === "localhost" || address === "::1" || /^127\.\d+\.\d+\.\d+$/.test(address);
}

/** A name the pod's DNS search path resolves inside the cluster. */
function isInCluster(address: string): boolean {
  return (
    address.endsWith(".cluster.local") ||
    address.endsWith(".svc") ||
    (!address.includes(".") && !address.includes(":"))
  );
}

function clusterTraits(value: unknown, where: string): RiskTrait[] {
  const traits: RiskTrait[] = [];
  for (const { address, port } of socketAddresses(value)) {
    const target = port === undefined ? address : `${address}:${port}`;
    if (isLoopback(address) || address === "0.0.0.0") {
      if (port === ENVOY_ADMIN_PORT) {
        traits.push({
          id: "admin-cluster",
          severity: "critical",
          detail: `${where} adds a cluster aimed at the Envoy admin interface ${target}`,
        });
      }
      continue;
    }
    if (!isInCluster(address)) {
      traits.push({
        id: "external-cluster",
        severity: "high",
        detail: `${where} adds a cluster aimed outside the mesh at ${target}`,
      });
    }
  }
  return traits;
}

function wasmDetail(url: unknown): string {
  const text = str(url);
  return text ? `runs Wasm code from ${text}` : "runs Wasm code";
}

function trafficExtensionTraits(o: KubeObject): RiskTrait[] {
  const traits: RiskTrait[] = [];
  if (at(o, "spec", "lua") !== undefined) {
    traits.push({ id: "lua-code", severity: "high", detail: "runs inline Lua code" });
  }
  if (at(o, "spec", "wasm") !== undefined) {
    traits.push({
      id: "wasm-code",
      severity: "high",
      detail: wasmDetail(at(o, "spec", "wasm", "url")),
    });
  }
  return traits;
}

/** True when an allow-list entry covers the object: namespace and name globs, and/or labels. */
export function extensionAllowed(o: KubeObject, allowed: readonly EnvoyFilterAllowance[]): boolean {
  const ns = namespaceOf(o) ?? "";
  const name = o.metadata.name ?? "";
  const labels = stringMap(o.metadata.labels);
  return allowed.some(
    (a) =>
      (a.namespace === undefined || globMatch(a.namespace, ns)) &&
      (a.name === undefined || globMatch(a.name, name)) &&
      (a.selector === undefined || selectorMatches(a.selector, labels)),
  );
}
