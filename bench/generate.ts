// A deterministic synthetic mesh for the benchmarks: the same seed and sizes always give the same
// objects. The shapes follow what a real Istio install and `kubectl get -o yaml` produce (injected
// pods with their init containers, status annotations and security contexts), so that the checks
// walk the same fields, and roughly as many of them, as they would in a production cluster.

import type { KubeObject } from "../operator/engine/types.js";

export interface MeshSize {
  /** Application namespaces; istio-system and kube-system come on top. */
  namespaces: number;
  /** Application pods; the control plane's pods come on top. */
  pods: number;
  /** Istio policies in total, the mesh-wide ones in istio-system included. */
  policies: number;
  /** RBAC bindings in total (RoleBindings and ClusterRoleBindings); defaults to `namespaces`. */
  bindings?: number;
}

export interface GeneratedMesh {
  objects: KubeObject[];
  /** Object counts by kind, for the results. */
  counts: Record<string, number>;
  /** Application namespaces, in creation order. */
  namespaces: string[];
}

export type Progress = (done: number, total: number) => void;

type Flavour = "sidecar" | "native" | "revision" | "ambient" | "plain";

interface NamespacePlan {
  name: string;
  flavour: Flavour;
  apps: string[];
  pods: number;
  /** Set once a namespace-wide PeerAuthentication or Sidecar exists, so each stays unique. */
  hasNamespacePeerAuthn: boolean;
  hasDefaultSidecar: boolean;
}

const ROOT = "istio-system";
const PROXY_IMAGE = "docker.io/istio/proxyv2:1.28.1";
const CANARY_IMAGE = "docker.io/istio/proxyv2:1.29.0";
const TRUST_DOMAIN = "cluster.local";

/** mulberry32: small, fast and good enough to vary synthetic data reproducibly. */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Random {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = rng(seed);
  }

  float(): number {
    return this.next();
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  hex(length: number): string {
    let out = "";
    for (let i = 0; i < length; i++) out += "0123456789abcdef"[this.int(16)] ?? "0";
    return out;
  }

  uid(): string {
    return `${this.hex(8)}-${this.hex(4)}-${this.hex(4)}-${this.hex(4)}-${this.hex(12)}`;
  }
}

const APP_NAMES = [
  "api",
  "web",
  "cart",
  "checkout",
  "payments",
  "orders",
  "catalog",
  "search",
  "auth",
  "users",
  "ledger",
  "notify",
  "reports",
  "billing",
  "inventory",
  "shipping",
];

/** Builds the whole mesh. `progress` is called every few hundred namespaces. */
export function generateMesh(size: MeshSize, seed = 42, progress?: Progress): GeneratedMesh {
  const r = new Random(seed);
  const objects: KubeObject[] = [];
  const plans = planNamespaces(size, r);
  objects.push(...controlPlane(r));
  const total = plans.length;
  plans.forEach((plan, i) => {
    objects.push(...namespaceObjects(plan, i, r));
    if (progress && (i % 250 === 0 || i === total - 1)) progress(i + 1, total);
  });
  objects.push(...policies(plans, size.policies, r));
  // The platform objects draw from their own generator, so that adding them left the objects
  // above exactly as they were: figures of earlier runs stay comparable for those.
  objects.push(...platform(plans, size.bindings ?? size.namespaces, new Random(seed ^ 0x5eed)));
  for (const o of objects) addManagedFields(o);
  return { objects, counts: countKinds(objects), namespaces: plans.map((p) => p.name) };
}

function countKinds(objects: readonly KubeObject[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of objects) counts[o.kind] = (counts[o.kind] ?? 0) + 1;
  return counts;
}

// --- namespaces and workloads ---------------------------------------------------------------

function flavourOf(r: Random): Flavour {
  const x = r.float();
  if (x < 0.55) return "sidecar";
  if (x < 0.7) return "native";
  if (x < 0.8) return "revision";
  if (x < 0.9) return "ambient";
  return "plain";
}

/** Spreads the pods over the namespaces; every deployment runs two replicas (one the remainder). */
function planNamespaces(size: MeshSize, r: Random): NamespacePlan[] {
  const plans: NamespacePlan[] = [];
  const base = Math.floor(size.pods / Math.max(1, size.namespaces));
  const extra = size.pods - base * size.namespaces;
  for (let i = 0; i < size.namespaces; i++) {
    const pods = base + (i < extra ? 1 : 0);
    const apps: string[] = [];
    for (let a = 0; a < Math.ceil(pods / 2); a++) {
      apps.push(`${APP_NAMES[a % APP_NAMES.length] ?? "app"}${a >= APP_NAMES.length ? a : ""}`);
    }
    plans.push({
      name: `team-${String(i).padStart(5, "0")}`,
      flavour: flavourOf(r),
      apps,
      pods,
      hasNamespacePeerAuthn: false,
      hasDefaultSidecar: false,
    });
  }
  return plans;
}

function namespaceLabels(flavour: Flavour): Record<string, string> {
  const labels: Record<string, string> = {};
  if (flavour === "sidecar" || flavour === "native") labels["istio-injection"] = "enabled";
  if (flavour === "revision") labels["istio.io/rev"] = "canary";
  if (flavour === "ambient") labels["istio.io/dataplane-mode"] = "ambient";
  return labels;
}

function namespaceObject(name: string, labels: Record<string, string>, r: Random): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name,
      uid: r.uid(),
      creationTimestamp: "2026-03-02T09:14:51Z",
      labels: { "kubernetes.io/metadata.name": name, ...labels },
    },
    spec: { finalizers: ["kubernetes"] },
    status: { phase: "Active" },
  };
}

/**
 * Pod Security Admission labels, from the namespace's position so that the random sequence stays
 * as it was: ambient namespaces enforce `restricted` (no istio-init), most others `baseline`, some
 * `privileged`, a fifth none at all.
 */
function podSecurityLabels(flavour: Flavour, index: number): Record<string, string> {
  const level =
    flavour === "ambient"
      ? "restricted"
      : index % 10 < 5
        ? "baseline"
        : index % 10 < 8
          ? "privileged"
          : undefined;
  if (level === undefined) return {};
  return {
    "pod-security.kubernetes.io/enforce": level,
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
  };
}

function namespaceObjects(plan: NamespacePlan, index: number, r: Random): KubeObject[] {
  const labels = { ...namespaceLabels(plan.flavour), ...podSecurityLabels(plan.flavour, index) };
  const out: KubeObject[] = [namespaceObject(plan.name, labels, r)];
  plan.apps.forEach((app, i) => {
    // Odd pod counts: the last deployment runs one replica.
    const replicas = Math.min(2, plan.pods - i * 2);
    const hash = r.hex(10);
    out.push(serviceAccount(plan.name, app, r));
    out.push(deployment(plan.name, app, replicas, hash, r));
    out.push(service(plan.name, app, r));
    for (let k = 0; k < replicas; k++) out.push(pod(plan, app, hash, r));
  });
  return out;
}

