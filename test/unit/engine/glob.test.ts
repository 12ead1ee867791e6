// The `*` globs of waivers and allow-lists.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { globMatch } from "../../../operator/engine/selectors.js";

describe("globMatch", () => {
  const cases: [pattern: string, value: string, matches: boolean][] = [
    ["*", "", true],
    ["*", "anything", true],
    ["exact", "exact", true],
    ["exact", "exactly", false],
    ["docker.io/istio/*", "docker.io/istio/proxyv2:1.22", true],
    ["docker.io/istio/*", "docker.io/istiox/proxyv2", false],
    ["*-controller", "kustomize-controller", true],
    ["*-controller", "kustomize-controllers", false],
    ["a*b*c", "abc", true],
    ["a*b*c", "aXbYc", true],
    ["a*b*c", "acb", false],
    ["ab*ba", "aba", false],
    ["ab*ba", "abba", true],
    ["a**b", "ab", true],
    ["*x*x*", "x", false],
    ["*x*x*", "xx", true],
    ["*.svc.cluster.local", ".svc.cluster.local", true],
    // Characters a regular expression would treat specially are literal.
    ["a.b*", "aXb", false],
    ["(x)+*", "(x)+y", true],
    ["[ns]/*", "[ns]/p", true],
  ];
  for (const [pattern, value, matches] of cases) {
    it(`${pattern} ${matches ? "matches" : "does not match"} ${JSON.stringify(value)}`, () => {
      assert.equal(globMatch(pattern, value), matches);
    });
  }

  it("answers a pattern with many stars on a long name (a backtracking matcher would not return)", () => {
    const pattern = `${"*a".repeat(12)}*b`;
    assert.equal(globMatch(pattern, "a".repeat(253)), false);
    assert.equal(globMatch(pattern, `${"a".repeat(252)}b`), true);
  });
});
