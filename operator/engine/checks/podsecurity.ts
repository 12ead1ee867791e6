// Pod security of meshed workloads (I-03, E-01): the namespace's Pod Security level, writable
// root filesystems, the privileges of istio-proxy and istio-init, and seccomp profiles. Running
// pods are judged as they run; templates without pods are judged from the template, with the
// injector's values standing in for the proxy the injector will add.

import {
  inputsAvailable,
  type Check,
  type CheckContext,
  type Emitter,
  type NamespaceCheck,
  type NamespaceTarget,
} from "../check.js";
import {
  allContainers,
  cniDaemonSet,
  describeWorkload,
  envValue,
  INJECTOR_UNKNOWN,
  isNativeSidecar,
  proxyView,
  showsCni,
  type ProxyView,
} from "../controlplane.js";
import { at, num, obj, objs, str, strs, type Obj } from "../fields.js";
import { K, WORKLOAD_INPUTS } from "../kinds.js";
import { proxyContainer, type Workload } from "../mesh.js";

const ENFORCE = "pod-security.kubernetes.io/enforce";
const LEVELS = new Set(["privileged", "baseline", "restricted"]);
const TPROXY = "sidecar.istio.io/interceptionMode";
/** Istio's init containers: they run once, before the app, and need a writable filesystem. */
const ISTIO_INIT_CONTAINERS = new Set(["istio-init", "istio-validation"]);
const INIT_CAPABILITIES = new Set(["NET_ADMIN", "NET_RAW"]);

function sc(container: Obj | undefined): Obj {
  return obj(container?.securityContext) ?? {};
}

/**
 * TPROXY interception, from the pod annotation or, in an injected pod, from the proxy's
 * ISTIO_META_INTERCEPTION_MODE (which also reflects a mesh-wide proxy config default).
 */
function isTproxy(w: Workload): boolean {
  if (w.annotations[TPROXY]?.toUpperCase() === "TPROXY") return true;
  const mode = envValue(proxyContainer(w.podSpec), "ISTIO_META_INTERCEPTION_MODE");
  return mode?.toUpperCase() === "TPROXY";
}

/** Templates whose proxy settings are unknowable are counted, then reported once. */
function reportUnknownTemplates(emit: Emitter, names: string[], namespace: string): void {
  if (names.length === 0) return;
  emit.unknown(
    `${INJECTOR_UNKNOWN}, so the proxy of ${names.length} template(s) in ${namespace} ` +
      `(${names.slice(0, 3).join(", ")}${names.length > 3 ? ", …" : ""}) cannot be judged`,
  );
}

// ---------------------------------------------------------------------------------------------
// namespace-pod-security

function podSecurityVerdict(ctx: CheckContext, namespace: string, level: string): string[] {
  const meshed = ctx.mesh.workloads(namespace).filter((w) => w.dataPlane !== "none");
  const cni =
    ctx.mesh.enrollment(namespace).mode === "ambient" ||
    cniDaemonSet(ctx.snapshot, ctx.mesh.rootNamespace) !== undefined ||
    meshed.some(showsCni);
  const needsInit = meshed.some((w) => w.dataPlane === "sidecar" && !showsCni(w));
  if (level === "privileged" && needsInit && !cni) {
    return [
      "low",
      `enforces Pod Security level privileged, which istio-init's NET_ADMIN and NET_RAW ` +
        `capabilities force; adopting Istio CNI (or ambient) removes istio-init and lets the ` +
        `namespace enforce restricted`,
    ];
  }
  const possible = cni ? ", although Istio CNI or ambient makes restricted possible" : "";
  return ["medium", `enforces Pod Security level ${level}, below restricted${possible}`];
}

