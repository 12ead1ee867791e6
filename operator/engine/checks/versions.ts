// Outdated control planes and version skew (E-01): an istiod older than the policy's minimum runs
// without the security fixes of supported releases; a sidecar on another version than its own
// revision's istiod runs untested combinations, or misses fixes its control plane has.

import {
  inputsAvailable,
  type Check,
  type CheckContext,
  type ClusterCheck,
  type NamespaceCheck,
} from "../check.js";
import {
  describeWorkload,
  istiodContainer,
  istiodDeployments,
  istiodRevision,
  workloadRevision,
} from "../controlplane.js";
import { proxyContainer } from "../mesh.js";
import { str } from "../fields.js";
import { isIstiodDeployment } from "../fingerprint.js";
import { K } from "../kinds.js";
import type { Snapshot } from "../snapshot.js";
import type { Severity } from "../types.js";
import {
  compareVersions,
  formatVersion,
  imageVersion,
  parseVersion,
  type Version,
} from "../versions.js";

/**
 * The oldest Istio minor release the community still supported on 2026-12-04: a minor is
 * supported until six weeks after the second next minor is released, and 1.32 was due in
 * November 2026, so 1.30 was the oldest one patched. Bump it by one minor each quarter, when a
 * new Istio minor release ends the support of the oldest one. `spec.minimumIstioVersion`
 * overrides it.
 */
export const DEFAULT_MINIMUM_ISTIO_VERSION = "1.30";

export const istioVersionOutdated: ClusterCheck = {
  id: "istio-version-outdated",
  threats: ["E-01"],
  severity: "high",
  scope: "cluster",
  title: "istiod older than the minimum version",
  description:
    "Finds istiod Deployments whose image tag is older than the policy's minimumIstioVersion " +
    `(default ${DEFAULT_MINIMUM_ISTIO_VERSION}, the oldest minor release the Istio community ` +
    "still patches). An unsupported control plane, and the proxies it injects, miss published " +
    "security fixes. An image pinned by digest alone has no readable version and is reported " +
    "as unknown.",
  remediation:
    "Upgrade istiod (and restart workloads so that sidecars follow), revision by revision:\n" +
    "istioctl install --set revision=1-30 --set tag=1.30.4\n" +
    'or set the minimum the organisation accepts:\nspec:\n  minimumIstioVersion: "1.29"',
  inputs: [K.Deployment],
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    const minimumText = ctx.policy.minimumIstioVersion ?? DEFAULT_MINIMUM_ISTIO_VERSION;
    const minimum = parseVersion(minimumText);
    const deployments = istiodDeployments(ctx.snapshot);
    if (deployments.length === 0 || minimum === undefined) {
      emit.unknown("no istiod Deployment in the input, so the Istio version cannot be judged");
      return;
    }
    for (const d of deployments) {
      const image = str(istiodContainer(d)?.image);
      const version = imageVersion(image);
      const name = `istiod ${d.metadata.namespace ?? ""}/${d.metadata.name ?? ""}`;
      if (version === undefined) {
        emit.unknown(`${name} runs image ${image ?? "(none)"}, whose tag names no version`);
        continue;
      }
      if (compareVersions(version, minimum) >= 0) continue;
      emit.finding(
        d,
        `${name} runs Istio ${formatVersion(version)}, older than the minimum ${minimumText}, ` +
          `so it and the proxies it injects miss security fixes of supported releases.`,
      );
    }
  },
};

function skewSeverity(proxy: Version, istiod: Version): Severity | undefined {
  const order = compareVersions({ ...proxy, patch: 0 }, { ...istiod, patch: 0 });
  // A data plane newer than its control plane is outside Istio's supported skew.
  if (order > 0) return "high";
  if (order < 0) return "medium";
  if ((proxy.patch ?? 0) !== (istiod.patch ?? 0)) return "low";
  return undefined;
}

