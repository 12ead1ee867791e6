// The threat catalogue enforced by the product: the 17 STRIDE threats of the project's threat model.
// Likelihood and impact come from the model. Its risk summary leaves out S-03 and E-03 (Low
// likelihood, Critical impact); they are rated Critical like the other Low/Critical threats.

import type { Risk, ThreatId } from "./types.js";

export type StrideCategory =
  | "Spoofing"
  | "Tampering"
  | "Repudiation"
  | "InformationDisclosure"
  | "DenialOfService"
  | "ElevationOfPrivilege";

export type Level = "Low" | "Medium" | "High" | "Critical";

export interface Threat {
  id: ThreatId;
  title: string;
  category: StrideCategory;
  likelihood: Level;
  impact: Level;
  risk: Risk;
  description: string;
  mitigation: string;
}

export const THREATS: readonly Threat[] = [
  {
    id: "S-01",
    title: "Service identity spoofing",
    category: "Spoofing",
    likelihood: "Medium",
    impact: "Critical",
    risk: "Critical",
    description: "A rogue pod impersonates a legitimate service to intercept or inject traffic.",
    mitigation: "STRICT mTLS everywhere, so that only workloads with a mesh identity can connect.",
  },
  {
    id: "S-02",
    title: "Gateway certificate spoofing",
    category: "Spoofing",
    likelihood: "Low",
    impact: "High",
    risk: "High",
    description: "A fraudulent TLS certificate is presented at the ingress to intercept traffic.",
    mitigation: "TLS on every external listener with certificates managed by cert-manager.",
  },
  {
    id: "S-03",
    title: "Control plane impersonation",
    category: "Spoofing",
    likelihood: "Low",
    impact: "Critical",
    risk: "Critical",
    description: "An attacker impersonates istiod to push malicious configuration to proxies.",
    mitigation: "Restrict who may change istiod's namespace and read the mesh CA secret.",
  },
  {
    id: "T-01",
    title: "Man-in-the-middle on service traffic",
    category: "Tampering",
    likelihood: "Medium",
    impact: "Critical",
    risk: "Critical",
    description: "Traffic between services is intercepted and modified where mTLS is not enforced.",
    mitigation: "STRICT PeerAuthentication and verified TLS in every DestinationRule.",
  },
  {
    id: "T-02",
    title: "VirtualService / DestinationRule tampering",
    category: "Tampering",
    likelihood: "Medium",
    impact: "High",
    risk: "High",
    description:
      "Someone with cluster access rewrites routing to send traffic to a malicious endpoint.",
    mitigation: "Least-privilege RBAC on Istio APIs, the validation webhook, and GitOps.",
  },
  {
    id: "T-03",
    title: "Sidecar configuration injection",
    category: "Tampering",
    likelihood: "Low",
    impact: "Critical",
    risk: "Critical",
    description: "Envoy configuration is patched to bypass security controls or exfiltrate data.",
    mitigation: "Allow-list EnvoyFilters and Wasm extensions; alert on new ones.",
  },
  {
    id: "R-01",
    title: "Unattributed service calls",
    category: "Repudiation",
    likelihood: "Medium",
    impact: "Medium",
    risk: "Medium",
    description: "A compromised service makes calls that cannot be traced to their source.",
    mitigation: "Mesh-wide access logging with source and destination identities.",
  },
  {
    id: "R-02",
    title: "Configuration change without audit",
    category: "Repudiation",
    likelihood: "Medium",
    impact: "Medium",
    risk: "Medium",
    description: "Istio resources are changed with no audit trail.",
    mitigation: "API-server audit logging and GitOps for every Istio change.",
  },
  {
    id: "I-01",
    title: "Plaintext traffic interception",
    category: "InformationDisclosure",
    likelihood: "Medium",
    impact: "High",
    risk: "High",
    description: "PERMISSIVE or disabled mTLS lets traffic be read on the wire.",
    mitigation: "No PERMISSIVE or DISABLE PeerAuthentication; alert when one appears.",
  },
  {
    id: "I-02",
    title: "Envoy admin interface exposure",
    category: "InformationDisclosure",
    likelihood: "Medium",
    impact: "Medium",
    risk: "Medium",
    description: "Envoy's admin port (15000) exposes configuration and can dump secrets.",
    mitigation: "Nothing routes to port 15000; few subjects may port-forward or exec.",
  },
  {
    id: "I-03",
    title: "Certificate private key extraction",
    category: "InformationDisclosure",
    likelihood: "Low",
    impact: "High",
    risk: "Medium",
    description: "Someone with pod access extracts the workload key from the sidecar.",
    mitigation: "Pod Security Standards and read-only root filesystems.",
  },
  {
    id: "D-01",
    title: "Sidecar resource exhaustion",
    category: "DenialOfService",
    likelihood: "Medium",
    impact: "High",
    risk: "High",
    description: "A flood of requests overwhelms the sidecar and the application behind it.",
    mitigation: "Sidecar resource limits, connection pool limits and rate limits.",
  },
  {
    id: "D-02",
    title: "Control plane overload",
    category: "DenialOfService",
    likelihood: "Low",
    impact: "Critical",
    risk: "Critical",
    description: "Configuration churn or scale overwhelms istiod.",
    mitigation: "Several istiod replicas with resources set, and Sidecar scoping.",
  },
  {
    id: "D-03",
    title: "Gateway saturation",
    category: "DenialOfService",
    likelihood: "Medium",
    impact: "High",
    risk: "High",
    description: "External traffic overwhelms the ingress gateway.",
    mitigation: "Gateway autoscaling, resources and rate limits.",
  },
  {
    id: "E-01",
    title: "Sidecar container escape",
    category: "ElevationOfPrivilege",
    likelihood: "Low",
    impact: "Critical",
    risk: "Critical",
    description: "A proxy vulnerability is used to escape the sidecar container onto the node.",
    mitigation: "Minimal proxy privileges, seccomp, and an up-to-date Istio.",
  },
  {
    id: "E-02",
    title: "Unauthorized service access via missing AuthorizationPolicy",
    category: "ElevationOfPrivilege",
    likelihood: "High",
    impact: "High",
    risk: "High",
    description: "Without authorization policies any authenticated service can call any other.",
    mitigation: "Deny-by-default AuthorizationPolicy per namespace with explicit allows.",
  },
  {
    id: "E-03",
    title: "Namespace breakout via sidecar injection manipulation",
    category: "ElevationOfPrivilege",
    likelihood: "Low",
    impact: "Critical",
    risk: "Critical",
    description: "The injection webhook is changed to inject a compromised sidecar.",
    mitigation: "Protect the injector webhook with RBAC, integrity checks and change alerts.",
  },
];

export const THREAT_IDS: readonly ThreatId[] = THREATS.map((t) => t.id);

const byId = new Map(THREATS.map((t) => [t.id, t]));

export function isThreatId(value: string): value is ThreatId {
  return byId.has(value as ThreatId);
}

export function threatById(id: ThreatId): Threat {
  const threat = byId.get(id);
  if (!threat) throw new Error(`unknown threat id ${id}`);
  return threat;
}