export const namespacePodSecurity: NamespaceCheck = {
  id: "namespace-pod-security",
  threats: ["I-03"],
  severity: "medium",
  scope: "namespace",
  title: "Namespace without restricted Pod Security",
  description:
    "Finds in-scope namespaces without a `pod-security.kubernetes.io/enforce` label, or enforcing " +
    "a level below `restricted`. Without enforcement a compromised deployer can start privileged " +
    "pods that read the node and every proxy's secrets. Pods with istio-init need NET_ADMIN and " +
    "NET_RAW, which only `privileged` admits; Istio CNI or ambient removes that need. A " +
    "cluster-wide default level set in the API server's admission configuration cannot be seen.",
  remediation:
    "Adopt Istio CNI (or ambient), give workloads a seccomp profile, then label the namespace:\n" +
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: my-namespace\n  labels:\n" +
    "    pod-security.kubernetes.io/enforce: restricted",
  inputs: [K.Namespace, ...WORKLOAD_INPUTS, K.DaemonSet],
  run(ctx, target, emit) {
    if (!target.inScope || !inputsAvailable(ctx, this, emit)) return;
    const ns = ctx.snapshot.namespace(target.namespace);
    if (!ns) {
      emit.unknown(
        `namespace ${target.namespace} has no Namespace object in the input, so its Pod ` +
          `Security labels cannot be read`,
      );
      return;
    }
    const level = ns.metadata.labels?.[ENFORCE];
    if (level === undefined || !LEVELS.has(level)) {
      const what = level === undefined ? "has no" : `has an invalid (${level})`;
      emit.finding(
        ns,
        `Namespace ${target.namespace} ${what} ${ENFORCE} label, so nothing stops privileged ` +
          `pods there (a cluster-wide default set in the API server cannot be seen).`,
      );
      return;
    }
    if (level === "restricted") return;
    const [severity, text] = podSecurityVerdict(ctx, target.namespace, level);
    emit.finding(ns, `Namespace ${target.namespace} ${text ?? ""}.`, {
      severity: severity === "low" ? "low" : "medium",
    });
  },
};

// ---------------------------------------------------------------------------------------------
// writable-root-filesystem

/** Containers that run beside the app: regular containers and native sidecars, not init steps. */
function runningContainers(spec: Obj): Obj[] {
  return allContainers(spec)
    .filter(({ container, init }) => !init || isNativeSidecar(container))
    .map(({ container }) => container)
    .filter((c) => !ISTIO_INIT_CONTAINERS.has(str(c.name) ?? ""));
}

function writableContainers(w: Workload, view: ProxyView | undefined): string[] {
  const out: string[] = [];
  for (const c of runningContainers(w.podSpec)) {
    const name = str(c.name) ?? "";
    const predictedProxy = name === "istio-proxy" && view?.kind === "predicted";
    // The injector sets a read-only root filesystem on the proxy; only an explicit false in the
    // template's override survives the merge.
    if (predictedProxy && sc(c).readOnlyRootFilesystem !== false) continue;
    if (sc(c).readOnlyRootFilesystem !== true) out.push(name);
  }
  return out;
}

export const writableRootFilesystem: NamespaceCheck = {
  id: "writable-root-filesystem",
  threats: ["I-03"],
  severity: "medium",
  scope: "namespace",
  title: "Writable root filesystem",
  description:
    "Finds application containers and istio-proxy containers without " +
    "`readOnlyRootFilesystem: true`. A writable root filesystem lets an intruder drop tools and " +
    "alter binaries or the proxy's bootstrap. istio-init and the CNI validation container are " +
    "exempt: they run once before the app and need a writable filesystem by design.",
  remediation:
    "Set a read-only root filesystem on every container and mount an emptyDir where the app " +
    "must write:\nsecurityContext:\n  readOnlyRootFilesystem: true",
  inputs: [...WORKLOAD_INPUTS, K.ConfigMap],
  run(ctx, target, emit) {
    if (!target.inScope || !inputsAvailable(ctx, this, emit)) return;
    const unknownTemplates: string[] = [];
    for (const w of ctx.mesh.workloads(target.namespace)) {
      const view =
        w.dataPlane === "sidecar" ? proxyView(w, ctx.snapshot, ctx.mesh.rootNamespace) : undefined;
      const writable = writableContainers(w, view);
      if (view?.kind === "predicted" && view.values === undefined) {
        unknownTemplates.push(w.ref.name);
      }
      if (writable.length === 0) continue;
      emit.finding(
        w.ref,
        `${describeWorkload(w)} runs container(s) ${writable.join(", ")} with a writable root ` +
          `filesystem, so an intruder can alter binaries and configuration.`,
      );
    }
    reportUnknownTemplates(emit, unknownTemplates, target.namespace);
  },
};

// ---------------------------------------------------------------------------------------------
// proxy-privileges

function capabilityList(c: Obj, field: "add" | "drop"): string[] {
  return strs(at(c, "securityContext", "capabilities", field)).map((s) => s.toUpperCase());
}

/**
 * What is wrong with a proxy container's privileges. `explicitOnly` judges a template override:
 * fields it leaves out take the injector's safe defaults.
 */
