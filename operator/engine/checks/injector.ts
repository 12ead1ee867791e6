// E-03: the sidecar-injection path. Whoever controls the injector webhook, its configuration, or
// any other webhook that mutates pods decides what runs next to every application container.

import {
  inputsAvailable,
  type Check,
  type CheckContext,
  type ClusterCheck,
  type Emitter,
  type NamespaceCheck,
} from "../check.js";
import { at, obj, objs, str, stringMap, strs } from "../fields.js";
import {
  injectorFingerprint,
  injectorProxyImage,
  injectorWebhooks,
  isInjectorWebhookName,
  isIstiodDeployment,
  istiodNamespaces,
  webhookRevision,
} from "../fingerprint.js";
import { K } from "../kinds.js";
import { proxyContainer } from "../mesh.js";
import { isTrustedSubject, RbacIndex, subjectText, type AccessGrant } from "../rbac.js";
import { globMatch, parseSelector, selectorMatches } from "../selectors.js";
import type { KubeObject } from "../types.js";

const NO_INJECTOR =
  "no Istio injector webhook in the input (MutatingWebhookConfiguration istio-sidecar-injector, " +
  "istio-sidecar-injector-<rev> or istio-revision-tag-<tag>), so the injection path cannot be judged";

// ---------------------------------------------------------------------------------------------
// injector-webhook-integrity

/** What a webhook's clientConfig may call: service names and namespaces, or allowed URLs. */
interface Expectation {
  services: string[];
  namespaces: string[];
  allowedURLs: readonly string[];
}

function expectedServices(webhook: KubeObject): string[] {
  const rev = webhookRevision(webhook);
  // A revision tag without its revision label may point at any istiod revision.
  if (rev === undefined) return ["istiod", "istiod-*"];
  if (rev === "default") return ["istiod", "istiod-default"];
  const name = webhook.metadata.name ?? "";
  const fromLabel = stringMap(webhook.metadata.labels)["istio.io/rev"] !== undefined;
  // Without a label, an `istio-sidecar-injector-<x>` name only hints at the revision.
  return fromLabel || name.startsWith("istio-revision-tag-")
    ? [`istiod-${rev}`]
    : ["istiod", `istiod-${rev}`];
}

function clientConfigProblems(entry: Record<string, unknown>, expect: Expectation): string[] {
  const config = obj(entry.clientConfig) ?? {};
  const url = str(config.url);
  const service = obj(config.service);
  if (service) return serviceProblems(service, expect);
  if (url === undefined) return ["has no service or url to call"];
  if (url === "") return ["has an empty url"];
  if (expect.allowedURLs.some((p) => globMatch(p, url))) return [];
  return [`calls url ${url}, which the policy's injector.allowedURLs does not list`];
}

function serviceProblems(service: Record<string, unknown>, expect: Expectation): string[] {
  const problems: string[] = [];
  const name = str(service.name) ?? "";
  const ns = str(service.namespace) ?? "";
  if (!expect.services.some((p) => globMatch(p, name))) {
    problems.push(
      `calls Service ${name || "(unnamed)"} instead of ${expect.services.join(" or ")}`,
    );
  }
  if (!expect.namespaces.includes(ns)) {
    problems.push(`calls namespace ${ns || "(none)"} instead of ${expect.namespaces.join(" or ")}`);
  }
  const path = str(service.path);
  if (path === undefined || !path.startsWith("/inject")) {
    problems.push(`calls path ${path ?? "(none)"} instead of /inject`);
  }
  return problems;
}

function failurePolicyProblem(config: KubeObject, entry: Record<string, unknown>): string[] {
  const policy = str(entry.failurePolicy);
  if (policy === "Ignore") return ["fails open (failurePolicy Ignore)"];
  // admissionregistration v1beta1 defaulted failurePolicy to Ignore; v1 defaults to Fail.
  if (policy === undefined && config.apiVersion.endsWith("/v1beta1")) {
    return ["fails open (no failurePolicy, which v1beta1 defaults to Ignore)"];
  }
  return [];
}

