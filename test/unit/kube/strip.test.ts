// What the cache keeps of each object, and the capped jittered backoff of the reflectors.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GITOPS_KINDS } from "../../../operator/engine/kinds.js";
import { Backoff } from "../../../operator/kube/backoff.js";
import { ValueTable } from "../../../operator/kube/compact.js";
import {
  WATCHED_RESOURCES,
  resourceKindKey,
  type WatchedResource,
} from "../../../operator/kube/resources.js";
import { prunePodSpec, stripObject } from "../../../operator/kube/strip.js";

function resource(group: string, kind: string): WatchedResource {
  const found = WATCHED_RESOURCES.find((r) => r.group === group && r.kind === kind);
  if (found === undefined) throw new Error(`not watched: ${group}/${kind}`);
  return found;
}

const POD = resource("", "Pod");
const CONFIG_MAP = resource("", "ConfigMap");
const SECRET = resource("", "Secret");
const CERTIFICATE = resource("cert-manager.io", "Certificate");
const PEER_AUTH = resource("security.istio.io", "PeerAuthentication");

type Json = Record<string, unknown>;

const managedFields = [
  {
    manager: "argocd-controller",
    operation: "Apply",
    apiVersion: "v1",
    time: "2025-01-01T00:00:00Z",
    fieldsType: "FieldsV1",
    fieldsV1: { "f:metadata": { "f:labels": { "f:app": {} } }, "f:spec": { "f:containers": {} } },
  },
  {
    manager: "kubelet",
    operation: "Update",
    apiVersion: "v1",
    time: "2025-01-01T00:00:05Z",
    subresource: "status",
    fieldsType: "FieldsV1",
    fieldsV1: { "f:status": { "f:phase": {}, "f:conditions": {} } },
  },
];

/** A running pod with an injected sidecar, as the API server returns it. */
function runningPod(): Json {
  const container = (name: string, image: string): Json => ({
    name,
    image,
    args: ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local"],
    env: Array.from({ length: 12 }, (_, i) => ({ name: `ENV_${i}`, value: `value-${i}` })),
    ports: [{ containerPort: 15090, name: "http-envoy-prom", protocol: "TCP" }],
    resources: { limits: { cpu: "2", memory: "1Gi" }, requests: { cpu: "10m", memory: "40Mi" } },
    securityContext: { runAsUser: 1337, runAsNonRoot: true, readOnlyRootFilesystem: true },
    volumeMounts: [{ mountPath: "/var/run/secrets/istio", name: "istiod-ca-cert" }],
  });
  const containerStatus = (name: string): Json => ({
    name,
    ready: true,
    restartCount: 0,
    image: "docker.io/istio/proxyv2:1.24.0",
    imageID: `docker.io/istio/proxyv2@sha256:${"a".repeat(64)}`,
    containerID: `containerd://${"b".repeat(64)}`,
    started: true,
    state: { running: { startedAt: "2025-01-01T00:00:04Z" } },
  });
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: {
      name: "reviews-v1-5b4f7d8c9-abcde",
      namespace: "bookinfo",
      uid: "0a1b2c3d-0000-0000-0000-000000000001",
      resourceVersion: "12345",
      creationTimestamp: "2025-01-01T00:00:00Z",
      labels: { app: "reviews", version: "v1", "security.istio.io/tlsMode": "istio" },
      annotations: { "sidecar.istio.io/status": '{"containers":["istio-proxy"]}' },
      ownerReferences: [
        { apiVersion: "apps/v1", kind: "ReplicaSet", name: "reviews-v1-5b4f7d8c9" },
      ],
      managedFields,
    },
    spec: {
      containers: [container("reviews", "reviews:1"), container("istio-proxy", "proxyv2:1.24")],
      initContainers: [container("istio-init", "proxyv2:1.24")],
      serviceAccountName: "bookinfo-reviews",
    },
    status: {
      phase: "Running",
      hostIP: "10.0.0.1",
      podIP: "10.1.0.7",
      podIPs: [{ ip: "10.1.0.7" }],
      qosClass: "Burstable",
      startTime: "2025-01-01T00:00:01Z",
      conditions: ["Initialized", "Ready", "ContainersReady", "PodScheduled"].map((type) => ({
        type,
        status: "True",
        lastTransitionTime: "2025-01-01T00:00:05Z",
      })),
      containerStatuses: [containerStatus("reviews"), containerStatus("istio-proxy")],
      initContainerStatuses: [containerStatus("istio-init")],
    },
  };
}