/** Per snapshot and root namespace: every namespace partition asks the same question. */
const istiodVersionsBySnapshot = new WeakMap<
  Snapshot,
  Map<string, ReadonlyMap<string, Version | undefined>>
>();

/** Versions of the istiods in the root namespace, by the revision each serves. */
function rootIstiodVersions(ctx: CheckContext): ReadonlyMap<string, Version | undefined> {
  let byRoot = istiodVersionsBySnapshot.get(ctx.snapshot);
  if (!byRoot) {
    byRoot = new Map();
    istiodVersionsBySnapshot.set(ctx.snapshot, byRoot);
  }
  let versions = byRoot.get(ctx.mesh.rootNamespace);
  if (!versions) {
    versions = readIstiodVersions(ctx);
    byRoot.set(ctx.mesh.rootNamespace, versions);
  }
  return versions;
}

function readIstiodVersions(ctx: CheckContext): Map<string, Version | undefined> {
  const istiods = new Map<string, Version | undefined>();
  // A namespace check may read only the root namespace besides its own, and reading just that
  // namespace keeps this independent of the cluster's size.
  for (const d of ctx.snapshot.inNamespace(K.Deployment, ctx.mesh.rootNamespace)) {
    if (!isIstiodDeployment(d)) continue;
    istiods.set(istiodRevision(d), imageVersion(str(istiodContainer(d)?.image)));
  }
  return istiods;
}

export const proxyVersionSkew: NamespaceCheck = {
  id: "proxy-version-skew",
  threats: ["E-01"],
  severity: "medium",
  scope: "namespace",
  title: "Sidecar on another version than its control plane",
  description:
    "Compares the istio-proxy image tag of each running sidecar with the image of the istiod that " +
    "serves its revision (pod label `istio.io/rev`, else the revision in the " +
    "`sidecar.istio.io/status` annotation). An older sidecar misses fixes that its control plane " +
    "has, often because the workload was never restarted after an upgrade; a newer one is " +
    "outside the supported skew. A patch-level difference is reported as low.",
  remediation:
    "Restart the workload so that the injector gives it the current proxy:\n" +
    "kubectl rollout restart deployment/<name> -n <namespace>",
  inputs: [K.Pod, K.Deployment],
  run(ctx, target, emit) {
    if (!target.inScope || !inputsAvailable(ctx, this, emit)) return;
    const sidecars = ctx.mesh
      .workloads(target.namespace)
      .filter((w) => w.dataPlane === "sidecar" && !w.fromTemplate);
    if (sidecars.length === 0) return;
    const istiods = rootIstiodVersions(ctx);
    if (istiods.size === 0) {
      emit.unknown(
        `no istiod Deployment in the root namespace ${ctx.mesh.rootNamespace}, so sidecar ` +
          `versions in ${target.namespace} cannot be compared`,
      );
      return;
    }
    const unreadable: string[] = [];
    for (const w of sidecars) {
      const revision = workloadRevision(w);
      if (!istiods.has(revision)) continue;
      const istiod = istiods.get(revision);
      const proxy = imageVersion(str(proxyContainer(w.podSpec)?.image));
      if (proxy === undefined || istiod === undefined) {
        unreadable.push(w.ref.name);
        continue;
      }
      const severity = skewSeverity(proxy, istiod);
      if (severity === undefined) continue;
      emit.finding(
        w.ref,
        `The sidecar of ${describeWorkload(w)} runs Istio ${formatVersion(proxy)} while ` +
          `istiod for revision ${revision} runs ${formatVersion(istiod)}, so the proxy lacks ` +
          `fixes or features its control plane assumes; restart the workload.`,
        { severity },
      );
    }
    if (unreadable.length > 0) {
      emit.unknown(
        `the versions of ${unreadable.length} sidecar(s) or their istiod in ${target.namespace} ` +
          `cannot be read from image tags (digest or unversioned tag)`,
      );
    }
  },
};

export const VERSION_CHECKS: readonly Check[] = [istioVersionOutdated, proxyVersionSkew];
