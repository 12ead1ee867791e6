import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Check } from "../../../operator/engine/check.js";
import {
  gatewayPlaintextListener,
  gatewayTlsMissing,
  gatewayWeakTls,
  gatewayWildcardHost,
} from "../../../operator/engine/checks/gateway.js";
import {
  gatewayAutoscalingMissing,
  gatewayResourcesMissing,
} from "../../../operator/engine/checks/gateway-capacity.js";
import {
  certificateProblem,
  gatewayCertificateUnmanaged,
  gatewayCredentialMissing,
} from "../../../operator/engine/checks/gateway-credentials.js";
import type { Severity } from "../../../operator/engine/types.js";
import {
  NOW,
  objectsFromYaml,
  resources,
  runCheck,
  type RunOptions,
} from "../../support/engine.js";

const doc = (...parts: string[]): string => parts.join("\n---\n");

const RESOURCES = `          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {cpu: "2", memory: 1Gi}`;

function deployment(ns: string, name: string, labels: string, extra = RESOURCES): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}}
spec:
  replicas: 1
  selector: {matchLabels: {${labels}}}
  template:
    metadata:
      labels: {${labels}}
    spec:
      containers:
        - name: istio-proxy
          image: docker.io/istio/proxyv2:1.28.0
          args: [proxy, router]
${extra}`;
}

const INGRESS = deployment("istio-system", "istio-ingressgateway", "istio: ingressgateway");

function gateway(servers: string, ns = "istio-system", selector = "istio: ingressgateway"): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: ${ns}}
spec:
  selector: {${selector}}
  servers:
${servers}`;
}

function server(protocol: string, tls?: string, hosts = "[app.example.com]", port = 443): string {
  const block = tls === undefined ? "" : `\n      tls: {${tls}}`;
  return `    - port: {number: ${port}, name: p${port}, protocol: ${protocol}}
      hosts: ${hosts}${block}`;
}

const secret = (ns: string, name: string, annotations = "{}"): string => `apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: ${ns}, annotations: ${annotations}}
type: kubernetes.io/tls`;

function certificate(ns: string, secretName: string, status = ""): string {
  return `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: ${secretName}, namespace: ${ns}}
spec:
  secretName: ${secretName}
  dnsNames: [app.example.com]
  issuerRef: {kind: ClusterIssuer, name: letsencrypt}${status}`;
}

const hpa = (ns: string, target: string, max: number): string => `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: ${target}, namespace: ${ns}}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: ${target}}
  minReplicas: 1
  maxReplicas: ${max}`;

function k8sGateway(listeners: string, ns = "edge"): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: ${ns}}
spec:
  gatewayClassName: istio
  listeners:
