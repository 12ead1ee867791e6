// Typed operator configuration, read once from flags and MESH_COMPLIANCE_* variables. A flag wins
// over its variable, the variable over the default. Every problem is collected, and each names the
// setting, the value received and what was expected, so one run shows every mistake.

import {
  boolean,
  SETTINGS,
  type DefaultContext,
  type ListenAddress,
  type LogFormat,
  type LogLevel,
  type Setting,
  type SettingName,
} from "./settings.js";

export interface OperatorConfig {
  kubeconfig?: string;
  context?: string;
  inCluster: boolean;
  metricsAddress: ListenAddress;
  leaderElection: boolean;
  leaseName: string;
  leaseNamespace: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  debounceMs: number;
  resyncIntervalMs: number;
  watchTimeoutSeconds: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  namespaceMetrics: boolean;
  eventsPerMinute: number;
  reportNamespaces: number;
}

export interface ConfigProblem {
  setting: string;
  received: string;
  expected: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: ConfigProblem[]) {
    super(
      "invalid configuration: " +
        problems
          .map((p) => `${p.setting}: got ${JSON.stringify(p.received)}, expected ${p.expected}`)
          .join("; "),
    );
  }
}

export type Environment = Readonly<Record<string, string | undefined>>;

const SETTING_BY_FLAG = new Map<string, Setting<unknown>>(
  Object.values(SETTINGS).map((s) => [s.flag, s as Setting<unknown>]),
);

/** The setting a `--name` or `--no-name` argument names, and whether it was negated. */
function flagOf(arg: string): { flag: string; value?: string; negated: boolean } | undefined {
  const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
  const name = m?.[1];
  if (name === undefined) return undefined;
  const negated = name.startsWith("no-") && SETTING_BY_FLAG.has(name.slice(3));
  const flag = negated ? name.slice(3) : name;
  return m?.[2] === undefined ? { flag, negated } : { flag, value: m[2], negated };
}

/** Flags are `--name=value`, `--name value`, or `--name` / `--no-name` for true/false settings. */
function parseArgv(argv: readonly string[], problems: ConfigProblem[]): Map<string, string> {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const parsed = flagOf(arg);
    const setting = parsed && SETTING_BY_FLAG.get(parsed.flag);
    if (parsed === undefined || setting === undefined) {
      const what = parsed === undefined ? "arguments" : (arg.split("=")[0] ?? arg);
      const expected = parsed === undefined ? "a --flag (see --help)" : "a known flag (see --help)";
      problems.push({ setting: what, received: arg, expected });
      continue;
    }
    const value = valueOf(parsed, setting, argv[i + 1]);
    if (value === undefined) {
      problems.push({
        setting: `--${parsed.flag}`,
        received: "",
        expected: setting.parser.expected,
      });
      continue;
    }
    values.set(parsed.flag, value.text);
    if (value.usedNext) i += 1;
  }
  return values;
}

function valueOf(
  parsed: { value?: string; negated: boolean },
  setting: Setting<unknown>,
  next: string | undefined,
): { text: string; usedNext: boolean } | undefined {
  if (parsed.value !== undefined) return { text: parsed.value, usedNext: false };
  if (setting.parser === boolean) {
    return { text: parsed.negated ? "false" : "true", usedNext: false };
  }
  return next === undefined ? undefined : { text: next, usedNext: true };
}

interface Source {
  flags: Map<string, string>;
  env: Environment;
  ctx: DefaultContext;
  problems: ConfigProblem[];
}

function read<T>(source: Source, setting: Setting<T>): T | undefined {
  const fromFlag = source.flags.get(setting.flag);
  const fromEnv = source.env[setting.env];
  const given = fromFlag ?? (fromEnv === "" ? undefined : fromEnv);
  const name =
    fromFlag !== undefined
      ? `--${setting.flag}`
      : given !== undefined
        ? setting.env
        : `default of --${setting.flag}`;
  const textValue =
    given ??
    (typeof setting.defaultText === "function"
      ? setting.defaultText(source.ctx)
      : setting.defaultText);
  if (textValue === undefined) return undefined;
  const value = setting.parser.parse(textValue);
  if (value === undefined) {
    source.problems.push({ setting: name, received: textValue, expected: setting.parser.expected });
  }
  return value;
}

type Values = { [N in SettingName]: (typeof SETTINGS)[N] extends Setting<infer T> ? T : never };