function proxyProblems(c: Obj, pod: Obj, tproxy: boolean, explicitOnly: boolean): string[] {
  const own = sc(c);
  const problems: string[] = [];
  if (!explicitOnly && !capabilityList(c, "drop").includes("ALL")) {
    problems.push("does not drop ALL capabilities");
  }
  // TPROXY interception needs NET_ADMIN in the proxy itself.
  const added = capabilityList(c, "add").filter((a) => !(tproxy && a === "NET_ADMIN"));
  if (added.length > 0) problems.push(`adds capabilities ${added.join(", ")}`);
  const escalation = explicitOnly
    ? own.allowPrivilegeEscalation === true
    : own.allowPrivilegeEscalation !== false;
  if (escalation) problems.push("allows privilege escalation");
  if (own.privileged === true) problems.push("is privileged");
  const uid = explicitOnly ? num(own.runAsUser) : (num(own.runAsUser) ?? num(sc(pod).runAsUser));
  if (uid === 0 && !tproxy) problems.push("runs as root (UID 0) outside TPROXY mode");
  return problems;
}

const INJECTED_PRIVILEGED =
  "will be injected privileged (injector values set global.proxy.privileged)";

/**
 * Runs `problemsOf` on every sidecar workload of the namespace and reports those with problems.
 * A template whose injector values are not in the input, and that shows no problem of its own,
 * cannot be judged: those are reported together as Unknown.
 */
function judgeSidecars(
  ctx: CheckContext,
  target: NamespaceTarget,
  emit: Emitter,
  problemsOf: (w: Workload, view: ProxyView) => string[],
  message: (w: Workload, problems: string[]) => string,
): void {
  const unknownTemplates: string[] = [];
  for (const w of ctx.mesh.workloads(target.namespace)) {
    if (w.dataPlane !== "sidecar") continue;
    const view = proxyView(w, ctx.snapshot, ctx.mesh.rootNamespace);
    const problems = problemsOf(w, view);
    if (view.kind === "predicted" && view.values === undefined && problems.length === 0) {
      unknownTemplates.push(w.ref.name);
    }
    if (problems.length > 0) emit.finding(w.ref, message(w, problems));
  }
  reportUnknownTemplates(emit, unknownTemplates, target.namespace);
}

function predictedProxyProblems(w: Workload, view: ProxyView & { kind: "predicted" }): string[] {
  const problems = view.override ? proxyProblems(view.override, w.podSpec, isTproxy(w), true) : [];
  if (at(view.values, "global", "proxy", "privileged") === true) {
    problems.push(INJECTED_PRIVILEGED);
  }
  return problems;
}

export const proxyPrivileges: NamespaceCheck = {
  id: "proxy-privileges",
  threats: ["E-01"],
  severity: "critical",
  scope: "namespace",
  title: "istio-proxy runs with extra privileges",
  description:
    "Finds istio-proxy containers that do not drop ALL capabilities, add capabilities, allow " +
    "privilege escalation, run privileged, or run as root outside TPROXY interception mode " +
    "(`sidecar.istio.io/interceptionMode: TPROXY` needs root and NET_ADMIN). The proxy holds " +
    "the workload's mTLS key and sees all its traffic; a privileged proxy turns a proxy bug into " +
    "a node compromise. Templates are judged from their istio-proxy override and the injector's " +
    "values.",
  remediation:
    "Remove the istio-proxy overrides from the pod template and leave the injector's defaults " +
    "(drop ALL, no privilege escalation, UID 1337, read-only root); do not set " +
    "`global.proxy.privileged: true` in the injector's values.",
  inputs: [...WORKLOAD_INPUTS, K.ConfigMap],
  run(ctx, target, emit) {
    if (!target.inScope || !inputsAvailable(ctx, this, emit)) return;
    judgeSidecars(
      ctx,
      target,
      emit,
      (w, view) =>
        view.kind === "actual"
          ? proxyProblems(view.container, w.podSpec, isTproxy(w), false)
          : predictedProxyProblems(w, view),
      (w, problems) =>
        `The istio-proxy of ${describeWorkload(w)} ${problems.join(", ")}, so a compromised ` +
        `proxy, which holds the workload's mTLS key, can escalate towards the node.`,
    );
  },
};

// ---------------------------------------------------------------------------------------------
// init-privileges

