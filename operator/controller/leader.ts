// Leader election through a coordination.k8s.io/v1 Lease, so that several replicas can run and only
// one writes. A replica takes the Lease when it is free, released, or not renewed for a lease
// duration as measured by the replica's own clock from when it last saw the Lease change (clocks of
// different machines are never compared). The leader renews every retry period and steps down when
// it could not renew within the renew deadline; on stop it releases the Lease so that a follower
// takes over at once instead of after the lease duration.

import type { Logger } from "winston";
import { microTime, type Lease, type LeaseApi, type LeaseSpec } from "./api.js";
import { ConflictError } from "./errors.js";

export interface LeaderOptions {
  api: LeaseApi;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  logger: Logger;
  now?: () => number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

interface Observed {
  record: string;
  at: number;
}

export class LeaderElector {
  private leader = false;
  private stopped = false;
  private lastRenew = 0;
  private observed: Observed | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private lastError: string | undefined;

  constructor(private readonly options: LeaderOptions) {}

  /**
   * Leading, and renewed within the renew deadline. The second half matters when the process was
   * stalled (a long pause, a blocked event loop): the Lease may have expired and passed to another
   * replica before this one's loop notices, and until then it must not write.
   */
  isLeader(): boolean {
    return this.leader && this.now() - this.lastRenew <= this.options.renewDeadlineMs;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops competing; a leader releases the Lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    if (this.leader) {
      await this.release();
      this.setLeader(false);
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const held = await this.tryAcquireOrRenew();
      // Leading but past the renew deadline: isLeader() said no, so writes were skipped.
      const lapsed = this.leader && !this.isLeader();
      if (held) this.lastRenew = this.now();
      if (held && !this.leader) this.setLeader(true);
      else if (held && lapsed) this.resumeLeading();
      const late = this.now() - this.lastRenew > this.options.renewDeadlineMs;
      if (!held && this.leader && late) this.setLeader(false);
      await this.sleep(this.options.retryPeriodMs);
    }
  }

  /** A late renewal that still succeeded: lead again as after a new election (rewrite all). */
  private resumeLeading(): void {
    const { namespace, name, identity } = this.options;
    this.options.logger.info("leading again after a late renewal", {
      lease: `${namespace}/${name}`,
      identity,
    });
    this.options.onStartedLeading();
  }

  private setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    const { namespace, name, identity } = this.options;
    this.options.logger.info(leader ? "became leader" : "stopped leading", {
      lease: `${namespace}/${name}`,
      identity,
    });
    if (leader) this.options.onStartedLeading();
    else this.options.onStoppedLeading();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** One attempt; false when another replica holds the Lease or the API failed. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    try {
      const lease = await this.options.api.get(this.options.namespace, this.options.name);
      const held = lease ? await this.update(lease) : await this.create();
      this.lastError = undefined;
      return held;
    } catch (error) {
      if (!(error instanceof ConflictError)) this.logOnce(error);
      return false;
    }
  }

  /** Logs a failure once until the next success, so an outage is one line, not one per retry. */
  private logOnce(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (message === this.lastError) return;
    this.lastError = message;
    this.options.logger.warn("lease update failed", {
      lease: `${this.options.namespace}/${this.options.name}`,
      error: message,
    });
  }

  private spec(acquired: string, transitions: number): LeaseSpec {
    return {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.options.leaseDurationMs / 1_000)),
      acquireTime: acquired,
      renewTime: microTime(new Date(this.now())),
      leaseTransitions: transitions,
    };
  }

  private async create(): Promise<boolean> {
    const now = new Date(this.now());
    await this.options.api.create(this.options.namespace, {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: this.options.name, namespace: this.options.namespace },
      spec: this.spec(microTime(now), 0),
    });
    return true;
  }

  private heldByOther(lease: Lease): boolean {
    const holder = lease.spec?.holderIdentity ?? "";
    const record = `${holder}|${lease.spec?.renewTime ?? ""}`;
    if (this.observed?.record !== record) this.observed = { record, at: this.now() };
    if (holder === "" || holder === this.options.identity) return false;
    const durationMs = (lease.spec?.leaseDurationSeconds ?? 0) * 1_000;
    return this.now() < this.observed.at + durationMs;
  }

  private async update(lease: Lease): Promise<boolean> {
    if (this.heldByOther(lease)) return false;
    const ours = lease.spec?.holderIdentity === this.options.identity;
    const transitions = lease.spec?.leaseTransitions ?? 0;
    const acquired = ours ? lease.spec?.acquireTime : undefined;
    const acquiredAt = acquired ?? microTime(new Date(this.now()));
    const spec = this.spec(acquiredAt, ours ? transitions : transitions + 1);
    await this.options.api.replace(this.options.namespace, { ...lease, spec });
    return true;
  }

  private async release(): Promise<void> {
    try {
      const lease = await this.options.api.get(this.options.namespace, this.options.name);
      if (lease?.spec?.holderIdentity !== this.options.identity) return;
      await this.options.api.replace(this.options.namespace, {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: "",
          leaseDurationSeconds: 1,
          renewTime: microTime(new Date(this.now())),
        },
      });
      this.options.logger.info("released the lease", {
        lease: `${this.options.namespace}/${this.options.name}`,
      });
    } catch (error) {
      this.logOnce(error);
    }
  }
}