function configMap(name: string): Json {
  return { metadata: { name, namespace: "istio-system" }, data: { mesh: "x: 1" } };
}

const cases: { name: string; resource: WatchedResource; input: Json; expected: Json }[] = [
  {
    name: "keeps only the phase of a Pod's status, and none of its managedFields",
    resource: POD,
    input: runningPod(),
    expected: { status: { phase: "Running" }, managedFields: undefined },
  },
  {
    name: "keeps who manages an Istio object's spec",
    resource: PEER_AUTH,
    input: {
      metadata: { name: "default", namespace: "a", managedFields },
      spec: { mtls: { mode: "STRICT" } },
    },
    expected: {
      managedFields: [
        {
          manager: "argocd-controller",
          operation: "Apply",
          apiVersion: "v1",
          time: "2025-01-01T00:00:00Z",
          fieldsType: "FieldsV1",
          fieldsV1: { "f:spec": {} },
        },
        {
          manager: "kubelet",
          operation: "Update",
          apiVersion: "v1",
          time: "2025-01-01T00:00:05Z",
          subresource: "status",
        },
      ],
    },
  },
  {
    name: "keeps the data of the mesh ConfigMap `istio`",
    resource: CONFIG_MAP,
    input: configMap("istio"),
    expected: { data: { mesh: "x: 1" } },
  },
  {
    name: "keeps the data of a revisioned mesh ConfigMap `istio-canary`",
    resource: CONFIG_MAP,
    input: configMap("istio-canary"),
    expected: { data: { mesh: "x: 1" } },
  },
  {
    name: "keeps the data of the injector ConfigMap `istio-sidecar-injector`",
    resource: CONFIG_MAP,
    input: configMap("istio-sidecar-injector"),
    expected: { data: { mesh: "x: 1" } },
  },
  {
    name: "drops the data of any other ConfigMap",
    resource: CONFIG_MAP,
    input: configMap("app-settings"),
    expected: { data: undefined },
  },
  {
    name: "drops Secret data even if the server sent it",
    resource: SECRET,
    input: { metadata: { name: "tls", namespace: "a" }, type: "Opaque", data: { key: "c2VjcmV0" } },
    expected: { data: undefined, type: undefined, kind: "Secret", apiVersion: "v1" },
  },
  {
    name: "keeps a Certificate's conditions and expiry but not other status",
    resource: CERTIFICATE,
    input: {
      metadata: { name: "c", namespace: "a" },
      spec: { secretName: "c" },
      status: { notAfter: "2026-01-01T00:00:00Z", conditions: [{ type: "Ready" }], revision: 3 },
    },
    expected: {
      status: { notAfter: "2026-01-01T00:00:00Z", conditions: [{ type: "Ready" }] },
      spec: { secretName: "c" },
    },
  },
  {
    name: "drops the status of an Istio object and names it by the watched version",
    resource: PEER_AUTH,
    input: { metadata: { name: "default", namespace: "a" }, spec: {}, status: { x: 1 } },
    expected: { status: undefined, apiVersion: "security.istio.io/v1", kind: "PeerAuthentication" },
  },
  {
    name: "treats a non-object input as an empty object without throwing",
    resource: PEER_AUTH,
    input: { metadata: "broken", spec: "also broken" },
    expected: { metadata: {}, spec: "also broken" },
  },
];

