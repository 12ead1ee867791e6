// Puts the operator together: cache, metrics, HTTP endpoints, controller, writers and leader
// election, and takes them apart again in the order a graceful shutdown needs (stop following
// changes, finish the evaluation in flight, stop the watches, release the Lease, close the server).

import type { KubeConfig } from "@kubernetes/client-node";
import yaml from "js-yaml";
import type { Logger } from "winston";
import type { OperatorConfig } from "../config/config.js";
import type { Check } from "../engine/check.js";
import { CHECKS } from "../engine/checks/index.js";
import { createClusterCache } from "../kube/cache.js";
import type { WatchedResource } from "../kube/resources.js";
import type { ClusterCache } from "../kube/types.js";
import { createMetrics, type Metrics } from "../metrics/registry.js";
import { createOperatorServer, type OperatorServer } from "../server/http.js";
import { clusterObjects, eventSink, leaseApi } from "./api.js";
import { Controller } from "./controller.js";
import { EventRecorder } from "./events.js";
import { LeaderElector } from "./leader.js";
import { StatusWriter } from "./status.js";

export interface RuntimeOptions {
  config: OperatorConfig;
  kubeConfig: KubeConfig;
  logger: Logger;
  checks?: readonly Check[];
  /** Overrides for tests: faster discovery, fewer kinds, no HTTP server. */
  resources?: readonly WatchedResource[];
  discoveryIntervalMs?: number;
  retryUnavailableMs?: number;
  serveHttp?: boolean;
  signal?: AbortSignal;
}

export interface OperatorRuntime {
  controller: Controller;
  cache: ClusterCache;
  metrics: Metrics;
  server: OperatorServer | undefined;
  isLeader(): boolean;
  ready(): boolean;
  /** Stops everything; resolves when the Lease is released and the server closed. */
  stop(): Promise<void>;
}

function leaderElector(
  options: RuntimeOptions,
  controller: () => Controller,
): LeaderElector | undefined {
  const { config, kubeConfig, logger } = options;
  if (!config.leaderElection) return undefined;
  return new LeaderElector({
    api: leaseApi(kubeConfig),
    namespace: config.leaseNamespace,
    name: config.leaseName,
    identity: config.identity,
    leaseDurationMs: config.leaseDurationMs,
    renewDeadlineMs: config.renewDeadlineMs,
    retryPeriodMs: config.retryPeriodMs,
    logger,
    onStartedLeading: () => {
      controller().leadershipChanged(true);
    },
    onStoppedLeading: () => {
      controller().leadershipChanged(false);
    },
  });
}

export async function startOperator(options: RuntimeOptions): Promise<OperatorRuntime> {
  const { config, kubeConfig, logger } = options;
  const metrics = createMetrics({ namespaceFindings: config.namespaceMetrics });
  const cache = createClusterCache({
    kubeConfig,
    logger,
    metrics: metrics.cacheMetrics,
    watchTimeoutSeconds: config.watchTimeoutSeconds,
    ...(options.resources ? { resources: options.resources } : {}),
    ...(options.discoveryIntervalMs ? { discoveryIntervalMs: options.discoveryIntervalMs } : {}),
    ...(options.retryUnavailableMs ? { retryUnavailableMs: options.retryUnavailableMs } : {}),
  });
  const now = (): Date => new Date();
  const writers = {
    status: new StatusWriter(clusterObjects(kubeConfig), now),
    events: new EventRecorder({
      sink: eventSink(kubeConfig),
      perMinute: config.eventsPerMinute,
      instance: config.identity,
      clusterNamespace: "default",
      now,
    }),
    metrics,
  };
  let controllerRef: Controller | undefined;
  const elector = leaderElector(options, () => controller);
  const controller: Controller = new Controller({
    cache,
    checks: options.checks ?? CHECKS,
    meshOptions: { parseYaml: (t) => yaml.load(t), assumeUndeclaredNamespacesEnrolled: false },
    logger,
    debounceMs: config.debounceMs,
    resyncIntervalMs: config.resyncIntervalMs,
    reportNamespaces: config.reportNamespaces,
    writers,
    isLeader: () => (elector ? elector.isLeader() : true),
    metrics,
  });
  controllerRef = controller;
  metrics.setSource(() => ({ snapshot: cache.snapshot(), policies: controller.validPolicies() }));

  const server = options.serveHttp === false ? undefined : serverFor(options, metrics, controller);
  try {
    await server?.start();
    if (server) logger.info("serving /metrics, /healthz, /readyz and /report", server.address());
    await syncCache(cache, logger, options.signal);
  } catch (error) {
    // Leave nothing running behind a failed start: the caller exits.
    await cache.stop();
    await server?.close();
    throw error;
  }
  controller.start();
  elector?.start();

  const stop = async (): Promise<void> => {
    await controllerRef?.stop();
    controllerRef = undefined;
    await cache.stop();
    await elector?.stop();
    await server?.close();
    logger.info("stopped");
  };
  return {
    controller,
    cache,
    metrics,
    server,
    isLeader: () => (elector ? elector.isLeader() : true),
    ready: () => controller.ready(),
    stop,
  };
}

async function syncCache(cache: ClusterCache, logger: Logger, signal?: AbortSignal): Promise<void> {
  await cache.start();
  await cache.waitForSync(signal);
  const kinds = cache.kinds();
  logger.info("cache synced", {
    kinds: kinds.length,
    unavailable: kinds.filter((k) => !k.available).map((k) => `${k.kind} (${k.reason ?? "?"})`),
    objects: kinds.reduce((n, k) => n + k.objects, 0),
  });
}

function serverFor(
  options: RuntimeOptions,
  metrics: Metrics,
  controller: Controller,
): OperatorServer {
  return createOperatorServer({
    host: options.config.metricsAddress.host,
    port: options.config.metricsAddress.port,
    registry: metrics.registry,
    ready: () => controller.ready(),
    report: () => (controller.ready() ? controller.report() : undefined),
    onError: (error, path) => {
      options.logger.warn("HTTP handler failed", {
        path,
        error: error instanceof Error ? error.message : String(error),
      });
    },
  });
}
