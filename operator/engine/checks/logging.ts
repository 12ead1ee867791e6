// Access logging checks (R-01): is every call through the mesh logged, so that a compromised
// service's requests can be traced to their source identity. Istio logs when the mesh config sets
// accessLogFile, when meshConfig.defaultProviders.accessLogging names a provider, or when a
// Telemetry enables it. Of several selector-less Telemetries in one namespace only the oldest
// applies (ties by name), and a provider must be defined in extensionProviders or be the
// built-in `envoy`, else nothing is logged.

import {
  inputsAvailable,
  namespaceRef,
  type Check,
  type CheckContext,
  type ClusterCheck,
  type NamespaceCheck,
} from "../check.js";
import { at, objs, str, stringMap } from "../fields.js";
import { K } from "../kinds.js";
import { namespaceOf } from "../snapshot.js";
import type { KubeObject, ResourceRef } from "../types.js";

const MESH_LOGGING_MANIFEST = `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata:
  name: mesh-default
  namespace: istio-system   # the mesh root namespace
spec:
  accessLogging:
    - providers:
        - name: envoy`;

interface LogEntry {
  disabled: boolean;
  /** Providers named by the entry; empty means the mesh's default providers. */
  providers: string[];
  mode: string | undefined;
}

interface TelemetryDoc {
  object: KubeObject;
  name: string;
  namespace: string;
  selectorless: boolean;
  created: number;
  /** Undefined when the Telemetry says nothing about access logging. */
  entries: LogEntry[] | undefined;
}

function parseTelemetry(object: KubeObject): TelemetryDoc {
  const spec = at(object, "spec");
  const labels = stringMap(at(spec, "selector", "matchLabels"));
  const targeted = objs(at(spec, "targetRefs")).length > 0 || at(spec, "targetRef") !== undefined;
  const logging = at(spec, "accessLogging");
  const created = Date.parse(object.metadata.creationTimestamp ?? "");
  return {
    object,
    name: object.metadata.name ?? "",
    namespace: namespaceOf(object) ?? "default",
    selectorless: Object.keys(labels).length === 0 && !targeted,
    created: Number.isNaN(created) ? Number.NEGATIVE_INFINITY : created,
    entries: Array.isArray(logging)
      ? objs(logging).map((e) => ({
          disabled: e.disabled === true,
          providers: objs(e.providers)
            .map((p) => str(p.name))
            .filter((n): n is string => n !== undefined),
          mode: str(at(e, "match", "mode")),
        }))
      : undefined,
  };
}

