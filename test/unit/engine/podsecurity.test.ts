import { describe, it } from "node:test";
import {
  initPrivileges,
  namespacePodSecurity,
  proxyPrivileges,
  seccompMissing,
  writableRootFilesystem,
} from "../../../operator/engine/checks/podsecurity.js";
import { assertCheckCase, runCheck, type CheckCase } from "../../support/engine.js";

const doc = (...parts: string[]): string => parts.join("\n---\n");

function ns(labels: Record<string, string> = {}): string {
  const extra = Object.entries(labels).map(([k, v]) => `    ${k}: ${v}`);
  return [
    "apiVersion: v1",
    "kind: Namespace",
    "metadata:",
    "  name: app",
    "  labels:",
    "    istio-injection: enabled",
    ...extra,
  ].join("\n");
}

const SAFE_PROXY = `{allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, readOnlyRootFilesystem: true, runAsUser: 1337, runAsNonRoot: true}`;
const INIT = `{capabilities: {add: [NET_ADMIN, NET_RAW], drop: [ALL]}, runAsUser: 0, readOnlyRootFilesystem: false}`;
const SAFE_APP = `{readOnlyRootFilesystem: true}`;

interface PodOptions {
  proxy?: string;
  init?: string | false;
  app?: string;
  podSecurity?: string;
  annotations?: Record<string, string>;
  native?: boolean;
  proxyEnv?: string;
}