function readAll(source: Source): Partial<Values> {
  const out: Partial<Record<SettingName, unknown>> = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const value = read(source, SETTINGS[name] as Setting<unknown>);
    if (value !== undefined) out[name] = value;
  }
  return out as Partial<Values>;
}

/** A duration as a person would have typed it: whole seconds as `10s`, else milliseconds. */
function durationText(ms: number): string {
  return ms % 1_000 === 0 ? `${String(ms / 1_000)}s` : `${String(ms)}ms`;
}

function crossCheck(v: Partial<Values>, problems: ConfigProblem[]): void {
  const { leaseDuration, renewDeadline, retryPeriod } = v;
  if (leaseDuration === undefined || renewDeadline === undefined || retryPeriod === undefined)
    return;
  if (renewDeadline >= leaseDuration) {
    problems.push({
      setting: "--renew-deadline",
      received: durationText(renewDeadline),
      expected: `less than --lease-duration (${durationText(leaseDuration)})`,
    });
  }
  if (retryPeriod >= renewDeadline) {
    problems.push({
      setting: "--retry-period",
      received: durationText(retryPeriod),
      expected: `less than --renew-deadline (${durationText(renewDeadline)})`,
    });
  }
}

/**
 * Reads and validates the configuration. Throws ConfigError listing every bad setting. `ctx`
 * carries what defaults depend on (in a pod or not, hostname), so this function reads nothing
 * itself.
 */
export function loadConfig(
  argv: readonly string[],
  env: Environment,
  ctx: Omit<DefaultContext, "inCluster">,
): OperatorConfig {
  const problems: ConfigProblem[] = [];
  const inCluster = (env.KUBERNETES_SERVICE_HOST ?? "") !== "";
  const source: Source = {
    flags: parseArgv(argv, problems),
    env,
    ctx: { ...ctx, inCluster },
    problems,
  };
  const v = readAll(source);
  crossCheck(v, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return toConfig(v as Values, inCluster);
}

function toConfig(v: Values, inCluster: boolean): OperatorConfig {
  const config: OperatorConfig = {
    inCluster,
    metricsAddress: v.metricsAddress,
    leaderElection: v.leaderElection,
    leaseName: v.leaseName,
    leaseNamespace: v.leaseNamespace,
    identity: v.identity,
    leaseDurationMs: v.leaseDuration,
    renewDeadlineMs: v.renewDeadline,
    retryPeriodMs: v.retryPeriod,
    debounceMs: v.debounce,
    resyncIntervalMs: v.resyncInterval,
    watchTimeoutSeconds: Math.max(1, Math.round(v.watchTimeout / 1_000)),
    logLevel: v.logLevel,
    logFormat: v.logFormat,
    namespaceMetrics: v.namespaceMetrics,
    eventsPerMinute: v.eventsPerMinute,
    reportNamespaces: v.reportNamespaces,
  };
  if ((v.kubeconfig as string | undefined) !== undefined) config.kubeconfig = v.kubeconfig;
  if ((v.context as string | undefined) !== undefined) config.context = v.context;
  return config;
}

/**
 * MESH_COMPLIANCE_* variables that are no setting, a misspelt one most likely. The variables
 * Kubernetes sets for a Service of that prefix (`…_SERVICE_HOST`, `…_PORT_8080_TCP`, …) are not.
 */
export function unknownVariables(env: Environment): string[] {
  const known = new Set(Object.values(SETTINGS).map((s) => (s as Setting<unknown>).env));
  return Object.keys(env)
    .filter((name) => name.startsWith("MESH_COMPLIANCE_") && !known.has(name))
    .filter(
      (name) => !/_(SERVICE_HOST|SERVICE_PORT(_.+)?|PORT(_\d+_(TCP|UDP|SCTP)(_.+)?)?)$/.test(name),
    )
    .sort();
}

/** The settings as help text: flag, variable, default and description. */
export function configHelp(ctx: DefaultContext): string {
  const lines = Object.values(SETTINGS).map((raw) => {
    const s = raw as Setting<unknown>;
    const def = typeof s.defaultText === "function" ? s.defaultText(ctx) : s.defaultText;
    // A description that explains its default already gets the value it has on this machine.
    const label = s.description.includes("(default") ? "here" : "default";
    const shown = def === undefined ? "" : ` (${label} ${def})`;
    return `  --${s.flag} <value>  [${s.env}]\n      ${s.description}${shown}`;
  });
  return `Usage: mesh-compliance operator [flags]\n\nFlags and environment variables:\n${lines.join("\n")}\n`;
}
