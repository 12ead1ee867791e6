// The cache's table of shared values: equal values come back as one frozen copy, unequal ones
// never do, the input is left alone, and the table stays bounded.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValueTable } from "../../../operator/kube/compact.js";

type Json = Record<string, unknown>;

const securityContext = (): Json => ({
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  runAsUser: 1337,
  runAsNonRoot: true,
});

describe("ValueTable", () => {
  it("returns one frozen copy for equal values, equal to them, at every level", () => {
    const table = new ValueTable();
    const first = table.value(securityContext());
    const second = table.value(securityContext());
    assert.equal(first, second);
    assert.deepEqual(first, securityContext());
    assert.ok(Object.isFrozen(first));
    assert.ok(Object.isFrozen(first["capabilities"]));
    // A part of a value is shared with the same part met on its own.
    assert.equal(table.value({ drop: ["ALL"] }), first["capabilities"]);
  });

  it("leaves the value it was given unchanged and unfrozen", () => {
    const table = new ValueTable();
    const input = securityContext();
    const out = table.value(input);
    assert.notEqual(out, input);
    assert.equal(Object.isFrozen(input) || Object.isFrozen(input["capabilities"]), false);
    assert.deepEqual(input, securityContext());
  });

  it("hands back a copy it gave out as it is", () => {
    const table = new ValueTable();
    const shared = table.value(securityContext());
    assert.equal(table.value(shared), shared);
  });

  it("never merges values that differ in type, order, nesting or sign", () => {
    const table = new ValueTable();
    const values: unknown[] = [
      { a: "1" },
      { a: 1 },
      { a: true },
      { a: "true" },
      { a: null },
      { a: "null" },
      { a: [] },
      { a: {} },
      { a: ["x"] },
      { a: [["x"]] },
      { a: { x: "x" } },
      { a: 0 },
      { a: -0 },
      { a: 1.5 },
      { a: "", b: "x" },
      { a: "x", b: "" },
      { b: "x", a: "" },
      { ab: "" },
      ["a", "b"],
      ["ab"],
      ["b", "a"],
      [],
      {},
    ];
    const copies = values.map((v) => table.value(v));
    copies.forEach((copy, i) => {
      assert.deepEqual(copy, values[i], `value ${i}`);
      // Key order is part of the value: it shows in Object.keys and in JSON.
      assert.equal(JSON.stringify(copy), JSON.stringify(values[i]), `value ${i}`);
    });
    assert.equal(new Set(copies).size, values.length);
  });

  it("keeps every value's content when many values share the table", () => {
    // Enough distinct values that some of their 30-bit hashes are bound to collide.
    const table = new ValueTable({ limit: 1 << 20 });
    const make = (i: number): Json => ({ name: `pod-${i}`, port: i % 1000, tls: i % 3 === 0 });
    for (let i = 0; i < 100_000; i++) {
      const out = table.value(make(i));
      if (out["name"] !== `pod-${i}` || out["port"] !== i % 1000 || out["tls"] !== (i % 3 === 0)) {
        assert.fail(`value ${i} came back as ${JSON.stringify(out)}`);
      }
    }
  });

  it("does not share long strings, nor values that hold them", () => {
    const table = new ValueTable({ maxStringLength: 8 });
    const long = "x".repeat(9);
    const holder = { text: long };
    assert.equal(table.value(holder), holder);
    assert.equal(Object.isFrozen(holder), false);
    assert.equal(table.string(long), long);
    const list = [long];
    assert.equal(table.value(list), list);
    // A short one is shared, whatever its source.
    const short = ["x".repeat(8)].join("");
    assert.equal(table.value({ text: short }), table.value({ text: "xxxxxxxx" }));
  });

  it("does not copy an object with an own __proto__ key", () => {
    const table = new ValueTable();
    const parsed = JSON.parse('{"__proto__": {"polluted": true}, "a": "b"}') as Json;
    const out = table.value(parsed);
    assert.equal(out, parsed);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
  });

  it("stays bounded, forgets unused values and keeps values in use", () => {
    const limit = 8;
    const table = new ValueTable({ limit });
    const hot = table.value({ app: "reviews" });
    for (let i = 0; i < 1_000; i++) {
      table.value({ app: `app-${i}` });
      assert.ok(table.size <= 4 * limit, `size ${table.size} after ${i + 1} values`);
      assert.equal(table.value({ app: "reviews" }), hot, `hot value lost after ${i + 1} values`);
    }
    // A forgotten value comes back as a new copy with the same content.
    const again = table.value({ app: "app-0" });
    assert.deepEqual(again, { app: "app-0" });
  });

  it("returns strings equal to the input and passes other primitives through", () => {
    const table = new ValueTable();
    const image = ["docker.io/istio/proxyv2", "1.28.1"].join(":");
    assert.equal(table.string(image), image);
    assert.equal(table.value(42), 42);
    assert.equal(table.value(null), null);
    assert.equal(table.value<unknown>(undefined), undefined);
    assert.equal(table.value(false), false);
  });
});
