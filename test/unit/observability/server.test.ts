import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createMetrics } from "../../../operator/metrics/index.js";
import { createOperatorServer, type OperatorServer } from "../../../operator/server/http.js";

describe("operator HTTP server", () => {
  let ready = false;
  let report: unknown;
  let server: OperatorServer;
  let base = "";

  before(async () => {
    const metrics = createMetrics({ kinds: ["/Pod"] });
    server = createOperatorServer({
      host: "127.0.0.1",
      port: 0,
      registry: metrics.registry,
      ready: () => ready,
      report: () => report,
    });
    await server.start();
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => server.close());

  it("serves the metrics in the Prometheus text format", async () => {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
    assert.match(await res.text(), /^mesh_compliance_input_available\{kind="\/Pod"\} 0$/m);
  });

  it("answers /healthz as soon as it listens", async () => {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
  });

  it("answers /readyz with 503 until the first full evaluation, then 200", async () => {
    ready = false;
    assert.equal((await fetch(`${base}/readyz`)).status, 503);
    ready = true;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
  });

  it("serves /report as JSON once there is one, 503 before", async () => {
    report = undefined;
    assert.equal((await fetch(`${base}/report`)).status, 503);
    report = [{ policy: "default", summary: { score: 71 } }];
    const res = await fetch(`${base}/report`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), report);
  });

  it("answers 404 for unknown paths and 405 for writes", async () => {
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    assert.equal((await fetch(`${base}/metrics`, { method: "POST" })).status, 405);
  });

  it("closes promptly although a client keeps its connection alive", async () => {
    const metrics = createMetrics({ kinds: [] });
    const own = createOperatorServer({
      host: "127.0.0.1",
      port: 0,
      registry: metrics.registry,
      ready: () => true,
      report: () => undefined,
    });
    await own.start();
    const res = await fetch(`http://127.0.0.1:${own.address().port}/healthz`, {
      headers: { connection: "keep-alive" },
    });
    await res.text();
    await own.close();
    await own.close();
  });

  it("names the setting when its address is taken", async () => {
    const metrics = createMetrics({ kinds: [] });
    const second = createOperatorServer({
      host: "127.0.0.1",
      port: server.address().port,
      registry: metrics.registry,
      ready: () => true,
      report: () => undefined,
    });
    await assert.rejects(
      second.start(),
      /cannot serve on 127\.0\.0\.1:\d+ \(--metrics-address, MESH_COMPLIANCE_METRICS_ADDRESS\): .*EADDRINUSE/,
    );
  });
});
