import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KeyQueue, type KeyFailure, type Timers } from "../../../operator/controller/queue.js";

/** Timers that fire only when the test advances the clock. */
class FakeTimers implements Timers {
  now = 0;
  private pending: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.pending.push({ at: this.now + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending = this.pending.filter((p) => p.id !== handle);
  }
  /** Advances the clock, firing due timers, and lets the queue's promises settle. */
  async advance(ms: number): Promise<void> {
    this.now += ms;
    for (;;) {
      const due = this.pending.filter((p) => p.at <= this.now).sort((a, b) => a.at - b.at);
      if (due.length === 0) break;
      this.pending = this.pending.filter((p) => !due.includes(p));
      for (const d of due) d.fn();
      await settle();
    }
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

function setup(handler?: (key: string) => Promise<void>) {
  const timers = new FakeTimers();
  const runs: string[] = [];
  const failures: KeyFailure[] = [];
  const queue = new KeyQueue(
    async (key) => {
      runs.push(key);
      await handler?.(key);
    },
    {
      debounceMs: 200,
      backoff: { initialMs: 1_000, maxMs: 4_000 },
      timers,
      random: () => 0,
      retryable: (e) => !(e instanceof RangeError),
      onFailure: (f) => failures.push(f),
    },
  );
  return { timers, runs, failures, queue };
}

describe("key queue", () => {
  it("runs a burst of adds of one key once, after the debounce", async () => {
    const { timers, runs, queue } = setup();
    for (let i = 0; i < 50; i++) queue.add("default");
    await timers.advance(199);
    assert.deepEqual(runs, []);
    await timers.advance(1);
    assert.deepEqual(runs, ["default"]);
  });

  it("runs different keys separately", async () => {
    const { timers, runs, queue } = setup();
    queue.add("a");
    queue.add("b");
    await timers.advance(200);
    assert.deepEqual(runs.sort(), ["a", "b"]);
  });

  it("re-runs a key once after it finishes when it was added while running", async () => {
    const gates: (() => void)[] = [];
    const { timers, runs, queue } = setup(
      () =>
        new Promise<void>((resolve) => {
          gates.push(resolve);
        }),
    );
    queue.add("a");
    await timers.advance(200);
    queue.add("a");
    queue.add("a");
    gates[0]?.();
    await timers.advance(0);
    await timers.advance(200);
    assert.deepEqual(runs, ["a", "a"]);
    gates[1]?.();
    await timers.advance(1_000);
    assert.deepEqual(runs, ["a", "a"]);
    assert.equal(queue.size, 0);
  });

  it("retries a failing key with capped exponential backoff, then resets after success", async () => {
    let failuresLeft = 4;
    const { timers, runs, failures, queue } = setup(async () => {
      await Promise.resolve();
      if (failuresLeft-- > 0) throw new Error("503");
    });
    queue.add("a");
    await timers.advance(200);
    assert.deepEqual(
      failures.map((f) => f.retryInMs),
      [1_000],
    );
    await timers.advance(1_000);
    await timers.advance(2_000);
    await timers.advance(4_000);
    assert.deepEqual(
      failures.map((f) => f.retryInMs),
      [1_000, 2_000, 4_000, 4_000],
    );
    await timers.advance(4_000);
    assert.equal(runs.length, 5);
    assert.equal(queue.size, 0);
  });

  it("does not retry an error it is told is terminal", async () => {
    const { timers, runs, failures, queue } = setup(() => Promise.reject(new RangeError("bug")));
    queue.add("a");
    await timers.advance(200);
    await timers.advance(60_000);
    assert.equal(runs.length, 1);
    assert.equal(failures[0]?.retryInMs, undefined);
  });

  it("takes up to 20% off the backoff at random", () => {
    const queue = new KeyQueue(() => Promise.resolve(), {
      debounceMs: 1,
      backoff: { initialMs: 1_000, maxMs: 30_000 },
      random: () => 1,
    });
    assert.equal(queue.backoffMs(1), 800);
    assert.equal(queue.backoffMs(10), 24_000);
  });

  it("drops waiting keys on stop", async () => {
    const { timers, runs, queue } = setup();
    queue.add("a");
    await queue.stop();
    await timers.advance(1_000);
    queue.add("b");
    await timers.advance(1_000);
    assert.deepEqual(runs, []);
  });
});
