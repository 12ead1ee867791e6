// Shape checks for the offline scan. In a cluster the API server validates every object against
// its schema before the operator sees it; files have had no such check. A field of the wrong type
// would otherwise read as absent and could turn a violation into a pass, so every field the checks
// rely on is checked here and a mismatch becomes an input error naming the object and field.

import { isObj } from "../engine/fields.js";
import { K, kindKey } from "../engine/kinds.js";
import type { KubeObject } from "../engine/types.js";

type Expect = "object" | "list" | "string" | "boolean" | "integer" | "map-of-strings" | string[];

/**
 * Paths use `[]` for every item of a list and `{}` for every value of a map. A rule only applies
 * where the path exists: absence is the checks' business, not a shape error.
 */
type Rules = readonly (readonly [string, Expect])[];

const SELECTOR: Rules = [
  ["spec.selector", "object"],
  ["spec.selector.matchLabels", "map-of-strings"],
];

const MTLS_MODES = ["UNSET", "DISABLE", "PERMISSIVE", "STRICT"];

const POD_SPEC: Rules = [
  ["containers", "list"],
  ["containers[]", "object"],
  ["containers[].name", "string"],
  ["containers[].image", "string"],
  ["containers[].ports", "list"],
  ["containers[].securityContext", "object"],
  ["containers[].securityContext.privileged", "boolean"],
  ["containers[].securityContext.allowPrivilegeEscalation", "boolean"],
  ["containers[].securityContext.readOnlyRootFilesystem", "boolean"],
  ["containers[].securityContext.runAsUser", "integer"],
  ["containers[].securityContext.runAsGroup", "integer"],
  ["containers[].securityContext.capabilities", "object"],
  ["containers[].securityContext.capabilities.add", "list"],
  ["containers[].securityContext.capabilities.drop", "list"],
  ["containers[].resources", "object"],
  ["initContainers", "list"],
  ["initContainers[]", "object"],
  ["initContainers[].name", "string"],
  ["initContainers[].securityContext", "object"],
  ["initContainers[].securityContext.privileged", "boolean"],
  ["initContainers[].securityContext.capabilities", "object"],
  ["initContainers[].securityContext.capabilities.add", "list"],
  ["securityContext", "object"],
  ["securityContext.runAsUser", "integer"],
  ["securityContext.runAsGroup", "integer"],
  ["hostNetwork", "boolean"],
];

function under(prefix: string, rules: Rules): Rules {
  return rules.map(([path, expect]) => [`${prefix}.${path}`, expect] as const);
}

const WORKLOAD: Rules = [
  ["spec.template", "object"],
  ["spec.template.metadata.labels", "map-of-strings"],
  ["spec.template.metadata.annotations", "map-of-strings"],
  ["spec.template.spec", "object"],
  ...under("spec.template.spec", POD_SPEC),
  ["spec.replicas", "integer"],
];

const RULES: Record<string, Rules> = {
  [K.PeerAuthentication]: [
    ...SELECTOR,
    ["spec.mtls", "object"],
    ["spec.mtls.mode", MTLS_MODES],
    ["spec.portLevelMtls", "object"],
    ["spec.portLevelMtls{}", "object"],
    ["spec.portLevelMtls{}.mode", MTLS_MODES],
  ],
  [K.AuthorizationPolicy]: [
    ...SELECTOR,
    ["spec.action", ["ALLOW", "DENY", "AUDIT", "CUSTOM"]],
    ["spec.rules", "list"],
    ["spec.rules[]", "object"],
    ["spec.rules[].from", "list"],
    ["spec.rules[].from[]", "object"],
    ["spec.rules[].from[].source", "object"],
    ["spec.rules[].to", "list"],
    ["spec.rules[].to[]", "object"],
    ["spec.rules[].to[].operation", "object"],
    ["spec.rules[].when", "list"],
    ["spec.rules[].when[]", "object"],
    ["spec.targetRefs", "list"],
  ],
  [K.RequestAuthentication]: [...SELECTOR, ["spec.jwtRules", "list"]],
  [K.EnvoyFilter]: [
    ["spec.workloadSelector", "object"],
    ["spec.workloadSelector.labels", "map-of-strings"],
    ["spec.configPatches", "list"],
    ["spec.configPatches[]", "object"],
    ["spec.configPatches[].match", "object"],
    ["spec.configPatches[].patch", "object"],
    ["spec.configPatches[].patch.operation", "string"],
  ],
  [K.DestinationRule]: [
    ["spec.host", "string"],
    ["spec.trafficPolicy", "object"],
    ["spec.trafficPolicy.tls", "object"],
    ["spec.trafficPolicy.tls.mode", ["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"]],
    ["spec.trafficPolicy.tls.insecureSkipVerify", "boolean"],
    ["spec.trafficPolicy.portLevelSettings", "list"],
    ["spec.subsets", "list"],
    ["spec.subsets[]", "object"],
  ],
  [K.Gateway]: [
    ["spec.selector", "map-of-strings"],
    ["spec.servers", "list"],
    ["spec.servers[]", "object"],
    ["spec.servers[].hosts", "list"],
    ["spec.servers[].port", "object"],
    ["spec.servers[].tls", "object"],
    ["spec.servers[].tls.httpsRedirect", "boolean"],
  ],
  [K.Sidecar]: [
    ["spec.workloadSelector", "object"],
    ["spec.egress", "list"],
  ],
  [K.Telemetry]: [...SELECTOR, ["spec.accessLogging", "list"]],
  [K.MutatingWebhookConfiguration]: [
    ["webhooks", "list"],
    ["webhooks[]", "object"],
    ["webhooks[].clientConfig", "object"],
    ["webhooks[].rules", "list"],
    ["webhooks[].rules[]", "object"],
    ["webhooks[].namespaceSelector", "object"],
    ["webhooks[].objectSelector", "object"],
  ],
  [K.ValidatingWebhookConfiguration]: [
    ["webhooks", "list"],
    ["webhooks[]", "object"],
    ["webhooks[].clientConfig", "object"],
  ],
  [K.ClusterRole]: [
    ["rules", "list"],
    ["rules[]", "object"],
  ],
  [K.Role]: [
    ["rules", "list"],
    ["rules[]", "object"],
  ],
  [K.ClusterRoleBinding]: [
    ["subjects", "list"],
    ["roleRef", "object"],
  ],
  [K.RoleBinding]: [
    ["subjects", "list"],
    ["roleRef", "object"],
  ],
  [K.Pod]: [["spec", "object"], ...under("spec", POD_SPEC)],
  [K.Deployment]: WORKLOAD,
  [K.StatefulSet]: WORKLOAD,
  [K.DaemonSet]: WORKLOAD,
  [K.ReplicaSet]: WORKLOAD,
  [K.Job]: WORKLOAD,
  [K.CronJob]: under("spec.jobTemplate", WORKLOAD),
  [K.Namespace]: [],
  [K.Service]: [
    ["spec.selector", "map-of-strings"],
    ["spec.ports", "list"],
  ],
};

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return `${typeof value} ${JSON.stringify(value)}`;
}

