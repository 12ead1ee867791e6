// `mesh-compliance operator`: runs the controller against the cluster of the in-cluster config, or
// of the current (or given) kubeconfig context, until SIGTERM or SIGINT.

import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "winston";
import {
  ConfigError,
  configHelp,
  loadConfig,
  unknownVariables,
  type OperatorConfig,
} from "../config/config.js";
import type { DefaultContext } from "../config/settings.js";
import { createLogger } from "../controller/logging.js";
import { startOperator, type OperatorRuntime } from "../controller/runtime.js";

/** After SIGTERM the process must be gone within 10 s (the kubelet's grace period is longer). */
const SHUTDOWN_DEADLINE_MS = 9_000;
const SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

function defaultsContext(): Omit<DefaultContext, "inCluster"> {
  let podNamespace: string | undefined;
  try {
    podNamespace = readFileSync(SA_NAMESPACE_FILE, "utf8").trim() || undefined;
  } catch {
    podNamespace = undefined;
  }
  return { hostname: hostname(), pid: process.pid, ...(podNamespace ? { podNamespace } : {}) };
}

/** Thrown for a kubeconfig or context that cannot be used; exit code 2. */
const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

class KubeConfigError extends Error {
  override readonly name = "KubeConfigError";
}

export function kubeConfigFor(config: OperatorConfig): KubeConfig {
  const kc = new KubeConfig();
  if (config.kubeconfig !== undefined) {
    try {
      kc.loadFromFile(config.kubeconfig);
    } catch (error) {
      throw new KubeConfigError(
        `--kubeconfig: got "${config.kubeconfig}", expected a readable kubeconfig file (${message(error)})`,
      );
    }
  } else if (config.inCluster) {
    if (!existsSync(SERVICE_ACCOUNT_TOKEN)) {
      throw new KubeConfigError(
        `no cluster: KUBERNETES_SERVICE_HOST is set but ${SERVICE_ACCOUNT_TOKEN} is missing ` +
          "(mount the ServiceAccount token, or use --kubeconfig)",
      );
    }
    kc.loadFromCluster();
  } else {
    // Without a kubeconfig, client-node falls back to http://localhost:8080, which is where the
    // operator's own metrics listen by default: say what is missing instead.
    const candidates = (process.env.KUBECONFIG || join(homedir(), ".kube", "config"))
      .split(delimiter)
      .filter((f) => f !== "");
    if (!candidates.some((f) => existsSync(f))) {
      throw new KubeConfigError(
        `no cluster: not in a pod, and no kubeconfig at ${candidates.join(", ") || "$KUBECONFIG"} ` +
          "(use --kubeconfig or set KUBECONFIG)",
      );
    }
    kc.loadFromDefault();
  }
  if (config.context !== undefined) {
    if (!kc.getContexts().some((c) => c.name === config.context)) {
      throw new KubeConfigError(
        `--context: got "${config.context}", expected one of the kubeconfig's contexts ` +
          `(${
            kc
              .getContexts()
              .map((c) => c.name)
              .join(", ") || "none"
          })`,
      );
    }
    kc.setCurrentContext(config.context);
  }
  if (kc.getCurrentCluster() === null) {
    throw new KubeConfigError(
      "no cluster: not in a pod, and the kubeconfig has no current context (use --kubeconfig)",
    );
  }
  return kc;
}

function waitForSignal(logger: Logger, abort: AbortController): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      logger.info("shutting down", { signal });
      const deadline = setTimeout(() => {
        logger.error("shutdown took too long; exiting", { deadlineMs: SHUTDOWN_DEADLINE_MS });
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS);
      deadline.unref();
      abort.abort();
      resolve(signal);
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs until a signal; returns the exit code. */
function warnUnknownVariables(logger: Logger, env: NodeJS.ProcessEnv): void {
  const unknown = unknownVariables(env);
  if (unknown.length === 0) return;
  logger.warn("ignoring variables that are no setting (see --help)", { variables: unknown });
}

export async function runOperator(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const ctx = defaultsContext();
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(configHelp({ ...ctx, inCluster: Boolean(env.KUBERNETES_SERVICE_HOST) }));
    return 0;
  }
  let config: OperatorConfig;
  let kubeConfig: KubeConfig;
  try {
    config = loadConfig(args, env, ctx);
    kubeConfig = kubeConfigFor(config);
  } catch (error) {
    if (!(error instanceof ConfigError || error instanceof KubeConfigError)) throw error;
    process.stderr.write(`mesh-compliance operator: ${error.message}\n`);
    return 2;
  }
  const logger = createLogger({
    level: config.logLevel,
    format: config.logFormat,
    isTTY: process.stderr.isTTY,
  });
  warnUnknownVariables(logger, env);
  logger.info("starting", {
    server: kubeConfig.getCurrentCluster()?.server,
    context: config.inCluster && !config.kubeconfig ? "in-cluster" : kubeConfig.currentContext,
    identity: config.identity,
    leaderElection: config.leaderElection,
  });
  const abort = new AbortController();
  const signalled = waitForSignal(logger, abort);
  let runtime: OperatorRuntime | undefined;
  try {
    runtime = await startOperator({ config, kubeConfig, logger, signal: abort.signal });
  } catch (error) {
    if (!abort.signal.aborted) {
      logger.error("could not start", { error: message(error) });
      return 1;
    }
  }
  await signalled;
  await runtime?.stop();
  return 0;
}
