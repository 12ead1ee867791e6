// Data-plane membership checks (S-01, T-01): workloads that the mesh does not protect at all, and
// meshed workloads whose traffic capture has been narrowed so that some traffic skips the proxy.

import { inputsAvailable, type Check, type NamespaceCheck } from "../check.js";
import { num, obj, objs } from "../fields.js";
import { WORKLOAD_INPUTS } from "../kinds.js";
import type { Workload } from "../mesh.js";

function describe(w: Workload): string {
  const origin = w.fromTemplate ? " (judged from its pod template)" : "";
  return `${w.ref.kind} ${w.namespace}/${w.ref.name}${origin}`;
}

export const workloadOutsideMesh: NamespaceCheck = {
  id: "workload-outside-mesh",
  threats: ["S-01", "T-01"],
  severity: "high",
  scope: "namespace",
  title: "Workload outside the mesh",
  description:
    "Finds pods (or workload templates) in in-scope namespaces that have no sidecar and are not " +
    "redirected by ambient, including pods that opted out. Such a workload has no mesh identity, " +
    "sends and accepts plaintext, and is invisible to mesh authorization.",
  remediation:
    "Enrol the namespace and remove the opt-out, then restart the workload:\n" +
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: my-namespace\n  labels:\n" +
    "    istio-injection: enabled   # or istio.io/rev: <revision>, or istio.io/dataplane-mode: ambient\n" +
    'and delete the pod label or annotation sidecar.istio.io/inject: "false".',
  inputs: [...WORKLOAD_INPUTS],
  run(ctx, target, emit) {
    if (!target.inScope || !inputsAvailable(ctx, this, emit)) return;
    for (const w of ctx.mesh.workloads(target.namespace)) {
      if (w.dataPlane !== "none") continue;
      if (w.podSpec.hostNetwork === true) {
        emit.finding(
          w.ref,
          `${describe(w)} uses the host network and can never be meshed, so its traffic has no mTLS or mesh identity; keep such pods out of mesh namespaces where possible.`,
          { severity: "low" },
        );
        continue;
      }
      emit.finding(
        w.ref,
        `${describe(w)} is not part of the mesh (${w.meshReason}), so it sends and accepts plaintext without a workload identity.`,
      );
    }
  },
};

/** Ports the proxy and istiod agent use themselves; excluding them bypasses no application. */
const ISTIO_PORTS = new Set([15000, 15001, 15004, 15006, 15008, 15009, 15020, 15021, 15053, 15090]);
const PROXY_UID = 1337;
/** Istio's own containers: the proxy runs as 1337; the CNI validation init container does too. */
const ISTIO_CONTAINERS = new Set(["istio-proxy", "istio-validation", "istio-init"]);

const A = {
  includeInbound: "traffic.sidecar.istio.io/includeInboundPorts",
  excludeInbound: "traffic.sidecar.istio.io/excludeInboundPorts",
  includeOutboundIPs: "traffic.sidecar.istio.io/includeOutboundIPRanges",
  excludeOutboundIPs: "traffic.sidecar.istio.io/excludeOutboundIPRanges",
  excludeInterfaces: "traffic.sidecar.istio.io/excludeInterfaces",
  interception: "sidecar.istio.io/interceptionMode",
} as const;

function list(value: string): string[] {
  return value
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v !== "");
}

function excludedAppPorts(value: string | undefined): string[] {
  if (value === undefined) return [];
  return list(value).filter((p) => {
    const port = num(p);
    return port === undefined || !ISTIO_PORTS.has(port);
  });
}

/** A CIDR covering at least a /16 of IPv4 (or a /48 of IPv6), or the `*` wildcard. */
function wideRange(cidr: string): boolean {
  if (cidr === "*") return true;
  const [address, bits] = cidr.split("/");
  const prefix = num(bits);
  if (address === undefined || prefix === undefined) return false;
  return address.includes(":") ? prefix <= 48 : prefix <= 16;
}

