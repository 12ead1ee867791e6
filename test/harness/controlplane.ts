// A real etcd + kube-apiserver pair on 127.0.0.1 for integration tests, with handles to break it
// on purpose (stop, kill, pause, compact) so tests can check how the operator survives faults.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ApiException,
  AuthenticationV1TokenRequest,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  RbacV1Subject,
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1PolicyRule,
  V1Namespace,
  V1ObjectMeta,
  V1RoleRef,
  V1ServiceAccount,
  V1TokenRequestSpec,
  type User,
} from "@kubernetes/client-node";
import { createPki, type ControlPlanePki } from "./certs.js";
import { installCrds, type InstalledCrds } from "./crds.js";
import { GiveUp, httpCall, waitFor, type Tls } from "./http.js";
import { repoRoot, requireControlPlaneBinaries, type ControlPlaneBinaries } from "./paths.js";
import {
  ManagedProcess,
  registerTempDir,
  releaseTempDir,
  startOrphanWatchdog,
} from "./processes.js";

export type ControlPlaneComponent = "etcd" | "kube-apiserver";

/** Flag overrides: a value replaces or adds `--name=value`, null removes the flag. */
export type FlagOverrides = Record<string, string | null>;

export interface ControlPlaneOptions {
  /** Names the logs folder kept on failure. */
  label?: string;
  /** Extra or changed kube-apiserver flags for the first start. */
  apiServerFlags?: FlagOverrides;
  /** Install the project's and Istio's CRDs (default true). */
  installCrds?: boolean;
  log?: (line: string) => void;
}

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export interface ServiceAccountTokenRequest {
  namespace: string;
  name: string;
  /** ClusterRole bound to the account cluster-wide; none leaves it with the default grants only. */
  clusterRole?: string;
  expirationSeconds?: number;
}

const LOOPBACK = "127.0.0.1";
const START_ATTEMPTS = 3;
const READY_TIMEOUT_MS = 120_000;
// kube-apiserver 1.34 does not end open watches on custom resources when it gets SIGTERM, so with
// one open its graceful shutdown never finishes; past this it is killed, as a kubelet would.
const API_SERVER_STOP_GRACE_MS = 5_000;
const ETCD_STOP_GRACE_MS = 10_000;

class PortInUse extends Error {}

function defaultLog(line: string): void {
  process.stderr.write(`[controlplane] ${line}\n`);
}

/** Distinct free loopback ports; all held open together so they cannot repeat. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => {
      const server = createServer();
      return new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, LOOPBACK, () => {
          resolve(server);
        });
      });
    }),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port assigned");
    return address.port;
  });
  await Promise.all(
    servers.map(
      (s) =>
        new Promise((resolve) => {
          s.close(resolve);
        }),
    ),
  );
  return ports;
}

function logTail(file: string, lines = 30): string {
  if (!existsSync(file)) return "(no log)";
  return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
}

/** Throws GiveUp (stopping a waitFor) when the process died, PortInUse when that was the cause. */
function assertAlive(proc: ManagedProcess): void {
  if (proc.running) return;
  const tail = logTail(proc.logFile);
  const error = /address already in use/.test(tail)
    ? new PortInUse(`${proc.name}: port already in use`)
    : new Error(`${proc.name} exited during start; last log lines:\n${tail}`);
  throw new GiveUp(error.message, { cause: error });
}

function base64File(file: string): string {
  return readFileSync(file).toString("base64");
}

export class ControlPlane {
  readonly dir: string;
  readonly server: string;
  readonly kubeConfig: KubeConfig;
  readonly tls: Tls;
  crds: InstalledCrds | undefined;
  private etcd: ManagedProcess | undefined;
  private apiServer: ManagedProcess | undefined;
  private readonly pki: ControlPlanePki;
  private readonly etcdUrl: string;
  private readonly etcdPeerUrl: string;
  private readonly apiPort: number;
  private apiFlags: Map<string, string>;
  private readonly stopWatchdog: () => void;
  private readonly log: (line: string) => void;
  private namespaceCount = 0;

