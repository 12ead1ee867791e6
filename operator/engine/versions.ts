// Istio versions as the checks see them: read from image tags (`pilot:1.27.3`,
// `proxyv2:1.27.3-distroless`) and from the policy (`1.26`). An image pinned only by digest, or
// tagged `latest`, carries no version: callers report that as unknown, never as a pass.

export interface Version {
  major: number;
  minor: number;
  /** Undefined when the text names a minor release only (`1.26`). */
  patch?: number;
}

const VERSION = /^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+_][0-9A-Za-z.+_-]*)?$/;

/** Parses `1.27`, `1.27.3`, `v1.27.3`, `1.27.3-distroless`; undefined for anything else. */
export function parseVersion(text: string | undefined): Version | undefined {
  if (text === undefined) return undefined;
  const m = VERSION.exec(text.trim());
  if (!m) return undefined;
  const version: Version = { major: Number(m[1]), minor: Number(m[2]) };
  if (m[3] !== undefined) version.patch = Number(m[3]);
  return version;
}

/** The tag of an image reference, without registry, repository or digest. */
export function imageTag(image: string): string | undefined {
  const noDigest = image.split("@")[0] ?? "";
  const lastSlash = noDigest.lastIndexOf("/");
  const name = noDigest.slice(lastSlash + 1);
  const colon = name.lastIndexOf(":");
  return colon < 0 ? undefined : name.slice(colon + 1);
}

/** The Istio version an image runs, from its tag; undefined for digests and unversioned tags. */
export function imageVersion(image: string | undefined): Version | undefined {
  if (image === undefined) return undefined;
  return parseVersion(imageTag(image));
}

/**
 * Orders two versions. A missing patch compares as equal to any patch, so that a policy minimum
 * of `1.26` admits every 1.26.x.
 */
export function compareVersions(a: Version, b: Version): number {
  if (a.major !== b.major) return a.major - b.major;
  if (a.minor !== b.minor) return a.minor - b.minor;
  if (a.patch === undefined || b.patch === undefined) return 0;
  return a.patch - b.patch;
}

export function formatVersion(v: Version): string {
  return v.patch === undefined ? `${v.major}.${v.minor}` : `${v.major}.${v.minor}.${v.patch}`;
}
