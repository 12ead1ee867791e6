// The controller's reconcile loop over an in-memory cache: which policies it evaluates when the
// cache's ThreatPolicy kind empties and fills again, as it does around an API server restart.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import yaml from "js-yaml";
import winston from "winston";
import { Controller } from "../../../operator/controller/controller.js";
import { CHECKS } from "../../../operator/engine/checks/index.js";
import { K } from "../../../operator/engine/kinds.js";
import { Snapshot } from "../../../operator/engine/snapshot.js";
import type { KubeObject } from "../../../operator/engine/types.js";
import type { ClusterCache, KindStatus, ObjectChange } from "../../../operator/kube/types.js";

const logger = winston.createLogger({ silent: true });
const WAIT_MS = 10_000;

const POLICY: KubeObject = {
  apiVersion: "meshcompliance.io/v1alpha1",
  kind: "ThreatPolicy",
  metadata: { name: "default", generation: 1 },
  spec: {},
};
const NAMESPACE: KubeObject = {
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name: "app", labels: { "istio-injection": "enabled" } },
};

/** The part of the cluster cache the controller uses, held in memory and changed by the test. */
class MemoryCache implements Pick<ClusterCache, "snapshot" | "onChange" | "kinds"> {
  objects: KubeObject[] = [];
  readonly unavailable = new Map<string, string>();
  private readonly listeners = new Set<(change: ObjectChange) => void>();

  snapshot(): Snapshot {
    return new Snapshot(this.objects, { unavailable: this.unavailable, namespacesComplete: true });
  }

  onChange(listener: (change: ObjectChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  kinds(): KindStatus[] {
    return [];
  }

  emit(change: ObjectChange): void {
    for (const listener of this.listeners) listener(change);
  }
}

async function eventually(what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("controller: policies across a ThreatPolicy relist", () => {
  let controller: Controller | undefined;
  afterEach(async () => {
    await controller?.stop();
    controller = undefined;
  });

  function start(cache: MemoryCache, resyncIntervalMs = 3_600_000): Controller {
    controller = new Controller({
      cache,
      checks: CHECKS,
      meshOptions: { parseYaml: (t) => yaml.load(t), assumeUndeclaredNamespacesEnrolled: false },
      logger,
      debounceMs: 1,
      resyncIntervalMs,
      reportNamespaces: 10,
    });
    controller.start();
    return controller;
  }

  /** The cache loses the ThreatPolicy kind (403 past its grace): the policy looks deleted. */
  async function loseKind(cache: MemoryCache, c: Controller): Promise<void> {
    cache.objects = [NAMESPACE];
    cache.unavailable.set(K.ThreatPolicy, "forbidden");
    cache.emit({ kind: K.ThreatPolicy, name: "", type: "RELISTED" });
    await c.idle();
    assert.deepEqual(Object.keys(c.report()), [], "an unreadable policy has no report");
  }

  it("evaluates a policy again when a relist brings it back", async () => {
    const cache = new MemoryCache();
    cache.objects = [POLICY, NAMESPACE];
    const c = start(cache);
    await c.idle();
    assert.deepEqual(Object.keys(c.report()), ["default"]);
    await loseKind(cache, c);

    cache.objects = [POLICY, NAMESPACE];
    cache.unavailable.clear();
    cache.emit({ kind: K.ThreatPolicy, name: "", type: "RELISTED" });
    await c.idle();
    assert.deepEqual(Object.keys(c.report()), ["default"]);
  });

  it("warns about an invalid policy once per version, however often it is evaluated", async () => {
    const warnings: string[] = [];
    const capture = winston.createLogger({ level: "warn", silent: false, transports: [] });
    capture.on("data", (info: { level: string; message: string }) => {
      if (info.level === "warn") warnings.push(info.message);
    });
    const bad: KubeObject = {
      ...POLICY,
      metadata: { name: "bad", uid: "u1", generation: 1 },
      spec: { waivers: "not a list" },
    };
    const cache = new MemoryCache();
    cache.objects = [bad, NAMESPACE];
    controller = new Controller({
      cache,
      checks: CHECKS,
      meshOptions: { parseYaml: (t) => yaml.load(t), assumeUndeclaredNamespacesEnrolled: false },
      logger: capture,
      debounceMs: 1,
      resyncIntervalMs: 3_600_000,
      reportNamespaces: 10,
    });
    controller.start();
    await controller.idle();
    for (let i = 0; i < 3; i++) {
      cache.emit({ kind: K.Namespace, name: "app", type: "MODIFIED" });
      await controller.idle();
    }
    assert.deepEqual(warnings, ["ThreatPolicy is invalid"]);

    cache.objects = [{ ...bad, metadata: { ...bad.metadata, generation: 2 } }, NAMESPACE];
    cache.emit({ kind: K.ThreatPolicy, name: "bad", type: "MODIFIED" });
    await controller.idle();
    assert.equal(warnings.length, 2, "a new generation that is still invalid is said again");
  });

  it("finds a policy the cache holds again on the next resync, even without a change", async () => {
    const cache = new MemoryCache();
    cache.objects = [POLICY, NAMESPACE];
    const c = start(cache, 50);
    await c.idle();
    await loseKind(cache, c);

    cache.objects = [POLICY, NAMESPACE];
    cache.unavailable.clear();
    await eventually("the report after a resync", () => "default" in c.report());
  });
});
