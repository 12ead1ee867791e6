// API discovery: which version of each watched resource the server serves right now. Read again
// on a timer, so CRDs installed (or removed) after start are noticed.
import { NOT_FOUND, KubeApiError, type Transport } from "./http.js";
import type { WatchedResource } from "./resources.js";

/** The served version picked for a resource, or undefined when the server does not serve it. */
export type Discovered = ReadonlyMap<WatchedResource, string | undefined>;

interface GroupList {
  groups?: { name?: string; versions?: { version?: string }[] }[];
}

interface ResourceList {
  resources?: { name?: string }[];
}

/** Group versions the server serves, as `group/version` (`/v1` for the core group). */
async function servedGroupVersions(transport: Transport): Promise<Set<string>> {
  const served = new Set<string>(["/v1"]);
  const list = (await transport.getJson("/apis")) as GroupList;
  for (const group of list.groups ?? []) {
    for (const v of group.versions ?? []) {
      if (group.name !== undefined && v.version !== undefined) {
        served.add(`${group.name}/${v.version}`);
      }
    }
  }
  return served;
}

function groupVersionPath(groupVersion: string): string {
  return groupVersion.startsWith("/") ? `/api${groupVersion}` : `/apis/${groupVersion}`;
}

/** Resource names served in one group version; empty when it vanished since /apis was read. */
async function resourcesOf(transport: Transport, groupVersion: string): Promise<Set<string>> {
  try {
    const list = (await transport.getJson(groupVersionPath(groupVersion))) as ResourceList;
    return new Set((list.resources ?? []).map((r) => r.name ?? ""));
  } catch (error) {
    if (error instanceof KubeApiError && error.code === NOT_FOUND) return new Set();
    throw error;
  }
}

/**
 * Picks, for each resource, the newest of its accepted versions the server serves. Throws when
 * discovery itself fails (server unreachable); a missing group is simply not served.
 */
export async function discover(
  transport: Transport,
  resources: readonly WatchedResource[],
): Promise<Discovered> {
  const served = await servedGroupVersions(transport);
  const lists = new Map<string, Promise<Set<string>>>();
  const resourcesIn = (groupVersion: string): Promise<Set<string>> => {
    let list = lists.get(groupVersion);
    if (list === undefined) {
      list = resourcesOf(transport, groupVersion);
      lists.set(groupVersion, list);
    }
    return list;
  };

  const result = new Map<WatchedResource, string | undefined>();
  for (const resource of resources) {
    result.set(resource, await pickVersion(resource, served, resourcesIn));
  }
  return result;
}

async function pickVersion(
  resource: WatchedResource,
  served: Set<string>,
  resourcesIn: (groupVersion: string) => Promise<Set<string>>,
): Promise<string | undefined> {
  for (const version of resource.versions) {
    const groupVersion = `${resource.group}/${version}`;
    if (!served.has(groupVersion)) continue;
    if ((await resourcesIn(groupVersion)).has(resource.resource)) return version;
  }
  return undefined;
}