function annotationBypasses(annotations: Record<string, string>): string[] {
  const found: string[] = [];
  const include = annotations[A.includeInbound];
  if (include !== undefined && include.trim() !== "*") {
    found.push(`${A.includeInbound}="${include}" narrows inbound capture`);
  }
  const excluded = excludedAppPorts(annotations[A.excludeInbound]);
  if (excluded.length > 0) {
    found.push(`${A.excludeInbound} lets port(s) ${excluded.join(", ")} skip the proxy`);
  }
  const wide = list(annotations[A.excludeOutboundIPs] ?? "").filter(wideRange);
  if (wide.length > 0) {
    found.push(`${A.excludeOutboundIPs} sends traffic to ${wide.join(", ")} around the proxy`);
  }
  const outbound = annotations[A.includeOutboundIPs];
  if (outbound !== undefined && outbound.trim() !== "*") {
    found.push(`${A.includeOutboundIPs}="${outbound}" narrows outbound capture`);
  }
  const interfaces = annotations[A.excludeInterfaces];
  if (interfaces !== undefined && interfaces.trim() !== "") {
    found.push(`${A.excludeInterfaces}="${interfaces}" skips capture on those interfaces`);
  }
  if (annotations[A.interception]?.toUpperCase() === "NONE") {
    found.push(`${A.interception}=NONE turns traffic capture off`);
  }
  return found;
}

function runsAsProxy(
  container: Record<string, unknown>,
  pod: Record<string, unknown>,
): string | undefined {
  const own = obj(container.securityContext) ?? {};
  const podLevel = obj(pod.securityContext) ?? {};
  const uid = num(own.runAsUser) ?? num(podLevel.runAsUser);
  const gid = num(own.runAsGroup) ?? num(podLevel.runAsGroup);
  if (uid === PROXY_UID) return "UID";
  if (gid === PROXY_UID) return "GID";
  return undefined;
}

function identityBypasses(spec: Record<string, unknown>): string[] {
  const found: string[] = [];
  for (const c of [...objs(spec.initContainers), ...objs(spec.containers)]) {
    const name = typeof c.name === "string" ? c.name : "";
    if (ISTIO_CONTAINERS.has(name)) continue;
    const id = runsAsProxy(c, spec);
    if (id !== undefined) {
      found.push(
        `container ${name} runs as ${id} ${PROXY_UID}, the proxy's own identity, whose traffic is never captured`,
      );
    }
  }
  return found;
}

export const proxyCaptureBypass: NamespaceCheck = {
  id: "proxy-capture-bypass",
  threats: ["S-01", "T-01"],
  severity: "high",
  scope: "namespace",
  title: "Traffic capture bypassed",
  description:
    "Finds meshed workloads whose traffic partly skips the sidecar: application ports excluded " +
    "from inbound capture, narrowed inbound or outbound capture, wide excluded outbound ranges, " +
    "excluded interfaces, interception mode NONE, and containers running as the proxy's UID or " +
    "GID 1337. Traffic that skips the proxy has no mTLS and no authorization. Judged by value: " +
    'the `includeInboundPorts: "*"` and `excludeInboundPorts: "15020"` that Istio writes on ' +
    "every pod are normal.",
  remediation:
    "Remove the capture-narrowing annotations (traffic.sidecar.istio.io/*, " +
    "sidecar.istio.io/interceptionMode: NONE) from the pod template, and run application " +
    "containers as a UID and GID other than 1337:\n" +
    "securityContext:\n  runAsUser: 10001\n  runAsGroup: 10001",
  inputs: [...WORKLOAD_INPUTS],
  run(ctx, target, emit) {
    if (!target.inScope || !inputsAvailable(ctx, this, emit)) return;
    for (const w of ctx.mesh.workloads(target.namespace)) {
      // Ambient pods are captured by ztunnel's redirection, which these settings do not steer.
      if (w.dataPlane !== "sidecar") continue;
      const found = [...annotationBypasses(w.annotations), ...identityBypasses(w.podSpec)];
      if (found.length === 0) continue;
      emit.finding(w.ref, `${describe(w)} lets traffic skip its sidecar: ${found.join("; ")}.`);
    }
  },
};

export const WORKLOAD_CHECKS: readonly Check[] = [workloadOutsideMesh, proxyCaptureBypass];
