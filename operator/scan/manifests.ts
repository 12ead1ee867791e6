// Reads Kubernetes manifests from files, folders and standard input for the offline scan.
// Every document is read on its own: one that cannot be parsed, or is not a Kubernetes object,
// becomes an input error with its file and line, and the rest are still scanned.

import { readdir, readFile, realpath, stat } from "node:fs/promises";
import { extname, join, relative } from "node:path";
import yaml from "js-yaml";
import { at, isObj } from "../engine/fields.js";
import { kindKey } from "../engine/kinds.js";
import type { KubeObject } from "../engine/types.js";
import { shapeProblems } from "./shapes.js";

export interface InputError {
  file: string;
  line: number;
  message: string;
}

export interface SourceLocation {
  file: string;
  line: number;
}

export interface LoadedManifests {
  objects: KubeObject[];
  errors: InputError[];
  /** Where each object came from, for SARIF locations and error messages. */
  sources: Map<KubeObject, SourceLocation>;
  files: number;
}

const EXTENSIONS = new Set([".yaml", ".yml", ".json"]);

/**
 * YAML as the API server reads it: timestamps stay strings (js-yaml's default schema would turn
 * `creationTimestamp: 2026-01-01T00:00:00Z` into a Date), merge keys still work.
 */
export const KUBE_YAML_SCHEMA = yaml.CORE_SCHEMA.extend({
  // js-yaml exports its built-in types at run time; the type declarations omit them.
  implicit: [(yaml as unknown as { types: { merge: yaml.Type } }).types.merge],
});

/**
 * Tool configuration files that share the manifest format but are not cluster objects. They are
 * skipped quietly: reporting them would flag every kustomize repository.
 */
const NON_OBJECT_KINDS = new Set([
  "kustomize.config.k8s.io/Kustomization",
  "kustomize.config.k8s.io/Component",
]);

/** Lists the manifest files under the given paths; folders are walked recursively. */
export async function expandPaths(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    if (path === "-") {
      files.push("-");
      continue;
    }
    const info = await stat(path);
    if (info.isDirectory()) files.push(...(await walk(path)));
    else files.push(path);
  }
  return files;
}

/**
 * The manifest files under a folder, sorted. Symbolic links are followed, to files and to folders
 * (a folder reached twice, as by a link cycle, is read once); a broken link with a manifest's
 * extension is listed, so that reading it reports an input error instead of skipping it quietly.
 */
async function walk(dir: string, seen = new Set<string>()): Promise<string[]> {
  if (!(await firstVisit(dir, seen))) return [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  const out: string[] = [];
  for (const entry of entries) {
    const full = join(dir, entry.name);
    const target = entry.isSymbolicLink() ? await stat(full).catch(() => undefined) : entry;
    const manifest = EXTENSIONS.has(extname(entry.name).toLowerCase());
    if (target === undefined) {
      if (manifest) out.push(full);
    } else if (target.isDirectory()) out.push(...(await walk(full, seen)));
    else if (manifest && target.isFile() && (await firstVisit(full, seen))) out.push(full);
  }
  return out;
}

/** Records the real path; false when it was seen before. */
async function firstVisit(path: string, seen: Set<string>): Promise<boolean> {
  const real = await realpath(path);
  if (seen.has(real)) return false;
  seen.add(real);
  return true;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Loads every object of the given files; `-` reads standard input. */
export async function loadManifests(
  paths: string[],
  cwd = process.cwd(),
): Promise<LoadedManifests> {
  const result: LoadedManifests = { objects: [], errors: [], sources: new Map(), files: 0 };
  const files = await expandPaths(paths);
  for (const file of files) {
    const display = file === "-" ? "<stdin>" : relative(cwd, file) || file;
    let text: string;
    try {
      text = file === "-" ? await readStdin() : await readFile(file, "utf8");
    } catch (err) {
      result.errors.push({ file: display, line: 0, message: `cannot read: ${errorText(err)}` });
      continue;
    }
    result.files += 1;
    parseText(text, display, result);
  }
  return result;
}

/** Parses one file's text (YAML or JSON) into `result`. */
export function parseText(raw: string, file: string, result: LoadedManifests): void {
  // A byte-order mark is legal at the start of YAML and JSON files but not inside JSON.parse.
  const text = raw.startsWith("\uFEFF") ? raw.slice(1) : raw;
  const trimmed = text.trimStart();
  if (file.endsWith(".json") || trimmed.startsWith("{") || trimmed.startsWith("[")) {
    if (parseJson(text, file, result)) return;
  }
  for (const doc of splitDocuments(text)) {
    let value: unknown;
    try {
      value = yaml.load(doc.text, { filename: file, schema: KUBE_YAML_SCHEMA });
    } catch (err) {
      const mark = err instanceof yaml.YAMLException ? err.mark : undefined;
      const line = doc.line + (mark?.line ?? 0);
      const reason = err instanceof yaml.YAMLException ? err.reason : errorText(err);
      result.errors.push({ file, line, message: `YAML syntax error: ${reason}` });
      continue;
    }
    addDocument(value, { file, line: doc.line }, result);
  }
}

/** JSON is valid YAML, but JSON.parse is several times faster on large exports. */
function parseJson(text: string, file: string, result: LoadedManifests): boolean {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // Not JSON after all (YAML flow style, or broken): let the YAML path report it.
    if (!file.endsWith(".json")) return false;
    const position = /position (\d+)/.exec(errorText(err));
    const line = position ? text.slice(0, Number(position[1])).split("\n").length : 1;
    result.errors.push({ file, line, message: `JSON syntax error: ${errorText(err)}` });
    return true;
  }
  const docs = Array.isArray(value) ? value : [value];
  for (const doc of docs) addDocument(doc, { file, line: 1 }, result);
  return true;
}

interface RawDocument {
  text: string;
  /** 1-based line of the document's first line. */
  line: number;
}

/**
 * Splits multi-document YAML at `---` lines so that each document parses on its own and a
 * syntax error in one keeps the others. Block scalars are indented, so a `---` at column 0 always
 * separates documents.
 */
export function splitDocuments(text: string): RawDocument[] {
  const docs: RawDocument[] = [];
  const lines = text.split(/\r?\n/);
  let start = 0;
  for (let i = 0; i <= lines.length; i++) {
    const line = lines[i];
    if (!isBoundary(line)) continue;
    const body = lines.slice(start, i).join("\n");
    // Directives (`%YAML 1.2`) belong to the document that the next `---` opens.
    if (line !== undefined && isDirectivesOnly(body)) continue;
    if (body.trim() !== "") docs.push({ text: body, line: start + 1 });
    start = i + 1;
    // Content after `--- ` on the same line (`--- {kind: ...}`) opens the next document.
    const rest = line?.replace(/^---\s?/, "") ?? "";
    if (line?.startsWith("---") && rest.trim() !== "" && !rest.trim().startsWith("#")) {
      lines[i] = rest;
      start = i;
    }
  }
  return docs;
}

/** `---`, `...` or the end of the text separate documents. */
function isBoundary(line: string | undefined): boolean {
  return line === undefined || /^---(\s|$)/.test(line) || /^\.\.\.\s*$/.test(line);
}

function isDirectivesOnly(body: string): boolean {
  const lines = body.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));
  return lines.length > 0 && lines.every((l) => l.startsWith("%"));
}