function byAge(a: TelemetryDoc, b: TelemetryDoc): number {
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Telemetries of a namespace that are in force: the oldest selector-less one, and every targeted one. */
function telemetriesInForce(ctx: CheckContext, namespace: string): TelemetryDoc[] {
  const all = ctx.snapshot.inNamespace(K.Telemetry, namespace).map(parseTelemetry).sort(byAge);
  const [oldest] = all.filter((t) => t.selectorless);
  return all.filter((t) => !t.selectorless || t === oldest);
}

/** What the mesh config says about providers. `known` is undefined when it cannot be checked. */
interface Providers {
  defaults: string[];
  known: ReadonlySet<string> | undefined;
  accessLogFile: boolean;
}

function providers(ctx: CheckContext): Providers {
  const mc = ctx.mesh.meshConfig;
  return {
    defaults: mc?.defaultAccessLogProviders ?? [],
    // Without the mesh config a provider named in a Telemetry cannot be checked: trust it.
    known: mc ? new Set([...mc.extensionProviders, "envoy"]) : undefined,
    accessLogFile: (mc?.accessLogFile ?? "") !== "",
  };
}

/** Why the entries log nothing, or undefined when at least one entry logs. */
function whyNoLogs(entries: LogEntry[], p: Providers): string | undefined {
  const enabled = entries.filter((e) => !e.disabled);
  if (enabled.length === 0) {
    const modes = entries.map((e) => e.mode).filter((m): m is string => m !== undefined);
    return `turns access logging off${modes.length > 0 ? ` (match mode ${modes.join(", ")})` : ""}`;
  }
  const unknown: string[] = [];
  for (const e of enabled) {
    const names = e.providers.length > 0 ? e.providers : p.defaults;
    // An entry without providers and without default providers keeps the mesh's log file.
    if (names.length === 0 && p.accessLogFile) return undefined;
    if (names.length === 0 && p.known === undefined) return undefined;
    const good = names.filter((n) => p.known === undefined || p.known.has(n));
    if (good.length > 0) return undefined;
    unknown.push(...names);
  }
  if (unknown.length === 0) return "names no provider and the mesh config has no default one";
  return `names provider ${[...new Set(unknown)].join(", ")}, which extensionProviders does not define`;
}

/** The mesh-wide verdict when no root Telemetry decides it: undefined means logging is on. */
function meshConfigVerdict(
  ctx: CheckContext,
  p: Providers,
): { target: KubeObject | ResourceRef; message: string } | "unknown" | undefined {
  const mc = ctx.mesh.meshConfig;
  if (p.defaults.length > 0) {
    const good = p.defaults.filter((n) => p.known === undefined || p.known.has(n));
    if (good.length > 0) return undefined;
    if (p.accessLogFile) return undefined;
    return {
      target: mc?.source ?? namespaceRef(ctx.mesh.rootNamespace),
      message:
        `The mesh config's defaultProviders.accessLogging names ${p.defaults.join(", ")}, which ` +
        `extensionProviders does not define, so no call in the mesh is logged.`,
    };
  }
  if (p.accessLogFile) return undefined;
  if (!mc) {
    if (!ctx.snapshot.namespacesComplete) return "unknown";
    return {
      target: namespaceRef(ctx.mesh.rootNamespace),
      message:
        `No mesh config and no mesh-wide Telemetry in ${ctx.mesh.rootNamespace} enable access ` +
        `logging, so calls through the mesh cannot be traced to their source.`,
    };
  }
  return {
    target: mc.source,
    message:
      `The mesh config sets neither accessLogFile nor defaultProviders.accessLogging and no ` +
      `mesh-wide Telemetry in ${ctx.mesh.rootNamespace} enables access logging, so calls ` +
      `through the mesh cannot be traced to their source.`,
  };
}

export const accessLoggingOff: ClusterCheck = {
  id: "access-logging-off",
  threats: ["R-01"],
  severity: "medium",
  scope: "cluster",
  title: "Mesh-wide access logging is off",
  description:
    "Finds meshes where no route turns access logging on for every workload: meshConfig." +
    "accessLogFile, meshConfig.defaultProviders.accessLogging naming a defined provider, or the " +
    "oldest selector-less Telemetry in the root namespace enabling it with a defined provider " +
    "(or the built-in envoy). A root Telemetry that disables logging, or names an undefined " +
    "provider, turns it off mesh-wide. Without access logs a compromised service's calls cannot " +
    "be attributed. Reports Unknown in an offline scan that holds neither the mesh config nor a " +
    "root Telemetry.",
  remediation: `Enable access logging mesh-wide with a Telemetry in the root namespace (or set meshConfig.accessLogFile: /dev/stdout):\n${MESH_LOGGING_MANIFEST}`,
  inputs: [K.ConfigMap, K.Telemetry],
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    const mc = ctx.mesh.meshConfig;
    if (mc?.error !== undefined) {
      emit.unknown(`the mesh config could not be read: ${mc.error}`);
      return;
    }
    const p = providers(ctx);
    const root = telemetriesInForce(ctx, ctx.mesh.rootNamespace).find((t) => t.selectorless);
    if (root?.entries !== undefined && root.entries.length > 0) {
      const why = whyNoLogs(root.entries, p);
      if (why !== undefined) {
        emit.finding(
          root.object,
          `Mesh-wide Telemetry ${root.namespace}/${root.name} ${why}, so no call in the mesh is ` +
            `logged and a compromised service's calls cannot be attributed.`,
        );
      }
      return;
    }
    const verdict = meshConfigVerdict(ctx, p);
    if (verdict === "unknown") {
      emit.unknown(
        "the mesh config is not in the input and no mesh-wide Telemetry enables logging",
      );
    } else if (verdict !== undefined) {
      emit.finding(verdict.target, verdict.message);
    }
  },
};

function localMessage(t: TelemetryDoc, p: Providers): string | undefined {
  const why = t.entries && t.entries.length > 0 ? whyNoLogs(t.entries, p) : undefined;
  if (why === undefined) return undefined;
  const scope = t.selectorless ? `namespace ${t.namespace}` : "the workloads it selects";
  return `Telemetry ${t.namespace}/${t.name} (for ${scope}) ${why}, so those calls cannot be attributed.`;
}

export const accessLoggingDisabledLocally: NamespaceCheck = {
  id: "access-logging-disabled-locally",
  threats: ["R-01"],
  severity: "medium",
  scope: "namespace",
  title: "Telemetry turns access logging off for a namespace or workload",
  description:
    "Finds namespace Telemetries (the oldest selector-less one, which is the one in force) and " +
    "workload Telemetries (selector or targetRefs) whose accessLogging entries are all disabled, " +
    "or name only providers that extensionProviders does not define. The calls of those " +
    "workloads then leave no trace even when the mesh logs everything else.",
  remediation:
    "Remove the disabled entry, or log to a defined provider:\nspec:\n  accessLogging:\n" +
    "    - providers:\n        - name: envoy",
  inputs: [K.Telemetry],
  run(ctx, target, emit) {
    if (!(target.inScope || target.isRoot) || !inputsAvailable(ctx, this, emit)) return;
    if (ctx.mesh.meshConfig?.error !== undefined) return;
    const p = providers(ctx);
    for (const t of telemetriesInForce(ctx, target.namespace)) {
      // The root namespace's selector-less Telemetry is mesh-wide: access-logging-off judges it.
      if (t.selectorless && target.isRoot) continue;
      const message = localMessage(t, p);
      if (message !== undefined) emit.finding(t.object, message);
    }
  },
};

export const LOGGING_CHECKS: readonly Check[] = [accessLoggingOff, accessLoggingDisabledLocally];
