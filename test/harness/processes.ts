// Child processes of the test control plane. Every process and temporary folder the harness makes
// is registered here so that it is removed on every way out of the test process: normal end, a
// failed test, SIGINT/SIGTERM/SIGHUP of the runner and an uncaught exception (Node still emits
// 'exit' then). A SIGKILL of the test process cannot be caught, so a small watchdog shell, started
// per control plane, kills the recorded children and removes the folder once the parent is gone.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { constants } from "node:os";

const liveProcesses = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let handlersInstalled = false;

function cleanupSync(): void {
  for (const child of liveProcesses) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
  liveProcesses.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  cleanupSync();
  // Leave the exit to any other handler (the test runner's); otherwise end as the signal would.
  if (process.listenerCount(signal) === 0) {
    process.exit(128 + constants.signals[signal]);
  }
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", cleanupSync);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(signal, onSignal);
}

export function registerTempDir(dir: string): void {
  installHandlers();
  tempDirs.add(dir);
}

export function releaseTempDir(dir: string): void {
  tempDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One binary run with its output appended to a log file. */
export class ManagedProcess {
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;
  private readonly child: ChildProcess;

  constructor(
    readonly name: string,
    command: string,
    args: readonly string[],
    readonly logFile: string,
  ) {
    installHandlers();
    const fd = openSync(logFile, "a");
    writeSync(fd, `\n=== ${new Date().toISOString()} ${command} ${args.join(" ")}\n`);
    this.child = spawn(command, args, { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    liveProcesses.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        liveProcesses.delete(this.child);
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
      this.child.once("error", () => {
        liveProcesses.delete(this.child);
        this.exitInfo = { code: null, signal: null };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /**
   * Asks the process to end (SIGTERM), and kills it if it has not within the grace period.
   * Returns true when it ended by itself.
   */
  async stop(graceMs: number): Promise<boolean> {
    if (!this.running) return true;
    // A paused process cannot handle SIGTERM until it is resumed.
    this.child.kill("SIGCONT");
    this.child.kill("SIGTERM");
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      this.child.kill("SIGKILL");
    }, graceMs);
    try {
      await this.exited;
      return !killed;
    } finally {
      clearTimeout(timer);
    }
  }

  async kill(): Promise<ExitInfo> {
    this.signal("SIGKILL");
    return this.exited;
  }
}

/**
 * Starts a shell that waits for this process to disappear, then kills the pids listed in pidFile
 * whose command line names dir (so a reused pid of someone else's process is left alone) and
 * removes dir. Returns a function that stops the watchdog on an orderly shutdown.
 */
export function startOrphanWatchdog(dir: string, pidFile: string): () => void {
  writeFileSync(pidFile, "");
  const script = [
    'parent="$1"; dir="$2"; pids="$3"',
    'while kill -0 "$parent" 2>/dev/null; do sleep 1; done',
    'for p in $(cat "$pids" 2>/dev/null); do',
    '  if tr "\\0" " " < "/proc/$p/cmdline" 2>/dev/null | grep -qF "$dir"; then kill -9 "$p"; fi',
    "done",
    'case "$dir" in /*mesh-compliance-cp-*) rm -rf "$dir" ;; esac',
  ].join("\n");
  const watchdog = spawn("sh", ["-c", script, "watchdog", String(process.pid), dir, pidFile], {
    detached: true,
    stdio: "ignore",
  });
  watchdog.unref();
  return () => {
    try {
      watchdog.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  };
}