${listeners}`;
}

const HTTPS_LISTENER = (refs: string, hostname = "\n      hostname: app.example.com"): string =>
  `    - name: https
      port: 443
      protocol: HTTPS${hostname}
      tls:
        mode: Terminate
        certificateRefs: ${refs}`;

const SIMPLE = "mode: SIMPLE, credentialName: app-cert";

interface Case {
  name: string;
  check: Check;
  yaml: string;
  expect: string[];
  message?: RegExp;
  severity?: Severity;
  unknown?: RegExp;
  options?: RunOptions;
}

const CLUSTER: RunOptions = { snapshot: { namespacesComplete: true }, assumeEnrolled: false };

const TLS_CASES: Case[] = [
  {
    name: "reports a SIMPLE server with no credential of any kind",
    check: gatewayTlsMissing,
    yaml: gateway(server("HTTPS", "mode: SIMPLE")),
    expect: ["Gateway istio-system/gw"],
    message: /port 443 \(p443\) terminates TLS \(mode SIMPLE\)/,
  },
  {
    name: "reports an HTTPS server without a tls block",
    check: gatewayTlsMissing,
    yaml: gateway(server("https")),
    expect: ["Gateway istio-system/gw"],
    message: /is HTTPS but has no tls settings/,
  },
  {
    name: "passes a SIMPLE server with a credentialName",
    check: gatewayTlsMissing,
    yaml: gateway(server("HTTPS", SIMPLE)),
    expect: [],
  },
  {
    name: "passes mounted certificate files instead of a credential",
    check: gatewayTlsMissing,
    yaml: gateway(
      server(
        "HTTPS",
        "mode: SIMPLE, serverCertificate: /etc/certs/tls.crt, privateKey: /etc/certs/tls.key",
      ),
    ),
    expect: [],
  },
  {
    name: "passes PASSTHROUGH, AUTO_PASSTHROUGH and ISTIO_MUTUAL servers, which need no credential",
    check: gatewayTlsMissing,
    yaml: gateway(
      [
        server("TLS", "mode: PASSTHROUGH", "[db.example.com]", 443),
        server("TLS", "mode: AUTO_PASSTHROUGH", '["*.local"]', 15443),
        server("HTTPS", "mode: ISTIO_MUTUAL", "[app.example.com]", 8443),
      ].join("\n"),
    ),
    expect: [],
  },
  {
    name: "reports a Gateway API HTTPS listener without certificateRefs",
    check: gatewayTlsMissing,
    yaml: k8sGateway(HTTPS_LISTENER("[]")),
    expect: ["Gateway edge/web"],
  },
  {
    name: "ignores Gateway API Gateways of another class",
    check: gatewayTlsMissing,
    yaml: k8sGateway(HTTPS_LISTENER("[]")).replace(
      "gatewayClassName: istio",
      "gatewayClassName: nginx",
    ),
    expect: [],
  },
  {
    name: "never throws on a server list of the wrong type",
    check: gatewayTlsMissing,
    yaml: "apiVersion: networking.istio.io/v1beta1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  servers: oops",
    expect: [],
  },
];

const CREDENTIAL_CASES: Case[] = [
  {
    name: "reports a credential absent in the gateway pods' namespace even when it sits beside the Gateway",
    check: gatewayCredentialMissing,
    yaml: doc(INGRESS, gateway(server("HTTPS", SIMPLE), "shop"), secret("shop", "app-cert")),
    expect: ["Gateway shop/gw"],
    message:
      /absent in namespace istio-system where Istio resolves it \(gateway Deployment istio-system\/istio-ingressgateway runs there\)/,
  },
  {
    name: "passes when the credential exists in the gateway pods' namespace",
    check: gatewayCredentialMissing,
    yaml: doc(
      INGRESS,
      gateway(server("HTTPS", SIMPLE), "shop"),
      secret("istio-system", "app-cert"),
    ),
    expect: [],
  },
  {
    name: "resolves the selector across namespaces and needs the credential in every matched one",
    check: gatewayCredentialMissing,
    yaml: doc(
      INGRESS,
      deployment("edge", "edge-gateway", "istio: ingressgateway"),
      gateway(server("HTTPS", SIMPLE)),
      secret("istio-system", "app-cert"),
    ),
    expect: ["Gateway istio-system/gw"],
    message: /absent in namespace edge/,
  },
  {
    name: "checks credentialNames, caCertCredentialName and kubernetes:// names",
    check: gatewayCredentialMissing,
    yaml: doc(
      INGRESS,
      gateway(
        server(
          "HTTPS",
          "mode: MUTUAL, credentialNames: [rsa-cert, 'kubernetes://ec-cert'], caCertCredentialName: client-ca",
        ),
      ),
      secret("istio-system", "rsa-cert"),
    ),
    expect: ["Gateway istio-system/gw", "Gateway istio-system/gw"],
  },
  {
    name: "does not require a -cacert companion for MUTUAL, as the CA may be in the main secret",
    check: gatewayCredentialMissing,
    yaml: doc(
      INGRESS,
      gateway(server("HTTPS", "mode: MUTUAL, credentialName: app-cert")),
      secret("istio-system", "app-cert"),
    ),
    expect: [],
  },
  {
    name: "ignores credentialName on a PASSTHROUGH server",
    check: gatewayCredentialMissing,
    yaml: doc(
      INGRESS,
      gateway(server("TLS", "mode: PASSTHROUGH, credentialName: unused")),
      secret("istio-system", "other"),
    ),
    expect: [],
  },
  {
    name: "reports Unknown in an offline scan without Secrets",
    check: gatewayCredentialMissing,
    yaml: doc(INGRESS, gateway(server("HTTPS", SIMPLE))),
    expect: [],
    unknown: /Secrets are not in the input/,
  },
  {
    name: "reports Unknown when Secrets could not be read",
    check: gatewayCredentialMissing,
    yaml: doc(INGRESS, gateway(server("HTTPS", SIMPLE))),
    expect: [],
    unknown: /Secret could not be read: forbidden/,
    options: {
      ...CLUSTER,
      snapshot: { namespacesComplete: true, unavailable: new Map([["/Secret", "forbidden"]]) },
    },
  },
  {
    name: "reports a missing secret in a cluster snapshot that holds no Secret at all",
    check: gatewayCredentialMissing,
    yaml: doc(INGRESS, gateway(server("HTTPS", SIMPLE))),
    expect: ["Gateway istio-system/gw"],
    options: CLUSTER,
  },
  {
    name: "reports Unknown offline when no workload the Gateway selects is in the input",
    check: gatewayCredentialMissing,
    yaml: doc(gateway(server("HTTPS", SIMPLE)), secret("istio-system", "app-cert")),
    expect: [],
    unknown: /selects are not in the input/,
  },
  {
    name: "reports a cross-namespace certificateRef without a ReferenceGrant",
    check: gatewayCredentialMissing,
    yaml: doc(
      k8sGateway(HTTPS_LISTENER("[{name: app-cert, namespace: certs}]")),
      secret("certs", "app-cert"),
    ),
    expect: ["Gateway edge/web"],
    message: /without a ReferenceGrant/,
  },
  {
    name: "passes a cross-namespace certificateRef that a ReferenceGrant permits",
    check: gatewayCredentialMissing,
    yaml: doc(
      k8sGateway(HTTPS_LISTENER("[{name: app-cert, namespace: certs}]")),
      secret("certs", "app-cert"),
      `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: edge-certs, namespace: certs}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: edge}]
  to: [{group: "", kind: Secret}]`,
    ),
    expect: [],
  },
  {
    name: "reports a same-namespace certificateRef whose Secret is absent",
    check: gatewayCredentialMissing,
    yaml: doc(k8sGateway(HTTPS_LISTENER("[{name: app-cert}]")), secret("edge", "other")),
    expect: ["Gateway edge/web"],
  },
];

const CERT_CASES: Case[] = [
  {
    name: "reports a credential that no cert-manager Certificate issues",
    check: gatewayCertificateUnmanaged,
    yaml: doc(INGRESS, gateway(server("HTTPS", SIMPLE)), secret("istio-system", "app-cert")),
    expect: ["Gateway istio-system/gw"],
    severity: "medium",
  },
  {
    name: "passes a credential issued by a Certificate in the gateway pods' namespace",
    check: gatewayCertificateUnmanaged,
    yaml: doc(
      INGRESS,
      gateway(server("HTTPS", SIMPLE), "shop"),
      certificate("istio-system", "app-cert"),
    ),
    expect: [],
  },
  {
    name: "does not count a Certificate in the Gateway's namespace when the pods run elsewhere",
    check: gatewayCertificateUnmanaged,
    yaml: doc(INGRESS, gateway(server("HTTPS", SIMPLE), "shop"), certificate("shop", "app-cert")),
    expect: ["Gateway shop/gw"],
  },
  {
    name: "passes a Secret annotated by cert-manager",
    check: gatewayCertificateUnmanaged,
    yaml: doc(
      INGRESS,
      gateway(server("HTTPS", SIMPLE)),
      secret("istio-system", "app-cert", "{cert-manager.io/certificate-name: app}"),
    ),
    expect: [],
  },
  {
    name: "reports a Certificate that is not Ready as high",
    check: gatewayCertificateUnmanaged,
    yaml: doc(
      INGRESS,
      gateway(server("HTTPS", SIMPLE)),
      certificate(
        "istio-system",
        "app-cert",
        "\nstatus:\n  conditions: [{type: Ready, status: 'False', reason: DoesNotExist}]",
      ),
    ),
    expect: ["Certificate istio-system/app-cert"],
    severity: "high",
    message: /is not Ready \(DoesNotExist\)/,
  },
  {
    name: "reports a Certificate expiring within 14 days as high",
    check: gatewayCertificateUnmanaged,
    yaml: doc(
      INGRESS,
      gateway(server("HTTPS", SIMPLE)),
      certificate(
        "istio-system",
        "app-cert",
        "\nstatus:\n  conditions: [{type: Ready, status: 'True'}]\n  notAfter: '2026-06-10T00:00:00Z'",
      ),
    ),
    expect: ["Certificate istio-system/app-cert"],
    severity: "high",
  },
  {
    name: "passes a Ready Certificate valid for months",
    check: gatewayCertificateUnmanaged,
    yaml: doc(
      INGRESS,
      gateway(server("HTTPS", SIMPLE)),
      certificate(
        "istio-system",
        "app-cert",
        "\nstatus:\n  conditions: [{type: Ready, status: 'True'}]\n  notAfter: '2026-09-01T00:00:00Z'",
      ),
    ),
    expect: [],
  },
];

const LISTENER_CASES: Case[] = [
  {
    name: "reports an HTTP server without httpsRedirect",
    check: gatewayPlaintextListener,
    yaml: gateway(server("HTTP", undefined, '["*"]', 80)),
    expect: ["Gateway istio-system/gw"],
    severity: "medium",
  },
  {
    name: "passes an HTTP server that redirects to HTTPS",
    check: gatewayPlaintextListener,
    yaml: gateway(server("HTTP", "httpsRedirect: true", "[app.example.com]", 80)),
    expect: [],
  },
  {
    name: "lowers to low an HTTP server whose only routes answer ACME challenges",
    check: gatewayPlaintextListener,
    yaml: doc(
      gateway(server("HTTP", undefined, '["*"]', 80)),
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: acme, namespace: cert-manager}
spec:
  hosts: ["*"]
  gateways: [istio-system/gw]
  http:
    - match: [{uri: {prefix: /.well-known/acme-challenge/}}]
      route: [{destination: {host: cm-solver}}]`,
    ),
    expect: ["Gateway istio-system/gw"],
    severity: "low",
  },
  {
    name: "skips Gateways that select egress gateways",
    check: gatewayPlaintextListener,
    yaml: gateway(
      server("HTTP", undefined, "[api.example.com]", 80),
      "istio-system",
      "istio: egressgateway",
    ),
    expect: [],
  },
  {
    name: "passes a Gateway API HTTP listener whose routes all redirect to https",
    check: gatewayPlaintextListener,
    yaml: doc(
      k8sGateway("    - {name: http, port: 80, protocol: HTTP}"),
      `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: redirect, namespace: edge}
spec:
  parentRefs: [{name: web, sectionName: http}]
  rules:
    - filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]`,
    ),
    expect: [],
  },
  {
    name: "reports a Gateway API HTTP listener with no redirecting route",
    check: gatewayPlaintextListener,
    yaml: k8sGateway("    - {name: http, port: 80, protocol: HTTP}"),
    expect: ["Gateway edge/web"],
  },
  {
    name: "reports minProtocolVersion TLSV1_1",
    check: gatewayWeakTls,
    yaml: gateway(server("HTTPS", `${SIMPLE}, minProtocolVersion: TLSV1_1`)),
    expect: ["Gateway istio-system/gw"],
    message: /minProtocolVersion TLSV1_1/,
  },
  {
    name: "passes minProtocolVersion TLSV1_2",
    check: gatewayWeakTls,
    yaml: gateway(server("HTTPS", `${SIMPLE}, minProtocolVersion: TLSV1_2`)),
    expect: [],
  },
  {
    name: "reports a wildcard host on a TLS-terminating server as medium",
    check: gatewayWildcardHost,
    yaml: gateway(server("HTTPS", SIMPLE, '["*"]')),
    expect: ["Gateway istio-system/gw"],
    severity: "medium",
  },
  {
    name: "reports a namespace-restricted wildcard as low",
    check: gatewayWildcardHost,
    yaml: gateway(server("HTTPS", SIMPLE, '["shop/*"]')),
    expect: ["Gateway istio-system/gw"],
    severity: "low",
  },
  {
    name: "passes a wildcard host on a PASSTHROUGH server and named hosts on a SIMPLE one",
    check: gatewayWildcardHost,
    yaml: gateway(
      [
        server("TLS", "mode: PASSTHROUGH", '["*"]', 443),
        server("HTTPS", SIMPLE, "[app.example.com]", 8443),
      ].join("\n"),
    ),
    expect: [],
  },
  {
    name: "reports a Gateway API TLS listener without a hostname",
    check: gatewayWildcardHost,
    yaml: k8sGateway(HTTPS_LISTENER("[{name: app-cert}]", "")),
    expect: ["Gateway edge/web"],
    severity: "low",
  },
];

