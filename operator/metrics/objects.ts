// Per-object series, computed from a cache snapshot when Prometheus scrapes. Nothing is stored
// between scrapes, so an object deleted from the cluster disappears from the next scrape. Pure:
// the same snapshot and policies give the same series.

import yaml from "js-yaml";
import { classifyExtension, extensionAllowed } from "../engine/envoyfilter.js";
import {
  injectorConfigMaps,
  injectorFingerprint,
  istiodNamespaces,
} from "../engine/fingerprint.js";
import { isIstiodDeployment } from "../engine/fingerprint.js";
import { K } from "../engine/kinds.js";
import { Mesh } from "../engine/mesh.js";
import { declaredMode, parsePeerAuthentication, resolveMtls } from "../engine/mtls.js";
import { defaultPolicy, type ThreatPolicy } from "../engine/policy.js";
import { Snapshot } from "../engine/snapshot.js";
import type { KubeObject } from "../engine/types.js";

/** What the scrape-time series are computed from. */
export interface ScrapeView {
  snapshot: Snapshot;
  /** The valid ThreatPolicies; the default policy is used when the list is empty. */
  policies: readonly ThreatPolicy[];
}

export type Labels = Record<string, string>;

export interface Sample {
  labels: Labels;
  value: number;
}

export interface ObjectSeries {
  peerAuthenticationMode: Sample[];
  effectivePlaintextWorkloads: Sample[];
  envoyFilterInfo: Sample[];
  envoyFilterCreated: Sample[];
  webhookFingerprint: Sample[];
}

function nameOf(o: KubeObject): string {
  return o.metadata.name ?? "";
}

function namespaceName(o: KubeObject): string {
  return o.metadata.namespace ?? "default";
}

/** One series per PeerAuthentication, labelled with its top-level declared mode (or UNSET). */
function peerAuthenticationModes(snapshot: Snapshot): Sample[] {
  return snapshot.all(K.PeerAuthentication).map((o) => {
    const pa = parsePeerAuthentication(o);
    return { labels: { namespace: pa.namespace, name: pa.name, mode: declaredMode(pa) }, value: 1 };
  });
}

/**
 * Meshed workloads per in-scope namespace whose effective mode accepts plaintext: the resolved
 * mode is not STRICT, or a port-level exception of the workload policy in force is not. Every
 * in-scope namespace gets a series, 0 when all its workloads are STRICT.
 */
function effectivePlaintext(mesh: Mesh): Sample[] {
  const snapshot = mesh.snapshot;
  return mesh.scopedNamespaces().map((namespace) => {
    let count = 0;
    for (const w of mesh.workloads(namespace)) {
      if (w.dataPlane === "none") continue;
      const effective = resolveMtls(snapshot, mesh.rootNamespace, namespace, w.labels);
      const plaintextPort = effective.ports.some((p) => p.mode !== "STRICT");
      if (effective.mode !== "STRICT" || plaintextPort) count += 1;
    }
    return { labels: { namespace }, value: count };
  });
}

/**
 * EnvoyFilter identity and risk. `allowed` is "true" only when every policy's allow-list covers
 * the filter, because the filter is reported as unexpected under any policy that does not.
 */
function envoyFilters(
  snapshot: Snapshot,
  policies: readonly ThreatPolicy[],
  rootNamespace: string,
): { info: Sample[]; created: Sample[] } {
  const info: Sample[] = [];
  const created: Sample[] = [];
  for (const o of snapshot.all(K.EnvoyFilter)) {
    const id = { namespace: namespaceName(o), name: nameOf(o) };
    const allowed = policies.every((p) => extensionAllowed(o, p.envoyFiltersAllowed));
    const risk = classifyExtension(o, rootNamespace).risk;
    info.push({ labels: { ...id, allowed: String(allowed), risk }, value: 1 });
    const ms = Date.parse(o.metadata.creationTimestamp ?? "");
    if (!Number.isNaN(ms)) created.push({ labels: id, value: ms / 1000 });
  }
  return { info, created };
}

/**
 * One series per injector webhook configuration, with the fingerprint of that configuration and
 * the ConfigMaps that shape its injection. With a single injector (the common install) the value
 * equals the fingerprint a ThreatPolicy pins in `injector.fingerprint`.
 */
function webhookFingerprints(snapshot: Snapshot, rootNamespace: string): Sample[] {
  const all = injectorFingerprint(snapshot, rootNamespace);
  if (!all) return [];
  const istiod = snapshot.all(K.Deployment).filter(isIstiodDeployment);
  const namespaces = istiodNamespaces(snapshot, rootNamespace);
  const samples: Sample[] = [];
  for (const name of all.webhooks) {
    const webhook = snapshot.all(K.MutatingWebhookConfiguration).filter((w) => nameOf(w) === name);
    const configMaps = injectorConfigMaps(snapshot, namespaces, webhook);
    const own = new Snapshot([...webhook, ...configMaps, ...istiod]);
    const fingerprint = injectorFingerprint(own, rootNamespace)?.fingerprint ?? all.fingerprint;
    samples.push({ labels: { name, fingerprint }, value: 1 });
  }
  return samples;
}

/** Every per-object series of a view. */
export function objectSeries(view: ScrapeView): ObjectSeries {
  const policies = view.policies.length > 0 ? view.policies : [defaultPolicy()];
  const first = policies[0] ?? defaultPolicy();
  const mesh = new Mesh(view.snapshot, first, {
    parseYaml: (text) => yaml.load(text),
    assumeUndeclaredNamespacesEnrolled: false,
  });
  const filters = envoyFilters(view.snapshot, policies, mesh.rootNamespace);
  return {
    peerAuthenticationMode: peerAuthenticationModes(view.snapshot),
    effectivePlaintextWorkloads: effectivePlaintext(mesh),
    envoyFilterInfo: filters.info,
    envoyFilterCreated: filters.created,
    webhookFingerprint: webhookFingerprints(view.snapshot, mesh.rootNamespace),
  };
}

function samePolicies(a: readonly ThreatPolicy[] | undefined, b: readonly ThreatPolicy[]): boolean {
  return a !== undefined && a.length === b.length && a.every((p, i) => p === b[i]);
}

/**
 * Remembers the series of the last view, so the five collectors of one scrape (and scrapes with
 * no change in between) compute them once. The cache returns the same Snapshot while nothing
 * changed, and parsed policies are kept until they change, which makes identity a sound key;
 * the policy list itself may be a fresh array on every call.
 */
export class ObjectSeriesCache {
  private lastSnapshot: Snapshot | undefined;
  private lastPolicies: readonly ThreatPolicy[] | undefined;
  private last: ObjectSeries | undefined;

  get(view: ScrapeView): ObjectSeries {
    const same =
      view.snapshot === this.lastSnapshot && samePolicies(this.lastPolicies, view.policies);
    if (same && this.last) return this.last;
    this.last = objectSeries(view);
    this.lastSnapshot = view.snapshot;
    this.lastPolicies = view.policies;
    return this.last;
  }
}