function appLabels(app: string): Record<string, string> {
  return { app, version: "v1" };
}

function appContainer(app: string, r: Random): Record<string, unknown> {
  return {
    name: app,
    image: `registry.example.com/shop/${app}:1.${r.int(40)}.${r.int(10)}`,
    imagePullPolicy: "IfNotPresent",
    ports: [
      { name: "http", containerPort: 8080, protocol: "TCP" },
      { name: "grpc", containerPort: 9090, protocol: "TCP" },
    ],
    env: [
      { name: "LOG_LEVEL", value: "info" },
      {
        name: "POD_NAME",
        valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } },
      },
    ],
    resources: {
      requests: { cpu: "100m", memory: "128Mi" },
      limits: { cpu: "1", memory: "512Mi" },
    },
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 10001,
    },
    readinessProbe: {
      httpGet: { path: "/healthz", port: 8080, scheme: "HTTP" },
      periodSeconds: 10,
    },
    volumeMounts: [
      {
        name: "kube-api-access",
        mountPath: "/var/run/secrets/kubernetes.io/serviceaccount",
        readOnly: true,
      },
    ],
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "File",
  };
}

function serviceAccount(namespace: string, app: string, r: Random): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: app, namespace, uid: r.uid(), labels: { app } },
  };
}

function deployment(
  namespace: string,
  app: string,
  replicas: number,
  hash: string,
  r: Random,
): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: app,
      namespace,
      uid: r.uid(),
      generation: 3,
      labels: { app },
      annotations: { "deployment.kubernetes.io/revision": "3" },
    },
    spec: {
      replicas,
      revisionHistoryLimit: 10,
      selector: { matchLabels: { app } },
      strategy: {
        type: "RollingUpdate",
        rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" },
      },
      template: {
        metadata: {
          labels: appLabels(app),
          annotations: { "kubectl.kubernetes.io/restartedAt": "2026-03-02T09:20:00Z" },
        },
        spec: {
          serviceAccountName: app,
          containers: [appContainer(app, r)],
          securityContext: { fsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } },
          terminationGracePeriodSeconds: 30,
        },
      },
    },
    status: {
      observedGeneration: 3,
      replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
      updatedReplicas: replicas,
      podTemplateHash: hash,
    },
  };
}

function service(namespace: string, app: string, r: Random): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: app, namespace, uid: r.uid(), labels: { app } },
    spec: {
      type: "ClusterIP",
      clusterIP: `10.96.${r.int(256)}.${r.int(256)}`,
      selector: { app },
      ports: [
        { name: "http", port: 80, targetPort: 8080, protocol: "TCP" },
        { name: "grpc", port: 9090, targetPort: 9090, protocol: "TCP" },
      ],
    },
  };
}

function podMeta(
  plan: NamespacePlan,
  app: string,
  hash: string,
  r: Random,
): KubeObject["metadata"] {
  return {
    name: `${app}-${hash}-${r.hex(5)}`,
    namespace: plan.name,
    uid: r.uid(),
    creationTimestamp: "2026-03-02T09:20:14Z",
    labels: { ...appLabels(app), "pod-template-hash": hash },
    annotations: { "kubectl.kubernetes.io/default-container": app },
    ownerReferences: [
      {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        name: `${app}-${hash}`,
        uid: r.uid(),
      },
    ],
  };
}

function pod(plan: NamespacePlan, app: string, hash: string, r: Random): KubeObject {
  const metadata = podMeta(plan, app, hash, r);
  const spec: Record<string, unknown> = {
    serviceAccountName: app,
    nodeName: `node-${r.int(200)}`,
    containers: [appContainer(app, r)],
    securityContext: { fsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } },
    volumes: [{ name: "kube-api-access", projected: { sources: [{ serviceAccountToken: {} }] } }],
  };
  const injected = plan.flavour === "sidecar" || plan.flavour === "native";
  if (injected || plan.flavour === "revision") {
    inject(metadata, spec, plan.flavour, app);
  }
  if (plan.flavour === "ambient") {
    metadata.annotations = { ...metadata.annotations, "ambient.istio.io/redirection": "enabled" };
  }
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata,
    spec,
    status: {
      phase: "Running",
      podIP: `10.${r.int(256)}.${r.int(256)}.${r.int(256)}`,
      conditions: [{ type: "Ready", status: "True" }],
    },
  };
}

/** What the sidecar injector adds: labels, the status annotation, istio-init and istio-proxy. */
function inject(
  metadata: KubeObject["metadata"],
  spec: Record<string, unknown>,
  flavour: Flavour,
  app: string,
): void {
  const native = flavour === "native";
  const revision = flavour === "revision" ? "canary" : "default";
  metadata.labels = {
    ...metadata.labels,
    "security.istio.io/tlsMode": "istio",
    "service.istio.io/canonical-name": app,
    "service.istio.io/canonical-revision": "v1",
    ...(flavour === "revision" ? { "istio.io/rev": "canary" } : {}),
  };
  metadata.annotations = {
    ...metadata.annotations,
    "istio.io/rev": revision,
    "prometheus.io/path": "/stats/prometheus",
    "prometheus.io/port": "15020",
    "prometheus.io/scrape": "true",
    "sidecar.istio.io/status": JSON.stringify({
      initContainers: native ? ["istio-init", "istio-proxy"] : ["istio-init"],
      containers: native ? null : ["istio-proxy"],
      volumes: ["workload-socket", "credential-socket", "workload-certs", "istio-envoy"],
      imagePullSecrets: null,
      revision,
    }),
  };
  const proxy = proxyContainer(revision === "canary" ? CANARY_IMAGE : PROXY_IMAGE, native);
  const init = initContainer(revision === "canary" ? CANARY_IMAGE : PROXY_IMAGE);
  const containers = spec.containers as unknown[];
  spec.initContainers = native ? [init, proxy] : [init];
  if (!native) containers.push(proxy);
  (spec.volumes as unknown[]).push(
    { name: "workload-socket", emptyDir: {} },
    { name: "credential-socket", emptyDir: {} },
    { name: "workload-certs", emptyDir: {} },
    { name: "istio-envoy", emptyDir: { medium: "Memory" } },
    {
      name: "istio-token",
      projected: { sources: [{ serviceAccountToken: { path: "istio-token" } }] },
    },
  );
}

