// Gateway TLS configuration checks (S-02): listeners that should terminate TLS but have no
// certificate, plaintext HTTP without a redirect, old protocol versions and wildcard hosts on
// certificate-bearing servers. They read Gateways of every namespace (gateways often live in a
// namespace that is not itself enrolled in the mesh), so they run in the cluster partition. The
// credential and capacity checks live beside this file and are exported here as one family.

import {
  inputsAvailable,
  type Check,
  type CheckContext,
  type ClusterCheck,
  type Emitter,
} from "../check.js";
import { at, obj, objs, str, strs } from "../fields.js";
import {
  gatewayServers,
  hasAnyCredential,
  istioGateways,
  istioK8sGateways,
  k8sListeners,
  nameOf,
  selectsEgress,
  terminatesTls,
  type GatewayServer,
  type K8sListener,
} from "../gateways.js";
import { K } from "../kinds.js";
import { refOf } from "../snapshot.js";
import type { KubeObject, Severity } from "../types.js";
import { GATEWAY_CAPACITY_CHECKS } from "./gateway-capacity.js";
import { GATEWAY_CREDENTIAL_CHECKS } from "./gateway-credentials.js";

const GATEWAY_INPUTS = [K.Gateway, K.K8sGateway];

const TLS_SERVER_MANIFEST = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: public
  namespace: istio-ingress
spec:
  selector:
    istio: ingressgateway
  servers:
    - port: {number: 443, name: https, protocol: HTTPS}
      hosts: [app.example.com]
      tls:
        mode: SIMPLE
        credentialName: app-example-com   # a Secret in the gateway pods' namespace
        minProtocolVersion: TLSV1_2`;

export const gatewayTlsMissing: ClusterCheck = {
  id: "gateway-tls-missing",
  threats: ["S-02"],
  severity: "high",
  scope: "cluster",
  title: "Gateway TLS server has no certificate",
  description:
    "Finds Gateway servers that terminate TLS (mode SIMPLE, MUTUAL or OPTIONAL_MUTUAL) without " +
    "any credential (credentialName, credentialNames or mounted serverCertificate/privateKey), " +
    "HTTPS or TLS servers without a tls block, and Gateway API HTTPS/TLS listeners that terminate " +
    "without certificateRefs. Such a listener cannot present the site's certificate, so clients " +
    "either fail or are trained to accept whatever the edge presents. PASSTHROUGH, " +
    "AUTO_PASSTHROUGH and ISTIO_MUTUAL servers need no credential and are not reported.",
  remediation: `Name the certificate secret on the server:\n${TLS_SERVER_MANIFEST}`,
  inputs: GATEWAY_INPUTS,
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    for (const gw of istioGateways(ctx)) {
      for (const server of gatewayServers(gw)) {
        const problem = missingTls(server);
        if (problem === undefined) continue;
        emit.finding(
          gw,
          `Gateway ${nameOf(gw)} ${server.where} ${problem}, so it cannot present the site's ` +
            `certificate to clients.`,
        );
      }
    }
    for (const gw of istioK8sGateways(ctx)) {
      for (const l of k8sListeners(gw)) {
        if (!terminatingListener(l) || objs(l.tls?.certificateRefs).length > 0) continue;
        emit.finding(
          gw,
          `Gateway ${nameOf(gw)} ${l.where} terminates ${l.protocol} without certificateRefs, ` +
            `so it cannot present the site's certificate to clients.`,
        );
      }
    }
  },
};

function missingTls(server: GatewayServer): string | undefined {
  const tlsProtocol = server.protocol === "HTTPS" || server.protocol === "TLS";
  if (tlsProtocol && !server.tls) return `is ${server.protocol} but has no tls settings`;
  if (terminatesTls(server) && !hasAnyCredential(server.tls)) {
    return `terminates TLS (mode ${server.mode ?? ""}) but names no credential or certificate files`;
  }
  return undefined;
}

function terminatingListener(l: K8sListener): boolean {
  return (l.protocol === "HTTPS" || l.protocol === "TLS") && l.mode === "Terminate";
}

const PLAINTEXT_PROTOCOLS = new Set(["HTTP", "HTTP2", "GRPC"]);
const ACME_PREFIX = "/.well-known/acme-challenge/";

