// The operator against a real kube-apiserver when things go wrong or change under it: per-object
// EnvoyFilter series, waivers that expire, invalid and malformed objects, a ClusterRole missing a
// kind, Istio CRDs installed late, API server restarts and etcd compaction. The operator always
// runs in-process under its own ServiceAccount with the shipped ClusterRole (or that role minus a
// kind), never as admin.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { resolve } from "node:path";
import {
  ApiException,
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  type CoreV1Event,
  type KubeConfig,
  type KubernetesObject,
} from "@kubernetes/client-node";
import type { OperatorRuntime } from "../../operator/controller/runtime.js";
import { K } from "../../operator/engine/kinds.js";
import type { KubeObject } from "../../operator/engine/types.js";
import type { ObjectChange } from "../../operator/kube/types.js";
import type { ComplianceReportStatus, ThreatReport } from "../../operator/report/types.js";
import { readCrdFile, ISTIO_CRDS_RELATIVE } from "../harness/crds.js";
import { httpCall, useControlPlane, waitFor, type ControlPlane } from "../harness/index.js";
import {
  applyObjects,
  getCr,
  getReport,
  metricsText,
  operatorKubeConfig,
  restrictedOperatorKubeConfig,
  runOperator,
  threatPolicy,
  REPO,
} from "./operator-support.js";

const WAIT_MS = 30_000;
/**
 * After an API server outage the reflectors reconnect on their capped backoff (up to 30 s between
 * attempts, as in production), so the restart scenarios allow for one full backoff step.
 */
const RESTART_WAIT_MS = 90_000;
const CR = { group: "meshcompliance.io", version: "v1alpha1" };
const DAY_MS = 24 * 60 * 60 * 1_000;

function namespace(name: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels: { "istio-injection": "enabled" } },
  };
}

/** An EnvoyFilter that adds a header: harmless, but not in any allow-list, so T-03 reports it. */
function envoyFilter(ns: string, name: string, value?: unknown): KubeObject {
  return {
    apiVersion: "networking.istio.io/v1alpha3",
    kind: "EnvoyFilter",
    metadata: { name, namespace: ns },
    spec: {
      workloadSelector: { labels: { app: "web" } },
      configPatches: [
        {
          applyTo: "HTTP_FILTER",
          match: { context: "SIDECAR_INBOUND" },
          patch: {
            operation: "INSERT_BEFORE",
            value: value ?? { name: "example.header", typed_config: { "@type": "type.test" } },
          },
        },
      ],
    },
  };
}

function permissive(ns: string): KubeObject {
  return {
    apiVersion: "security.istio.io/v1",
    kind: "PeerAuthentication",
    metadata: { name: "default", namespace: ns },
    spec: { mtls: { mode: "PERMISSIVE" } },
  };
}

async function deleteObject(kc: KubeConfig, object: KubeObject): Promise<void> {
  await KubernetesObjectApi.makeApiClient(kc).delete(object as KubernetesObject);
}

/**
 * Right after a restart the API server may not serve a CRD yet: the client then skips the object
 * or fails the delete, so both changes are retried until the server takes them.
 */
async function changeWhenServed(
  kc: KubeConfig,
  change: { remove: KubeObject; add: KubeObject[] },
): Promise<void> {
  await waitFor("the API server to take the deletion", WAIT_MS, async () => {
    try {
      await deleteObject(kc, change.remove);
      return true;
    } catch {
      return undefined;
    }
  });
  await waitFor("the API server to take the new objects", WAIT_MS, async () => {
    const skipped = await applyObjects(kc, change.add);
    return skipped.length === 0 ? true : undefined;
  });
}

function threatOf(status: ComplianceReportStatus, id: string): ThreatReport {
  const t = status.threats.find((x) => x.id === id);
  assert.ok(t, `threat ${id} in the report`);
  return t;
}

/** "Kind ns/name" of a threat's listed findings, sorted. */
function findingResources(t: ThreatReport): string[] {
  return t.findings
    .map((f) => `${f.resource.kind} ${f.resource.namespace ?? ""}/${f.resource.name}`)
    .sort();
}

