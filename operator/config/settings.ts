// The operator's settings in one table: flag, environment variable, default and how the value is
// read. The defaults stated here are the only ones; nothing else in the operator reads the
// environment or invents a fallback.

export type LogFormat = "json" | "text" | "auto";
export type LogLevel = "error" | "warn" | "info" | "debug";

/** How a setting's text is read. `expected` is what an error message says was wanted. */
export interface Parser<T> {
  expected: string;
  parse(text: string): T | undefined;
}

export interface Setting<T> {
  flag: string;
  env: string;
  description: string;
  parser: Parser<T>;
  /** The default as text (parsed like a given value), or undefined when the setting is optional. */
  defaultText?: string | ((ctx: DefaultContext) => string | undefined);
}

/** What the defaults may depend on; passed in so that loading stays a pure function. */
export interface DefaultContext {
  /** True when KUBERNETES_SERVICE_HOST is set: the operator runs in a pod. */
  inCluster: boolean;
  /** The pod's namespace from the service account mount, when in a pod. */
  podNamespace?: string;
  hostname: string;
  pid: number;
}

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Durations such as `200ms`, `2s`, `10m`, `1h`, or a plain number of milliseconds. */
export const duration: Parser<number> = {
  expected: "a duration such as 200ms, 2s, 10m or 1h",
  parse(text) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
    if (!m?.[1]) return undefined;
    return Math.round(Number(m[1]) * (UNITS[m[2] ?? "ms"] ?? 1));
  },
};

export function positiveDuration(min: number): Parser<number> {
  return {
    expected: `${duration.expected}, at least ${min} ms`,
    parse: (text) => {
      const ms = duration.parse(text);
      return ms !== undefined && ms >= min ? ms : undefined;
    },
  };
}

export const boolean: Parser<boolean> = {
  expected: "true or false",
  parse(text) {
    const t = text.trim().toLowerCase();
    if (["true", "1", "yes", "on"].includes(t)) return true;
    if (["false", "0", "no", "off"].includes(t)) return false;
    return undefined;
  },
};

export function integer(min: number, max: number): Parser<number> {
  return {
    expected: `an integer from ${min} to ${max}`,
    parse(text) {
      if (!/^-?\d+$/.test(text.trim())) return undefined;
      const n = Number(text);
      return n >= min && n <= max ? n : undefined;
    },
  };
}

export function oneOf<T extends string>(values: readonly T[]): Parser<T> {
  return {
    expected: `one of ${values.join(", ")}`,
    parse: (text) => values.find((v) => v === text.trim()),
  };
}

export const text: Parser<string> = {
  expected: "a non-empty string",
  parse: (t) => (t.trim() === "" ? undefined : t.trim()),
};

/** A DNS-1123 name, as Lease names and namespaces must be. */
export const dnsName: Parser<string> = {
  expected: "a lowercase DNS name (a-z, 0-9, '-', '.'; at most 253 characters)",
  parse: (t) => (/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(t.trim()) ? t.trim() : undefined),
};

export interface ListenAddress {
  host: string;
  port: number;
}

/** `host:port`, `:port` (every interface) or `[::1]:port`. Port 0 picks a free port. */
export const listenAddress: Parser<ListenAddress> = {
  expected: "host:port or :port, e.g. 127.0.0.1:8080 or :8080",
  parse(t) {
    const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(t.trim());
    if (!m?.[3]) return undefined;
    const port = Number(m[3]);
    if (port > 65_535) return undefined;
    return { host: m[1] ?? (m[2] === "" || m[2] === undefined ? "0.0.0.0" : m[2]), port };
  },
};