  private constructor(
    private readonly binaries: ControlPlaneBinaries,
    private readonly options: ControlPlaneOptions,
    ports: number[],
  ) {
    this.log = options.log ?? defaultLog;
    this.dir = mkdtempSync(join(tmpdir(), "mesh-compliance-cp-"));
    registerTempDir(this.dir);
    mkdirSync(join(this.dir, "logs"));
    this.stopWatchdog = startOrphanWatchdog(this.dir, join(this.dir, "pids"));
    const [etcdClient, etcdPeer, api] = ports;
    if (etcdClient === undefined || etcdPeer === undefined || api === undefined) {
      throw new Error("expected three ports");
    }
    this.etcdUrl = `http://${LOOPBACK}:${etcdClient}`;
    this.etcdPeerUrl = `http://${LOOPBACK}:${etcdPeer}`;
    this.apiPort = api;
    this.server = `https://${LOOPBACK}:${api}`;
    this.pki = createPki(join(this.dir, "pki"));
    this.tls = {
      ca: readFileSync(this.pki.caCert, "utf8"),
      cert: readFileSync(this.pki.adminCert, "utf8"),
      key: readFileSync(this.pki.adminKey, "utf8"),
    };
    this.apiFlags = this.applyOverrides(this.baseApiFlags(), options.apiServerFlags ?? {});
    this.kubeConfig = this.kubeConfigFor({
      name: "admin",
      certData: base64File(this.pki.adminCert),
      keyData: base64File(this.pki.adminKey),
    });
  }