export const injectorWebhookIntegrity: ClusterCheck = {
  id: "injector-webhook-integrity",
  threats: ["E-03"],
  severity: "critical",
  scope: "cluster",
  title: "Sidecar injector webhook calls the wrong endpoint or fails open",
  description:
    "Checks every Istio injector MutatingWebhookConfiguration: each webhook must call Service " +
    "istiod (istiod-<rev> for a revision) in istiod's namespace on a path under /inject, or a URL " +
    "the policy allows for an external control plane, and must fail closed. A webhook that calls " +
    "another service can inject any container into every meshed pod; one that fails open lets " +
    "pods start without a sidecar, outside mTLS and authorization.",
  remediation:
    "Reinstall or upgrade Istio so that it rewrites the webhook, or fix it to call istiod:\n" +
    "webhooks:\n  - name: namespace.sidecar-injector.istio.io\n    clientConfig:\n" +
    "      service: {name: istiod, namespace: istio-system, path: /inject, port: 443}\n" +
    "    failurePolicy: Fail\n" +
    "For an external control plane, list its URL in the ThreatPolicy under injector.allowedURLs.",
  inputs: [K.MutatingWebhookConfiguration, K.Deployment],
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    const webhooks = injectorWebhooks(ctx.snapshot);
    if (webhooks.length === 0) {
      emit.unknown(NO_INJECTOR);
      return;
    }
    const namespaces = istiodNamespaces(ctx.snapshot, ctx.mesh.rootNamespace);
    for (const config of webhooks) {
      const expect: Expectation = {
        services: expectedServices(config),
        namespaces,
        allowedURLs: ctx.policy.injectorAllowedURLs,
      };
      reportWebhookProblems(config, expect, emit);
    }
  },
};

function reportWebhookProblems(config: KubeObject, expect: Expectation, emit: Emitter): void {
  const entries = objs(config.webhooks);
  const problems = entries.flatMap((entry) => {
    const found = [...clientConfigProblems(entry, expect), ...failurePolicyProblem(config, entry)];
    const name = str(entry.name) ?? "(unnamed)";
    return found.map((p) => `webhook ${name} ${p}`);
  });
  if (entries.length === 0) problems.push("has no webhooks, so nothing injects sidecars");
  if (problems.length === 0) return;
  emit.finding(
    config,
    `Injector MutatingWebhookConfiguration ${config.metadata.name ?? ""}: ${problems.join("; ")}, ` +
      `so pods may get a sidecar from an untrusted endpoint or none at all.`,
  );
}

// ---------------------------------------------------------------------------------------------
// injector-webhook-changed

export const injectorWebhookChanged: ClusterCheck = {
  id: "injector-webhook-changed",
  threats: ["E-03"],
  severity: "critical",
  scope: "cluster",
  title: "Sidecar injector differs from the pinned fingerprint",
  description:
    "Compares a SHA-256 fingerprint of the injector webhooks (without caBundle, which istiod " +
    "rewrites) and of the istio and istio-sidecar-injector ConfigMaps in istiod's namespace with " +
    "the one pinned in the policy. Any difference means that what gets injected into pods, or " +
    "where the injection request goes, changed since it was reviewed.",
  remediation:
    "Review the change to the injector webhooks and ConfigMaps. If it is expected (an upgrade), " +
    "pin the new fingerprint that the finding names:\n" +
    "spec:\n  injector:\n    fingerprint: sha256:<64 hex digits>",
  inputs: [K.MutatingWebhookConfiguration, K.ConfigMap, K.Deployment],
  run(ctx, emit) {
    const pinned = ctx.policy.injectorFingerprint;
    if (pinned === undefined) return;
    if (!inputsAvailable(ctx, this, emit)) return;
    const current = injectorFingerprint(ctx.snapshot, ctx.mesh.rootNamespace);
    if (!current) {
      emit.unknown(NO_INJECTOR);
      return;
    }
    if (current.fingerprint === pinned) return;
    const [first] = injectorWebhooks(ctx.snapshot);
    if (!first) return;
    emit.finding(
      first,
      `The injector (webhooks ${current.webhooks.join(", ")}; ConfigMaps ` +
        `${current.configMaps.join(", ") || "none"}) has fingerprint ${current.fingerprint}, not ` +
        `the pinned ${pinned}, so what is injected into pods changed since it was reviewed.`,
    );
  },
};