function initContainer(image: string): Record<string, unknown> {
  return {
    name: "istio-init",
    image,
    args: [
      "istio-iptables",
      "-p",
      "15001",
      "-z",
      "15006",
      "-u",
      "1337",
      "-m",
      "REDIRECT",
      "-i",
      "*",
      "-x",
      "",
      "-b",
      "*",
      "-d",
      "15090,15021,15020",
      "--log_output_level=default:info",
    ],
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] },
      privileged: false,
      readOnlyRootFilesystem: false,
      runAsGroup: 0,
      runAsNonRoot: false,
      runAsUser: 0,
    },
  };
}

function proxyContainer(image: string, native: boolean): Record<string, unknown> {
  const proxy: Record<string, unknown> = {
    name: "istio-proxy",
    image,
    args: ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local"],
    ports: [{ name: "http-envoy-prom", containerPort: 15090, protocol: "TCP" }],
    env: [
      { name: "PILOT_CERT_PROVIDER", value: "istiod" },
      { name: "CA_ADDR", value: "istiod.istio-system.svc:15012" },
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: "ISTIO_META_CLUSTER_ID", value: "Kubernetes" },
    ],
    readinessProbe: {
      httpGet: { path: "/healthz/ready", port: 15021 },
      periodSeconds: 15,
      failureThreshold: 4,
    },
    resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "2", memory: "1Gi" } },
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsGroup: 1337,
      runAsNonRoot: true,
      runAsUser: 1337,
    },
    volumeMounts: [
      { name: "workload-socket", mountPath: "/var/run/secrets/workload-spiffe-uds" },
      { name: "credential-socket", mountPath: "/var/run/secrets/credential-uds" },
      { name: "workload-certs", mountPath: "/var/run/secrets/workload-spiffe-credentials" },
      { name: "istio-envoy", mountPath: "/etc/istio/proxy" },
      { name: "istio-token", mountPath: "/var/run/secrets/tokens" },
    ],
  };
  if (native) proxy.restartPolicy = "Always";
  return proxy;
}

// --- control plane --------------------------------------------------------------------------

const MESH_CONFIG = `accessLogFile: /dev/stdout
defaultConfig:
  discoveryAddress: istiod.istio-system.svc:15012
  holdApplicationUntilProxyStarts: true
defaultProviders:
  metrics:
  - prometheus
enablePrometheusMerge: true
rootNamespace: istio-system
trustDomain: ${TRUST_DOMAIN}
`;

function controlPlane(r: Random): KubeObject[] {
  return [
    namespaceObject(ROOT, { "topology.istio.io/network": "network1" }, r),
    namespaceObject("kube-system", {}, r),
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "istio", namespace: ROOT, labels: { "istio.io/rev": "default" } },
      data: { mesh: MESH_CONFIG, meshNetworks: "networks: {}" },
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "istio-canary", namespace: ROOT, labels: { "istio.io/rev": "canary" } },
      data: { mesh: MESH_CONFIG, meshNetworks: "networks: {}" },
    },
    istiod("istiod", "default", "1.28.1", r),
    istiod("istiod-canary", "canary", "1.29.0", r),
    ...istiodPods(r),
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "istiod", namespace: ROOT, labels: { app: "istiod" } },
      spec: {
        selector: { app: "istiod", "istio.io/rev": "default" },
        ports: [
          { name: "grpc-xds", port: 15010 },
          { name: "https-dns", port: 15012 },
          { name: "https-webhook", port: 443, targetPort: 15017 },
        ],
      },
    },
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "istiod", namespace: ROOT },
    },
    injectorWebhook("istio-sidecar-injector", "default", "istiod"),
    injectorWebhook("istio-sidecar-injector-canary", "canary", "istiod-canary"),
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: { name: "istio-validator-istio-system", labels: { "istio.io/rev": "default" } },
      webhooks: [
        {
          name: "rev.validation.istio.io",
          clientConfig: { service: { name: "istiod", namespace: ROOT, path: "/validate" } },
          failurePolicy: "Ignore",
          sideEffects: "None",
          admissionReviewVersions: ["v1"],
        },
      ],
    },
    ...rbac(),
  ];
}

function istiod(name: string, revision: string, version: string, r: Random): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name,
      namespace: ROOT,
      uid: r.uid(),
      labels: { app: "istiod", "istio.io/rev": revision, istio: "pilot" },
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "istiod", "istio.io/rev": revision } },
      template: {
        metadata: {
          labels: { app: "istiod", "istio.io/rev": revision, "sidecar.istio.io/inject": "false" },
        },
        spec: {
          serviceAccountName: "istiod",
          containers: [
            {
              name: "discovery",
              image: `docker.io/istio/pilot:${version}`,
              args: ["discovery", "--monitoringAddr=:15014", "--log_output_level=default:info"],
              ports: [
                { containerPort: 8080, protocol: "TCP" },
                { containerPort: 15010, protocol: "TCP" },
                { containerPort: 15017, protocol: "TCP" },
              ],
              env: [
                { name: "REVISION", value: revision },
                { name: "PILOT_ENABLE_ANALYSIS", value: "false" },
              ],
              securityContext: {
                allowPrivilegeEscalation: false,
                capabilities: { drop: ["ALL"] },
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
              },
            },
          ],
        },
      },
    },
    status: { replicas: 1, readyReplicas: 1, availableReplicas: 1 },
  };
}

function istiodPods(r: Random): KubeObject[] {
  return ["default", "canary"].map((revision) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `istiod-${revision === "default" ? "" : "canary-"}${r.hex(10)}-${r.hex(5)}`,
      namespace: ROOT,
      uid: r.uid(),
      labels: { app: "istiod", "istio.io/rev": revision, "sidecar.istio.io/inject": "false" },
      ownerReferences: [
        { apiVersion: "apps/v1", kind: "ReplicaSet", name: "istiod", uid: r.uid() },
      ],
    },
    spec: {
      serviceAccountName: "istiod",
      containers: [
        {
          name: "discovery",
          image: `docker.io/istio/pilot:${revision === "default" ? "1.28.1" : "1.29.0"}`,
          securityContext: { runAsNonRoot: true, capabilities: { drop: ["ALL"] } },
        },
      ],
    },
    status: { phase: "Running" },
  }));
}

