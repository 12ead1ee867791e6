// The status writer writes only what changed (evaluatedAt aside) and retries a conflict against
// the stored version; the Event recorder creates at most its per-minute budget, refills with the
// injected clock, and names Events so a replay of the same transition creates the same name.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type {
  ClusterObjects,
  EventBody,
  EventSink,
  Plural,
  StoredObject,
} from "../../../operator/controller/api.js";
import { ConflictError } from "../../../operator/controller/errors.js";
import { EventRecorder, type Transition } from "../../../operator/controller/events.js";
import { sameReport, StatusWriter } from "../../../operator/controller/status.js";
import type { ComplianceReportStatus } from "../../../operator/report/types.js";

/** An in-memory API with resourceVersions; `conflictOnce` makes the next write fail with 409. */
class FakeObjects implements ClusterObjects {
  readonly store = new Map<string, StoredObject>();
  writes = 0;
  reads = 0;
  private version = 1;
  conflictOnce = false;

  get(plural: Plural, name: string): Promise<StoredObject | undefined> {
    this.reads += 1;
    return Promise.resolve(this.store.get(`${plural}/${name}`));
  }
  create(plural: Plural, body: StoredObject): Promise<StoredObject> {
    const stored = { ...body, metadata: { ...body.metadata, resourceVersion: this.next() } };
    this.store.set(`${plural}/${body.metadata.name}`, stored);
    return Promise.resolve(stored);
  }
  replaceStatus(plural: Plural, body: StoredObject): Promise<StoredObject> {
    const key = `${plural}/${body.metadata.name}`;
    const current = this.store.get(key);
    const stale = current?.metadata.resourceVersion !== body.metadata.resourceVersion;
    if (current === undefined || this.conflictOnce || stale) {
      this.conflictOnce = false;
      // Someone else wrote meanwhile: the stored version moves on.
      if (current) current.metadata.resourceVersion = this.next();
      return Promise.reject(new ConflictError("the object has been modified"));
    }
    this.writes += 1;
    // The status subresource changes the status only; metadata and spec stay as stored.
    const stored = {
      ...current,
      status: body.status,
      metadata: { ...current.metadata, resourceVersion: this.next() },
    };
    this.store.set(key, stored);
    return Promise.resolve(stored);
  }
  replace(plural: Plural, body: StoredObject): Promise<StoredObject> {
    const key = `${plural}/${body.metadata.name}`;
    const current = this.store.get(key);
    if (
      current === undefined ||
      current.metadata.resourceVersion !== body.metadata.resourceVersion
    ) {
      return Promise.reject(new ConflictError("the object has been modified"));
    }
    // The main resource keeps the stored status.
    const stored = {
      ...body,
      status: current.status,
      metadata: { ...body.metadata, resourceVersion: this.next() },
    };
    this.store.set(key, stored);
    return Promise.resolve(stored);
  }
  private next(): string {
    this.version += 1;
    return String(this.version);
  }
}

function report(evaluatedAt: string, score: number): ComplianceReportStatus {
  return {
    evaluatedAt,
    policy: "default",
    summary: { score },
    threats: [],
  } as unknown as ComplianceReportStatus;
}

const POLICY = { name: "default", uid: "uid-1" };

