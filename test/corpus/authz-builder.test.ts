// Istio's own AuthorizationPolicy → Envoy RBAC golden files. Each `-in.yaml` is what users write and
// each `-out*.yaml` is what istiod makes of it, so they are the ground truth for what a policy
// really enforces. Our semantics must agree with every case of the folder's README.

import { it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import yaml from "js-yaml";
import {
  denyByDefault,
  effectOf,
  isEnforced,
  matchesEverything,
  parseAuthorizationPolicy,
  tcpRuleEffect,
  type AuthzPolicy,
  type TcpRuleEffect,
} from "../../operator/engine/authz.js";
import { authzAllowAll } from "../../operator/engine/checks/authz.js";
import { at, isObj, obj } from "../../operator/engine/fields.js";
import { objectsFromYaml, resources, runCheck } from "../support/engine.js";
import { corpusDescribe } from "../support/corpus.js";

const UPSTREAM = new URL("../../../../shared/cases/upstream/", import.meta.url);
const DIR = new URL("istio-authz-builder-testdata/", UPSTREAM);
const HTTPBIN = { app: "httpbin", version: "v1" };

function read(rel: string): string {
  return readFileSync(new URL(rel, DIR), "utf8");
}

function policies(rel: string): AuthzPolicy[] {
  return objectsFromYaml(read(rel)).map(parseAuthorizationPolicy);
}

function only(rel: string): AuthzPolicy {
  const [p] = policies(rel);
  assert.ok(p, `${rel} holds a policy`);
  return p;
}

// -------------------------------------------------------------------------------------------------
// Golden output readers

interface GoldenRules {
  /** Envoy policies that are enforced, keyed `ns[foo]-policy[name]-rule[i]`. */
  enforced: Record<string, unknown>;
  /** Policies istiod put in shadow (dry-run) rules. */
  shadow: Record<string, unknown>;
}

function golden(rel: string): GoldenRules {
  const out: GoldenRules = { enforced: {}, shadow: {} };
  for (const doc of yaml.loadAll(read(rel))) {
    const config = obj(at(doc, "typedConfig"));
    Object.assign(out.enforced, obj(at(config, "rules", "policies")) ?? {});
    Object.assign(out.shadow, obj(at(config, "shadowRules", "policies")) ?? {});
  }
  return out;
}

/** True for `any: true`, possibly wrapped in and-lists (`andRules`, `andIds`). */
function isAny(x: unknown): boolean {
  if (!isObj(x)) return false;
  if (x.any === true) return true;
  const list = at(x, "andRules", "rules") ?? at(x, "andIds", "ids");
  return Array.isArray(list) && list.length > 0 && list.every(isAny);
}

function goldenMatchesAll(policy: unknown): boolean {
  const permissions = at(policy, "permissions");
  const principals = at(policy, "principals");
  return (
    Array.isArray(permissions) &&
    permissions.some(isAny) &&
    Array.isArray(principals) &&
    principals.some(isAny)
  );
}

function key(p: AuthzPolicy, i: number): string {
  return `ns[${p.namespace}]-policy[${p.name}]-rule[${i}]`;
}

/** Output files of an input (`x-in.yaml` → `x-out.yaml`, `x-out1.yaml`…), not the extended ones. */
function outputsOf(dir: string, input: string): string[] {
  const base = input.replace(/-in\.yaml$/, "-out");
  return readdirSync(new URL(dir, DIR))
    .filter((f) => f.startsWith(base) && /-out\d*\.yaml$/.test(f))
    .map((f) => dir + f);
}

function inputs(dir: string): string[] {
  return readdirSync(new URL(dir, DIR)).filter((f) => f.endsWith("-in.yaml"));
}

// -------------------------------------------------------------------------------------------------

corpusDescribe("istio authz builder testdata: the README's key semantics", () => {
  it("classifies allow-nil-rule (no rules field) as allow-nothing, a deny-all for its workload", () => {
    const p = only("http/allow-nil-rule-in.yaml");
    assert.equal(effectOf(p), "allow-nothing");
    assert.equal(denyByDefault([p], "istio-system", "foo", HTTPBIN), true);
    assert.equal(
      goldenMatchesAll(golden("http/allow-nil-rule-out.yaml").enforced[key(p, 0)]),
      false,
    );
  });

  it("classifies allow-empty-rule (`rules: [{}]`) as allow-all and reports it", () => {
    const p = only("http/allow-empty-rule-in.yaml");
    assert.equal(effectOf(p), "allow-all");
    assert.equal(denyByDefault([p], "istio-system", "foo", HTTPBIN), false);
    const { findings } = runCheck(authzAllowAll, read("http/allow-empty-rule-in.yaml"));
    assert.deepEqual(resources(findings), ["AuthorizationPolicy foo/allow-all"]);
  });

  it("classifies deny-empty-rule as deny-all", () => {
    assert.equal(effectOf(only("http/deny-empty-rule-in.yaml")), "deny-all");
  });

  it("layers deny-and-allow: a DENY and a conditional ALLOW, so the workload is deny-by-default", () => {
    const all = policies("http/deny-and-allow-in.yaml");
    assert.deepEqual(all.map((p) => [p.action, effectOf(p)]).sort(), [
      ["ALLOW", "conditional"],
      ["DENY", "conditional"],
    ]);
    assert.equal(denyByDefault(all, "istio-system", "foo", HTTPBIN), true);
  });

  for (const file of ["http/dry-run-allow-in.yaml", "http/dry-run-allow-and-deny-in.yaml"]) {
    it(`treats every policy of ${file} as not enforced`, () => {
      const all = policies(file);
      assert.ok(all.every((p) => !isEnforced(p) && effectOf(p) === "none"));
      assert.equal(denyByDefault(all, "istio-system", "foo", HTTPBIN), false);
    });
  }

  for (const file of ["http/dry-run-mix-in.yaml", "tcp/dry-run-mix-in.yaml"]) {
    it(`enforces only the policy whose dry-run annotation is false in ${file}`, () => {
      const enforced = policies(file)
        .filter(isEnforced)
        .map((p) => p.name);
      assert.deepEqual(enforced, ["httpbin-2"]);
    });
  }

  it("does not count AUDIT as authorization", () => {
    const p = only("http/audit-full-rule-in.yaml");
    assert.equal(effectOf(p), "none");
    assert.equal(denyByDefault([p], "istio-system", "foo", HTTPBIN), false);
  });

  it("does not count CUSTOM as deny-by-default", () => {
    // Difference, on purpose: istiod turns a CUSTOM policy whose provider is missing or invalid
    // into DENY rules (custom-bad-out.yaml), which fails closed. Whether the provider is valid
    // depends on meshConfig and on the external service, so CUSTOM never counts as coverage here.
    const all = policies("http/custom-simple-http-in.yaml");
    assert.ok(all.every((p) => p.action === "CUSTOM" && effectOf(p) === "conditional"));
    assert.equal(denyByDefault(all, "istio-system", "foo", HTTPBIN), false);
  });

  it("never matches an ALLOW rule with HTTP-only fields on TCP (allow-only-http)", () => {
    const p = only("tcp/allow-only-http-in.yaml");
    assert.deepEqual(
      p.rules.map((r) => tcpRuleEffect("ALLOW", r)),
      ["never", "never"],
    );
    assert.deepEqual(golden("tcp/allow-only-http-out.yaml").enforced, {});
  });

  it("widens DENY rules 0-3 of deny-both-http-tcp to match everything on TCP", () => {
    const p = only("tcp/deny-both-http-tcp-in.yaml");
    const effects = p.rules.map((r) => tcpRuleEffect("DENY", r));
    assert.deepEqual(effects.slice(0, 3), ["everything", "everything", "everything"]);
    // Rule 3 keeps its namespaces condition, so it still needs a peer identity.
    assert.equal(effects[3], "conditional");
  });
});

corpusDescribe("istio authz builder testdata: every rule agrees with the golden output", () => {
  it("agrees on which policies are enforced and which are shadow (dry-run) rules", () => {
    const cases = ["http/", "tcp/"].flatMap((dir) =>
      inputs(dir)
        .filter((input) => !input.startsWith("custom"))
        .map((input) => ({ input: dir + input, rules: outputsOf(dir, input).map(golden) }))
        .filter((c) => c.rules.length > 0),
    );
    let compared = 0;
    for (const c of cases) {
      for (const p of policies(c.input)) {
        const prefix = `ns[${p.namespace}]-policy[${p.name}]-`;
        const has = (m: (g: GoldenRules) => Record<string, unknown>): boolean =>
          c.rules.some((g) => Object.keys(m(g)).some((k) => k.startsWith(prefix)));
        const inEnforced = has((g) => g.enforced);
        // A TCP chain can drop every rule of an ALLOW policy, leaving no trace of it.
        if (!inEnforced && !has((g) => g.shadow)) continue;
        assert.equal(isEnforced(p), inEnforced, `${c.input} ${p.name}`);
        compared++;
      }
    }
    assert.ok(compared >= 15, `compared ${compared} policies`);
  });

  it("agrees on which HTTP rules match every request", () => {
    let compared = 0;
    for (const input of inputs("http/")) {
      const outs = outputsOf("http/", input);
      if (outs.length === 0 || input.startsWith("custom")) continue;
      const rules = outs.map(golden);
      for (const p of policies(`http/${input}`)) {
        p.rules.forEach((rule, i) => {
          const envoy = rules
            .map((g) => g.enforced[key(p, i)] ?? g.shadow[key(p, i)])
            .find(Boolean);
          assert.ok(envoy, `${input} ${key(p, i)} is in the golden output`);
          assert.equal(matchesEverything(rule), goldenMatchesAll(envoy), `${input} ${key(p, i)}`);
          compared++;
        });
      }
    }
    assert.ok(compared >= 20, `compared ${compared} rules`);
  });

  it("agrees on how each TCP rule behaves: skipped, match-all or conditional", () => {
    let compared = 0;
    for (const input of inputs("tcp/")) {
      const outs = outputsOf("tcp/", input);
      if (outs.length === 0 || input.startsWith("custom")) continue;
      const rules = outs.map(golden);
      for (const p of policies(`tcp/${input}`)) {
        if (!p.action) continue;
        const action = p.action;
        p.rules.forEach((rule, i) => {
          const envoy = rules
            .map((g) => g.enforced[key(p, i)] ?? g.shadow[key(p, i)])
            .find(Boolean);
          const expected: TcpRuleEffect =
            envoy === undefined ? "never" : goldenMatchesAll(envoy) ? "everything" : "conditional";
          assert.equal(tcpRuleEffect(action, rule), expected, `${input} ${key(p, i)}`);
          compared++;
        });
      }
    }
    assert.ok(compared >= 20, `compared ${compared} rules`);
  });
});