export const SETTINGS = {
  kubeconfig: {
    flag: "kubeconfig",
    env: "MESH_COMPLIANCE_KUBECONFIG",
    description: "kubeconfig file (default: in-cluster config, else $KUBECONFIG or ~/.kube/config)",
    parser: text,
  } satisfies Setting<string>,
  context: {
    flag: "context",
    env: "MESH_COMPLIANCE_CONTEXT",
    description: "kubeconfig context to use (default: the current context)",
    parser: text,
  } satisfies Setting<string>,
  metricsAddress: {
    flag: "metrics-address",
    env: "MESH_COMPLIANCE_METRICS_ADDRESS",
    description:
      "where /metrics, /healthz, /readyz and /report listen (default :8080 in a pod, " +
      "for the kubelet's probes; 127.0.0.1:8080 elsewhere)",
    parser: listenAddress,
    defaultText: (ctx) => (ctx.inCluster ? ":8080" : "127.0.0.1:8080"),
  } satisfies Setting<ListenAddress>,
  leaderElection: {
    flag: "leader-election",
    env: "MESH_COMPLIANCE_LEADER_ELECTION",
    description: "elect one writer among replicas through a Lease",
    parser: boolean,
    defaultText: "true",
  } satisfies Setting<boolean>,
  leaseName: {
    flag: "lease-name",
    env: "MESH_COMPLIANCE_LEASE_NAME",
    description: "name of the coordination.k8s.io Lease",
    parser: dnsName,
    defaultText: "mesh-compliance-operator",
  } satisfies Setting<string>,
  leaseNamespace: {
    flag: "lease-namespace",
    env: "MESH_COMPLIANCE_LEASE_NAMESPACE",
    description:
      "namespace of the Lease (default: the pod's namespace, else mesh-compliance-system)",
    parser: dnsName,
    defaultText: (ctx) => ctx.podNamespace ?? "mesh-compliance-system",
  } satisfies Setting<string>,
  identity: {
    flag: "identity",
    env: "MESH_COMPLIANCE_IDENTITY",
    description: "this replica's name in the Lease (default: hostname_pid)",
    parser: text,
    defaultText: (ctx) => `${ctx.hostname}_${ctx.pid}`,
  } satisfies Setting<string>,
  leaseDuration: {
    flag: "lease-duration",
    env: "MESH_COMPLIANCE_LEASE_DURATION",
    description: "how long a Lease stays valid without renewal",
    parser: positiveDuration(1_000),
    defaultText: "15s",
  } satisfies Setting<number>,
  renewDeadline: {
    flag: "renew-deadline",
    env: "MESH_COMPLIANCE_RENEW_DEADLINE",
    description: "how long the leader keeps trying to renew before it stops writing",
    parser: positiveDuration(500),
    defaultText: "10s",
  } satisfies Setting<number>,
  retryPeriod: {
    flag: "retry-period",
    env: "MESH_COMPLIANCE_RETRY_PERIOD",
    description: "how often replicas try to acquire or renew the Lease",
    parser: positiveDuration(100),
    defaultText: "2s",
  } satisfies Setting<number>,
  debounce: {
    flag: "debounce",
    env: "MESH_COMPLIANCE_DEBOUNCE",
    description: "how long changes are collected before an evaluation, so a burst costs one",
    parser: duration,
    defaultText: "200ms",
  } satisfies Setting<number>,
  resyncInterval: {
    flag: "resync-interval",
    env: "MESH_COMPLIANCE_RESYNC_INTERVAL",
    // Below the 5-minute staleness alert, so a quiet, healthy cluster never looks stale.
    description: "how often everything is re-evaluated regardless of changes",
    parser: positiveDuration(1_000),
    defaultText: "4m",
  } satisfies Setting<number>,
  watchTimeout: {
    flag: "watch-timeout",
    env: "MESH_COMPLIANCE_WATCH_TIMEOUT",
    description: "server-side timeout of each watch request (jittered by the reflectors)",
    parser: positiveDuration(1_000),
    defaultText: "5m",
  } satisfies Setting<number>,
  logLevel: {
    flag: "log-level",
    env: "MESH_COMPLIANCE_LOG_LEVEL",
    description: "error, warn, info or debug",
    parser: oneOf<LogLevel>(["error", "warn", "info", "debug"]),
    defaultText: "info",
  } satisfies Setting<LogLevel>,
  logFormat: {
    flag: "log-format",
    env: "MESH_COMPLIANCE_LOG_FORMAT",
    description: "json, text, or auto (text on a terminal, else JSON)",
    parser: oneOf<LogFormat>(["json", "text", "auto"]),
    defaultText: "auto",
  } satisfies Setting<LogFormat>,
  namespaceMetrics: {
    flag: "namespace-metrics",
    env: "MESH_COMPLIANCE_NAMESPACE_METRICS",
    description: "export mesh_compliance_namespace_findings (one series per namespace and risk)",
    parser: boolean,
    defaultText: "true",
  } satisfies Setting<boolean>,
  eventsPerMinute: {
    flag: "events-per-minute",
    env: "MESH_COMPLIANCE_EVENTS_PER_MINUTE",
    description: "Kubernetes Events the operator may create per minute (0 turns them off)",
    parser: integer(0, 10_000),
    defaultText: "60",
  } satisfies Setting<number>,
  reportNamespaces: {
    flag: "report-namespaces",
    env: "MESH_COMPLIANCE_REPORT_NAMESPACES",
    description: "namespaces listed in a ComplianceReport's per-namespace table",
    parser: integer(0, 1_000),
    defaultText: "50",
  } satisfies Setting<number>,
};

export type SettingName = keyof typeof SETTINGS;
