// Smoke tests of the test control plane itself: if these fail, every other integration test is
// suspect. They use the real kube-apiserver and etcd built by hack/controlplane/build.sh.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  VersionApi,
  type KubernetesObject,
} from "@kubernetes/client-node";
import {
  controlPlaneVersions,
  ResumableWatch,
  useControlPlane,
  waitFor,
  type ListResult,
} from "../harness/index.js";

const PEER_AUTH = { group: "security.istio.io", version: "v1", plural: "peerauthentications" };

interface PeerAuthentication {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: Record<string, unknown>;
}

function peerAuthentication(name: string, spec: Record<string, unknown>): PeerAuthentication {
  return {
    apiVersion: "security.istio.io/v1",
    kind: "PeerAuthentication",
    metadata: { name },
    spec,
  };
}

/** The Status message of a failed API call, e.g. the validation errors of a 422. */
function statusMessage(error: unknown): string {
  if (!(error instanceof ApiException)) throw error;
  const body: unknown = typeof error.body === "string" ? JSON.parse(error.body) : error.body;
  return (body as { message?: string }).message ?? String(error.body);
}

async function expectApiError(call: Promise<unknown>, code: number): Promise<string> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof ApiException, `expected an API error, got ${String(error)}`);
    assert.equal(error.code, code, statusMessage(error));
    return statusMessage(error);
  }
  assert.fail(`expected HTTP ${code}, but the call succeeded`);
}

describe("test control plane (kube-apiserver and etcd)", () => {
  const env = useControlPlane({ label: "controlplane.test" });
  const run = { skip: env.skip };

  const customObjects = () => env.cp.kubeConfig.makeApiClient(CustomObjectsApi);

  it("lists back a PeerAuthentication created through client-node", run, async () => {
    const api = customObjects();
    const namespace = env.namespace;
    await api.createNamespacedCustomObject({
      ...PEER_AUTH,
      namespace,
      body: peerAuthentication("strict", { mtls: { mode: "STRICT" } }),
    });
    const list = (await api.listNamespacedCustomObject({ ...PEER_AUTH, namespace })) as ListResult;
    const names = list.items.map((item) => item.metadata?.name);
    assert.deepEqual(names, ["strict"]);
    const stored = list.items[0] as KubernetesObject & { spec?: { mtls?: { mode?: string } } };
    assert.equal(stored.spec?.mtls?.mode, "STRICT");
  });

  it("rejects a PeerAuthentication whose mTLS mode is not one Istio defines", run, async (t) => {
    if (env.cp.crds?.istioFixtures === true) {
      t.skip("Istio's real CRDs are absent; the permissive fixtures do not validate");
      return;
    }
    const message = await expectApiError(
      customObjects().createNamespacedCustomObject({
        ...PEER_AUTH,
        namespace: env.namespace,
        body: peerAuthentication("bogus", { mtls: { mode: "BOGUS" } }),
      }),
      422,
    );
    assert.match(message, /spec\.mtls\.mode: Unsupported value: "BOGUS"/);
    assert.match(message, /"STRICT"/);
  });

  it("rejects portLevelMtls without a selector through the CRD's CEL rule", run, async (t) => {
    if (env.cp.crds?.istioFixtures === true) {
      t.skip("Istio's real CRDs are absent; the permissive fixtures do not validate");
      return;
    }
    const message = await expectApiError(
      customObjects().createNamespacedCustomObject({
        ...PEER_AUTH,
        namespace: env.namespace,
        body: peerAuthentication("ports", { portLevelMtls: { "8080": { mode: "DISABLE" } } }),
      }),
      422,
    );
    assert.match(message, /portLevelMtls requires selector/);
  });

  it(
    "delivers to a watch started before an API-server restart an object created after it",
    run,
    async (t) => {
      const cp = env.cp;
      const namespace = env.namespace;
      const api = customObjects();
      const watch = await ResumableWatch.start({
        path: `/apis/${PEER_AUTH.group}/${PEER_AUTH.version}/namespaces/${namespace}/${PEER_AUTH.plural}`,
        kubeConfig: cp.kubeConfig,
        list: async () =>
          (await api.listNamespacedCustomObject({ ...PEER_AUTH, namespace })) as ListResult,
      });
      try {
        const create = (name: string) =>
          api.createNamespacedCustomObject({
            ...PEER_AUTH,
            namespace,
            body: peerAuthentication(name, { mtls: { mode: "STRICT" } }),
          });
        const isAdded = (name: string) => (e: { type: string; object: KubernetesObject }) =>
          e.type === "ADDED" && e.object.metadata?.name === name;

        await create("before-restart");
        await watch.waitFor(isAdded("before-restart"), 30_000);
        const reconnectsBefore = watch.reconnects;

        await cp.restartApiServer();
        await create("after-restart");

        const event = await watch.waitFor(isAdded("after-restart"), 60_000);
        assert.ok(watch.reconnects > reconnectsBefore, "the watch was never re-established");
        t.diagnostic(
          `after the restart: ${watch.reconnects - reconnectsBefore} reconnect attempt(s), ` +
            `${watch.relists} relist(s); the new object arrived via ${event.via}`,
        );
      } finally {
        watch.stop();
      }
    },
  );

  it("answers 403 to a ServiceAccount token that lacks the permission", run, async () => {
    const namespace = env.namespace;
    const role = `${namespace}-pod-reader`;
    await env.cp.ensureClusterRole(role, [
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] },
    ]);
    const token = await env.cp.serviceAccountToken({
      namespace,
      name: "reader",
      clusterRole: role,
    });
    const core = env.cp.kubeConfigForToken(token).makeApiClient(CoreV1Api);
    // The token authenticates and its binding grants pod reads (once RBAC has seen it)...
    await waitFor("the pod-reader binding to take effect", 30_000, async () => {
      await core.listNamespacedPod({ namespace });
      return true;
    });
    // ...but nothing else, so the same token is forbidden to list secrets.
    const message = await expectApiError(core.listNamespacedSecret({ namespace }), 403);
    assert.match(message, /system:serviceaccount:.*:reader.* cannot list resource "secrets"/);
  });

  it("reports the built v1.34 release on /version", run, async () => {
    const info = await env.cp.kubeConfig.makeApiClient(VersionApi).getCode();
    assert.match(info.gitVersion, /^v1\.34\.\d+$/);
    assert.equal(info.gitVersion, controlPlaneVersions().kubernetes);
    assert.equal(info.major, "1");
    assert.equal(info.minor, "34");
  });
});
