// An immutable, indexed view of the objects the checks read. Built once per evaluation; the
// operator builds it from its cache, the offline scan from parsed files.

import { CLUSTER_SCOPED, K, kindKey } from "./kinds.js";
import type { KubeObject, ResourceRef } from "./types.js";

export interface SnapshotOptions {
  /**
   * Kinds that could not be read, with the reason (forbidden, not installed). Checks that read
   * them report `Unknown` instead of passing.
   */
  unavailable?: ReadonlyMap<string, string>;
  /**
   * True when the snapshot holds every Namespace of the cluster. An offline scan sees only the
   * files it was given, so a namespace that objects reference may have no Namespace document.
   */
  namespacesComplete?: boolean;
}

const EMPTY: readonly KubeObject[] = [];

export class Snapshot {
  readonly objects: readonly KubeObject[];
  readonly namespacesComplete: boolean;
  private readonly unavailableKinds: ReadonlyMap<string, string>;
  private readonly byKind = new Map<string, KubeObject[]>();
  /** kind -> namespace -> objects; nested rather than a joined key, as lookups are hot. */
  private readonly byKindNs = new Map<string, Map<string, KubeObject[]>>();
  private readonly namespaceObjects = new Map<string, KubeObject>();
  private readonly namespaceNames = new Set<string>();

  constructor(objects: readonly KubeObject[], options: SnapshotOptions = {}) {
    this.objects = objects;
    this.unavailableKinds = options.unavailable ?? new Map();
    this.namespacesComplete = options.namespacesComplete ?? false;
    for (const obj of objects) this.index(obj);
  }

  private index(obj: KubeObject): void {
    const key = kindKey(obj.apiVersion, obj.kind);
    push(this.byKind, key, obj);
    const ns = CLUSTER_SCOPED.has(key) ? undefined : (obj.metadata.namespace ?? "default");
    if (ns !== undefined) {
      let byNs = this.byKindNs.get(key);
      if (!byNs) {
        byNs = new Map();
        this.byKindNs.set(key, byNs);
      }
      push(byNs, ns, obj);
      this.namespaceNames.add(ns);
    }
    if (key === K.Namespace && obj.metadata.name) {
      this.namespaceObjects.set(obj.metadata.name, obj);
      this.namespaceNames.add(obj.metadata.name);
    }
  }

  /** All objects of a kind, in every namespace. */
  all(kind: string): readonly KubeObject[] {
    return this.byKind.get(kind) ?? EMPTY;
  }

  /** Objects of a kind in one namespace. */
  inNamespace(kind: string, namespace: string): readonly KubeObject[] {
    return this.byKindNs.get(kind)?.get(namespace) ?? EMPTY;
  }

  /** Every namespace that is declared or that an object lives in, sorted. */
  namespaces(): string[] {
    return [...this.namespaceNames].sort();
  }

  /** The Namespace object, when the input declares it. */
  namespace(name: string): KubeObject | undefined {
    return this.namespaceObjects.get(name);
  }

  /** Why a kind could not be read, or undefined when it was read. */
  unavailable(kind: string): string | undefined {
    return this.unavailableKinds.get(kind);
  }

  unavailableMap(): ReadonlyMap<string, string> {
    return this.unavailableKinds;
  }

  /**
   * The objects one partition may read: the namespace's own, plus cluster-scoped objects and the
   * given shared namespaces (the mesh root namespace). Used to prove that partitions evaluate
   * independently.
   */
  restrictedTo(namespace: string | undefined, shared: readonly string[]): Snapshot {
    const keep = new Set(shared);
    if (namespace !== undefined) keep.add(namespace);
    const objects = this.objects.filter((o) => {
      const ns = namespaceOf(o);
      return ns === undefined || keep.has(ns);
    });
    return new Snapshot(objects, {
      unavailable: this.unavailableKinds,
      namespacesComplete: this.namespacesComplete,
    });
  }
}

function push(map: Map<string, KubeObject[]>, key: string, obj: KubeObject): void {
  const list = map.get(key);
  if (list) list.push(obj);
  else map.set(key, [obj]);
}

/** The namespace of a namespaced object; undefined for cluster-scoped kinds. */
export function namespaceOf(obj: KubeObject): string | undefined {
  if (CLUSTER_SCOPED.has(kindKey(obj.apiVersion, obj.kind))) return undefined;
  return obj.metadata.namespace ?? "default";
}

export function refOf(obj: KubeObject): ResourceRef {
  const ref: ResourceRef = {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    name: obj.metadata.name ?? "",
  };
  const ns = namespaceOf(obj);
  if (ns !== undefined) ref.namespace = ns;
  return ref;
}

export function keyOf(obj: KubeObject): string {
  const ns = namespaceOf(obj);
  return `${kindKey(obj.apiVersion, obj.kind)}:${ns ?? ""}/${obj.metadata.name ?? ""}`;
}
