// The few API calls the controller's writers make, behind small interfaces so that the writers can
// be tested without a server. Every failure comes out classified (conflict, transient, terminal).

import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type CoreV1Event,
  type KubeConfig,
  type V1Lease,
} from "@kubernetes/client-node";

// Plain shapes for what the writers send. client-node's model classes expect instances and turn
// MicroTime fields into Dates with three fractional digits, which the API server rejects, so the
// writers build plain objects and the casts to the model types happen here only.

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** MicroTime text (six fractional digits). */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

export interface ObjectReference {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** A core/v1 Event. */
export interface EventBody {
  metadata: { name: string; namespace: string };
  involvedObject: ObjectReference;
  related?: ObjectReference;
  reason: string;
  message: string;
  type: "Normal" | "Warning";
  source: { component: string };
  reportingComponent: string;
  reportingInstance: string;
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
}
import { classify, ConflictError, statusCode, TransientError } from "./errors.js";

export const GROUP = "meshcompliance.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export type Plural = "compliancereports" | "threatpolicies";

export interface StoredObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    ownerReferences?: unknown[];
  };
  spec?: unknown;
  status?: unknown;
}

/** Cluster-scoped objects of the project's own API group. */
export interface ClusterObjects {
  /** The object, or undefined when it does not exist. */
  get(plural: Plural, name: string): Promise<StoredObject | undefined>;
  create(plural: Plural, body: StoredObject): Promise<StoredObject>;
  /**
   * Replaces the status; fails with ConflictError when resourceVersion is stale or the object is
   * gone (both mean: read it again).
   */
  replaceStatus(plural: Plural, body: StoredObject): Promise<StoredObject>;
  /** Replaces the object (not its status); fails with ConflictError like replaceStatus. */
  replace(plural: Plural, body: StoredObject): Promise<StoredObject>;
}

/** A write to an object that was deleted meanwhile: like a conflict, re-read and go on. */
function goneOrClassified(error: unknown, doing: string): Error {
  if (statusCode(error) === 404) return new ConflictError(`${doing}: gone`, { cause: error });
  return classify(error, doing);
}

export interface EventSink {
  /** Creates an Event; an Event of the same name that exists already counts as created. */
  create(namespace: string, event: EventBody): Promise<void>;
}

export interface LeaseApi {
  get(namespace: string, name: string): Promise<Lease | undefined>;
  create(namespace: string, lease: Lease): Promise<Lease>;
  replace(namespace: string, lease: Lease): Promise<Lease>;
}

export function clusterObjects(kc: KubeConfig): ClusterObjects {
  const api = kc.makeApiClient(CustomObjectsApi);
  const base = { group: GROUP, version: VERSION };
  return {
    async get(plural, name) {
      try {
        return (await timed(api.getClusterCustomObject({ ...base, plural, name }))) as StoredObject;
      } catch (error) {
        if (statusCode(error) === 404) return undefined;
        throw classify(error, `reading ${plural}/${name}`);
      }
    },
    async create(plural, body) {
      try {
        return (await timed(
          api.createClusterCustomObject({ ...base, plural, body }),
        )) as StoredObject;
      } catch (error) {
        throw classify(error, `creating ${plural}/${body.metadata.name}`);
      }
    },
    async replaceStatus(plural, body) {
      const name = body.metadata.name;
      try {
        return (await timed(
          api.replaceClusterCustomObjectStatus({
            ...base,
            plural,
            name,
            body,
          }),
        )) as StoredObject;
      } catch (error) {
        throw goneOrClassified(error, `writing the status of ${plural}/${name}`);
      }
    },
    async replace(plural, body) {
      const name = body.metadata.name;
      try {
        return (await timed(
          api.replaceClusterCustomObject({ ...base, plural, name, body }),
        )) as StoredObject;
      } catch (error) {
        throw goneOrClassified(error, `updating ${plural}/${name}`);
      }
    },
  };
}

export function eventSink(kc: KubeConfig): EventSink {
  const api = kc.makeApiClient(CoreV1Api);
  return {
    async create(namespace, body) {
      try {
        await timed(api.createNamespacedEvent({ namespace, body: body as unknown as CoreV1Event }));
      } catch (error) {
        if (statusCode(error) === 409) return;
        throw classify(error, `creating Event ${namespace}/${body.metadata.name}`);
      }
    },
  };
}

export function leaseApi(kc: KubeConfig): LeaseApi {
  const api = kc.makeApiClient(CoordinationV1Api);
  return {
    async get(namespace, name) {
      try {
        return (await timed(api.readNamespacedLease({ namespace, name }))) as unknown as Lease;
      } catch (error) {
        if (statusCode(error) === 404) return undefined;
        throw classify(error, `reading Lease ${namespace}/${name}`);
      }
    },
    async create(namespace, body) {
      try {
        const lease = body as unknown as V1Lease;
        return (await timed(
          api.createNamespacedLease({ namespace, body: lease }),
        )) as unknown as Lease;
      } catch (error) {
        throw classify(error, `creating Lease ${namespace}/${body.metadata?.name ?? ""}`);
      }
    },
    async replace(namespace, body) {
      const name = body.metadata?.name ?? "";
      try {
        const lease = body as unknown as V1Lease;
        const stored = await timed(api.replaceNamespacedLease({ namespace, name, body: lease }));
        return stored as unknown as Lease;
      } catch (error) {
        throw classify(error, `renewing Lease ${namespace}/${name}`);
      }
    },
  };
}

/**
 * Every write and read of the controller gives up after this long. The client sets no deadline of
 * its own, and a request caught by an API server that is shutting down can hang; without a
 * deadline it would hold the work queue, and every later evaluation, behind it.
 */
export const REQUEST_TIMEOUT_MS = 20_000;

function timed<T>(request: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Transient: the same request usually succeeds once the API server answers again.
      reject(new TransientError(`no answer from the API server within ${REQUEST_TIMEOUT_MS} ms`));
    }, REQUEST_TIMEOUT_MS);
  });
  return Promise.race([request, deadline]).finally(() => {
    clearTimeout(timer);
  });
}

/** MicroTime as the API server parses it: exactly six fractional digits. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