  /**
   * Starts etcd and kube-apiserver, waits until the API server is ready and the default namespace
   * exists, and installs CRDs. A start that loses a port race is retried whole on new ports.
   */
  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const binaries = requireControlPlaneBinaries();
    for (let attempt = 1; ; attempt++) {
      const cp = new ControlPlane(binaries, options, await freePorts(3));
      try {
        await cp.boot();
        return cp;
      } catch (error) {
        const retry = error instanceof PortInUse && attempt < START_ATTEMPTS;
        const kept = await cp.stop({ keepLogs: !retry });
        if (retry) {
          cp.log(`attempt ${attempt}: ${error.message}; retrying on other ports`);
          continue;
        }
        const where = kept === undefined ? "" : ` (logs kept in ${kept})`;
        throw new Error(`control plane did not start${where}`, { cause: error });
      }
    }
  }

  private async boot(): Promise<void> {
    const started = Date.now();
    await this.startEtcd();
    await this.startApiServer();
    if (this.options.installCrds ?? true) {
      this.crds = await installCrds({
        server: this.server,
        tls: this.tls,
        log: this.log,
      });
    }
    writeFileSync(join(this.dir, "kubeconfig.json"), this.kubeConfig.exportConfig());
    this.log(`ready in ${Date.now() - started} ms at ${this.server} (${this.binaries.source})`);
  }

  private baseApiFlags(): Map<string, string> {
    const p = this.pki;
    return new Map([
      ["--bind-address", LOOPBACK],
      ["--advertise-address", LOOPBACK],
      ["--secure-port", String(this.apiPort)],
      ["--etcd-servers", this.etcdUrl],
      ["--cert-dir", join(this.dir, "apiserver")],
      ["--tls-cert-file", p.servingCert],
      ["--tls-private-key-file", p.servingKey],
      ["--client-ca-file", p.caCert],
      ["--service-account-key-file", p.serviceAccountPublicKey],
      ["--service-account-signing-key-file", p.serviceAccountPrivateKey],
      ["--service-account-issuer", this.server],
      ["--authorization-mode", "RBAC"],
      // Only used to allocate Service IPs inside the API server; nothing is ever sent there.
      ["--service-cluster-ip-range", "10.0.0.0/24"],
      ["--profiling", "false"],
    ]);
  }

  private applyOverrides(base: Map<string, string>, overrides: FlagOverrides): Map<string, string> {
    const flags = new Map(base);
    for (const [name, value] of Object.entries(overrides)) {
      const key = name.startsWith("--") ? name : `--${name}`;
      if (value === null) flags.delete(key);
      else flags.set(key, value);
    }
    return flags;
  }

  private kubeConfigFor(user: User): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: "mesh-compliance-test",
          server: this.server,
          caData: base64File(this.pki.caCert),
          skipTLSVerify: false,
        },
      ],
      users: [user],
      contexts: [{ name: user.name, cluster: "mesh-compliance-test", user: user.name }],
      currentContext: user.name,
    });
    return kc;
  }

  private recordPids(): void {
    const pids = [this.etcd?.pid, this.apiServer?.pid].filter((pid) => pid !== undefined);
    writeFileSync(join(this.dir, "pids"), pids.join("\n"));
  }

  private async startEtcd(): Promise<void> {
    const etcd = new ManagedProcess(
      "etcd",
      this.binaries.etcd,
      [
        "--name=mesh-compliance-test",
        `--data-dir=${join(this.dir, "etcd-data")}`,
        `--listen-client-urls=${this.etcdUrl}`,
        `--advertise-client-urls=${this.etcdUrl}`,
        `--listen-peer-urls=${this.etcdPeerUrl}`,
        `--initial-advertise-peer-urls=${this.etcdPeerUrl}`,
        `--initial-cluster=mesh-compliance-test=${this.etcdPeerUrl}`,
        "--initial-cluster-state=new",
        // Test data is thrown away after the run; fsync only slows the two cores down.
        "--unsafe-no-fsync=true",
      ],
      join(this.dir, "logs", "etcd.log"),
    );
    this.etcd = etcd;
    this.recordPids();
    await waitFor("etcd /health", READY_TIMEOUT_MS, async () => {
      assertAlive(etcd);
      const reply = await httpCall({ url: `${this.etcdUrl}/health` });
      return reply.status === 200 && reply.body.includes('"true"') ? true : undefined;
    });
  }

  /**
   * Starts kube-apiserver on its port with the flags in force, or with the base flags changed by
   * `overrides` (which then stay in force for later starts). Waits for /readyz and `default`.
   */
  async startApiServer(overrides?: FlagOverrides): Promise<void> {
    if (this.apiServer?.running === true) throw new Error("kube-apiserver is already running");
    if (overrides !== undefined)
      this.apiFlags = this.applyOverrides(this.baseApiFlags(), overrides);
    const args = [...this.apiFlags].map(([name, value]) => `${name}=${value}`);
    const api = new ManagedProcess(
      "kube-apiserver",
      this.binaries.kubeApiserver,
      args,
      join(this.dir, "logs", "kube-apiserver.log"),
    );
    this.apiServer = api;
    this.recordPids();
    await waitFor("kube-apiserver /readyz", READY_TIMEOUT_MS, async () => {
      assertAlive(api);
      const reply = await httpCall({ url: `${this.server}/readyz`, tls: this.tls });
      return reply.status === 200 ? true : undefined;
    });
    const core = this.kubeConfig.makeApiClient(CoreV1Api);
    await waitFor("the default namespace", READY_TIMEOUT_MS, async () => {
      assertAlive(api);
      await core.readNamespace({ name: "default" });
      return true;
    });
  }

  /**
   * Stops kube-apiserver with SIGTERM (SIGKILL after a grace period); port, certificates and
   * etcd data stay for startApiServer. Returns false when it had to be killed.
   */
  async stopApiServer(graceMs = API_SERVER_STOP_GRACE_MS): Promise<boolean> {
    if (this.apiServer === undefined) return true;
    const graceful = await this.apiServer.stop(graceMs);
    if (!graceful)
      this.log(`kube-apiserver did not exit within ${graceMs} ms of SIGTERM; killed it`);
    return graceful;
  }

  /** SIGKILL, as a crash or an OOM kill would. */
  async killApiServer(): Promise<void> {
    await this.apiServer?.kill();
  }

  async restartApiServer(overrides?: FlagOverrides): Promise<void> {
    await this.stopApiServer();
    await this.startApiServer(overrides);
  }

  private component(which: ControlPlaneComponent): ManagedProcess {
    const proc = which === "etcd" ? this.etcd : this.apiServer;
    if (proc?.running !== true) throw new Error(`${which} is not running`);
    return proc;
  }

  /** SIGSTOP: the process keeps its sockets but answers nothing, like a hung node. */
  pause(which: ControlPlaneComponent): void {
    this.component(which).signal("SIGSTOP");
  }

  resume(which: ControlPlaneComponent): void {
    this.component(which).signal("SIGCONT");
  }

  /** etcd's current revision, read through its v3 JSON gateway. */
  async etcdRevision(): Promise<number> {
    const reply = await httpCall({
      url: `${this.etcdUrl}/v3/kv/range`,
      // Any key will do: the response header carries the store's revision.
      json: { key: Buffer.from("/registry/").toString("base64"), limit: 1, keys_only: true },
    });
    if (reply.status !== 200) throw new Error(`etcd range: HTTP ${reply.status} ${reply.body}`);
    const revision = (JSON.parse(reply.body) as { header?: { revision?: string } }).header
      ?.revision;
    if (revision === undefined) throw new Error(`etcd range: no revision in ${reply.body}`);
    return Number(revision);
  }

  /**
   * Compacts etcd up to its current revision, so watches and lists from any older
   * resourceVersion get 410 Gone, as after the API server's periodic compaction.
   */
  async compactEtcd(): Promise<number> {
    const revision = await this.etcdRevision();
    const reply = await httpCall({
      url: `${this.etcdUrl}/v3/kv/compaction`,
      json: { revision: String(revision), physical: true },
    });
    if (reply.status !== 200)
      throw new Error(`etcd compaction: HTTP ${reply.status} ${reply.body}`);
    return revision;
  }

  /** A namespace of its own for one test. */
  async newNamespace(prefix = "test"): Promise<string> {
    const core = this.kubeConfig.makeApiClient(CoreV1Api);
    this.namespaceCount += 1;
    const name = `${prefix}-${this.namespaceCount}-${Date.now().toString(36)}`.toLowerCase();
    await core.createNamespace({
      body: Object.assign(new V1Namespace(), { metadata: meta(name) }),
    });
    return name;
  }

  /**
   * Creates (or replaces the rules of) a ClusterRole. Use this rather than the built-in view/edit
   * roles: those are aggregated by kube-controller-manager, which this control plane does not run,
   * so they grant nothing here.
   */
  async ensureClusterRole(name: string, rules: PolicyRule[]): Promise<void> {
    const rbac = this.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    const body = Object.assign(new V1ClusterRole(), {
      metadata: meta(name),
      rules: rules.map((rule) => Object.assign(new V1PolicyRule(), rule)),
    });
    try {
      await rbac.createClusterRole({ body });
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 409)) throw error;
      await rbac.replaceClusterRole({ name, body });
    }
  }

  /** A token (TokenRequest API) for a ServiceAccount, created if needed and bound as asked. */
  async serviceAccountToken(request: ServiceAccountTokenRequest): Promise<string> {
    const core = this.kubeConfig.makeApiClient(CoreV1Api);
    const { namespace, name } = request;
    await ignoreConflict(
      core.createNamespacedServiceAccount({
        namespace,
        body: Object.assign(new V1ServiceAccount(), { metadata: meta(name) }),
      }),
    );
    if (request.clusterRole !== undefined) {
      const rbac = this.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
      await ignoreConflict(
        rbac.createClusterRoleBinding({
          body: Object.assign(new V1ClusterRoleBinding(), {
            metadata: meta(`${namespace}.${name}.${request.clusterRole}`),
            roleRef: Object.assign(new V1RoleRef(), {
              apiGroup: "rbac.authorization.k8s.io",
              kind: "ClusterRole",
              name: request.clusterRole,
            }),
            subjects: [
              Object.assign(new RbacV1Subject(), { kind: "ServiceAccount", name, namespace }),
            ],
          }),
        }),
      );
    }
    const reply = await core.createNamespacedServiceAccountToken({
      name,
      namespace,
      body: Object.assign(new AuthenticationV1TokenRequest(), {
        spec: Object.assign(new V1TokenRequestSpec(), {
          audiences: [],
          expirationSeconds: request.expirationSeconds ?? 3600,
        }),
      }),
    });
    const token = reply.status?.token;
    if (token === undefined || token === "") throw new Error(`no token for ${namespace}/${name}`);
    return token;
  }

  kubeConfigForToken(token: string, name = "token-user"): KubeConfig {
    return this.kubeConfigFor({ name, token });
  }

  /** Copies the control plane's logs to a folder that outlives the run and returns it. */
  keepLogs(): string {
    const base =
      process.env["MESH_COMPLIANCE_TEST_LOGS"] ?? join(repoRoot(), ".cache", "controlplane-logs");
    const label = (this.options.label ?? "controlplane").replace(/[^A-Za-z0-9._-]+/g, "_");
    const target = join(base, `${label}-${new Date().toISOString().replace(/[:.]/g, "-")}`);
    mkdirSync(target, { recursive: true });
    cpSync(join(this.dir, "logs"), target, { recursive: true });
    this.log(`kept control plane logs in ${target}`);
    return target;
  }

  /** Stops both processes and removes the temporary folder; returns the kept logs' folder. */
  async stop(options: { keepLogs?: boolean } = {}): Promise<string | undefined> {
    await this.stopApiServer();
    await this.etcd?.stop(ETCD_STOP_GRACE_MS);
    this.stopWatchdog();
    const kept = options.keepLogs === true ? this.keepLogs() : undefined;
    releaseTempDir(this.dir);
    return kept;
  }
}

// client-node's request bodies are model classes; build real instances of them.
function meta(name: string): V1ObjectMeta {
  return Object.assign(new V1ObjectMeta(), { name });
}

async function ignoreConflict(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof ApiException && error.code === 409)) throw error;
  }
}
