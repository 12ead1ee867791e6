// Renders the kustomizations under deploy/ without kubectl. It understands only the subset of
// kustomize the project uses, and refuses anything else rather than render it wrongly:
// - `resources`: YAML files, or folders holding a kustomization.yaml;
// - `patches` from files: a JSON 6902 patch (a list of add/remove/replace/test operations) applied
//   to the objects its `target` selects, or a strategic-merge patch that is only `$patch: delete`.
// Usage: node dist/hack/render-manifests.js deploy/overlays/no-secrets > manifests.yaml
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { dump, loadAll } from "js-yaml";

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [field: string]: unknown;
}

interface PatchTarget {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

interface PatchEntry {
  path: string;
  target?: PatchTarget;
}

interface Operation {
  op: "add" | "remove" | "replace" | "test";
  path: string;
  value?: unknown;
}

const KNOWN_KEYS = new Set(["apiVersion", "kind", "resources", "patches"]);

export class RenderError extends Error {
  override readonly name = "RenderError";
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isManifest(value: unknown): value is Manifest {
  if (!isObject(value) || !isObject(value.metadata)) return false;
  return typeof value.apiVersion === "string" && typeof value.kind === "string";
}

function readDocs(file: string): unknown[] {
  return loadAll(readFileSync(file, "utf8")).filter((doc) => doc !== null && doc !== undefined);
}

function readKustomization(dir: string): Record<string, unknown> {
  const file = join(dir, "kustomization.yaml");
  if (!existsSync(file)) throw new RenderError(`${dir}: no kustomization.yaml`);
  const [doc] = readDocs(file);
  if (!isObject(doc)) throw new RenderError(`${file}: not a mapping`);
  for (const key of Object.keys(doc)) {
    if (!KNOWN_KEYS.has(key)) throw new RenderError(`${file}: "${key}" is not supported here`);
  }
  return doc;
}

function readResource(path: string): Manifest[] {
  if (statSync(path).isDirectory()) return renderKustomization(path);
  return readDocs(path).map((doc) => {
    if (!isManifest(doc)) throw new RenderError(`${path}: a document is not a Kubernetes object`);
    return doc;
  });
}

/** The id kustomize matches patches by: group, kind, namespace and name (not the version). */
function objectId(m: { apiVersion: string; kind: string; metadata: Manifest["metadata"] }): string {
  const group = m.apiVersion.includes("/") ? m.apiVersion.split("/")[0] : "";
  return `${group ?? ""}/${m.kind} ${m.metadata.namespace ?? ""}/${m.metadata.name}`;
}

function selects(target: PatchTarget, m: Manifest): boolean {
  const [group, version] = m.apiVersion.includes("/")
    ? m.apiVersion.split("/")
    : ["", m.apiVersion];
  const checks: [string | undefined, string | undefined][] = [
    [target.group, group],
    [target.version, version],
    [target.kind, m.kind],
    [target.name, m.metadata.name],
    [target.namespace, m.metadata.namespace],
  ];
  return checks.every(([want, have]) => want === undefined || want === have);
}

/** JSON pointer (RFC 6901) to the parent container and the last key. */
function locate(root: unknown, pointer: string): { parent: unknown; key: string } {
  const parts = pointer
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  const key = parts.pop();
  if (key === undefined) throw new RenderError(`patch path "${pointer}" is empty`);
  let node: unknown = root;
  for (const part of parts) {
    node =
      isObject(node) || Array.isArray(node) ? (node as Record<string, unknown>)[part] : undefined;
    if (node === undefined) throw new RenderError(`patch path "${pointer}" does not exist`);
  }
  return { parent: node, key };
}

function applyOperation(doc: Manifest, op: Operation): void {
  const { parent, key } = locate(doc, op.path);
  if (Array.isArray(parent)) {
    const index = key === "-" ? parent.length : Number(key);
    if (op.op === "test") {
      if (JSON.stringify(parent[index]) !== JSON.stringify(op.value))
        throw new RenderError(`test failed at ${op.path} of ${objectId(doc)}`);
    } else if (op.op === "remove") parent.splice(index, 1);
    else parent.splice(index, op.op === "replace" ? 1 : 0, op.value);
    return;
  }
  if (!isObject(parent)) throw new RenderError(`patch path "${op.path}" does not exist`);
  if (op.op === "test") {
    if (JSON.stringify(parent[key]) !== JSON.stringify(op.value))
      throw new RenderError(`test failed at ${op.path} of ${objectId(doc)}`);
  } else if (op.op === "remove") Reflect.deleteProperty(parent, key);
  else parent[key] = op.value;
}

function applyPatch(objects: Manifest[], dir: string, entry: PatchEntry): Manifest[] {
  const file = resolve(dir, entry.path);
  const docs = readDocs(file);
  const [first] = docs;
  if (docs.length === 1 && Array.isArray(first)) {
    const targets = objects.filter((m) => entry.target !== undefined && selects(entry.target, m));
    if (targets.length === 0) throw new RenderError(`${file}: its target selects no object`);
    for (const m of targets) for (const op of first as Operation[]) applyOperation(m, op);
    return objects;
  }
  let kept = objects;
  for (const doc of docs) {
    if (!isManifest(doc) || doc.$patch !== "delete")
      throw new RenderError(`${file}: only "$patch: delete" strategic-merge patches are supported`);
    const id = objectId(doc);
    if (!kept.some((m) => objectId(m) === id)) throw new RenderError(`${file}: no object ${id}`);
    kept = kept.filter((m) => objectId(m) !== id);
  }
  return kept;
}

/** The objects a kustomization folder renders to, in the order its resources list them. */
export function renderKustomization(dir: string): Manifest[] {
  const k = readKustomization(dir);
  const resources = Array.isArray(k.resources) ? (k.resources as string[]) : [];
  let objects = resources.flatMap((path) => readResource(resolve(dir, path)));
  const patches = Array.isArray(k.patches) ? (k.patches as PatchEntry[]) : [];
  for (const entry of patches) objects = applyPatch(objects, dir, entry);
  return objects;
}

export function renderYaml(dir: string): string {
  return renderKustomization(dir)
    .map((m) => dump(m, { lineWidth: -1, noRefs: true }))
    .join("---\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2];
  if (dir === undefined) {
    console.error("usage: render-manifests <kustomization folder>");
    process.exit(2);
  }
  process.stdout.write(renderYaml(resolve(dir)));
}