function addDocument(value: unknown, at: SourceLocation, result: LoadedManifests): void {
  if (value === null || value === undefined) return;
  if (!isObj(value)) {
    result.errors.push({ ...at, message: "document is not a Kubernetes object (not a mapping)" });
    return;
  }
  if (typeof value.kind === "string" && value.kind.endsWith("List") && Array.isArray(value.items)) {
    addList(value, at, result);
    return;
  }
  const problem = objectProblem(value);
  if (problem === SKIP) return;
  if (problem) {
    result.errors.push({ ...at, message: `document is not a Kubernetes object: ${problem}` });
    return;
  }
  const object = value as KubeObject;
  result.objects.push(object);
  result.sources.set(object, at);
  // The object stays in the scan (nothing read is lost), but the run exits 2: a field of the wrong
  // type reads as absent in the checks and could otherwise pass for a mitigation.
  const problems = shapeProblems(object);
  if (problems.length > 0) {
    const name = `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ""}${object.metadata.name ?? ""}`;
    result.errors.push({ ...at, message: `${name}: ${problems.join("; ")}` });
  }
}

/** `kind: List` (as `kubectl get -o yaml` writes it) and typed lists such as `PodList`. */
function addList(list: Record<string, unknown>, at: SourceLocation, result: LoadedManifests): void {
  const items = list.items as unknown[];
  const listKind = String(list.kind);
  items.forEach((item, i) => {
    if (isObj(item) && listKind !== "List") {
      // Typed lists may omit apiVersion and kind on their items.
      item.kind ??= listKind.slice(0, -"List".length);
      item.apiVersion ??= list.apiVersion;
    }
    const before = result.errors.length;
    addDocument(item, at, result);
    for (const e of result.errors.slice(before)) e.message = `items[${i}]: ${e.message}`;
  });
}

const SKIP = Symbol("skip");

function objectProblem(value: Record<string, unknown>): string | typeof SKIP | undefined {
  if (typeof value.apiVersion !== "string" || value.apiVersion === "") {
    return "missing apiVersion";
  }
  if (typeof value.kind !== "string" || value.kind === "") return "missing kind";
  const key = kindKey(value.apiVersion, value.kind);
  if (NON_OBJECT_KINDS.has(key)) return SKIP;
  // istioctl reads IstioOperator files without a name; only in-cluster ones are objects.
  if (
    key === "install.istio.io/IstioOperator" &&
    typeof at(value, "metadata", "name") !== "string"
  ) {
    return SKIP;
  }
  if (!isObj(value.metadata)) return `${value.kind} has no metadata`;
  return metadataProblem(value.kind, value.metadata);
}

function metadataProblem(kind: string, meta: Record<string, unknown>): string | undefined {
  if (typeof meta.name !== "string" || meta.name === "") {
    if (typeof meta.generateName !== "string") return `${kind} has no metadata.name`;
    meta.name = meta.generateName;
  }
  const name = String(meta.name);
  if (meta.namespace !== undefined && typeof meta.namespace !== "string") {
    return `${kind} ${name}: metadata.namespace must be a string`;
  }
  for (const field of ["labels", "annotations"] as const) {
    const v = meta[field];
    if (v !== undefined && v !== null && !isObj(v)) {
      return `${kind} ${name}: metadata.${field} must be a map`;
    }
  }
  return undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