const CAPACITY_CASES: Case[] = [
  {
    name: "reports an ingress gateway Deployment with no HPA",
    check: gatewayAutoscalingMissing,
    yaml: INGRESS,
    expect: ["Deployment istio-system/istio-ingressgateway"],
    severity: "high",
  },
  {
    name: "passes an ingress gateway with an HPA up to 5 replicas",
    check: gatewayAutoscalingMissing,
    yaml: doc(INGRESS, hpa("istio-system", "istio-ingressgateway", 5)),
    expect: [],
  },
  {
    name: "reports an HPA capped at one replica",
    check: gatewayAutoscalingMissing,
    yaml: doc(INGRESS, hpa("istio-system", "istio-ingressgateway", 1)),
    expect: ["HorizontalPodAutoscaler istio-system/istio-ingressgateway"],
  },
  {
    name: "finds a custom-labelled gateway through the Gateway that selects it in another namespace",
    check: gatewayAutoscalingMissing,
    yaml: doc(
      deployment("edge", "public-gw", "gw: public"),
      gateway(server("HTTP", "httpsRedirect: true", "[a.example.com]", 80), "shop", "gw: public"),
    ),
    expect: ["Deployment edge/public-gw"],
    message: /selected by Gateway shop\/gw/,
  },
  {
    name: "skips egress gateways",
    check: gatewayAutoscalingMissing,
    yaml: deployment("istio-system", "istio-egressgateway", "istio: egressgateway"),
    expect: [],
  },
  {
    name: "reports the Deployment Istio will generate for a Gateway API Gateway without an HPA",
    check: gatewayAutoscalingMissing,
    yaml: k8sGateway("    - {name: http, port: 80, protocol: HTTP}"),
    expect: ["Gateway edge/web"],
    message: /web-istio/,
  },
  {
    name: "passes a Gateway API Gateway whose generated Deployment has an HPA",
    check: gatewayAutoscalingMissing,
    yaml: doc(
      k8sGateway("    - {name: http, port: 80, protocol: HTTP}"),
      hpa("edge", "web-istio", 4),
    ),
    expect: [],
  },
  {
    name: "reports a gateway proxy without limits",
    check: gatewayResourcesMissing,
    yaml: deployment(
      "istio-system",
      "istio-ingressgateway",
      "istio: ingressgateway",
      "          resources:\n            requests: {cpu: 100m, memory: 128Mi}",
    ),
    expect: ["Deployment istio-system/istio-ingressgateway"],
    message: /limits\.cpu, limits\.memory/,
  },
  {
    name: "passes a gateway proxy with requests and limits",
    check: gatewayResourcesMissing,
    yaml: INGRESS,
    expect: [],
  },
  {
    name: "reports an image: auto gateway without resources when the injector template is not in the input",
    check: gatewayResourcesMissing,
    yaml: deployment("istio-ingress", "istio-ingress", "istio: ingress", "").replace(
      "docker.io/istio/proxyv2:1.28.0",
      "auto",
    ),
    expect: ["Deployment istio-ingress/istio-ingress"],
  },
  {
    name: "takes an image: auto gateway's resources from an injector template that sets them",
    check: gatewayResourcesMissing,
    yaml: doc(
      deployment("istio-ingress", "istio-ingress", "istio: ingress", "").replace(
        "docker.io/istio/proxyv2:1.28.0",
        "auto",
      ),
      `apiVersion: v1
kind: ConfigMap
metadata: {name: istio-sidecar-injector, namespace: istio-system}
data:
  values: '{"global":{"proxy":{"resources":{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"cpu":"2","memory":"1Gi"}}}}}'
  config: |
    templates:
      gateway: |
        spec:
          containers:
          - name: istio-proxy
            resources: {}
      sidecar: |
        spec: {}`,
    ),
    expect: [],
  },
];

