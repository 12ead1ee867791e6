// Where the test control plane's binaries live. The versions and the cache layout are read from
// hack/controlplane/build.sh, the one place that decides them, so the two cannot drift apart.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const BUILD_SCRIPT = "hack/controlplane/build.sh";
export const BIN_ENV = "MESH_COMPLIANCE_CONTROL_PLANE_BIN";

export interface ControlPlaneBinaries {
  kubeApiserver: string;
  etcd: string;
  /** Where they came from, for log lines. */
  source: string;
}

export interface ControlPlaneVersions {
  kubernetes: string;
  etcd: string;
}

let cachedRoot: string | undefined;

/** The repository root: the nearest folder above this file with the project's package.json. */
export function repoRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && existsSync(join(dir, BUILD_SCRIPT))) {
      cachedRoot = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no repository root with ${BUILD_SCRIPT} above this file`);
    dir = parent;
  }
}

function scriptVariable(script: string, name: string): string {
  const match = new RegExp(`^${name}="([^"]+)"`, "m").exec(script);
  if (match?.[1] === undefined) throw new Error(`${BUILD_SCRIPT} does not set ${name}`);
  return match[1];
}

export function controlPlaneVersions(): ControlPlaneVersions {
  const script = readFileSync(join(repoRoot(), BUILD_SCRIPT), "utf8");
  return {
    kubernetes: scriptVariable(script, "K8S_VERSION"),
    etcd: scriptVariable(script, "ETCD_VERSION"),
  };
}

/** Same path as build.sh's CACHE_DIR. */
export function controlPlaneCacheDir(): string {
  const versions = controlPlaneVersions();
  const cacheHome = process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache");
  return join(
    cacheHome,
    "mesh-compliance",
    "controlplane",
    `k8s-${versions.kubernetes}-etcd-${versions.etcd}`,
  );
}

interface Stamp {
  kubernetes?: unknown;
  etcd?: unknown;
}

function fromDir(dir: string, source: string): ControlPlaneBinaries | string {
  const kubeApiserver = join(dir, "kube-apiserver");
  const etcd = join(dir, "etcd");
  const missing = [kubeApiserver, etcd].filter((file) => !existsSync(file));
  if (missing.length > 0) return `missing ${missing.join(" and ")}`;
  return { kubeApiserver, etcd, source };
}

/**
 * The binaries to run, or a sentence saying why there are none. MESH_COMPLIANCE_CONTROL_PLANE_BIN
 * names a folder holding kube-apiserver and etcd; otherwise the build cache is used only when its
 * stamp names the releases build.sh builds today.
 */
export function findControlPlaneBinaries(): ControlPlaneBinaries | string {
  const override = process.env[BIN_ENV];
  if (override !== undefined && override !== "") return fromDir(override, `${BIN_ENV}=${override}`);
  const dir = controlPlaneCacheDir();
  const stampFile = join(dir, "stamp.json");
  if (!existsSync(stampFile)) return `no build stamp at ${stampFile}`;
  const stamp = JSON.parse(readFileSync(stampFile, "utf8")) as Stamp;
  const want = controlPlaneVersions();
  if (stamp.kubernetes !== want.kubernetes || stamp.etcd !== want.etcd) {
    return `stamp ${stampFile} is for other releases than ${want.kubernetes}/${want.etcd}`;
  }
  return fromDir(join(dir, "bin"), stampFile);
}

export function goToolchainPresent(): boolean {
  const result = spawnSync("go", ["version"], { stdio: "ignore", timeout: 30_000 });
  return result.status === 0;
}

/**
 * Why integration tests must be skipped, or undefined when they should run. Only a machine with
 * no Go toolchain skips: with Go present, absent binaries are a failure that names build.sh.
 */
export function controlPlaneSkipReason(): string | undefined {
  if (typeof findControlPlaneBinaries() !== "string") return undefined;
  if (goToolchainPresent()) return undefined;
  return `no Go toolchain to build the test control plane (${BUILD_SCRIPT} needs 'go' on PATH)`;
}

/** The error a test run gets when Go is there but nobody built the binaries. */
export function requireControlPlaneBinaries(): ControlPlaneBinaries {
  const found = findControlPlaneBinaries();
  if (typeof found !== "string") return found;
  throw new Error(
    `test control plane binaries not found (${found}); run: bash ${BUILD_SCRIPT}` +
      ` (or set ${BIN_ENV} to a folder with kube-apiserver and etcd)`,
  );
}