// ---------------------------------------------------------------------------------------------
// foreign-pod-mutation

function rulesTouchPods(entry: Record<string, unknown>): boolean {
  return objs(entry.rules).some((rule) => {
    const groups = strs(rule.apiGroups);
    const resources = strs(rule.resources);
    const operations = strs(rule.operations);
    const core = groups.includes("") || groups.includes("*");
    const pods = resources.some((r) => r === "pods" || r === "*" || r === "*/*");
    const writes = operations.some((o) => o === "CREATE" || o === "UPDATE" || o === "*");
    return core && pods && writes;
  });
}

/** The labels the API server puts on every namespace, plus the declared ones. */
function namespaceLabels(ctx: CheckContext, ns: string): Record<string, string> {
  const labels = stringMap(ctx.snapshot.namespace(ns)?.metadata.labels);
  return { "kubernetes.io/metadata.name": ns, ...labels };
}

/** In-scope namespaces where the webhook can mutate pods. */
function reachedNamespaces(ctx: CheckContext, entry: Record<string, unknown>): string[] {
  const nsSelector = parseSelector(entry.namespaceSelector);
  const objectSelector = parseSelector(entry.objectSelector);
  return ctx.mesh.scopedNamespaces().filter((ns) => {
    if (!selectorMatches(nsSelector, namespaceLabels(ctx, ns))) return false;
    if (!objectSelector) return true;
    const workloads = ctx.mesh.workloads(ns);
    // With no workloads to test, a pod created later could still match.
    return (
      workloads.length === 0 || workloads.some((w) => selectorMatches(objectSelector, w.labels))
    );
  });
}

function webhookAllowed(ctx: CheckContext, config: string, webhook: string): boolean {
  return ctx.policy.allowedMutatingWebhooks.some(
    (p) => globMatch(p, config) || globMatch(p, `${config}/${webhook}`),
  );
}

function listShort(items: string[]): string {
  return items.length <= 5
    ? items.join(", ")
    : `${items.slice(0, 5).join(", ")} and ${items.length - 5} more`;
}

export const foreignPodMutation: ClusterCheck = {
  id: "foreign-pod-mutation",
  threats: ["E-03"],
  severity: "high",
  scope: "cluster",
  title: "Another mutating webhook rewrites pods in the mesh",
  description:
    "Reports MutatingWebhookConfigurations other than Istio's injector whose rules cover pod " +
    "creation or update and whose namespace and object selectors can match in-scope namespaces. " +
    "Such a webhook can change the istio-proxy container, its image or its capture settings " +
    "after (or instead of) Istio's injection.",
  remediation:
    "Remove the webhook, narrow its namespaceSelector to the namespaces it serves, or, if it is " +
    "trusted, list it in the ThreatPolicy:\nspec:\n  injector:\n    allowedMutatingWebhooks:\n" +
    "      - vault-agent-injector-cfg",
  inputs: [K.MutatingWebhookConfiguration],
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    for (const config of ctx.snapshot.all(K.MutatingWebhookConfiguration)) {
      const name = config.metadata.name ?? "";
      if (isInjectorWebhookName(name)) continue;
      const hits = objs(config.webhooks).flatMap((entry) => {
        const hook = str(entry.name) ?? "(unnamed)";
        if (!rulesTouchPods(entry) || webhookAllowed(ctx, name, hook)) return [];
        const reached = reachedNamespaces(ctx, entry);
        return reached.length === 0 ? [] : [`webhook ${hook} (namespaces ${listShort(reached)})`];
      });
      if (hits.length === 0) continue;
      emit.finding(
        config,
        `MutatingWebhookConfiguration ${name} can rewrite pods in the mesh through ` +
          `${hits.join("; ")}, so it could alter or replace the istio-proxy sidecar.`,
      );
    }
  },
};

// ---------------------------------------------------------------------------------------------
// rbac-webhook-write