export const gatewayPlaintextListener: ClusterCheck = {
  id: "gateway-plaintext-listener",
  threats: ["S-02"],
  severity: "medium",
  scope: "cluster",
  title: "Gateway serves plaintext HTTP without redirecting to HTTPS",
  description:
    "Finds ingress Gateway HTTP servers without tls.httpsRedirect: true, and Gateway API HTTP " +
    "listeners whose routes do not all redirect to https. Clients that reach the site over " +
    "plain HTTP can be served by anyone on the path, which defeats the certificate. Lowered to " +
    "low when the only routes bound to the server answer ACME HTTP-01 challenges " +
    "(/.well-known/acme-challenge/), which must be plaintext. Gateways selecting egress " +
    "gateways are skipped: their listeners face the mesh, not clients.",
  remediation:
    "Redirect plaintext requests to HTTPS:\nspec:\n  servers:\n    - port: {number: 80, name: http, " +
    "protocol: HTTP}\n      hosts: [app.example.com]\n      tls:\n        httpsRedirect: true\n" +
    "For Gateway API, attach an HTTPRoute to the HTTP listener with a RequestRedirect filter " +
    "(scheme: https, statusCode: 301).",
  inputs: [...GATEWAY_INPUTS, K.VirtualService, "gateway.networking.k8s.io/HTTPRoute"],
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    for (const gw of istioGateways(ctx)) istioPlaintext(ctx, gw, emit);
    for (const gw of istioK8sGateways(ctx)) k8sPlaintext(ctx, gw, emit);
  },
};

function istioPlaintext(ctx: CheckContext, gw: KubeObject, emit: Emitter): void {
  if (selectsEgress(gw)) return;
  for (const server of gatewayServers(gw)) {
    if (!PLAINTEXT_PROTOCOLS.has(server.protocol) || server.tls?.httpsRedirect === true) continue;
    const acme = acmeOnly(boundVirtualServices(ctx, gw).flatMap(httpRoutesOf));
    emit.finding(gw, plaintextMessage(`Gateway ${nameOf(gw)} ${server.where}`, acme), {
      severity: acme ? "low" : "medium",
    });
  }
}

function k8sPlaintext(ctx: CheckContext, gw: KubeObject, emit: Emitter): void {
  for (const l of k8sListeners(gw)) {
    if (l.protocol !== "HTTP") continue;
    const rules = attachedRoutes(ctx, gw, l).flatMap((r) => objs(at(r, "spec", "rules")));
    if (rules.length > 0 && rules.every(redirectsToHttps)) continue;
    const acme = acmeOnly(rules.map(k8sRuleAsRoute));
    emit.finding(gw, plaintextMessage(`Gateway ${nameOf(gw)} ${l.where}`, acme), {
      severity: acme ? "low" : "medium",
    });
  }
}

function plaintextMessage(subject: string, acme: boolean): string {
  if (acme) {
    return `${subject} serves plaintext HTTP only for ACME challenges, which HTTP-01 requires; nothing else should be added to it.`;
  }
  return `${subject} serves plaintext HTTP without redirecting to HTTPS, so clients can be served by anyone on the path.`;
}

/** VirtualServices in any namespace that bind to the Gateway (`ns/name`, or `name` beside it). */
function boundVirtualServices(ctx: CheckContext, gw: KubeObject): KubeObject[] {
  const gwNs = refOf(gw).namespace ?? "default";
  const name = gw.metadata.name ?? "";
  return ctx.snapshot.all(K.VirtualService).filter((vs) => {
    const vsNs = refOf(vs).namespace ?? "default";
    return strs(at(vs, "spec", "gateways")).some(
      (g) => g === `${gwNs}/${name}` || (g === name && vsNs === gwNs),
    );
  });
}

/** A route's URI matches, for the ACME test; a route with no match serves every path. */
interface UriRoute {
  uris: (string | undefined)[];
}

function httpRoutesOf(vs: KubeObject): UriRoute[] {
  const spec = obj(vs.spec) ?? {};
  // TCP and TLS routes serve more than challenges.
  const other = objs(spec.tcp).length + objs(spec.tls).length;
  const routes = objs(spec.http).map((r) => ({
    uris: objs(r.match).map((m) => str(at(m, "uri", "prefix")) ?? str(at(m, "uri", "exact"))),
  }));
  return other > 0 ? [...routes, { uris: [] }] : routes;
}

function k8sRuleAsRoute(rule: Record<string, unknown>): UriRoute {
  return { uris: objs(rule.matches).map((m) => str(at(m, "path", "value"))) };
}

function acmeOnly(routes: UriRoute[]): boolean {
  return (
    routes.length > 0 &&
    routes.every(
      (r) => r.uris.length > 0 && r.uris.every((u) => u?.startsWith(ACME_PREFIX) === true),
    )
  );
}

function attachedRoutes(ctx: CheckContext, gw: KubeObject, l: K8sListener): KubeObject[] {
  const gwNs = refOf(gw).namespace ?? "default";
  return ctx.snapshot.all("gateway.networking.k8s.io/HTTPRoute").filter((route) => {
    const routeNs = refOf(route).namespace ?? "default";
    return objs(at(route, "spec", "parentRefs")).some(
      (p) =>
        str(p.name) === gw.metadata.name &&
        (str(p.namespace) ?? routeNs) === gwNs &&
        (str(p.sectionName) === undefined || str(p.sectionName) === l.name),
    );
  });
}