function runCase(c: Case): void {
  const result = runCheck(c.check, c.yaml, c.options);
  assert.deepEqual(resources(result.findings), [...c.expect].sort());
  for (const f of result.findings) {
    assert.equal(f.check, c.check.id);
    if (c.message) assert.match(f.message, c.message);
    if (c.severity) assert.equal(f.severity, c.severity);
  }
  if (c.unknown) {
    assert.equal(result.unknown.length, 1, JSON.stringify(result.unknown));
    assert.match(result.unknown[0]?.reason ?? "", c.unknown);
  } else {
    assert.deepEqual(result.unknown, []);
  }
}

for (const [title, cases] of [
  ["gateway-tls-missing", TLS_CASES],
  ["gateway credentials", CREDENTIAL_CASES],
  ["gateway-certificate-unmanaged", CERT_CASES],
  ["gateway listeners, TLS versions and hosts", LISTENER_CASES],
  ["gateway capacity", CAPACITY_CASES],
] as const) {
  describe(title, () => {
    for (const c of cases) {
      it(c.name, () => {
        runCase(c);
      });
    }
  });
}

describe("certificateProblem", () => {
  it("does not judge a Certificate manifest without status", () => {
    const [cert] = objectsFromYaml(certificate("istio-system", "app-cert"));
    assert.ok(cert);
    assert.equal(certificateProblem(cert, NOW), undefined);
  });
});

describe("gateway capacity when the gateway workload is not in the input", () => {
  const gatewayOnly = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
    - port: {number: 80, name: http, protocol: HTTP}
      hosts: ["*"]
      tls: {httpsRedirect: true}
`;
  for (const check of [gatewayAutoscalingMissing, gatewayResourcesMissing]) {
    it(`${check.id} says Unknown offline instead of passing`, () => {
      const r = runCheck(check, gatewayOnly);
      assert.deepEqual(r.findings, []);
      assert.match(r.unknown[0]?.reason ?? "", /Gateway istio-system\/public are not in the input/);
    });

    it(`${check.id} judges nothing and claims nothing in a cluster where the Gateway selects no pod`, () => {
      const r = runCheck(check, gatewayOnly, { snapshot: { namespacesComplete: true } });
      assert.deepEqual([r.findings, r.unknown], [[], []]);
    });
  }
});
