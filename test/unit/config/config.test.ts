import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ConfigError,
  configHelp,
  loadConfig,
  unknownVariables,
} from "../../../operator/config/config.js";

const CTX = { hostname: "host-a", pid: 42 };

function problems(argv: string[], env: Record<string, string> = {}): string[] {
  try {
    loadConfig(argv, env, CTX);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems.map((p) => `${p.setting}|${p.received}|${p.expected}`);
  }
  assert.fail("expected a ConfigError");
}

describe("operator configuration", () => {
  it("uses the stated defaults outside a cluster, listening on loopback only", () => {
    const c = loadConfig([], {}, CTX);
    assert.deepEqual(c.metricsAddress, { host: "127.0.0.1", port: 8080 });
    assert.equal(c.inCluster, false);
    assert.equal(c.debounceMs, 200);
    assert.equal(c.resyncIntervalMs, 240_000);
    assert.equal(c.leaseDurationMs, 15_000);
    assert.equal(c.renewDeadlineMs, 10_000);
    assert.equal(c.retryPeriodMs, 2_000);
    assert.equal(c.watchTimeoutSeconds, 300);
    assert.equal(c.leaderElection, true);
    assert.equal(c.identity, "host-a_42");
    assert.equal(c.leaseNamespace, "mesh-compliance-system");
    assert.equal(c.kubeconfig, undefined);
  });

  it("listens on every interface in a pod, so the kubelet's probes reach it", () => {
    const c = loadConfig(
      [],
      { KUBERNETES_SERVICE_HOST: "10.0.0.1" },
      { ...CTX, podNamespace: "ops" },
    );
    assert.deepEqual(c.metricsAddress, { host: "0.0.0.0", port: 8080 });
    assert.equal(c.inCluster, true);
    assert.equal(c.leaseNamespace, "ops");
  });

  it("takes a flag over its environment variable, and the variable over the default", () => {
    const env = { MESH_COMPLIANCE_DEBOUNCE: "1s", MESH_COMPLIANCE_LOG_LEVEL: "debug" };
    const c = loadConfig(["--debounce=50ms"], env, CTX);
    assert.equal(c.debounceMs, 50);
    assert.equal(c.logLevel, "debug");
  });

  it("reads --flag value, --flag=value, --flag and --no-flag forms", () => {
    const c = loadConfig(
      ["--context", "kind-a", "--no-leader-election", "--namespace-metrics", "--identity=x"],
      {},
      CTX,
    );
    assert.equal(c.context, "kind-a");
    assert.equal(c.leaderElection, false);
    assert.equal(c.namespaceMetrics, true);
    assert.equal(c.identity, "x");
  });

  it("names the setting, the value and what was expected for every bad value at once", () => {
    assert.deepEqual(problems(["--debounce=soon"], { MESH_COMPLIANCE_METRICS_ADDRESS: "8080" }), [
      "MESH_COMPLIANCE_METRICS_ADDRESS|8080|host:port or :port, e.g. 127.0.0.1:8080 or :8080",
      "--debounce|soon|a duration such as 200ms, 2s, 10m or 1h",
    ]);
  });

  it("rejects unknown flags and bare arguments", () => {
    assert.deepEqual(problems(["--verbose", "extra"]), [
      "--verbose|--verbose|a known flag (see --help)",
      "arguments|extra|a --flag (see --help)",
    ]);
  });

  it("requires lease duration > renew deadline > retry period", () => {
    assert.deepEqual(problems(["--lease-duration=5s", "--renew-deadline=6s"]), [
      "--renew-deadline|6s|less than --lease-duration (5s)",
    ]);
    assert.deepEqual(problems(["--renew-deadline=2s", "--retry-period=2500ms"]), [
      "--retry-period|2500ms|less than --renew-deadline (2s)",
    ]);
  });

  it("rejects an events limit out of range and a lease name that is not a DNS name", () => {
    assert.deepEqual(problems(["--events-per-minute=-1", "--lease-name=Bad_Name"]), [
      "--lease-name|Bad_Name|a lowercase DNS name (a-z, 0-9, '-', '.'; at most 253 characters)",
      "--events-per-minute|-1|an integer from 0 to 10000",
    ]);
  });

  it("finds misspelt MESH_COMPLIANCE_ variables, but not those Kubernetes sets for a Service", () => {
    assert.deepEqual(
      unknownVariables({
        MESH_COMPLIANCE_DEBOUNCE: "1s",
        MESH_COMPLIANCE_DEBOUNCE_MS: "1000",
        MESH_COMPLIANCE_LOGLEVEL: "debug",
        MESH_COMPLIANCE_OPERATOR_SERVICE_HOST: "10.0.0.1",
        MESH_COMPLIANCE_OPERATOR_SERVICE_PORT: "8080",
        MESH_COMPLIANCE_OPERATOR_SERVICE_PORT_HTTP_METRICS: "8080",
        MESH_COMPLIANCE_OPERATOR_PORT: "tcp://10.0.0.1:8080",
        MESH_COMPLIANCE_OPERATOR_PORT_8080_TCP_ADDR: "10.0.0.1",
        OTHER_VARIABLE: "x",
      }),
      ["MESH_COMPLIANCE_DEBOUNCE_MS", "MESH_COMPLIANCE_LOGLEVEL"],
    );
  });

  it("lists every flag with its variable and default in the help text", () => {
    const help = configHelp({ ...CTX, inCluster: false });
    assert.match(help, /--debounce <value> {2}\[MESH_COMPLIANCE_DEBOUNCE\]/);
    assert.match(help, /127\.0\.0\.1:8080 elsewhere\) \(here 127\.0\.0\.1:8080\)/);
    assert.match(help, /stays valid without renewal \(default 15s\)/);
    assert.doesNotMatch(help, /\(default[^)]*\) \(default/, "one default per setting");
  });
});