const WRITE_VERBS = ["create", "update", "patch", "delete"];

export const rbacWebhookWrite: ClusterCheck = {
  id: "rbac-webhook-write",
  threats: ["E-03"],
  severity: "high",
  scope: "cluster",
  title: "Untrusted subjects may change mutating webhooks",
  description:
    "Lists RBAC subjects outside the trusted set that may create, update, patch or delete " +
    "MutatingWebhookConfigurations. Webhook configurations are cluster-scoped, so only " +
    "ClusterRoleBindings grant this; aggregated ClusterRoles and wildcards are resolved. Such a " +
    "subject can point the injector at its own service and inject any container into every pod.",
  remediation:
    "Remove the binding, or narrow the ClusterRole so it does not write " +
    "admissionregistration.k8s.io mutatingwebhookconfigurations. If the subject is trusted, " +
    "list it in the ThreatPolicy:\nspec:\n  trustedSubjects:\n" +
    "    - {kind: ServiceAccount, name: cert-manager-cainjector, namespace: cert-manager}",
  inputs: [K.ClusterRole, K.ClusterRoleBinding, K.Role, K.RoleBinding],
  run(ctx, emit) {
    if (!inputsAvailable(ctx, this, emit)) return;
    const index = RbacIndex.of(ctx.snapshot);
    if (ctx.snapshot.all(K.ClusterRoleBinding).length === 0) {
      emit.unknown("no ClusterRoleBindings in the input, so webhook write access cannot be judged");
      return;
    }
    const trust = {
      trusted: ctx.policy.trustedSubjects,
      istiodNamespaces: istiodNamespaces(ctx.snapshot, ctx.mesh.rootNamespace),
    };
    const byBinding = new Map<KubeObject, { grants: AccessGrant[]; verbs: Set<string> }>();
    for (const verb of WRITE_VERBS) {
      const request = {
        verb,
        group: "admissionregistration.k8s.io",
        resource: "mutatingwebhookconfigurations",
      };
      for (const grant of index.whoCan(request)) {
        if (isTrustedSubject(grant.subject, trust)) continue;
        const entry = byBinding.get(grant.binding) ?? { grants: [], verbs: new Set<string>() };
        entry.grants.push(grant);
        entry.verbs.add(verb);
        byBinding.set(grant.binding, entry);
      }
    }
    for (const [binding, { grants, verbs }] of byBinding)
      reportWriter(binding, grants, verbs, emit);
  },
};

function reportWriter(
  binding: KubeObject,
  grants: AccessGrant[],
  verbs: Set<string>,
  emit: Emitter,
): void {
  const subjects = [...new Set(grants.map((g) => subjectText(g.subject)))];
  const names = grants.flatMap((g) => g.resourceNames ?? []);
  const scope = names.length > 0 ? ` (only ${[...new Set(names)].join(", ")})` : " (all of them)";
  const role = grants[0]?.roleName ?? "";
  emit.finding(
    binding,
    `ClusterRoleBinding ${binding.metadata.name ?? ""} lets ${listShort(subjects)} ` +
      `${[...verbs].join("/")} MutatingWebhookConfigurations${scope} through ClusterRole ${role}, ` +
      `so they could redirect sidecar injection to code of their choosing.`,
  );
}

// ---------------------------------------------------------------------------------------------
// proxy-image-untrusted

const OFFICIAL_HUBS = ["docker.io/istio", "gcr.io/istio-release", "registry.istio.io/release"];

/** Docker's implicit registry and library namespace, made explicit so references compare. */
export function normalizeImage(image: string): string {
  const parts = image.split("/");
  if (parts.length === 1) return `docker.io/library/${image}`;
  const first = parts[0] ?? "";
  if (first.includes(".") || first.includes(":") || first === "localhost") return image;
  return `docker.io/${image}`;
}

function patternsFor(repository: string): string[] {
  const repo = normalizeImage(repository);
  return [`${repo}:*`, `${repo}@*`];
}

function hubOf(image: string): string {
  const normalized = normalizeImage(image);
  return normalized.slice(0, Math.max(normalized.lastIndexOf("/"), 0));
}