function injectorWebhook(name: string, revision: string, serviceName: string): KubeObject {
  const hook = (hookName: string, selector: Record<string, unknown>): Record<string, unknown> => ({
    name: hookName,
    clientConfig: {
      service: { name: serviceName, namespace: ROOT, path: "/inject", port: 443 },
      caBundle: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUMvVENDQWVXZ0F3SUJBZ0lSQU==",
    },
    namespaceSelector: selector,
    objectSelector: {
      matchExpressions: [{ key: "sidecar.istio.io/inject", operator: "NotIn", values: ["false"] }],
    },
    rules: [
      {
        apiGroups: [""],
        apiVersions: ["v1"],
        operations: ["CREATE"],
        resources: ["pods"],
        scope: "*",
      },
    ],
    failurePolicy: "Fail",
    reinvocationPolicy: "Never",
    sideEffects: "None",
    admissionReviewVersions: ["v1beta1", "v1"],
    timeoutSeconds: 10,
  });
  const byRevision =
    revision === "default"
      ? { matchExpressions: [{ key: "istio-injection", operator: "In", values: ["enabled"] }] }
      : {
          matchExpressions: [
            { key: "istio.io/rev", operator: "In", values: [revision] },
            { key: "istio-injection", operator: "DoesNotExist" },
          ],
        };
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name, labels: { app: "sidecar-injector", "istio.io/rev": revision } },
    webhooks: [hook(`rev.namespace.sidecar-injector.istio.io`, byRevision)],
  };
}

function clusterRole(name: string, rules: Record<string, unknown>[]): KubeObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name, labels: { app: name.startsWith("istio") ? "istiod" : "platform" } },
    rules,
  };
}

function binding(name: string, role: string, subject: Record<string, unknown>): KubeObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
    subjects: [subject],
  };
}

function rbac(): KubeObject[] {
  const istioGroups = ["networking.istio.io", "security.istio.io", "extensions.istio.io"];
  const istiodSa = { kind: "ServiceAccount", name: "istiod", namespace: ROOT };
  return [
    clusterRole("istiod-clusterrole-istio-system", [
      { apiGroups: istioGroups, resources: ["*"], verbs: ["get", "watch", "list"] },
      {
        apiGroups: ["admissionregistration.k8s.io"],
        resources: ["mutatingwebhookconfigurations"],
        verbs: ["get", "list", "watch", "update", "patch"],
      },
      {
        apiGroups: [""],
        resources: ["pods", "nodes", "services"],
        verbs: ["get", "list", "watch"],
      },
    ]),
    clusterRole("istio-reader-clusterrole-istio-system", [
      { apiGroups: istioGroups, resources: ["*"], verbs: ["get", "list", "watch"] },
    ]),
    clusterRole("mesh-config-editor", [{ apiGroups: istioGroups, resources: ["*"], verbs: ["*"] }]),
    clusterRole("platform-admin", [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }]),
    binding("istiod-clusterrole-istio-system", "istiod-clusterrole-istio-system", istiodSa),
    binding("istio-reader-clusterrole-istio-system", "istio-reader-clusterrole-istio-system", {
      kind: "ServiceAccount",
      name: "istio-reader-service-account",
      namespace: ROOT,
    }),
    binding("mesh-config-editors", "mesh-config-editor", {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Group",
      name: "mesh-operators",
    }),
    binding("platform-admins", "platform-admin", {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Group",
      name: "platform-team",
    }),
  ];
}

// --- Istio policies -------------------------------------------------------------------------

type PolicyMaker = (plan: NamespacePlan, index: number, r: Random) => KubeObject;

/** Relative frequencies, roughly what a large platform team's clusters hold. */
const POLICY_MIX: readonly [number, PolicyMaker][] = [
  [0.4, authorizationPolicy],
  [0.15, peerAuthentication],
  [0.25, destinationRule],
  [0.12, sidecar],
  [0.03, envoyFilter],
  [0.05, requestAuthentication],
];

function rootPolicies(): KubeObject[] {
  return [
    {
      apiVersion: "security.istio.io/v1",
      kind: "PeerAuthentication",
      metadata: { name: "default", namespace: ROOT },
      spec: { mtls: { mode: "STRICT" } },
    },
    {
      apiVersion: "networking.istio.io/v1alpha3",
      kind: "EnvoyFilter",
      metadata: { name: "stats-tags", namespace: ROOT },
      spec: {
        configPatches: [
          {
            applyTo: "HTTP_FILTER",
            match: { context: "SIDECAR_INBOUND", listener: { filterChain: { filter: {} } } },
            patch: { operation: "MERGE", value: { name: "istio.stats" } },
          },
        ],
      },
    },
  ];
}

function policies(plans: NamespacePlan[], total: number, r: Random): KubeObject[] {
  const out = rootPolicies().slice(0, total);
  const meshed = plans.filter((p) => p.flavour !== "plain");
  const candidates = meshed.length > 0 ? meshed : plans;
  if (candidates.length === 0) return out;
  for (let i = out.length; i < total; i++) {
    // Mostly meshed namespaces; a few policies sit where nothing enforces them.
    const plan = r.chance(0.97) ? r.pick(candidates) : r.pick(plans);
    out.push(pickMaker(r)(plan, i, r));
  }
  return out;
}

function pickMaker(r: Random): PolicyMaker {
  let x = r.float();
  for (const [weight, make] of POLICY_MIX) {
    if (x < weight) return make;
    x -= weight;
  }
  return authorizationPolicy;
}

function meta(kind: string, plan: NamespacePlan, index: number): KubeObject["metadata"] {
  return { name: `${kind}-${index}`, namespace: plan.name, generation: 1 };
}

function principal(plan: NamespacePlan, r: Random): string {
  return `${TRUST_DOMAIN}/ns/${plan.name}/sa/${r.pick(plan.apps.length > 0 ? plan.apps : ["default"])}`;
}

function authorizationPolicy(plan: NamespacePlan, index: number, r: Random): KubeObject {
  const metadata = meta("authz", plan, index);
  const x = r.float();
  const policy: KubeObject = {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata,
  };
  if (x < 0.2) {
    metadata.name = `deny-all-${index}`;
    policy.spec = {};
    return policy;
  }
  const app = r.pick(plan.apps.length > 0 ? plan.apps : ["api"]);
  if (x < 0.3) {
    metadata.annotations = { "istio.io/dry-run": "true" };
  }
  if (x > 0.9) {
    policy.spec = {
      selector: { matchLabels: { app } },
      action: "DENY",
      rules: [{ to: [{ operation: { paths: ["/admin/*", "/debug/*"] } }] }],
    };
    return policy;
  }
  policy.spec = {
    selector: { matchLabels: { app } },
    action: "ALLOW",
    rules: [
      {
        from: [{ source: { principals: [principal(plan, r), principal(plan, r)] } }],
        to: [{ operation: { methods: ["GET", "POST"], paths: ["/api/*", "/healthz"] } }],
      },
      {
        from: [{ source: { namespaces: [ROOT] } }],
        to: [{ operation: { ports: ["9090"] } }],
      },
    ],
  };
  return policy;
}

