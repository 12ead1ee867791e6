import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kubeConfigFor } from "../../../operator/cli/operator.js";
import { loadConfig } from "../../../operator/config/config.js";

describe("choosing the cluster", () => {
  it("fails clearly, naming what is missing, when there is no pod and no kubeconfig", () => {
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = "/nonexistent/mesh-compliance/kubeconfig";
    try {
      const config = loadConfig([], {}, { hostname: "h", pid: 1 });
      assert.throws(
        () => kubeConfigFor(config),
        /no cluster: not in a pod, and no kubeconfig at \/nonexistent/,
      );
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });
});