/** Waits until the stored report satisfies `probe`; fails with the last threat table seen. */
async function waitForReport(
  kc: KubeConfig,
  name: string,
  what: string,
  probe: (status: ComplianceReportStatus) => boolean,
  timeoutMs = WAIT_MS,
): Promise<ComplianceReportStatus> {
  let last = "no report";
  try {
    return await waitFor(what, timeoutMs, async () => {
      const status = (await getReport(kc, name))?.status as ComplianceReportStatus | undefined;
      if (!status?.threats) return undefined;
      last = status.threats
        .map(
          (t) =>
            `${t.id}=${t.status}${t.findings.length ? ` ${findingResources(t).join(",")}` : ""}`,
        )
        .join(" ");
      return probe(status) ? status : undefined;
    });
  } catch (error) {
    assert.fail(`${String(error)}\nlast report: ${last}`);
  }
}

async function setPolicySpec(kc: KubeConfig, name: string, spec: unknown): Promise<number> {
  const stored = (await kc.makeApiClient(CustomObjectsApi).patchClusterCustomObject({
    ...CR,
    plural: "threatpolicies",
    name,
    body: [{ op: "replace", path: "/spec", value: spec }],
  })) as { metadata: { generation: number } };
  return stored.metadata.generation;
}

/** The operator's Events, keyed the way a duplicate would repeat: reason, object and message. */
async function operatorEvents(kc: KubeConfig): Promise<CoreV1Event[]> {
  const list = await kc.makeApiClient(CoreV1Api).listEventForAllNamespaces();
  return list.items.filter((e) => e.source?.component === "mesh-compliance-operator");
}

function eventKey(e: CoreV1Event): string {
  const o = e.involvedObject;
  return `${e.reason ?? ""} ${o.kind ?? ""} ${o.namespace ?? ""}/${o.name ?? ""}: ${e.message ?? ""}`;
}

/** Each repeated reason+object+message, with the names and times of its Events. */
function duplicates(events: CoreV1Event[]): string[] {
  const seen = new Map<string, CoreV1Event[]>();
  for (const e of events) seen.set(eventKey(e), [...(seen.get(eventKey(e)) ?? []), e]);
  return [...seen]
    .filter(([, list]) => list.length > 1)
    .map(([k, list]) => {
      const where = list.map((e) => `${e.metadata.name ?? ""}@${String(e.firstTimestamp)}`);
      return `${String(list.length)}x ${k} (${where.join(", ")})`;
    });
}