function peerAuthentication(plan: NamespacePlan, index: number, r: Random): KubeObject {
  const policy: KubeObject = {
    apiVersion: r.chance(0.8) ? "security.istio.io/v1" : "security.istio.io/v1beta1",
    kind: "PeerAuthentication",
    metadata: meta("peer", plan, index),
  };
  if (!plan.hasNamespacePeerAuthn) {
    plan.hasNamespacePeerAuthn = true;
    policy.metadata.name = "default";
    policy.spec = { mtls: { mode: r.chance(0.5) ? "PERMISSIVE" : "STRICT" } };
    return policy;
  }
  const app = r.pick(plan.apps.length > 0 ? plan.apps : ["api"]);
  policy.spec = {
    selector: { matchLabels: { app } },
    mtls: { mode: "STRICT" },
    portLevelMtls: { "9090": { mode: r.chance(0.5) ? "PERMISSIVE" : "DISABLE" } },
  };
  return policy;
}

function destinationRule(plan: NamespacePlan, index: number, r: Random): KubeObject {
  const app = r.pick(plan.apps.length > 0 ? plan.apps : ["api"]);
  const x = r.float();
  const trafficPolicy: Record<string, unknown> =
    x < 0.5
      ? {
          loadBalancer: { simple: "LEAST_REQUEST" },
          connectionPool: { http: { maxRequestsPerConnection: 10 } },
        }
      : x < 0.9
        ? {
            tls: { mode: "ISTIO_MUTUAL" },
            outlierDetection: { consecutive5xxErrors: 5, interval: "30s" },
          }
        : { tls: { mode: "DISABLE" } };
  return {
    apiVersion: r.chance(0.5) ? "networking.istio.io/v1" : "networking.istio.io/v1beta1",
    kind: "DestinationRule",
    metadata: meta("dr", plan, index),
    spec: {
      host: `${app}.${plan.name}.svc.cluster.local`,
      trafficPolicy,
      subsets: [{ name: "v1", labels: { version: "v1" } }],
    },
  };
}

function sidecar(plan: NamespacePlan, index: number, r: Random): KubeObject {
  const policy: KubeObject = {
    apiVersion: "networking.istio.io/v1",
    kind: "Sidecar",
    metadata: meta("sidecar", plan, index),
  };
  if (!plan.hasDefaultSidecar) {
    plan.hasDefaultSidecar = true;
    policy.metadata.name = "default";
    policy.spec = {
      egress: [{ hosts: ["./*", `${ROOT}/*`] }],
      outboundTrafficPolicy: { mode: r.chance(0.7) ? "REGISTRY_ONLY" : "ALLOW_ANY" },
    };
    return policy;
  }
  const app = r.pick(plan.apps.length > 0 ? plan.apps : ["api"]);
  policy.spec = {
    workloadSelector: { labels: { app } },
    ingress: [
      { port: { number: 8080, protocol: "HTTP", name: "http" }, defaultEndpoint: "127.0.0.1:8080" },
    ],
    egress: [{ hosts: ["./*"] }],
  };
  return policy;
}

function envoyFilter(plan: NamespacePlan, index: number, r: Random): KubeObject {
  const app = r.pick(plan.apps.length > 0 ? plan.apps : ["api"]);
  return {
    apiVersion: "networking.istio.io/v1alpha3",
    kind: "EnvoyFilter",
    metadata: meta("ef", plan, index),
    spec: {
      workloadSelector: { labels: { app } },
      configPatches: [
        {
          applyTo: "HTTP_FILTER",
          match: {
            context: "SIDECAR_INBOUND",
            listener: {
              filterChain: {
                filter: {
                  name: "envoy.filters.network.http_connection_manager",
                  subFilter: { name: "envoy.filters.http.router" },
                },
              },
            },
          },
          patch: {
            operation: "INSERT_BEFORE",
            value: {
              name: "envoy.filters.http.lua",
              typed_config: {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
                inlineCode: "function envoy_on_request(h) h:headers():add('x-team', 'a') end",
              },
            },
          },
        },
      ],
    },
  };
}

function requestAuthentication(plan: NamespacePlan, index: number, r: Random): KubeObject {
  const app = r.pick(plan.apps.length > 0 ? plan.apps : ["api"]);
  return {
    apiVersion: "security.istio.io/v1",
    kind: "RequestAuthentication",
    metadata: meta("jwt", plan, index),
    spec: {
      selector: { matchLabels: { app } },
      jwtRules: [
        {
          issuer: "https://login.example.com",
          jwksUri: "https://login.example.com/.well-known/jwks.json",
        },
      ],
    },
  };
}

// --- platform: RBAC, gateways, certificates, telemetry, injector values ----------------------

const RBAC_API = "rbac.authorization.k8s.io/v1";
const RBAC_GROUP = "rbac.authorization.k8s.io";
const ISTIO_GROUPS = ["networking.istio.io", "security.istio.io", "telemetry.istio.io"];
const READ = ["get", "list", "watch"];
const WRITE = ["create", "delete", "deletecollection", "patch", "update"];

/** Everything a platform team adds around the mesh, in a fixed order. */
function platform(plans: readonly NamespacePlan[], bindings: number, r: Random): KubeObject[] {
  return [
    ...injectorConfigMaps(),
    defaultValidator(),
    ...telemetries(plans),
    ...ingressGateways(plans, r),
    ...platformRbac(plans, bindings, r),
  ];
}

function configMap(name: string, data: Record<string, string>, revision: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: ROOT, labels: { "istio.io/rev": revision, release: "istiod" } },
    data,
  };
}

/** The injector's ConfigMaps: `values` is JSON, as Helm renders it; `config` holds the templates. */
function injectorConfigMaps(): KubeObject[] {
  const values = (revision: string, tag: string): string =>
    JSON.stringify({
      global: {
        hub: "docker.io/istio",
        tag,
        imagePullPolicy: "IfNotPresent",
        logging: { level: "default:info" },
        proxy: {
          image: "proxyv2",
          privileged: false,
          holdApplicationUntilProxyStarts: true,
          resources: {
            requests: { cpu: "100m", memory: "128Mi" },
            limits: { cpu: "2000m", memory: "1024Mi" },
          },
          readinessFailureThreshold: 4,
          statusPort: 15020,
        },
        proxy_init: { image: "proxyv2" },
      },
      revision: revision === "default" ? "" : revision,
      sidecarInjectorWebhook: { rewriteAppHTTPProbe: true, defaultTemplates: [] },
    });
  const config = "defaultTemplates: [sidecar]\npolicy: enabled\nalwaysInjectSelector: []\n";
  return [
    configMap("istio-sidecar-injector", { values: values("default", "1.28.1"), config }, "default"),
    configMap(
      "istio-sidecar-injector-canary",
      { values: values("canary", "1.29.0"), config },
      "canary",
    ),
  ];
}

