import { describe, it } from "node:test";
import {
  controlPlaneDebugExposed,
  envoyAdminExposed,
} from "../../../operator/engine/checks/exposure.js";
import { assertCheckCase, runCheck, type CheckCase } from "../../support/engine.js";

const doc = (...parts: string[]): string => parts.join("\n---\n");

const NS = `apiVersion: v1
kind: Namespace
metadata: {name: app, labels: {istio-injection: enabled}}`;

const POD = `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: app, annotations: {sidecar.istio.io/status: "{}"}}
spec: {containers: [{name: app}, {name: istio-proxy}]}`;

const ADMIN_BINDING = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: cluster-admins}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: Group, name: "system:masters", apiGroup: rbac.authorization.k8s.io}]`;

const CLUSTER_ADMIN = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cluster-admin}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]`;

function debugRole(resource: string, subject = "dev"): string {
  return `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: debug, namespace: app}
rules: [{apiGroups: [""], resources: [${resource}], verbs: [create]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: debug, namespace: app}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: debug}
subjects: [{kind: User, name: ${subject}, apiGroup: rbac.authorization.k8s.io}]`;
}

const ADMIN_FILTER = `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: admin, namespace: app}
spec:
  configPatches:
    - applyTo: CLUSTER
      patch:
        operation: ADD
        value:
          name: admin
          load_assignment:
            cluster_name: admin
            endpoints:
              - lb_endpoints:
                  - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 15000}}}`;

function istiod(env = "", args = ""): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, namespace: istio-system, labels: {app: istiod}}
spec:
  template:
    metadata: {labels: {app: istiod, istio: pilot}}
    spec:
      containers:
        - name: discovery
          image: docker.io/istio/pilot:1.30.1
          args: [discovery, --monitoringAddr=:15014${args}]
          env: [{name: REVISION, value: default}${env}]
          ports:
            - {containerPort: 8080, name: http-debug}
            - {containerPort: 15010, name: grpc-xds}
            - {containerPort: 15014, name: http-monitoring}`;
}

const HARDENED_ENV = ', {name: ENABLE_DEBUG_ON_HTTP, value: "false"}';
const HARDENED_ARGS = ', "--grpcAddr="';

function istiodService(type: string, ports: string): string {
  return `apiVersion: v1
kind: Service
metadata: {name: istiod-external, namespace: istio-system}
spec:
  type: ${type}
  selector: {app: istiod}
  ports: ${ports}`;
}

type Case = CheckCase;

const CASES: Case[] = [
  // envoy-admin-exposed
  {
    name: "reports a Service whose targetPort is the Envoy admin port",
    check: envoyAdminExposed,
    yaml: doc(
      NS,
      POD,
      CLUSTER_ADMIN,
      ADMIN_BINDING,
      "apiVersion: v1\nkind: Service\nmetadata: {name: admin, namespace: app}\nspec: {ports: [{port: 80, targetPort: 15000}]}",
    ),
    expect: ["Service app/admin"],
  },
  {
    name: "reports an EnvoyFilter cluster aimed at 127.0.0.1:15000 as high",
    check: envoyAdminExposed,
    yaml: doc(NS, POD, CLUSTER_ADMIN, ADMIN_BINDING, ADMIN_FILTER),
    expect: ["EnvoyFilter app/admin"],
    severities: ["high"],
  },
  {
    name: "reports an untrusted user who may port-forward to meshed pods",
    check: envoyAdminExposed,
    yaml: doc(NS, POD, CLUSTER_ADMIN, ADMIN_BINDING, debugRole("pods/portforward")),
    expect: ["RoleBinding app/debug"],
    message: /User dev portforward on meshed pods in app/,
  },
  {
    name: "reports exec rights granted through a pods/* wildcard",
    check: envoyAdminExposed,
    yaml: doc(NS, POD, CLUSTER_ADMIN, ADMIN_BINDING, debugRole('"pods/*"')),
    expect: ["RoleBinding app/debug"],
    message: /exec and portforward/,
  },
  {
    name: "passes cluster admins and the built-in system:kube-* users",
    check: envoyAdminExposed,
    yaml: doc(NS, POD, CLUSTER_ADMIN, ADMIN_BINDING, debugRole("pods/exec", "system:kube-ops")),
    expect: [],
  },
  {
    name: "says unknown when the input holds no RBAC bindings",
    check: envoyAdminExposed,
    yaml: doc(NS, POD),
    expect: [],
    unknown: /no RoleBindings or ClusterRoleBindings/,
  },
  // control-plane-debug-exposed
  {
    name: "reports the default in-cluster debug and plaintext xDS ports at low severity",
    check: controlPlaneDebugExposed,
    yaml: istiod(),
    expect: ["Deployment istio-system/istiod"],
    severities: ["low"],
    message: /8080.*15010/,
  },
  {
    name: "passes istiod with ENABLE_DEBUG_ON_HTTP=false and --grpcAddr empty",
    check: controlPlaneDebugExposed,
    yaml: istiod(HARDENED_ENV, HARDENED_ARGS),
    expect: [],
  },
  {
    name: "reads the --grpcAddr flag in its two-argument form",
    check: controlPlaneDebugExposed,
    yaml: istiod(HARDENED_ENV, ', --grpcAddr, ""'),
    expect: [],
  },
  {
    name: "reports debug endpoint authentication turned off as high",
    check: controlPlaneDebugExposed,
    yaml: istiod(
      `${HARDENED_ENV}, {name: ENABLE_DEBUG_ENDPOINT_AUTH, value: "False"}`,
      HARDENED_ARGS,
    ),
    expect: ["Deployment istio-system/istiod"],
    severities: ["high"],
    message: /ENABLE_DEBUG_ENDPOINT_AUTH=false/,
  },
  {
    name: "reports a LoadBalancer Service publishing istiod's monitoring port by name",
    check: controlPlaneDebugExposed,
    yaml: doc(
      istiod(HARDENED_ENV, HARDENED_ARGS),
      istiodService(
        "LoadBalancer",
        "[{port: 443, targetPort: 15017}, {port: 9000, targetPort: http-monitoring}]",
      ),
    ),
    expect: ["Service istio-system/istiod-external"],
    severities: ["high"],
    message: /15014 \(monitoring and debug\)/,
  },
  {
    name: "passes a ClusterIP Service on the same ports",
    check: controlPlaneDebugExposed,
    yaml: doc(istiod(HARDENED_ENV, HARDENED_ARGS), istiodService("ClusterIP", "[{port: 15010}]")),
    expect: [],
  },
  {
    name: "says unknown without an istiod Deployment",
    check: controlPlaneDebugExposed,
    yaml: NS,
    expect: [],
    unknown: /no istiod Deployment/,
  },
];

describe("exposure checks (I-02)", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const run = runCheck(c.check, c.yaml);
      assertCheckCase(c, run);
    });
  }
});