function pick(obj: Json, key: string): unknown {
  if (key === "managedFields") return (obj["metadata"] as Json)["managedFields"];
  return obj[key];
}

describe("stripObject keeps only what the checks read", () => {
  for (const c of cases) {
    it(c.name, () => {
      const version = c.resource.versions[0] ?? "v1";
      const out = stripObject(c.resource, version, c.input) as unknown as Json;
      for (const [key, value] of Object.entries(c.expected)) {
        assert.deepEqual(pick(out, key), value, key);
      }
    });
  }

  it("keeps labels, annotations, owners, creation time and the pod spec the checks read", () => {
    const input = runningPod();
    const out = stripObject(POD, "v1", input) as unknown as Json;
    const meta = out["metadata"] as Json;
    const inputMeta = input["metadata"] as Json;
    for (const key of ["labels", "annotations", "ownerReferences", "creationTimestamp"]) {
      assert.deepEqual(meta[key], inputMeta[key], key);
    }
    assert.deepEqual(out["spec"], prunePodSpec(input["spec"] as Json));
  });

  it("keeps containers' security fields and Istio containers' env, drops volumes and probes", () => {
    const spec = prunePodSpec({
      hostNetwork: false,
      volumes: [{ name: "v" }],
      tolerations: [{ key: "k" }],
      securityContext: { runAsNonRoot: true },
      containers: [
        {
          name: "app",
          image: "app:1",
          env: [{ name: "SECRET_URL", value: "x" }],
          livenessProbe: { httpGet: { path: "/" } },
          securityContext: { readOnlyRootFilesystem: true },
          resources: { limits: { cpu: "1" } },
        },
        {
          name: "istio-proxy",
          image: "proxyv2:1",
          env: [{ name: "ISTIO_META_INTERCEPTION_MODE", value: "TPROXY" }],
        },
      ],
    });
    assert.deepEqual(spec, {
      hostNetwork: false,
      securityContext: { runAsNonRoot: true },
      containers: [
        {
          name: "app",
          image: "app:1",
          securityContext: { readOnlyRootFilesystem: true },
          resources: { limits: { cpu: "1" } },
        },
        {
          name: "istio-proxy",
          image: "proxyv2:1",
          env: [{ name: "ISTIO_META_INTERCEPTION_MODE", value: "TPROXY" }],
        },
      ],
    });
  });

  it("measures the bytes kept per running sidecar-injected pod", (t) => {
    const input = runningPod();
    const before = JSON.stringify(input).length;
    const after = JSON.stringify(stripObject(POD, "v1", input)).length;
    t.diagnostic(`pod JSON: ${before} bytes as served, ${after} bytes cached`);
    assert.ok(after < before, `stripping must shrink the pod (${before} -> ${after})`);
  });
});