function defaultValidator(): KubeObject {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: {
      name: "istiod-default-validator",
      labels: { app: "istiod", "istio.io/rev": "default", "istio.io/tag": "default" },
    },
    webhooks: [
      {
        name: "validation.istio.io",
        clientConfig: { service: { name: "istiod", namespace: ROOT, path: "/validate" } },
        rules: [
          {
            apiGroups: ["security.istio.io", "networking.istio.io", "telemetry.istio.io"],
            apiVersions: ["*"],
            operations: ["CREATE", "UPDATE"],
            resources: ["*"],
          },
        ],
        failurePolicy: "Fail",
        sideEffects: "None",
        admissionReviewVersions: ["v1"],
      },
    ],
  };
}

/** The mesh-wide access-log Telemetry, and one in every hundredth namespace (some turning it off). */
function telemetries(plans: readonly NamespacePlan[]): KubeObject[] {
  const out: KubeObject[] = [
    {
      apiVersion: "telemetry.istio.io/v1",
      kind: "Telemetry",
      metadata: { name: "mesh-default", namespace: ROOT, generation: 1 },
      spec: { accessLogging: [{ providers: [{ name: "envoy" }] }] },
    },
  ];
  plans.forEach((plan, i) => {
    if (i % 100 !== 50) return;
    out.push({
      apiVersion: "telemetry.istio.io/v1",
      kind: "Telemetry",
      metadata: { name: "logging", namespace: plan.name, generation: 1 },
      spec: {
        accessLogging: [{ providers: [{ name: "envoy" }], disabled: i % 300 === 50 }],
        tracing: [{ randomSamplingPercentage: 1 }],
      },
    });
  });
  return out;
}

// --- gateways ---

interface GatewayWorkload {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  replicas: number;
  serviceType: "LoadBalancer" | "ClusterIP";
}

const INGRESS: GatewayWorkload = {
  name: "istio-ingressgateway",
  namespace: ROOT,
  labels: { app: "istio-ingressgateway", istio: "ingressgateway" },
  replicas: 3,
  serviceType: "LoadBalancer",
};

const EGRESS: GatewayWorkload = {
  name: "istio-egressgateway",
  namespace: ROOT,
  labels: { app: "istio-egressgateway", istio: "egressgateway" },
  replicas: 2,
  serviceType: "ClusterIP",
};

function teamGateway(plan: NamespacePlan): GatewayWorkload {
  return {
    name: `${plan.name}-gateway`,
    namespace: plan.name,
    labels: { app: `${plan.name}-gateway`, istio: `${plan.name}-gateway` },
    replicas: 2,
    serviceType: "LoadBalancer",
  };
}

/**
 * The shared ingress and egress gateways in istio-system, a dedicated gateway in every 250th
 * application namespace, Istio Gateway objects in every 25th one, their credentials as Secret
 * metadata (no data, as the operator's cache keeps them) and cert-manager Certificates.
 */
function ingressGateways(plans: readonly NamespacePlan[], r: Random): KubeObject[] {
  const out: KubeObject[] = [
    ...gatewayWorkload(INGRESS, r),
    ...gatewayWorkload(EGRESS, r),
    ...credential(ROOT, "wildcard-example-com", 0),
    publicGateway(),
    egressGateway(),
  ];
  plans.forEach((plan, i) => {
    if (i % 250 === 125) {
      const gw = teamGateway(plan);
      out.push(...gatewayWorkload(gw, r), ...credential(plan.name, `${plan.name}-mtls`, i));
      out.push(teamMutualGateway(plan, gw));
    }
    if (i % 25 !== 0) return;
    // Every twentieth of these names a credential that does not exist (yet).
    const secret = `${plan.name}-cert`;
    if (i % 500 !== 0) out.push(...credential(ROOT, secret, i));
    out.push(sharedIngressGateway(plan, secret, i));
  });
  return out;
}

function gatewayWorkload(gw: GatewayWorkload, r: Random): KubeObject[] {
  const meta = (): KubeObject["metadata"] => ({
    name: gw.name,
    namespace: gw.namespace,
    labels: { ...gw.labels },
  });
  const hash = r.hex(10);
  const pods: KubeObject[] = [];
  for (let k = 0; k < gw.replicas; k++) {
    pods.push({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: `${gw.name}-${hash}-${r.hex(5)}`,
        namespace: gw.namespace,
        uid: r.uid(),
        labels: { ...gw.labels, "pod-template-hash": hash, "sidecar.istio.io/inject": "false" },
        annotations: { "inject.istio.io/templates": "gateway", "istio.io/rev": "default" },
        ownerReferences: [
          { apiVersion: "apps/v1", kind: "ReplicaSet", name: `${gw.name}-${hash}`, uid: r.uid() },
        ],
      },
      spec: gatewayPodSpec(gw),
      status: { phase: "Running", podIP: `10.${r.int(256)}.${r.int(256)}.${r.int(256)}` },
    });
  }
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta() },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { ...meta(), uid: r.uid(), generation: 2 },
      spec: {
        replicas: gw.replicas,
        selector: { matchLabels: gw.labels },
        template: {
          metadata: {
            labels: { ...gw.labels, "sidecar.istio.io/inject": "false" },
            annotations: { "inject.istio.io/templates": "gateway" },
          },
          spec: gatewayPodSpec(gw),
        },
      },
      status: { replicas: gw.replicas, readyReplicas: gw.replicas },
    },
    ...pods,
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta(),
      spec: {
        type: gw.serviceType,
        selector: gw.labels,
        ports: [
          { name: "status-port", port: 15021, targetPort: 15021, protocol: "TCP" },
          { name: "http2", port: 80, targetPort: 8080, protocol: "TCP" },
          { name: "https", port: 443, targetPort: 8443, protocol: "TCP" },
        ],
      },
    },
    {
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: meta(),
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: gw.name },
        minReplicas: gw.replicas,
        maxReplicas: gw.replicas * 4,
        metrics: [
          {
            type: "Resource",
            resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } },
          },
        ],
      },
    },
    {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: meta(),
      spec: { minAvailable: 1, selector: { matchLabels: gw.labels } },
    },
  ];
}