/** An injected pod: istio-init (unless CNI), istio-proxy (native sidecar or container), app. */
function pod(name: string, o: PodOptions = {}): string {
  const annotations = { "sidecar.istio.io/status": "{}", ...o.annotations };
  const lines = [
    "apiVersion: v1",
    "kind: Pod",
    "metadata:",
    `  name: ${name}`,
    "  namespace: app",
    "  annotations:",
    ...Object.entries(annotations).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`),
    "spec:",
  ];
  if (o.podSecurity) lines.push(`  securityContext: ${o.podSecurity}`);
  const proxy = [
    "    - name: istio-proxy",
    "      image: docker.io/istio/proxyv2:1.30.1",
    `      securityContext: ${o.proxy ?? SAFE_PROXY}`,
  ];
  if (o.proxyEnv) proxy.push(`      env: ${o.proxyEnv}`);
  lines.push("  initContainers:");
  if (o.init !== false)
    lines.push("    - name: istio-init", `      securityContext: ${o.init ?? INIT}`);
  else lines.push("    - name: istio-validation", `      securityContext: ${SAFE_PROXY}`);
  if (o.native) lines.push(...proxy, "      restartPolicy: Always");
  lines.push("  containers:", "    - name: app", `      securityContext: ${o.app ?? SAFE_APP}`);
  if (!o.native) lines.push(...proxy);
  return lines.join("\n");
}

function deployment(name: string, annotations: Record<string, string> = {}, extra = ""): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: app}
spec:
  template:
    metadata:
      labels: {app: ${name}}
      annotations: ${JSON.stringify(annotations)}
    spec:
      securityContext: {seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: app
          securityContext: ${SAFE_APP}
${extra}`;
}

const INJECTOR = (values: object): string => `apiVersion: v1
kind: ConfigMap
metadata: {name: istio-sidecar-injector, namespace: istio-system}
data:
  values: '${JSON.stringify(values)}'`;

type Case = CheckCase;

const CASES: Case[] = [
  // namespace-pod-security
  {
    name: "reports a namespace without an enforce label and says a cluster default cannot be seen",
    check: namespacePodSecurity,
    yaml: doc(ns(), pod("p")),
    expect: ["Namespace app"],
    message: /cluster-wide default set in the API server cannot be seen/,
  },
  {
    name: "passes a namespace that enforces restricted",
    check: namespacePodSecurity,
    yaml: doc(
      ns({ "pod-security.kubernetes.io/enforce": "restricted" }),
      pod("p", { init: false }),
    ),
    expect: [],
  },
  {
    name: "reports privileged forced by istio-init at low severity with the advice to adopt CNI",
    check: namespacePodSecurity,
    yaml: doc(ns({ "pod-security.kubernetes.io/enforce": "privileged" }), pod("p")),
    expect: ["Namespace app"],
    severities: ["low"],
    message: /istio-init.*Istio CNI/,
  },
  {
    name: "reports privileged as medium when Istio CNI already removed istio-init",
    check: namespacePodSecurity,
    yaml: doc(
      ns({ "pod-security.kubernetes.io/enforce": "privileged" }),
      pod("p", { init: false }),
    ),
    expect: ["Namespace app"],
    severities: ["medium"],
    message: /CNI or ambient makes restricted possible/,
  },
  {
    name: "reports baseline where the CNI DaemonSet in the root namespace makes restricted possible",
    check: namespacePodSecurity,
    yaml: doc(
      ns({ "pod-security.kubernetes.io/enforce": "baseline" }),
      "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: istio-cni-node, namespace: istio-system}",
      deployment("web"),
    ),
    expect: ["Namespace app"],
    severities: ["medium"],
    message: /below restricted, although/,
  },
  {
    name: "says unknown when the namespace is not declared in the input",
    check: namespacePodSecurity,
    yaml: pod("p"),
    expect: [],
    unknown: /no Namespace object/,
  },
  // writable-root-filesystem
  {
    name: "reports an app container without a read-only root filesystem",
    check: writableRootFilesystem,
    yaml: doc(ns(), pod("p", { app: "{}" })),
    expect: ["Pod app/p"],
    message: /container\(s\) app with a writable/,
  },
  {
    name: "reports a proxy whose read-only root filesystem was turned off",
    check: writableRootFilesystem,
    yaml: doc(ns(), pod("p", { proxy: "{readOnlyRootFilesystem: false}" })),
    expect: ["Pod app/p"],
    message: /istio-proxy/,
  },
  {
    name: "never reports istio-init, which needs a writable filesystem by design",
    check: writableRootFilesystem,
    yaml: doc(ns(), pod("p")),
    expect: [],
  },
  {
    name: "judges a native-sidecar proxy in initContainers like a regular container",
    check: writableRootFilesystem,
    yaml: doc(ns(), pod("p", { native: true, proxy: "{}" })),
    expect: ["Pod app/p"],
    message: /istio-proxy/,
  },
  {
    name: "says unknown for a template's proxy when the injector is not in the input",
    check: writableRootFilesystem,
    yaml: doc(ns(), deployment("web")),
    expect: [],
    unknown: /injector, which is not in the input/,
  },
  // proxy-privileges
  {
    name: "passes the injector's default proxy",
    check: proxyPrivileges,
    yaml: doc(ns(), pod("p")),
    expect: [],
  },
  {
    name: "reports a proxy that runs as root outside TPROXY mode",
    check: proxyPrivileges,
    yaml: doc(
      ns(),
      pod("p", {
        proxy: "{allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, runAsUser: 0}",
      }),
    ),
    expect: ["Pod app/p"],
    severities: ["critical"],
    message: /root \(UID 0\)/,
  },
  {
    name: "allows root and NET_ADMIN for a proxy in TPROXY mode set by annotation",
    check: proxyPrivileges,
    yaml: doc(
      ns(),
      pod("p", {
        annotations: { "sidecar.istio.io/interceptionMode": "TPROXY" },
        proxy:
          "{allowPrivilegeEscalation: false, capabilities: {add: [NET_ADMIN], drop: [ALL]}, runAsUser: 0}",
      }),
    ),
    expect: [],
  },
  {
    name: "allows TPROXY root when the mode comes from the mesh's proxy config (proxy env)",
    check: proxyPrivileges,
    yaml: doc(
      ns(),
      pod("p", {
        proxyEnv: "[{name: ISTIO_META_INTERCEPTION_MODE, value: TPROXY}]",
        proxy:
          "{allowPrivilegeEscalation: false, capabilities: {add: [NET_ADMIN], drop: [ALL]}, runAsUser: 0}",
      }),
    ),
    expect: [],
  },
  {
    name: "reports a privileged proxy that keeps its capabilities and allows escalation",
    check: proxyPrivileges,
    yaml: doc(ns(), pod("p", { native: true, proxy: "{privileged: true}" })),
    expect: ["Pod app/p"],
    message: /does not drop ALL.*allows privilege escalation.*is privileged/,
  },
  {
    name: "keeps a user-chosen non-root UID other than 1337",
    check: proxyPrivileges,
    yaml: doc(
      ns(),
      pod("p", {
        proxy: "{allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, runAsUser: 1234}",
      }),
    ),
    expect: [],
  },
  {
    name: "reports a template whose injector values make every proxy privileged",
    check: proxyPrivileges,
    yaml: doc(ns(), deployment("web"), INJECTOR({ global: { proxy: { privileged: true } } })),
    expect: ["Deployment app/web"],
    message: /judged from its pod template.*global\.proxy\.privileged/,
  },
  {
    name: "passes a template when the injector's values are the defaults",
    check: proxyPrivileges,
    yaml: doc(ns(), deployment("web"), INJECTOR({ global: { proxy: { privileged: false } } })),
    expect: [],
  },
  {
    name: "says unknown for a template when the injector is not in the input",
    check: proxyPrivileges,
    yaml: doc(ns(), deployment("web")),
    expect: [],
    unknown: /proxy settings come from the injector, which is not in the input/,
  },
  // init-privileges
  {
    name: "passes istio-init with NET_ADMIN and NET_RAW only",
    check: initPrivileges,
    yaml: doc(ns(), pod("p")),
    expect: [],
  },
  {
    name: "reports istio-init adding SYS_ADMIN",
    check: initPrivileges,
    yaml: doc(ns(), pod("p", { init: "{capabilities: {add: [NET_ADMIN, NET_RAW, SYS_ADMIN]}}" })),
    expect: ["Pod app/p"],
    message: /SYS_ADMIN beyond NET_ADMIN\/NET_RAW/,
  },
  {
    name: "reports a privileged istio-init",
    check: initPrivileges,
    yaml: doc(ns(), pod("p", { init: "{privileged: true, capabilities: {add: [NET_ADMIN]}}" })),
    expect: ["Pod app/p"],
    message: /is privileged/,
  },
  // seccomp-missing
  {
    name: "reports a pod without any seccomp profile and says the kubelet default cannot be seen",
    check: seccompMissing,
    yaml: doc(ns(), pod("p")),
    expect: ["Pod app/p"],
    message: /istio-init, app, istio-proxy.*--seccomp-default cannot be seen/,
  },
  {
    name: "passes a pod with a pod-level RuntimeDefault profile",
    check: seccompMissing,
    yaml: doc(ns(), pod("p", { podSecurity: "{seccompProfile: {type: RuntimeDefault}}" })),
    expect: [],
  },
  {
    name: "reports a container that sets Unconfined over the pod's profile",
    check: seccompMissing,
    yaml: doc(
      ns(),
      pod("p", {
        podSecurity: "{seccompProfile: {type: RuntimeDefault}}",
        app: "{seccompProfile: {type: Unconfined}}",
      }),
    ),
    expect: ["Pod app/p"],
    message: /container\(s\) app without/,
  },
  {
    name: "counts the proxy a template will get: container profiles alone do not cover it",
    check: seccompMissing,
    yaml: doc(
      ns(),
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: app}
spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          securityContext: {seccompProfile: {type: RuntimeDefault}}`,
    ),
    expect: ["Deployment app/web"],
    message: /judged from its pod template.*istio-proxy \(to be injected\)/,
  },
];

describe("pod security checks (I-03, E-01)", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const run = runCheck(c.check, c.yaml);
      assertCheckCase(c, run);
    });
  }
});
