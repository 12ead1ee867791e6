// Installs CustomResourceDefinitions into the test control plane: the project's own from crds/,
// then Istio's. The real Istio CRDs (with their schemas and CEL rules) are used when the shared
// copy is beside the repository; otherwise a permissive fixture set keeps informer tests running.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadAll } from "js-yaml";
import { httpCall, waitFor, type Tls } from "./http.js";
import { repoRoot } from "./paths.js";

export const ISTIO_CRDS_RELATIVE = "../shared/cases/upstream/istio-crds/crd-all.gen.yaml";
export const ISTIO_FIXTURE_CRDS = "test/harness/fixtures/istio-minimal-crds.yaml";

/** The parts of a CustomResourceDefinition the harness reads; the rest is sent as it is. */
export interface Crd {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    group: string;
    names: { plural: string };
    versions: { name: string; served: boolean }[];
  };
}

export interface CrdSource {
  file: string;
  crds: Crd[];
}

export interface InstalledCrds {
  /** Files read, in order. */
  sources: string[];
  /** True when Istio's real CRDs were absent and the permissive fixtures were installed. */
  istioFixtures: boolean;
  names: string[];
}

function isCrd(doc: unknown): doc is Crd {
  if (typeof doc !== "object" || doc === null) return false;
  const { kind, apiVersion } = doc as { kind?: unknown; apiVersion?: unknown };
  return kind === "CustomResourceDefinition" && apiVersion === "apiextensions.k8s.io/v1";
}

export function readCrdFile(file: string): CrdSource {
  const docs = loadAll(readFileSync(file, "utf8"));
  return { file, crds: docs.filter(isCrd) };
}

/** The project's CRDs: every .yaml/.yml under crds/, which may be empty or absent. */
function projectCrdFiles(root: string): string[] {
  const dir = join(root, "crds");
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".yaml") || name.endsWith(".yml"))
    .sort()
    .map((name) => join(dir, name));
}

export function crdSources(log: (line: string) => void): {
  files: string[];
  istioFixtures: boolean;
} {
  const root = repoRoot();
  const files = projectCrdFiles(root);
  const istio = resolve(root, ISTIO_CRDS_RELATIVE);
  if (existsSync(istio)) return { files: [...files, istio], istioFixtures: false };
  log(`Istio CRDs not found at ${istio}; installing the permissive fixtures ${ISTIO_FIXTURE_CRDS}`);
  return { files: [...files, join(root, ISTIO_FIXTURE_CRDS)], istioFixtures: true };
}

/**
 * A plain create of the document's JSON. Not client-side apply: it would copy the whole object
 * into an annotation, past the size limit for Istio's larger CRDs. Not client-node's typed
 * ApiextensionsV1Api either: its serializer maps model property names, so a plain object read
 * from YAML loses every `x-kubernetes-*` key (int-or-string, CEL validations) on the way out.
 */
async function createCrd(target: InstallTarget, crd: Crd): Promise<void> {
  const reply = await httpCall({
    url: `${target.server}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`,
    json: crd,
    tls: target.tls,
    timeoutMs: 30_000,
  });
  if (reply.status === 201 || reply.status === 409) return;
  throw new Error(`creating CRD ${crd.metadata.name}: HTTP ${reply.status} ${reply.body}`);
}

async function servedInDiscovery(server: string, tls: Tls, crd: Crd): Promise<boolean> {
  for (const version of crd.spec.versions.filter((v) => v.served)) {
    const reply = await httpCall({ url: `${server}/apis/${crd.spec.group}/${version.name}`, tls });
    if (reply.status !== 200) return false;
    const list = JSON.parse(reply.body) as { resources?: { name: string }[] };
    if (!(list.resources ?? []).some((r) => r.name === crd.spec.names.plural)) return false;
  }
  return true;
}

export interface InstallTarget {
  server: string;
  tls: Tls;
  log: (line: string) => void;
}

export async function installCrds(target: InstallTarget): Promise<InstalledCrds> {
  const { files, istioFixtures } = crdSources(target.log);
  const all: Crd[] = [];
  for (const file of files) {
    const source = readCrdFile(file);
    for (const crd of source.crds) await createCrd(target, crd);
    all.push(...source.crds);
  }
  // Creation returns before the new REST endpoints exist; tests must not race discovery.
  for (const crd of all) {
    await waitFor(`discovery to serve ${crd.metadata.name}`, 60_000, async () =>
      (await servedInDiscovery(target.server, target.tls, crd)) ? true : undefined,
    );
  }
  const names = all.map((crd) => crd.metadata.name);
  target.log(`installed ${names.length} CRDs from ${files.join(", ")}`);
  return { sources: files, istioFixtures, names };
}