function gatewayPodSpec(gw: GatewayWorkload): Record<string, unknown> {
  return {
    serviceAccountName: gw.name,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 1337,
      runAsGroup: 1337,
      fsGroup: 1337,
      seccompProfile: { type: "RuntimeDefault" },
      sysctls: [{ name: "net.ipv4.ip_unprivileged_port_start", value: "0" }],
    },
    containers: [
      {
        name: "istio-proxy",
        image: PROXY_IMAGE,
        args: ["proxy", "router", "--domain", "$(POD_NAMESPACE).svc.cluster.local"],
        ports: [
          { containerPort: 15021, protocol: "TCP" },
          { containerPort: 8080, protocol: "TCP" },
          { containerPort: 8443, protocol: "TCP" },
          { name: "http-envoy-prom", containerPort: 15090, protocol: "TCP" },
        ],
        resources: {
          requests: { cpu: "100m", memory: "128Mi" },
          limits: { cpu: "2", memory: "1Gi" },
        },
        securityContext: {
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"] },
          privileged: false,
          readOnlyRootFilesystem: true,
        },
      },
    ],
  };
}

/** A TLS Secret (metadata only) and the cert-manager Certificate that keeps it fresh. */
function credential(namespace: string, secret: string, index: number): KubeObject[] {
  // Certificates issued at different times: a few have expired, the rest run for 90 days.
  const day = 1 + (index % 28);
  const notAfter =
    index % 400 === 75
      ? "2026-05-20T00:00:00Z"
      : `2026-08-${String(day).padStart(2, "0")}T00:00:00Z`;
  return [
    {
      apiVersion: "v1",
      kind: "Secret",
      type: "kubernetes.io/tls",
      metadata: {
        name: secret,
        namespace,
        annotations: { "cert-manager.io/certificate-name": secret },
        labels: { "controller.cert-manager.io/fao": "true" },
      },
    },
    {
      apiVersion: "cert-manager.io/v1",
      kind: "Certificate",
      metadata: { name: secret, namespace, generation: 1 },
      spec: {
        secretName: secret,
        dnsNames: [`${secret}.example.com`],
        issuerRef: { kind: "ClusterIssuer", name: "letsencrypt" },
        privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
      },
      status: {
        conditions: [{ type: "Ready", status: "True", reason: "Ready", observedGeneration: 1 }],
        notAfter,
        renewalTime: "2026-07-01T00:00:00Z",
      },
    },
  ];
}

function gatewayObject(
  name: string,
  namespace: string,
  selector: Record<string, string>,
  servers: Record<string, unknown>[],
): KubeObject {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "Gateway",
    metadata: { name, namespace, generation: 1 },
    spec: { selector, servers },
  };
}

function publicGateway(): KubeObject {
  return gatewayObject("public", ROOT, { istio: "ingressgateway" }, [
    {
      port: { number: 443, name: "https", protocol: "HTTPS" },
      hosts: ["*.example.com"],
      tls: {
        mode: "SIMPLE",
        credentialName: "wildcard-example-com",
        minProtocolVersion: "TLSV1_2",
      },
    },
    {
      port: { number: 80, name: "http", protocol: "HTTP" },
      hosts: ["*.example.com"],
      tls: { httpsRedirect: true },
    },
  ]);
}

function egressGateway(): KubeObject {
  return gatewayObject("egress", ROOT, { istio: "egressgateway" }, [
    {
      port: { number: 443, name: "tls", protocol: "TLS" },
      hosts: ["*.partner.example.net"],
      tls: { mode: "ISTIO_MUTUAL" },
    },
  ]);
}

/** A team's host on the shared ingress gateway: HTTPS, and every fourth one plain HTTP too. */
function sharedIngressGateway(plan: NamespacePlan, secret: string, index: number): KubeObject {
  const host = `${plan.name}.example.com`;
  const servers: Record<string, unknown>[] = [
    {
      port: { number: 443, name: "https", protocol: "HTTPS" },
      hosts: [host],
      tls: { mode: "SIMPLE", credentialName: secret },
    },
  ];
  if (index % 100 === 0) {
    servers.push({ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: [host] });
  }
  return gatewayObject("ingress", plan.name, { istio: "ingressgateway" }, servers);
}

function teamMutualGateway(plan: NamespacePlan, gw: GatewayWorkload): KubeObject {
  return gatewayObject("partners", plan.name, gw.labels, [
    {
      port: { number: 443, name: "https-mtls", protocol: "HTTPS" },
      hosts: [`partners.${plan.name}.example.com`],
      tls: {
        mode: "MUTUAL",
        credentialName: `${plan.name}-mtls`,
        minProtocolVersion: "TLSV1_3",
      },
    },
  ]);
}

// --- RBAC ---

function role(
  kind: "Role" | "ClusterRole",
  name: string,
  rules: Record<string, unknown>[],
  extra: Partial<KubeObject> & { namespace?: string; labels?: Record<string, string> } = {},
): KubeObject {
  const { namespace, labels, ...rest } = extra;
  const metadata: KubeObject["metadata"] = { name };
  if (namespace !== undefined) metadata.namespace = namespace;
  if (labels !== undefined) metadata.labels = labels;
  return { apiVersion: RBAC_API, kind, metadata, rules, ...rest };
}

/** Kubernetes' aggregated roles as a live cluster serves them, and what aggregates into them. */
function aggregatedRoles(): KubeObject[] {
  const aggregate = (to: string): Record<string, unknown> => ({
    aggregationRule: {
      clusterRoleSelectors: [{ matchLabels: { [`${RBAC_GROUP}/aggregate-to-${to}`]: "true" } }],
    },
  });
  const label = (to: string): Record<string, string> => ({
    [`${RBAC_GROUP}/aggregate-to-${to}`]: "true",
  });
  const coreRead = { apiGroups: ["", "apps"], resources: ["*"], verbs: READ };
  const coreWrite = {
    apiGroups: ["", "apps", "batch"],
    resources: ["pods", "services", "configmaps", "secrets", "deployments", "jobs"],
    verbs: [...READ, ...WRITE],
  };
  const istioRead = { apiGroups: ISTIO_GROUPS, resources: ["*"], verbs: READ };
  const istioWrite = { apiGroups: ISTIO_GROUPS, resources: ["*"], verbs: [...READ, ...WRITE] };
  return [
    role("ClusterRole", "cluster-admin", [
      { apiGroups: ["*"], resources: ["*"], verbs: ["*"] },
      { nonResourceURLs: ["*"], verbs: ["*"] },
    ]),
    role("ClusterRole", "admin", [coreWrite, istioWrite], aggregate("admin")),
    role("ClusterRole", "edit", [coreWrite, istioWrite], {
      ...aggregate("edit"),
      labels: label("admin"),
    }),
    role("ClusterRole", "view", [coreRead, istioRead], {
      ...aggregate("view"),
      labels: label("edit"),
    }),
    role("ClusterRole", "istio-edit", [istioWrite], { labels: label("edit") }),
    role("ClusterRole", "istio-view", [istioRead], { labels: label("view") }),
    role(
      "ClusterRole",
      "cert-manager-edit",
      [{ apiGroups: ["cert-manager.io"], resources: ["certificates"], verbs: [...READ, ...WRITE] }],
      { labels: label("edit") },
    ),
    role("ClusterRole", "team-deployer", [
      { apiGroups: ["apps"], resources: ["deployments", "deployments/scale"], verbs: WRITE },
    ]),
  ];
}