type Plain = Exclude<Expect, string[]>;

const MATCHES: Record<Plain, (v: unknown) => boolean> = {
  object: isObj,
  list: Array.isArray,
  string: (v) => typeof v === "string",
  boolean: (v) => typeof v === "boolean",
  integer: (v) => Number.isInteger(v),
  "map-of-strings": (v) => isObj(v) && Object.values(v).every((x) => typeof x === "string"),
};

const EXPECTED: Record<Plain, string> = {
  object: "a map",
  list: "a list",
  string: "a string",
  boolean: "true or false",
  integer: "an integer",
  "map-of-strings": "a map of strings",
};

function mismatch(value: unknown, expect: Expect): string | undefined {
  if (Array.isArray(expect)) {
    return typeof value === "string" && expect.includes(value)
      ? undefined
      : `is ${describe(value)}, expected one of ${expect.join(", ")}`;
  }
  return MATCHES[expect](value) ? undefined : `is ${describe(value)}, expected ${EXPECTED[expect]}`;
}

type Located = [string, unknown];

/** Children of one located value for one path segment (`key`, `key[]` or `key{}`). */
function children([at, value]: Located, segment: string): Located[] {
  const each = segment.endsWith("[]") ? "list" : segment.endsWith("{}") ? "map" : undefined;
  const key = each ? segment.slice(0, -2) : segment;
  if (!isObj(value) || value[key] === undefined) return [];
  const child = value[key];
  const here = at ? `${at}.${key}` : key;
  if (!each) return [[here, child]];
  if (each === "list") {
    return Array.isArray(child) ? child.map((item, i): Located => [`${here}[${i}]`, item]) : [];
  }
  return isObj(child) ? Object.entries(child).map(([k, v]): Located => [`${here}.${k}`, v]) : [];
}

/** Every value at the path's segments, with its concrete path (`spec.rules[2].from`). */
function valuesAt(root: unknown, segments: readonly string[]): Located[] {
  let current: Located[] = [["", root]];
  for (const segment of segments) {
    if (current.length === 0) return current;
    current = current.flatMap((located) => children(located, segment));
  }
  return current;
}

/** Rules with their paths split once: the scan checks every object against them. */
const COMPILED = new Map(
  Object.entries(RULES).map(([kind, rules]) => [
    kind,
    rules.map(([path, expect]) => [path.split("."), expect] as const),
  ]),
);

/** Problems with the fields the checks read, as `field: problem`; empty when the shape is right. */
export function shapeProblems(object: KubeObject): string[] {
  const rules = COMPILED.get(kindKey(object.apiVersion, object.kind));
  if (!rules) return [];
  const problems: string[] = [];
  for (const [segments, expect] of rules) {
    for (const [at, value] of valuesAt(object, segments)) {
      // A null is what YAML gives for `key:` with nothing after it: treated as absent.
      if (value === null) continue;
      const problem = mismatch(value, expect);
      if (problem !== undefined) problems.push(`${at} ${problem}`);
    }
  }
  return problems;
}