describe("status writer change detection", () => {
  const cases = [
    {
      name: "treats reports that differ only in evaluatedAt as the same",
      a: report("2026-01-01T00:00:00Z", 50),
      b: report("2026-01-02T00:00:00Z", 50),
      same: true,
    },
    {
      name: "treats reports with a different score as changed",
      a: report("2026-01-01T00:00:00Z", 50),
      b: report("2026-01-01T00:00:00Z", 60),
      same: false,
    },
    {
      name: "treats a missing stored status as changed",
      a: undefined,
      b: report("2026-01-01T00:00:00Z", 50),
      same: false,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(sameReport(c.a, c.b), c.same);
    });
  }

  it("creates the report once, then writes only when something other than the time changed", async () => {
    const api = new FakeObjects();
    const writer = new StatusWriter(api, () => new Date(0));
    const first = await writer.writeReport(POLICY, report("t1", 50));
    assert.equal(first.written, true);
    assert.equal(first.previous, undefined);
    const again = await writer.writeReport(POLICY, report("t2", 50));
    assert.equal(again.written, false);
    assert.equal(api.writes, 1);
    assert.equal(api.reads, 1, "the stored status is remembered, not read again");
    const changed = await writer.writeReport(POLICY, report("t3", 70));
    assert.equal(changed.written, true);
    assert.equal((changed.previous?.summary as { score: number }).score, 50);
    assert.equal(api.writes, 2);
  });

  it("re-reads after a conflict and lands the write", async () => {
    const api = new FakeObjects();
    const writer = new StatusWriter(api, () => new Date(0));
    await writer.writeReport(POLICY, report("t1", 50));
    api.conflictOnce = true;
    const result = await writer.writeReport(POLICY, report("t2", 80));
    assert.equal(result.written, true);
    assert.equal(result.conflicts, 1);
    const stored = api.store.get("compliancereports/default")?.status as ComplianceReportStatus;
    assert.equal((stored.summary as { score: number }).score, 80);
  });

  it("restores a report deleted or edited by hand once it has forgotten what it stored", async () => {
    const api = new FakeObjects();
    const writer = new StatusWriter(api, () => new Date(0));
    await writer.writeReport(POLICY, report("t1", 50));
    const stored = api.store.get("compliancereports/default");
    assert.ok(stored);
    stored.status = report("t1", 100);
    writer.reset();
    const restored = await writer.writeReport(POLICY, report("t2", 50));
    assert.equal(restored.written, true, "the edited score is put back");

    api.store.delete("compliancereports/default");
    writer.reset();
    const recreated = await writer.writeReport(POLICY, report("t3", 50));
    assert.equal(recreated.written, true);
    assert.ok(api.store.has("compliancereports/default"), "the deleted report is created again");
  });

  it("re-creates a report deleted since its last write: the failed write re-reads", async () => {
    const api = new FakeObjects();
    const writer = new StatusWriter(api, () => new Date(0));
    await writer.writeReport(POLICY, report("t1", 50));
    api.store.delete("compliancereports/default");
    const result = await writer.writeReport(POLICY, report("t2", 60));
    assert.equal(result.written, true);
    const stored = api.store.get("compliancereports/default")?.status as ComplianceReportStatus;
    assert.equal((stored.summary as { score: number }).score, 60);
  });

  it("takes over a report owned by an earlier policy of the same name", async () => {
    const api = new FakeObjects();
    const writer = new StatusWriter(api, () => new Date(0));
    await writer.writeReport(POLICY, report("t1", 50));
    writer.forget(POLICY.name);
    const again = { ...POLICY, uid: "uid-of-the-new-policy" };
    await writer.writeReport(again, report("t2", 50));
    const owners = api.store.get("compliancereports/default")?.metadata.ownerReferences;
    assert.deepEqual(
      owners?.map((o) => (o as { uid: string; controller: boolean }).uid),
      ["uid-of-the-new-policy"],
    );
    const stored = api.store.get("compliancereports/default")?.status as ComplianceReportStatus;
    assert.equal((stored.summary as { score: number }).score, 50, "the status is kept");
  });

  it("keeps a condition's lastTransitionTime while its status stays, and writes nothing new", async () => {
    const api = new FakeObjects();
    await api.create("threatpolicies", {
      apiVersion: "meshcompliance.io/v1alpha1",
      kind: "ThreatPolicy",
      metadata: { name: "default" },
    });
    const writer = new StatusWriter(api, () => new Date(0));
    const ready = (at: string) => ({
      conditions: [
        {
          type: "Ready",
          status: "True" as const,
          reason: "Evaluated",
          message: "m",
          lastTransitionTime: at,
        },
      ],
    });
    assert.equal(await writer.writePolicyStatus("default", ready("t1")), true);
    assert.equal(await writer.writePolicyStatus("default", ready("t2")), false);
    const stored = api.store.get("threatpolicies/default")?.status as ReturnType<typeof ready>;
    assert.equal(stored.conditions[0]?.lastTransitionTime, "t1");
  });
});

class RecordingSink implements EventSink {
  readonly events: EventBody[] = [];
  create(_namespace: string, event: EventBody): Promise<void> {
    this.events.push(event);
    return Promise.resolve();
  }
}

function opened(n: number): Transition[] {
  return Array.from({ length: n }, (_, i) => ({
    reason: "ThreatViolated" as const,
    key: `T-0${String(i)}`,
    message: `threat ${String(i)} violated`,
  }));
}

describe("Event rate limiter", () => {
  it("creates at most the per-minute budget at once and counts the rest as dropped", async () => {
    const sink = new RecordingSink();
    let now = 0;
    const recorder = new EventRecorder({
      sink,
      perMinute: 3,
      instance: "test",
      clusterNamespace: "default",
      now: () => new Date(now),
    });
    assert.equal(await recorder.record("default", opened(5), "1"), 3);
    assert.equal(recorder.dropped, 2);
    // A third of a minute refills one token at 3 per minute.
    now += 20_000;
    assert.equal(await recorder.record("default", opened(2), "2"), 1);
    assert.equal(recorder.dropped, 3);
    // A long pause refills up to the budget, never beyond it.
    now += 10 * 60_000;
    assert.equal(await recorder.record("default", opened(5), "3"), 3);
    assert.equal(sink.events.length, 7);
  });

  it("names an Event after the transition and the stored version, so a replay repeats the name", async () => {
    const sink = new RecordingSink();
    const options = {
      sink,
      perMinute: 10,
      instance: "test",
      clusterNamespace: "default",
      now: () => new Date(0),
    };
    await new EventRecorder(options).record("default", opened(1), "41");
    await new EventRecorder(options).record("default", opened(1), "41");
    await new EventRecorder(options).record("default", opened(1), "42");
    const names = sink.events.map((e) => e.metadata.name);
    assert.equal(names[0], names[1]);
    assert.notEqual(names[1], names[2]);
    const first = sink.events[0];
    assert.ok(first);
    assert.equal(first.type, "Warning");
    assert.equal(first.involvedObject.kind, "ThreatPolicy");
  });
});