describe("operator: metrics, waivers, invalid input, missing access and late CRDs", () => {
  let runtime: OperatorRuntime | undefined;
  // Registered before the control plane's own hook, so the operator stops while the API server
  // still answers (its Lease is released, its watches end cleanly).
  after(async () => {
    await runtime?.stop();
  });
  const env = useControlPlane({ label: "operator-faults-input" });
  const run = { skip: env.skip, timeout: 120_000 };
  const NS = "mesh-a";

  before(async () => {
    if (env.skip !== undefined) return;
    const kc = await operatorKubeConfig(env.cp);
    await applyObjects(env.cp.kubeConfig, [
      namespace("istio-system"),
      namespace(NS),
      threatPolicy("default"),
    ]);
    runtime = await runOperator({ kubeConfig: kc });
  });

  it(
    "shows an EnvoyFilter's info and creation-time series, and drops them on delete",
    run,
    async (t) => {
      assert.ok(runtime);
      const server = runtime.server;
      assert.ok(server, "the metrics server runs");
      const scrape = async (): Promise<string> => {
        const { port } = server.address();
        return (await fetch(`http://127.0.0.1:${String(port)}/metrics`)).text();
      };
      const filter = envoyFilter(NS, "add-header");
      const info = new RegExp(
        `^mesh_compliance_envoyfilter_info\\{namespace="${NS}",name="add-header",allowed="false",risk="[a-z]+"\\} 1$`,
        "m",
      );
      const created = new RegExp(
        `^mesh_compliance_envoyfilter_created_timestamp_seconds\\{namespace="${NS}",name="add-header"\\} (\\d+)$`,
        "m",
      );
      const started = Date.now();
      await applyObjects(env.cp.kubeConfig, [filter]);
      const text = await waitFor("the EnvoyFilter series", WAIT_MS, async () => {
        const body = await scrape();
        return info.test(body) && created.test(body) ? body : undefined;
      });
      const appeared = Date.now() - started;
      const stored = await KubernetesObjectApi.makeApiClient(env.cp.kubeConfig).read(
        filter as KubernetesObject & { metadata: { name: string; namespace: string } },
      );
      const seconds = Number(created.exec(text)?.[1]);
      assert.equal(seconds, Date.parse(String(stored.metadata?.creationTimestamp)) / 1000);

      const deleting = Date.now();
      await deleteObject(env.cp.kubeConfig, filter);
      await waitFor("the series to go", WAIT_MS, async () => {
        const body = await scrape();
        return !body.includes(`name="add-header"`) ? true : undefined;
      });
      const gone = Date.now() - deleting;
      // The registry the server reads agrees with the scrape.
      assert.doesNotMatch(await metricsText(runtime), /name="add-header"/);
      t.diagnostic(
        `EnvoyFilter series: appeared after ${appeared} ms, gone ${gone} ms after delete`,
      );
    },
  );

  it(
    "ignores a waiver that expired yesterday and waives with one that expires tomorrow",
    run,
    async (t) => {
      const kc = env.cp.kubeConfig;
      await applyObjects(kc, [envoyFilter(NS, "waived-filter")]);
      await waitForReport(kc, "default", "T-03 Violated", (s) =>
        findingResources(threatOf(s, "T-03")).includes(`EnvoyFilter ${NS}/waived-filter`),
      );
      const waiver = (expires: Date) => ({
        waivers: [
          {
            threat: "T-03",
            check: "envoyfilter-unexpected",
            reason: "the header filter is reviewed by the platform team",
            owner: "platform",
            expires: expires.toISOString().replace(/\.\d{3}Z$/, "Z"),
          },
        ],
      });
      const yesterday = await setPolicySpec(kc, "default", waiver(new Date(Date.now() - DAY_MS)));
      const expired = await waitForReport(
        kc,
        "default",
        "the report of the policy with the expired waiver",
        (s) => s.observedGeneration === yesterday,
      );
      const t03 = threatOf(expired, "T-03");
      assert.equal(t03.status, "Violated");
      assert.ok(t03.findings.every((f) => f.waived === undefined));
      assert.deepEqual(
        expired.waivers.map((w) => `${w.threat} ${w.state} ${w.matchedFindings}`),
        ["T-03 Expired 0"],
      );

      const changed = Date.now();
      const tomorrow = await setPolicySpec(kc, "default", waiver(new Date(Date.now() + DAY_MS)));
      const active = await waitForReport(
        kc,
        "default",
        "the report of the policy with the active waiver",
        (s) => s.observedGeneration === tomorrow,
      );
      t.diagnostic(`policy update to report: ${Date.now() - changed} ms`);
      const waived = threatOf(active, "T-03");
      assert.equal(waived.status, "Waived");
      assert.equal(waived.counts.open, 0);
      assert.ok(waived.counts.waived >= 1);
      assert.equal(active.waivers[0]?.state, "Active");
      await setPolicySpec(kc, "default", {});
      await deleteObject(kc, envoyFilter(NS, "waived-filter"));
    },
  );

  it(
    "marks a policy the CRD admits but the parser refuses Invalid, naming the field, while another keeps updating",
    run,
    async () => {
      const kc = env.cp.kubeConfig;
      // Month 13 matches the CRD's date pattern (digits only), but it is no date.
      await applyObjects(kc, [
        threatPolicy("broken", {
          waivers: [{ threat: "S-01", reason: "r", expires: "2027-13-01" }],
        }),
      ]);
      const invalid = await waitFor("the Invalid condition", WAIT_MS, async () => {
        const p = await getCr(kc, "threatpolicies", "broken");
        const conditions = (p?.status?.conditions ?? []) as {
          type: string;
          status: string;
          message: string;
        }[];
        return conditions.find((c) => c.type === "Invalid" && c.status === "True");
      });
      assert.match(invalid.message, /spec\.waivers\[0\]\.expires/);
      assert.equal(await getReport(kc, "broken"), undefined, "no report for an invalid policy");

      // The valid policy's report follows a change made after the invalid policy arrived.
      await applyObjects(kc, [envoyFilter(NS, "after-invalid")]);
      await waitForReport(kc, "default", "the other policy's report to update", (s) =>
        findingResources(threatOf(s, "T-03")).includes(`EnvoyFilter ${NS}/after-invalid`),
      );
      await deleteObject(kc, envoyFilter(NS, "after-invalid"));
    },
  );

  it("reports a malformed EnvoyFilter the CRD admits, without a crash", run, async () => {
    assert.ok(runtime);
    const kc = env.cp.kubeConfig;
    // patch.value is free-form in the CRD: wrong types everywhere the checks look.
    const odd = envoyFilter(NS, "odd-types", {
      name: 7,
      typed_config: "not an object",
      filters: "lua",
      config: [1, "two", null],
    });
    // workloadSelector.labels and configPatches[].match are typed; a list of patches with an empty
    // element and an unknown applyTo are still admitted.
    const sparse: KubeObject = {
      apiVersion: "networking.istio.io/v1alpha3",
      kind: "EnvoyFilter",
      metadata: { name: "sparse", namespace: NS },
      spec: { configPatches: [{}, { patch: { value: { "@type": 3 } } }], priority: -5 },
    };
    await applyObjects(kc, [odd, sparse]);
    const report = await waitForReport(kc, "default", "both filters reported", (s) => {
      const found = findingResources(threatOf(s, "T-03"));
      return (
        found.includes(`EnvoyFilter ${NS}/odd-types`) && found.includes(`EnvoyFilter ${NS}/sparse`)
      );
    });
    assert.equal(threatOf(report, "T-03").status, "Violated");
    assert.match(
      await metricsText(runtime),
      /mesh_compliance_envoyfilter_info\{namespace="mesh-a",name="odd-types"/,
    );
    assert.ok(runtime.ready());
    await deleteObject(kc, odd);
    await deleteObject(kc, sparse);
  });

  it(
    "makes T-03 Unknown, naming EnvoyFilter, under a ClusterRole without envoyfilters",
    run,
    async (t) => {
      const kc = env.cp.kubeConfig;
      await runtime?.stop();
      runtime = undefined;
      await applyObjects(kc, [envoyFilter(NS, "unseen"), permissive(NS)]);
      const restricted = await restrictedOperatorKubeConfig(env.cp, "no-envoyfilters", [
        "envoyfilters",
      ]);
      const started = Date.now();
      runtime = await runOperator({ kubeConfig: restricted, identity: "restricted" });
      try {
        const report = await waitForReport(
          kc,
          "default",
          "T-03 Unknown and I-01 Violated",
          (s) =>
            threatOf(s, "T-03").status === "Unknown" && threatOf(s, "I-01").status === "Violated",
        );
        t.diagnostic(`restricted operator: report after ${Date.now() - started} ms`);
        assert.match(
          threatOf(report, "T-03").reason ?? "",
          /EnvoyFilter could not be read: forbidden/,
        );
        const kind = runtime.cache.kinds().find((k) => k.kind === K.EnvoyFilter);
        assert.equal(kind?.reason, "forbidden");
        // EnvoyFilter is the only kind that could not be read: every other Unknown part of a reason
        // is an input this bare control plane lacks (no istiod, no Gateway API CRDs), as with full
        // access; the threats that do not read EnvoyFilters were evaluated.
        const reasons = report.threats.flatMap((x) =>
          x.status === "Unknown" ? (x.reason ?? "").split("; ").map((r) => `${x.id} ${r}`) : [],
        );
        for (const r of reasons) t.diagnostic(r);
        assert.deepEqual(
          reasons.filter((r) => /forbidden/.test(r) && !/EnvoyFilter could not be read/.test(r)),
          [],
        );
        for (const id of ["S-01", "T-01", "I-01", "E-02"])
          assert.notEqual(threatOf(report, id).status, "Unknown", id);
        assert.ok(
          findingResources(threatOf(report, "I-01")).includes(`PeerAuthentication ${NS}/default`),
        );
      } finally {
        // Another operator must be able to take the Lease in the next test.
        await runtime.stop();
        runtime = undefined;
      }
      await deleteObject(kc, envoyFilter(NS, "unseen"));
      await deleteObject(kc, permissive(NS));
    },
  );

  it(
    "picks up the EnvoyFilter CRD installed after the operator started, without a restart",
    run,
    async (t) => {
      const kc = env.cp.kubeConfig;
      const source = readCrdFile(resolve(REPO, ISTIO_CRDS_RELATIVE));
      const crd = source.crds.find((c) => c.metadata.name === "envoyfilters.networking.istio.io");
      if (env.cp.crds?.istioFixtures === true || crd === undefined) {
        t.skip(`${ISTIO_CRDS_RELATIVE} not found`);
        return;
      }
      // This test starts its own operator; one left from an earlier test would hold the Lease.
      await runtime?.stop();
      await removeCrd(env.cp, crd.metadata.name);
      runtime = await runOperator({ kubeConfig: await operatorKubeConfig(env.cp) });
      const before = await waitForReport(kc, "default", "T-03 Unknown (not installed)", (s) =>
        /EnvoyFilter could not be read: not installed/.test(threatOf(s, "T-03").reason ?? ""),
      );
      assert.equal(threatOf(before, "T-03").status, "Unknown");

      const installed = Date.now();
      const reply = await httpCall({
        url: `${env.cp.server}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`,
        json: crd,
        tls: env.cp.tls,
        timeoutMs: 30_000,
      });
      assert.equal(reply.status, 201, reply.body);
      await waitFor("the EnvoyFilter kind", WAIT_MS, () =>
        Promise.resolve(
          runtime?.cache.snapshot().unavailable(K.EnvoyFilter) === undefined ? true : undefined,
        ),
      );
      const available = Date.now() - installed;
      // Until the client's discovery serves the new kind, it leaves the object out and says so.
      await waitFor("the API server to accept EnvoyFilters", WAIT_MS, async () => {
        const skipped = await applyObjects(kc, [envoyFilter(NS, "late")]);
        return skipped.length === 0 ? true : undefined;
      });
      await waitForReport(kc, "default", "the late EnvoyFilter reported", (s) =>
        findingResources(threatOf(s, "T-03")).includes(`EnvoyFilter ${NS}/late`),
      );
      t.diagnostic(
        `late CRD: watched ${available} ms after creation, reported ${Date.now() - installed} ms after`,
      );
      await runtime.stop();
      runtime = undefined;
    },
  );
});

describe("operator: reports changed or removed behind its back", () => {
  let runtime: OperatorRuntime | undefined;
  after(async () => {
    await runtime?.stop();
  });
  const env = useControlPlane({ label: "operator-faults-repair" });
  const run = { skip: env.skip, timeout: 120_000 };
  const NAME = "repaired";

  before(async () => {
    if (env.skip !== undefined) return;
    await applyObjects(env.cp.kubeConfig, [
      namespace("istio-system"),
      namespace("mesh-p"),
      permissive("mesh-p"),
      threatPolicy(NAME),
    ]);
    // A short resync: the repairs of a deleted or edited report happen on the resync.
    runtime = await runOperator({
      kubeConfig: await operatorKubeConfig(env.cp),
      args: ["--resync-interval=2s"],
    });
  });

  const api = (): CustomObjectsApi => env.cp.kubeConfig.makeApiClient(CustomObjectsApi);

  it("restores a ComplianceReport edited or deleted by hand within a resync", run, async (t) => {
    const kc = env.cp.kubeConfig;
    const first = await waitForReport(kc, NAME, "the first report", () => true);
    const score = first.summary.score;
    assert.ok(score < 100, "the PERMISSIVE namespace keeps the score below 100");

    await api().patchClusterCustomObjectStatus({
      ...CR,
      plural: "compliancereports",
      name: NAME,
      body: [{ op: "replace", path: "/status/summary/score", value: 100 }],
    });
    const edited = Date.now();
    await waitForReport(kc, NAME, "the real score back", (s) => s.summary.score === score);
    const restored = Date.now() - edited;

    await api().deleteClusterCustomObject({ ...CR, plural: "compliancereports", name: NAME });
    const deleted = Date.now();
    await waitForReport(kc, NAME, "the report re-created", (s) => s.summary.score === score);
    t.diagnostic(
      `hand edit undone after ${restored} ms, deleted report back after ${Date.now() - deleted} ms`,
    );
  });

  it(
    "takes over the report and writes the status of a policy deleted and created again",
    run,
    async () => {
      const kc = env.cp.kubeConfig;
      await waitForReport(kc, NAME, "the report", () => true);
      await api().deleteClusterCustomObject({ ...CR, plural: "threatpolicies", name: NAME });
      await applyObjects(kc, [threatPolicy(NAME)]);
      const policy = await getCr(kc, "threatpolicies", NAME);
      const uid = policy?.metadata.uid;
      assert.ok(uid !== undefined);

      await waitFor("the report owned by the new policy", WAIT_MS, async () => {
        const owners = (await getReport(kc, NAME))?.metadata.ownerReferences ?? [];
        return owners.some((o) => o.uid === uid && o.controller === true) ? true : undefined;
      });
      await waitFor("the new policy's Ready condition", WAIT_MS, async () => {
        const status = (await getCr(kc, "threatpolicies", NAME))?.status as
          { conditions?: { type: string; status: string }[] } | undefined;
        return status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")
          ? true
          : undefined;
      });
    },
  );
});

/** Deletes a CRD (and so its objects) and waits until the API server no longer has it. */
async function removeCrd(cp: ControlPlane, name: string): Promise<void> {
  const api = cp.kubeConfig.makeApiClient(ApiextensionsV1Api);
  await api.deleteCustomResourceDefinition({ name });
  await waitFor(`CRD ${name} to be gone`, 60_000, async () => {
    try {
      await api.readCustomResourceDefinition({ name });
      return undefined;
    } catch (error) {
      if (error instanceof ApiException && (error as ApiException<unknown>).code === 404)
        return true;
      throw error;
    }
  });
}

describe("operator: API server restarts and etcd compaction", () => {
  let runtime: OperatorRuntime | undefined;
  after(async () => {
    await runtime?.stop();
  });
  const env = useControlPlane({ label: "operator-faults-restart" });
  const run = { skip: env.skip, timeout: 180_000 };
  const changes: ObjectChange[] = [];
  const NS = "mesh-r";

  before(async () => {
    if (env.skip !== undefined) return;
    const kc = await operatorKubeConfig(env.cp);
    await applyObjects(env.cp.kubeConfig, [
      namespace("istio-system"),
      namespace(NS),
      threatPolicy("default"),
    ]);
    runtime = await runOperator({ kubeConfig: kc, args: ["--watch-timeout=30s"] });
    runtime.cache.onChange((c) => changes.push(c));
    await waitForReport(env.cp.kubeConfig, "default", "the first report", () => true);
  });

  it(
    "is correct after a restart with changes made before the watches reconnect, without duplicate Events",
    run,
    async (t) => {
      assert.ok(runtime);
      const kc = env.cp.kubeConfig;
      await applyObjects(kc, [envoyFilter(NS, "before-restart")]);
      await waitForReport(kc, "default", "the first filter reported", (s) =>
        findingResources(threatOf(s, "T-03")).includes(`EnvoyFilter ${NS}/before-restart`),
      );
      await runtime.controller.idle();

      // Writes need the API server, so nothing can change while it is down. The changes are made
      // the moment it answers again, while the operator's watches are still failing and backing off;
      // the operator learns about them only by resuming or relisting.
      await env.cp.stopApiServer();
      await env.cp.startApiServer();
      const restarted = Date.now();
      await changeWhenServed(kc, {
        remove: envoyFilter(NS, "before-restart"),
        add: [envoyFilter(NS, "after-restart"), permissive(NS)],
      });
      const report = await waitForReport(
        kc,
        "default",
        "the changes after the restart",
        (s) => {
          const t03 = findingResources(threatOf(s, "T-03"));
          return (
            t03.join() === `EnvoyFilter ${NS}/after-restart` &&
            findingResources(threatOf(s, "I-01")).includes(`PeerAuthentication ${NS}/default`)
          );
        },
        RESTART_WAIT_MS,
      );
      t.diagnostic(
        `restart: report correct ${Date.now() - restarted} ms after the API server was back`,
      );
      assert.equal(threatOf(report, "I-01").status, "Violated");

      await runtime.controller.idle();
      // A resync re-evaluates and may re-write; none of that may repeat an Event.
      await new Promise((r) => setTimeout(r, 1_000));
      await runtime.controller.idle();
      const events = await operatorEvents(kc);
      const keys = events.map(eventKey);
      const has = (re: RegExp) => keys.some((k) => re.test(k));
      assert.ok(has(/^FindingOpened EnvoyFilter mesh-r\/before-restart/), keys.join("\n"));
      assert.ok(has(/^FindingResolved EnvoyFilter mesh-r\/before-restart/), keys.join("\n"));
      assert.ok(has(/^FindingOpened EnvoyFilter mesh-r\/after-restart/), keys.join("\n"));
      assert.ok(has(/^FindingOpened PeerAuthentication mesh-r\/default/), keys.join("\n"));
      t.diagnostic(`${events.length} Events after the restart`);
    },
  );

  it(
    "relists after etcd compaction expires the resourceVersion and reports correctly",
    run,
    async (t) => {
      assert.ok(runtime);
      const kc = env.cp.kubeConfig;
      await runtime.controller.idle();
      const from = changes.length;
      await env.cp.compactEtcd();
      // A restarted API server's watch cache starts at the compacted revision, so the reflectors'
      // resourceVersions are too old: their watches get 410 Gone and must relist.
      await env.cp.restartApiServer();
      const restarted = Date.now();
      await changeWhenServed(kc, {
        remove: envoyFilter(NS, "after-restart"),
        add: [envoyFilter(NS, "after-compaction")],
      });
      await waitFor("an EnvoyFilter relist", WAIT_MS, () =>
        Promise.resolve(
          changes.slice(from).some((c) => c.kind === K.EnvoyFilter && c.type === "RELISTED")
            ? true
            : undefined,
        ),
      );
      const relisted = Date.now() - restarted;
      await waitForReport(
        kc,
        "default",
        "the report after compaction",
        (s) =>
          findingResources(threatOf(s, "T-03")).join() === `EnvoyFilter ${NS}/after-compaction`,
        RESTART_WAIT_MS,
      );
      t.diagnostic(
        `compaction: EnvoyFilter relisted ${relisted} ms, report correct ${Date.now() - restarted} ms after the restart`,
      );
      await runtime.controller.idle();
    },
  );

  it(
    "creates no duplicate Events across the restart and the relist",
    // Duplicates come from findings that resolve and reopen under new Event names: a restarted
    // API server answers 404 and 403 (or leaves a kind out of discovery) for a moment, and a
    // reflector that emptied its kind on that would resolve every finding the kind carries.
    run,
    async () => {
      assert.ok(runtime);
      await runtime.controller.idle();
      assert.deepEqual(duplicates(await operatorEvents(env.cp.kubeConfig)), []);
    },
  );
});