function initProblems(c: Obj): string[] {
  const problems: string[] = [];
  const extra = capabilityList(c, "add").filter((a) => !INIT_CAPABILITIES.has(a));
  if (extra.length > 0)
    problems.push(`adds capabilities ${extra.join(", ")} beyond NET_ADMIN/NET_RAW`);
  if (sc(c).privileged === true) problems.push("is privileged");
  return problems;
}

function workloadInitProblems(w: Workload, view: ProxyView): string[] {
  const init = objs(w.podSpec.initContainers).find((c) => c.name === "istio-init");
  const problems = init ? initProblems(init) : [];
  if (view.kind === "predicted" && at(view.values, "global", "proxy", "privileged") === true) {
    problems.push(INJECTED_PRIVILEGED);
  }
  return problems;
}

export const initPrivileges: NamespaceCheck = {
  id: "init-privileges",
  threats: ["E-01"],
  severity: "high",
  scope: "namespace",
  title: "istio-init runs with more than NET_ADMIN and NET_RAW",
  description:
    "Finds istio-init containers that add capabilities beyond NET_ADMIN and NET_RAW, which it " +
    "needs to write iptables rules, or that run privileged. Extra capabilities give anyone who " +
    "controls the init image or its arguments more power over the node than traffic redirection " +
    "needs.",
  remediation:
    "Keep istio-init to NET_ADMIN and NET_RAW and not privileged (the injector's default), or " +
    "adopt Istio CNI, which removes istio-init altogether.",
  inputs: [...WORKLOAD_INPUTS, K.ConfigMap],
  run(ctx, target, emit) {
    if (!target.inScope || !inputsAvailable(ctx, this, emit)) return;
    judgeSidecars(
      ctx,
      target,
      emit,
      workloadInitProblems,
      (w, problems) =>
        `The istio-init container of ${describeWorkload(w)} ${problems.join(", ")}, which ` +
        `gives it more power over the node than writing iptables rules needs.`,
    );
  },
};

// ---------------------------------------------------------------------------------------------
// seccomp-missing

function profileType(value: Obj): string | undefined {
  return str(at(value, "seccompProfile", "type"));
}

function unconfinedContainers(w: Workload): string[] {
  const podProfile = profileType(sc(w.podSpec));
  const out: string[] = [];
  for (const { container } of allContainers(w.podSpec)) {
    const type = profileType(sc(container)) ?? podProfile;
    if (type === undefined || type === "Unconfined") out.push(str(container.name) ?? "");
  }
  // The injector adds istio-proxy (and istio-init) without a profile of their own.
  const injectorWillAdd =
    w.fromTemplate &&
    w.dataPlane === "sidecar" &&
    !allContainers(w.podSpec).some((c) => c.container.name === "istio-proxy");
  if (injectorWillAdd && (podProfile === undefined || podProfile === "Unconfined")) {
    out.push("istio-proxy (to be injected)");
  }
  return out;
}

export const seccompMissing: NamespaceCheck = {
  id: "seccomp-missing",
  threats: ["E-01"],
  severity: "medium",
  scope: "namespace",
  title: "Containers without a seccomp profile",
  description:
    "Finds pods and workload templates whose containers have no seccomp profile, at pod or " +
    "container level, or an `Unconfined` one. Without seccomp every system call of the kernel " +
    "is open to a compromised container, the proxy included (the injector sets no profile on " +
    "the containers it adds, so a pod-level profile is needed). A kubelet-wide default " +
    "(`--seccomp-default`) cannot be seen.",
  remediation:
    "Set a pod-level profile, which also covers the injected containers:\n" +
    "spec:\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault",
  inputs: [...WORKLOAD_INPUTS],
  run(ctx, target, emit) {
    if (!target.inScope || !inputsAvailable(ctx, this, emit)) return;
    for (const w of ctx.mesh.workloads(target.namespace)) {
      const missing = unconfinedContainers(w);
      if (missing.length === 0) continue;
      emit.finding(
        w.ref,
        `${describeWorkload(w)} runs container(s) ${missing.join(", ")} without a seccomp ` +
          `profile, so every system call stays open to an intruder (a kubelet-wide ` +
          `--seccomp-default cannot be seen).`,
      );
    }
  },
};

export const POD_SECURITY_CHECKS: readonly Check[] = [
  namespacePodSecurity,
  writableRootFilesystem,
  proxyPrivileges,
  initPrivileges,
  seccompMissing,
];
