import assert from "node:assert/strict";
import { mkdtemp, mkdir, writeFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  loadManifests,
  parseText,
  type LoadedManifests,
} from "../../../operator/scan/manifests.js";

function parse(text: string, file = "in.yaml"): LoadedManifests {
  const result: LoadedManifests = { objects: [], errors: [], sources: new Map(), files: 1 };
  parseText(text, file, result);
  return result;
}

describe("manifest loading", () => {
  it("reads every document of a multi-document file and records its line", () => {
    const r = parse(
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n# c\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n",
    );
    assert.deepEqual(
      r.objects.map((o) => [o.metadata.name, r.sources.get(o)?.line]),
      [
        ["a", 1],
        ["b", 5],
      ],
    );
  });

  it("keeps the other documents when one has a syntax error, naming file and line", () => {
    const r = parse(
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: [b\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: c}\n",
    );
    assert.deepEqual(
      r.objects.map((o) => o.metadata.name),
      ["a", "c"],
    );
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]?.file, "in.yaml");
    assert.ok(r.errors[0].line >= 5, `line ${r.errors[0].line} is inside the second document`);
    assert.match(r.errors[0].message, /YAML syntax error/);
  });

  it("reports a document that is not a Kubernetes object, naming what is missing", () => {
    const r = parse("replicas: 3\n---\napiVersion: v1\nkind: Pod\nmetadata: {labels: {a: b}}\n");
    assert.deepEqual(
      r.errors.map((e) => `${e.line}: ${e.message}`),
      [
        "1: document is not a Kubernetes object: missing apiVersion",
        "3: document is not a Kubernetes object: Pod has no metadata.name",
      ],
    );
  });

  it("names the object and field when metadata has the wrong type", () => {
    const r = parse("apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: [a]}\n");
    assert.equal(
      r.errors[0]?.message,
      "document is not a Kubernetes object: Pod p: metadata.labels must be a map",
    );
  });

  it("expands kind: List and typed lists whose items omit apiVersion and kind", () => {
    const r = parse(
      "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n---\napiVersion: security.istio.io/v1\nkind: PeerAuthenticationList\nitems:\n- metadata: {name: pa, namespace: a}\n",
    );
    assert.deepEqual(
      r.objects.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata.name ?? ""}`),
      ["v1 Namespace a", "security.istio.io/v1 PeerAuthentication pa"],
    );
  });

  it("reads JSON, including a JSON array, and reports broken JSON with its line", () => {
    const ok = parse('[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}]', "x.json");
    assert.equal(ok.objects.length, 1);
    const bad = parse('{\n"apiVersion": "v1",\n"kind": }', "y.json");
    assert.equal(bad.errors[0]?.file, "y.json");
    assert.match(bad.errors[0].message, /JSON syntax error/);
  });

  it("skips kustomize files and istioctl's unnamed IstioOperator quietly", () => {
    const r = parse(
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n---\napiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec: {}\n",
    );
    assert.deepEqual([r.objects.length, r.errors.length], [0, 0]);
  });
});

describe("manifest folders", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "mesh-compliance-"));
    await mkdir(join(dir, "nested", "deeper"), { recursive: true });
    await writeFile(join(dir, "a.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");
    await writeFile(
      join(dir, "nested", "b.yml"),
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n",
    );
    await writeFile(
      join(dir, "nested", "deeper", "c.json"),
      '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"c"}}',
    );
    await writeFile(join(dir, "nested", "notes.txt"), "not a manifest");
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("walks folders recursively and reads only .yaml, .yml and .json", async () => {
    const r = await loadManifests([dir], dir);
    assert.deepEqual(
      r.objects.map((o) => o.metadata.name),
      ["a", "b", "c"],
    );
    assert.equal(r.files, 3);
    assert.equal(r.sources.get(r.objects[1]!)?.file, join("nested", "b.yml"));
  });

  it("follows symbolic links, reads a file or folder reached twice once, and reports a broken link", async () => {
    const linked = await mkdtemp(join(tmpdir(), "mesh-compliance-links-"));
    try {
      await mkdir(join(linked, "real"));
      await writeFile(
        join(linked, "real", "d.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: d}\n",
      );
      await symlink(join(linked, "real", "d.yaml"), join(linked, "file-link.yaml"));
      await symlink(join(linked, "real"), join(linked, "z-folder-link"));
      await symlink(linked, join(linked, "real", "cycle"));
      await symlink(join(linked, "missing.yaml"), join(linked, "broken.yaml"));

      const r = await loadManifests([linked], linked);
      assert.deepEqual(
        r.objects.map((o) => o.metadata.name),
        ["d"],
        "d.yaml once: the link to it, the folder link and the cycle add nothing",
      );
      assert.deepEqual(
        r.errors.map((e) => [e.file, e.message.split(":")[0]]),
        [["broken.yaml", "cannot read"]],
      );
    } finally {
      await rm(linked, { recursive: true, force: true });
    }
  });
});

describe("YAML values", () => {
  it("keeps unquoted timestamps as strings, as the API server does, and honours merge keys", () => {
    const r = parse(
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  creationTimestamp: 2026-01-01T00:00:00Z\n  labels: &l {app: a}\n  annotations:\n    <<: *l\n    b: c\n",
    );
    const meta = r.objects[0]?.metadata;
    assert.equal(meta?.creationTimestamp, "2026-01-01T00:00:00Z");
    assert.deepEqual(meta.annotations, { app: "a", b: "c" });
  });
});

describe("field shapes", () => {
  const cases: { name: string; yaml: string; error: string }[] = [
    {
      name: "reports AuthorizationPolicy rules written as a map instead of a list",
      yaml: "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a, namespace: shop}\nspec:\n  rules:\n    from: [{source: {notNamespaces: [x]}}]\n",
      error: "AuthorizationPolicy shop/a: spec.rules is a map, expected a list",
    },
    {
      name: "reports a PeerAuthentication mode in the wrong case",
      yaml: "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: strict}}\n",
      error:
        'PeerAuthentication istio-system/default: spec.mtls.mode is string "strict", expected one of UNSET, DISABLE, PERMISSIVE, STRICT',
    },
    {
      name: "reports a quoted boolean in a container's security context, naming the container index",
      yaml: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: shop}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        securityContext: {privileged: 'true'}\n",
      error:
        'Deployment shop/d: spec.template.spec.containers[0].securityContext.privileged is string "true", expected true or false',
    },
    {
      name: "reports Gateway servers written as a map",
      yaml: "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g, namespace: shop}\nspec:\n  servers:\n    port: {number: 80}\n",
      error: "Gateway shop/g: spec.servers is a map, expected a list",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = parse(c.yaml);
      assert.equal(r.objects.length, 1, "the object is still scanned");
      assert.deepEqual(
        r.errors.map((e) => e.message),
        [c.error],
      );
    });
  }

  it("accepts the right shapes and treats an empty value (null) as absent", () => {
    const r = parse(
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a, namespace: shop}\nspec:\n  selector:\n  rules:\n  - from: [{source: {principals: [x]}}]\n",
    );
    assert.deepEqual(r.errors, []);
  });
});

describe("file encodings and directives", () => {
  it("reads a JSON file that starts with a byte-order mark", () => {
    const r = parse(
      '\uFEFF{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}',
      "bom.json",
    );
    assert.deepEqual([r.objects.length, r.errors.length], [1, 0]);
  });

  it("keeps a %YAML directive with the document it introduces", () => {
    const r = parse("%YAML 1.2\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");
    assert.deepEqual([r.objects.length, r.errors.length], [1, 0]);
  });
});