describe("stripObject stores equal parts once", () => {
  /** A second replica of the same ReplicaSet: only its own name, uid and version differ. */
  function secondReplica(): Json {
    const pod = runningPod();
    const meta = pod["metadata"] as Json;
    meta["name"] = "reviews-v1-5b4f7d8c9-fghij";
    meta["uid"] = "0a1b2c3d-0000-0000-0000-000000000002";
    meta["resourceVersion"] = "12346";
    return pod;
  }

  it("gives replicas of one pod the same frozen labels, owners and spec, and their own names", () => {
    const values = new ValueTable();
    const a = stripObject(POD, "v1", runningPod(), values) as unknown as Json;
    const b = stripObject(POD, "v1", secondReplica(), values) as unknown as Json;
    const metaA = a["metadata"] as Json;
    const metaB = b["metadata"] as Json;
    for (const key of ["labels", "annotations", "ownerReferences", "creationTimestamp"]) {
      assert.equal(metaA[key], metaB[key], key);
    }
    assert.equal(a["spec"], b["spec"]);
    assert.equal(a["status"], b["status"]);
    assert.ok(Object.isFrozen(a["spec"]) && Object.isFrozen(metaA["labels"]));
    assert.notEqual(metaA["name"], metaB["name"]);
    assert.notEqual(metaA["uid"], metaB["uid"]);
    // The objects themselves stay separate and writable: the cache replaces them one by one.
    assert.notEqual(a, b);
    assert.notEqual(metaA, metaB);
    assert.equal(Object.isFrozen(a) || Object.isFrozen(metaA), false);
  });

  it("shares a pod template's spec with the pods' specs when they are equal", () => {
    const values = new ValueTable();
    const pod = runningPod();
    const deployment = {
      metadata: { name: "reviews-v1", namespace: "bookinfo" },
      spec: { replicas: 2, template: { metadata: { labels: {} }, spec: pod["spec"] } },
    };
    const fromPod = stripObject(POD, "v1", pod, values) as unknown as Json;
    const fromDeployment = stripObject(resource("apps", "Deployment"), "v1", deployment, values);
    const template = (fromDeployment["spec"] as Json)["template"] as Json;
    assert.equal(template["spec"], fromPod["spec"]);
  });

  it("leaves its input as it was: not changed, not frozen", () => {
    const input = runningPod();
    const before = structuredClone(input);
    stripObject(POD, "v1", input, new ValueTable());
    stripObject(POD, "v1", input, new ValueTable());
    assert.deepEqual(input, before);
    const spec = input["spec"] as Json;
    assert.equal(Object.isFrozen(spec) || Object.isFrozen(spec["containers"]), false);
  });

  it("keeps managedFields for exactly the kinds the GitOps-drift check reads", () => {
    const gitops = new Set(GITOPS_KINDS);
    for (const r of WATCHED_RESOURCES.filter((w) => w.metadataOnly !== true)) {
      const input = { metadata: { name: "x", namespace: "a", managedFields }, spec: {} };
      const out = stripObject(r, r.versions[0] ?? "v1", input, new ValueTable());
      const kept = out.metadata.managedFields !== undefined;
      assert.equal(kept, gitops.has(resourceKindKey(r)), resourceKindKey(r));
    }
    // Every kind the check reads is watched, so none of them loses its managedFields unseen.
    const watched = new Set(WATCHED_RESOURCES.map(resourceKindKey));
    assert.deepEqual(
      GITOPS_KINDS.filter((k) => !watched.has(k)),
      [],
    );
  });

  it("drops the last-applied-configuration annotation and keeps every other one", () => {
    const input = {
      metadata: {
        name: "reviews",
        namespace: "bookinfo",
        annotations: {
          "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify(runningPod()),
          "sidecar.istio.io/inject": "true",
          "traffic.sidecar.istio.io/excludeInboundPorts": "9000",
        },
      },
      spec: { template: { spec: {} } },
    };
    const out = stripObject(resource("apps", "Deployment"), "v1", input, new ValueTable());
    assert.deepEqual(out.metadata.annotations, {
      "sidecar.istio.io/inject": "true",
      "traffic.sidecar.istio.io/excludeInboundPorts": "9000",
    });
  });
});

describe("Backoff", () => {
  it("doubles from 0.8 s up to the 30 s cap, spread over half to all of each step", () => {
    const low = new Backoff({ random: () => 0 });
    const high = new Backoff({ random: () => 0.999999 });
    const lows = Array.from({ length: 8 }, () => low.next());
    const highs = Array.from({ length: 8 }, () => high.next());
    assert.deepEqual(lows, [400, 800, 1600, 3200, 6400, 12800, 15000, 15000]);
    assert.deepEqual(highs, [800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]);
  });

  it("starts over after reset", () => {
    const backoff = new Backoff({ random: () => 0.999999 });
    backoff.next();
    backoff.next();
    backoff.reset();
    assert.equal(backoff.next(), 800);
  });
});