/** Custom Roles in every fifth application namespace. */
function customRoles(plans: readonly NamespacePlan[]): KubeObject[] {
  return plans.flatMap((plan, i) =>
    i % 5 !== 0
      ? []
      : [
          role(
            "Role",
            "config-reader",
            [{ apiGroups: [""], resources: ["configmaps"], verbs: READ }],
            { namespace: plan.name },
          ),
          role(
            "Role",
            "mesh-policy-editor",
            [
              {
                apiGroups: ["security.istio.io"],
                resources: ["authorizationpolicies"],
                verbs: [...READ, ...WRITE],
              },
            ],
            { namespace: plan.name },
          ),
        ],
  );
}

type SubjectKind = "Group" | "ServiceAccount" | "User";

function subject(kind: SubjectKind, name: string, namespace?: string): Record<string, unknown> {
  if (kind === "ServiceAccount") return { kind, name, namespace };
  return { apiGroup: RBAC_GROUP, kind, name };
}

function roleBinding(
  name: string,
  namespace: string | undefined,
  roleRef: { kind: "Role" | "ClusterRole"; name: string },
  subjects: Record<string, unknown>[],
): KubeObject {
  return {
    apiVersion: RBAC_API,
    kind: namespace === undefined ? "ClusterRoleBinding" : "RoleBinding",
    metadata: namespace === undefined ? { name } : { name, namespace },
    roleRef: { apiGroup: RBAC_GROUP, ...roleRef },
    subjects,
  };
}

/** ClusterRoleBindings on top of the control plane's four: a percent of all bindings. */
function clusterBindings(count: number): KubeObject[] {
  const out: KubeObject[] = [];
  for (let i = 0; i < count; i++) {
    const which = i % 4;
    if (which === 0) {
      out.push(
        roleBinding(`sre-view-${i}`, undefined, { kind: "ClusterRole", name: "view" }, [
          subject("Group", `sre-oncall-${i}`),
        ]),
      );
    } else if (which === 1) {
      out.push(
        roleBinding(`ci-deployer-${i}`, undefined, { kind: "ClusterRole", name: "team-deployer" }, [
          subject("ServiceAccount", `deployer-${i}`, "ci"),
        ]),
      );
    } else if (which === 2) {
      out.push(
        roleBinding(`mesh-view-${i}`, undefined, { kind: "ClusterRole", name: "istio-view" }, [
          subject("Group", "mesh-observers"),
          subject("User", `auditor-${i}@example.com`),
        ]),
      );
    } else {
      out.push(
        roleBinding(`break-glass-${i}`, undefined, { kind: "ClusterRole", name: "cluster-admin" }, [
          subject("Group", `break-glass-${i}`),
        ]),
      );
    }
  }
  return out;
}

/** One RoleBinding in a namespace: `edit` for developers, `view` for readers, or a custom Role. */
function namespaceBinding(plan: NamespacePlan, index: number, r: Random): KubeObject {
  const x = r.float();
  const sa = r.pick(plan.apps.length > 0 ? plan.apps : ["default"]);
  const name = `binding-${index}`;
  if (x < 0.5) {
    return roleBinding(name, plan.name, { kind: "ClusterRole", name: "edit" }, [
      subject("Group", `${plan.name}-developers`),
      subject("ServiceAccount", sa, plan.name),
    ]);
  }
  if (x < 0.8) {
    return roleBinding(name, plan.name, { kind: "ClusterRole", name: "view" }, [
      subject("Group", `${plan.name}-readers`),
    ]);
  }
  // Custom Roles exist in every fifth namespace; elsewhere this binds a ClusterRole with Role's
  // reach (the namespace) instead.
  const custom = plan.name.endsWith("0") || plan.name.endsWith("5");
  return roleBinding(
    name,
    plan.name,
    custom
      ? { kind: "Role", name: x < 0.9 ? "config-reader" : "mesh-policy-editor" }
      : { kind: "ClusterRole", name: "team-deployer" },
    [subject("ServiceAccount", sa, plan.name)],
  );
}

function platformRbac(plans: readonly NamespacePlan[], bindings: number, r: Random): KubeObject[] {
  // The control plane already holds four ClusterRoleBindings.
  const extra = Math.max(0, bindings - 4);
  const cluster = Math.min(extra, Math.round(bindings * 0.01));
  const out: KubeObject[] = [
    ...aggregatedRoles(),
    ...customRoles(plans),
    ...clusterBindings(cluster),
  ];
  if (plans.length === 0) return out;
  for (let i = 0; i < extra - cluster; i++) {
    const plan = plans[i % plans.length];
    if (plan) out.push(namespaceBinding(plan, i, r));
  }
  return out;
}

// --- managedFields ---

const ISTIO_API = /^(networking|security|telemetry|extensions)\.istio\.io\//;

/**
 * Istio objects as a GitOps controller applied them (server-side apply by argocd-controller); one
 * in fifty edited by hand afterwards (`kubectl edit`), which is what config-outside-gitops looks for.
 */
function addManagedFields(o: KubeObject): void {
  if (!ISTIO_API.test(o.apiVersion)) return;
  const spec = { "f:spec": { ".": {} } };
  const fields: unknown[] = [
    {
      manager: "argocd-controller",
      operation: "Apply",
      apiVersion: o.apiVersion,
      time: "2026-03-02T09:14:51Z",
      fieldsType: "FieldsV1",
      fieldsV1: { "f:metadata": { "f:labels": {} }, ...spec },
    },
  ];
  const name = o.metadata.name ?? "";
  if (hashOf(`${o.metadata.namespace ?? ""}/${name}`) % 50 === 0) {
    fields.push({
      manager: "kubectl-edit",
      operation: "Update",
      apiVersion: o.apiVersion,
      time: "2026-04-11T16:02:07Z",
      fieldsType: "FieldsV1",
      fieldsV1: spec,
    });
  }
  o.metadata.managedFields = fields;
}

/** A small stable string hash (FNV-1a), so the choice does not depend on generation order. */
function hashOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