/** Trusted proxy image patterns and where they came from. */
function trustedImages(
  ctx: CheckContext,
  namespace: string,
): { patterns: string[]; source: string } {
  if (ctx.policy.trustedProxyImages.length > 0) {
    return { patterns: ctx.policy.trustedProxyImages, source: "the policy's trustedProxyImages" };
  }
  // Only the root namespace and the partition's own namespace may be read here.
  const places = [...new Set([ctx.mesh.rootNamespace, namespace])];
  const istiodImages = places
    .flatMap((ns) => ctx.snapshot.inNamespace(K.Deployment, ns))
    .filter(isIstiodDeployment)
    .flatMap((d) => objs(at(d, "spec", "template", "spec", "containers")))
    .filter((c) => c.name === "discovery")
    .map((c) => str(c.image))
    .filter((i): i is string => i !== undefined && i.includes("/"));
  if (istiodImages.length > 0) {
    const patterns = istiodImages.flatMap((i) => patternsFor(`${hubOf(i)}/proxyv2`));
    return { patterns, source: "istiod's registry" };
  }
  const fromValues = places
    .flatMap((ns) => ctx.snapshot.inNamespace(K.ConfigMap, ns))
    .filter((cm) => (cm.metadata.name ?? "").startsWith("istio-sidecar-injector"))
    .flatMap((cm) => {
      const v = injectorProxyImage(cm);
      if (v?.hub === undefined) return [];
      // global.proxy.image may be a full repository instead of a name under the hub.
      return [v.image.includes("/") ? v.image : `${v.hub}/${v.image}`];
    });
  if (fromValues.length > 0) {
    return { patterns: fromValues.flatMap(patternsFor), source: "the injector's global.hub" };
  }
  return {
    patterns: OFFICIAL_HUBS.flatMap((hub) => patternsFor(`${hub}/proxyv2`)),
    source: "Istio's official registries",
  };
}

export const proxyImageUntrusted: NamespaceCheck = {
  id: "proxy-image-untrusted",
  threats: ["E-03"],
  severity: "critical",
  scope: "namespace",
  title: "istio-proxy runs an untrusted image",
  description:
    "Reports istio-proxy containers (in pods and in pre-injected pod templates) whose image " +
    "matches none of the trusted patterns: the policy's trustedProxyImages, else proxyv2 from " +
    "istiod's own registry, else from the injector's global.hub, else Istio's official " +
    "registries. A foreign proxy image sees every request and holds the workload's identity.",
  remediation:
    "Remove the image override (the sidecar.istio.io/proxyImage annotation or a hand-written " +
    "istio-proxy container) and let the injector choose the image. If a mirror is deliberate, " +
    "list it:\nspec:\n  trustedProxyImages:\n    - registry.example.com/istio/proxyv2:*",
  inputs: [K.Pod, K.Deployment, K.ConfigMap],
  run(ctx, target, emit) {
    if (!target.inScope) return;
    if (!inputsAvailable(ctx, this, emit)) return;
    let trusted: { patterns: string[]; source: string } | undefined;
    for (const workload of ctx.mesh.workloads(target.namespace)) {
      const image = str(proxyContainer(workload.podSpec)?.image);
      // `auto` is replaced by the injector (gateway injection); it is not a real image.
      if (image === undefined || image === "auto") continue;
      trusted ??= trustedImages(ctx, target.namespace);
      const normalized = normalizeImage(image);
      if (trusted.patterns.some((p) => globMatch(p, image) || globMatch(p, normalized))) continue;
      emit.finding(
        workload.ref,
        `${workload.ref.kind} ${target.namespace}/${workload.ref.name} runs istio-proxy image ` +
          `${image}, which matches none of the images trusted by ${trusted.source}, so an ` +
          `unreviewed proxy handles its traffic and identity.`,
      );
    }
  },
};

export const INJECTOR_CHECKS: readonly Check[] = [
  injectorWebhookIntegrity,
  injectorWebhookChanged,
  foreignPodMutation,
  rbacWebhookWrite,
  proxyImageUntrusted,
];
