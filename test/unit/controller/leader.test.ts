// Leader election over an in-memory Lease and a clock the test moves.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import winston from "winston";
import type { Lease, LeaseApi } from "../../../operator/controller/api.js";
import { LeaderElector } from "../../../operator/controller/leader.js";

class MemoryLeases implements LeaseApi {
  lease: Lease | undefined;
  /** While set, reads wait for it: a slow API server. */
  gate: Promise<void> | undefined;
  reads = 0;
  async get(): Promise<Lease | undefined> {
    this.reads += 1;
    await this.gate;
    return this.lease;
  }
  create(_namespace: string, lease: Lease): Promise<Lease> {
    this.lease = lease;
    return Promise.resolve(lease);
  }
  replace(_namespace: string, lease: Lease): Promise<Lease> {
    this.lease = lease;
    return Promise.resolve(lease);
  }
}

async function eventually(what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("leader election", () => {
  it("leads again, as after an election, when a late renewal still succeeds", async () => {
    let clock = 1_000_000;
    let started = 0;
    const api = new MemoryLeases();
    const elector = new LeaderElector({
      api,
      namespace: "ns",
      name: "lease",
      identity: "a",
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 5,
      logger: winston.createLogger({ silent: true }),
      now: () => clock,
      onStartedLeading: () => (started += 1),
      onStoppedLeading: () => undefined,
    });
    elector.start();
    try {
      await eventually("the lease", () => elector.isLeader());
      let open: () => void = () => undefined;
      api.gate = new Promise((resolve) => (open = resolve));
      const reads = api.reads;
      await eventually("a renewal in flight", () => api.reads > reads);
      clock += 11_000;
      assert.equal(elector.isLeader(), false, "no renewal within the deadline: no writes");
      api.gate = undefined;
      open();
      await eventually("leading again", () => started === 2);
      assert.equal(elector.isLeader(), true);
    } finally {
      await elector.stop();
    }
  });

  it("stops claiming to lead once its last renewal is older than the renew deadline", async () => {
    let clock = 1_000_000;
    const elector = new LeaderElector({
      api: new MemoryLeases(),
      namespace: "ns",
      name: "lease",
      identity: "a",
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      // Long enough that the loop does not renew again during the test.
      retryPeriodMs: 60_000,
      logger: winston.createLogger({ silent: true }),
      now: () => clock,
      onStartedLeading: () => undefined,
      onStoppedLeading: () => undefined,
    });
    elector.start();
    try {
      await eventually("the lease", () => elector.isLeader());
      clock += 9_000;
      assert.equal(elector.isLeader(), true, "within the renew deadline");
      // As after a stalled process: the loop has not run, the Lease may have passed on.
      clock += 2_000;
      assert.equal(elector.isLeader(), false, "past the renew deadline it must not write");
    } finally {
      await elector.stop();
    }
  });
});