function redirectsToHttps(rule: Record<string, unknown>): boolean {
  return objs(rule.filters).some(
    (f) => str(f.type) === "RequestRedirect" && str(at(f, "requestRedirect", "scheme")) === "https",
  );
}

const WEAK_VERSIONS = new Set(["TLSV1_0", "TLSV1_1"]);

export const gatewayWeakTls: ClusterCheck = {
  id: "gateway-weak-tls",
  threats: ["S-02"],
  severity: "high",
  scope: "cluster",
  title: "Gateway allows TLS below 1.2",
  description:
    "Finds Gateway servers that terminate TLS with minProtocolVersion (or maxProtocolVersion) " +
    "TLSV1_0 or TLSV1_1. These versions have known downgrade and cipher weaknesses, so a man in " +
    "the middle can weaken or read the edge connection. Istio's default (TLS_AUTO) already means " +
    "TLS 1.2 or newer for gateways.",
  remediation:
    "Set the minimum to TLS 1.2 or remove the field:\nspec:\n  servers:\n    - tls:\n" +
    "        mode: SIMPLE\n        credentialName: app-example-com\n        minProtocolVersion: TLSV1_2",
  inputs: [K.Gateway],
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    for (const gw of istioGateways(ctx)) {
      for (const server of gatewayServers(gw)) {
        if (!terminatesTls(server)) continue;
        const weak = ["minProtocolVersion", "maxProtocolVersion"].filter((field) =>
          WEAK_VERSIONS.has((str(server.tls?.[field]) ?? "").toUpperCase()),
        );
        if (weak.length === 0) continue;
        const detail = weak.map((f) => `${f} ${str(server.tls?.[f]) ?? ""}`).join(" and ");
        emit.finding(
          gw,
          `Gateway ${nameOf(gw)} ${server.where} accepts TLS below 1.2 (${detail}), so clients ` +
            `can be downgraded to a protocol with known weaknesses.`,
        );
      }
    }
  },
};

/** Severity of a wildcard server host: any namespace's routes, or only one namespace's. */
function wildcardSeverity(host: string): Severity | undefined {
  if (host === "*" || host === "*/*") return "medium";
  if (host.endsWith("/*")) return "low";
  return undefined;
}

function istioWildcards(gw: KubeObject, emit: Emitter): void {
  if (selectsEgress(gw)) return;
  for (const server of gatewayServers(gw)) {
    if (!terminatesTls(server)) continue;
    const wild = server.hosts.filter((h) => wildcardSeverity(h) !== undefined);
    if (wild.length === 0) continue;
    const severity = wild.some((h) => wildcardSeverity(h) === "medium") ? "medium" : "low";
    emit.finding(
      gw,
      `Gateway ${nameOf(gw)} ${server.where} terminates TLS for host ${wild.join(", ")}, so ` +
        `routes can publish any host name under its certificate.`,
      { severity },
    );
  }
}

function k8sWildcards(gw: KubeObject, emit: Emitter): void {
  for (const l of k8sListeners(gw)) {
    if (!terminatingListener(l) || l.hostname !== undefined) continue;
    emit.finding(
      gw,
      `Gateway ${nameOf(gw)} ${l.where} terminates TLS without a hostname, so routes can ` +
        `publish any host name under its certificate.`,
      { severity: l.routesFrom === "All" ? "medium" : "low" },
    );
  }
}

export const gatewayWildcardHost: ClusterCheck = {
  id: "gateway-wildcard-host",
  threats: ["S-02"],
  severity: "medium",
  scope: "cluster",
  title: "TLS-terminating gateway server accepts any host",
  description:
    "Finds TLS-terminating Gateway servers with hosts `*` or `*/*` (medium: a VirtualService in " +
    "any namespace can then publish any host name under this certificate), or `<ns>/*` (low: " +
    "one namespace can), and Gateway API TLS listeners without a hostname. A certificate for " +
    "every host is rarely intended: the server should name the hosts its certificate covers.",
  remediation:
    "List the hosts the certificate covers, optionally restricted to a namespace:\n" +
    "spec:\n  servers:\n    - hosts: [shop/app.example.com]\n      tls: {mode: SIMPLE, " +
    "credentialName: app-example-com}",
  inputs: GATEWAY_INPUTS,
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    for (const gw of istioGateways(ctx)) istioWildcards(gw, emit);
    for (const gw of istioK8sGateways(ctx)) k8sWildcards(gw, emit);
  },
};

export const GATEWAY_CHECKS: readonly Check[] = [
  gatewayTlsMissing,
  ...GATEWAY_CREDENTIAL_CHECKS,
  gatewayPlaintextListener,
  gatewayWeakTls,
  gatewayWildcardHost,
  ...GATEWAY_CAPACITY_CHECKS,
];
