import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import AjvDraft04 from "ajv-draft-04";

// The package is CommonJS; under NodeNext its class arrives on `default`.
const Ajv = AjvDraft04.default;

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const cli = fileURLToPath(new URL("../../../operator/cli/main.js", import.meta.url));

function run(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    cwd: root,
    input,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const permissive = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: PERMISSIVE}}
`;

describe("mesh-compliance scan", () => {
  it("exits 1 when a finding is at or above --fail-on, and 0 with --fail-on none", () => {
    assert.equal(run(["scan", "-", "-o", "json"], permissive).code, 1);
    assert.equal(run(["scan", "-", "-o", "json", "--fail-on", "none"], permissive).code, 0);
  });

  it("exits 2 on an unknown option, an unknown format and a missing file", () => {
    assert.equal(run(["scan", "--bogus", "x"]).code, 2);
    assert.equal(run(["scan", "-o", "xml", "deploy/examples"]).code, 2);
    const missing = run(["scan", "no/such/file.yaml"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no\/such\/file\.yaml/);
  });

  it("exits 2 on an input error but still reports everything else", () => {
    const r = run(["scan", "-", "-o", "json"], `${permissive}---\nkind: [broken\n`);
    assert.equal(r.code, 2);
    const doc = JSON.parse(r.stdout) as {
      inputErrors: { file: string; line: number; message: string }[];
      threats: { id: string; status: string }[];
    };
    assert.equal(doc.inputErrors.length, 1);
    assert.equal(doc.inputErrors[0]?.file, "<stdin>");
    // The broken document starts on line 6; the parser notices at the end of the stream.
    const line = doc.inputErrors.map((e) => e.line).join();
    assert.ok(line === "6" || line === "7", line);
    assert.equal(doc.threats.find((t) => t.id === "I-01")?.status, "Violated");
  });

  it("exits 2 when a field has the wrong type, naming the object and field", () => {
    const wrong = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: typo, namespace: shop}
spec:
  rules:
    from: [{source: {notNamespaces: [batch]}}]
`;
    const r = run(["scan", "-", "-o", "json"], wrong);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /<stdin>:1: AuthorizationPolicy shop\/typo: spec\.rules is a map, expected a list/,
    );
  });

  it("prints the JSON shape with summary, riskSummary, threats and inputErrors", () => {
    const doc = JSON.parse(run(["scan", "-", "-o", "json"], permissive).stdout) as Record<
      string,
      unknown
    >;
    for (const key of ["summary", "riskSummary", "threats", "inputErrors"]) {
      assert.ok(key in doc, `missing ${key}`);
    }
    const threats = doc.threats as { id: string; findings: Record<string, unknown>[] }[];
    assert.equal(threats.length, 17);
    const finding = threats.find((t) => t.id === "I-01")?.findings[0];
    assert.deepEqual(Object.keys(finding ?? {}).sort(), [
      "check",
      "message",
      "remediation",
      "resource",
      "severity",
      "threats",
    ]);
  });

  it("writes SARIF that validates against the SARIF 2.1.0 schema", () => {
    const r = run(["scan", "deploy/examples/insecure-mesh", "-o", "sarif"]);
    assert.equal(r.code, 1);
    const schemaPath = fileURLToPath(
      import.meta.resolve("@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json"),
    );
    const schema = JSON.parse(readFileSync(schemaPath, "utf8")) as object;
    const validate = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false }).compile(
      schema,
    );
    const log = JSON.parse(r.stdout) as { runs: { results: { ruleId: string }[] }[] };
    assert.ok(validate(log), JSON.stringify(validate.errors?.slice(0, 5)));
    assert.ok((log.runs[0]?.results.length ?? 0) > 0);
  });

  it("writes JUnit with one test case per threat", () => {
    const r = run(["scan", "deploy/examples/insecure-mesh", "-o", "junit"]);
    assert.equal((r.stdout.match(/<testcase /g) ?? []).length, 17);
    assert.match(r.stdout, /<failure message="[^"]*" type="Violated">/);
  });

  it("prints a table that fits 80 columns and has no colour when not on a terminal", () => {
    const r = run(["scan", "deploy/examples/insecure-mesh"]);
    const lines = r.stdout.split("\n");
    const wide = lines.filter((l) => l.length > 80);
    assert.deepEqual(wide, []);
    assert.ok(!r.stdout.includes("\u001b["), "no ANSI escapes when piped");
    assert.match(r.stdout, /^S-01 /m);
  });

  it("shows control characters from scanned names escaped, in the table and in JUnit", () => {
    const hostile = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: "evil\\e[2J\\e]0;pwned\\a", namespace: istio-system}
spec: {mtls: {mode: PERMISSIVE}}
`;
    const table = run(["scan", "-"], hostile).stdout;
    assert.ok(!table.includes("\u001b"), "no escape character reaches the terminal");
    assert.match(table, /evil\\x1b\[2J/);
    const junit = run(["scan", "-", "-o", "junit"], hostile).stdout;
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    const invalidXml = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;
    assert.ok(!invalidXml.test(junit), "JUnit stays valid XML");
  });

  it("exits quietly when the reader of its output goes away", () => {
    const r = spawnSync(
      "bash",
      ["-c", `node ${cli} scan deploy/examples/insecure-mesh -o json | head -c 10`],
      {
        cwd: root,
        encoding: "utf8",
      },
    );
    assert.doesNotMatch(r.stderr, /EPIPE|Unhandled/);
  });

  it("prints YAML output", () => {
    const r = run(["scan", "-", "-o", "yaml"], permissive);
    assert.match(r.stdout, /^summary:/m);
  });
});

describe("mesh-compliance threats and explain", () => {
  it("lists the 17 threats with their checks", () => {
    const rows = JSON.parse(run(["threats", "-o", "json"]).stdout) as {
      id: string;
      checks: string[];
    }[];
    assert.equal(rows.length, 17);
    assert.ok(rows.find((r) => r.id === "I-01")?.checks.includes("mtls-permissive-policy"));
  });

  it("explains a threat and a check, with a fix", () => {
    assert.match(run(["explain", "e-02"]).stdout, /Unauthorized service access/);
    const check = run(["explain", "mtls-permissive-policy"]);
    assert.equal(check.code, 0);
    assert.match(check.stdout, /How to fix it:/);
    assert.match(check.stdout, /mode: STRICT/);
  });

  it("exits 2 for an unknown id", () => {
    assert.equal(run(["explain", "nope"]).code, 2);
  });
});
