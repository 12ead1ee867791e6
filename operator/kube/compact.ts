// Equal parts of cached objects are stored once. The pods of one ReplicaSet carry the same labels,
// annotations, owner and (after stripping) the same pod spec, and most containers of a cluster
// share their security context, resources and ports; yet every object read from the API server
// has its own copy of all of them, as JSON.parse makes new objects and strings for each list page
// and watch event. A ValueTable hands out one frozen copy per distinct value instead.
//
// The table is bounded: it keeps two generations of at most `limit` entries each and forgets the
// older one when the newer fills, so a long-running operator that keeps seeing new values does not
// grow it without end. Forgetting only loses sharing: values already in the cache stay as they
// are, and a value seen again after it was forgotten gets a new copy.

type Json = Record<string, unknown>;

export interface ValueTableOptions {
  /** Entries per generation, for values and for strings each (default 16,384). */
  limit?: number;
  /** Longer strings are not shared, nor is any value that holds one (default 1,024). */
  maxStringLength?: number;
}

const DEFAULT_LIMIT = 16_384;
/** Long enough for Istio's status annotation and image references, short of embedded documents. */
const DEFAULT_MAX_STRING = 1_024;

/** A map that forgets its older half once the newer half holds `limit` entries. */
class Generations<K, V> {
  private current = new Map<K, V>();
  private previous = new Map<K, V>();

  constructor(private readonly limit: number) {}

  get(key: K): V | undefined {
    const found = this.current.get(key);
    if (found !== undefined) return found;
    const old = this.previous.get(key);
    // Still in use: carried over, so that a value seen all the time is never forgotten.
    if (old !== undefined) this.set(key, old);
    return old;
  }

  set(key: K, value: V): void {
    if (this.current.size >= this.limit) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(key, value);
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }
}

/** A shared string and the number that stands for it in the hashes of values holding it. */
interface SharedString {
  readonly text: string;
  readonly code: number;
}

/** What walking a value gives besides its copy: a hash of its content, or NOT_SHARED. */
const NOT_SHARED = -1;

function mix(hash: number, part: number): number {
  // An FNV-1a step, cut to 30 bits: never NOT_SHARED, and a small integer (a Smi) for V8, which
  // keeps the Map lookups by hash free of number allocations.
  return Math.imul(hash ^ part, 0x01000193) & 0x3fffffff;
}

function numberCode(n: number): number {
  if (Object.is(n, -0)) return 0x2d30;
  return Number.isInteger(n) ? (n ^ 0x5bd1e995) >>> 0 : Math.floor(n * 0x10000) >>> 0;
}

/**
 * Shares equal strings and equal JSON values (what JSON.parse gives: plain objects, arrays,
 * strings, numbers, booleans and null; anything else is left as it is). Shared values are frozen:
 * one is read through many objects, so a change made through one of them would change them all.
 *
 * A value's hash mixes those of its children, and a candidate with the same hash is taken only
 * when its children are the very same shared children (and its keys the same, in the same order),
 * so a hash collision costs a comparison, never a wrong value.
 */
export class ValueTable {
  private readonly strings: Generations<string, SharedString>;
  /** Shared objects and arrays by hash; more than one only when their hashes collide. */
  private readonly values: Generations<number, object[]>;
  private readonly maxStringLength: number;
  private nextCode = 1;
  /** Copies of children being walked, reused so that finding a shared value allocates nothing. */
  private readonly stack: unknown[] = [];

  constructor(options: ValueTableOptions = {}) {
    const limit = options.limit ?? DEFAULT_LIMIT;
    this.strings = new Generations(limit);
    this.values = new Generations(limit);
    this.maxStringLength = options.maxStringLength ?? DEFAULT_MAX_STRING;
  }

  /** Entries held, values and strings together (at most four times the limit). */
  get size(): number {
    return this.strings.size + this.values.size;
  }

  /** The table's copy of a string equal to `text`; long strings are returned as they are. */
  string(text: string): string {
    return this.sharedString(text)?.text ?? text;
  }

  /**
   * A value equal to `value`: a string as by {@link string}; a plain object or array as a frozen
   * copy that is shared with every equal value the table still knows. A value it does not share
   * (one that holds a long string, for one) is returned as it is, unfrozen.
   */
  value<T>(value: T): T {
    const start = this.stack.length;
    this.walk(value);
    const out = this.stack[start] as T;
    this.stack.length = start;
    return out;
  }

  private sharedString(text: string): SharedString | undefined {
    if (text.length > this.maxStringLength) return undefined;
    let found = this.strings.get(text);
    if (found === undefined) {
      found = { text, code: this.nextCode++ };
      this.strings.set(text, found);
    }
    return found;
  }

  /** Pushes the value's copy onto the stack and returns its hash, or NOT_SHARED. */
  private walk(value: unknown): number {
    switch (typeof value) {
      case "string":
        return this.walkString(value);
      case "number":
        this.stack.push(value);
        return numberCode(value);
      case "boolean":
        this.stack.push(value);
        return value ? 1 : 2;
      case "object":
        if (value === null) {
          this.stack.push(value);
          return 3;
        }
        return Array.isArray(value) ? this.walkArray(value) : this.walkObject(value as Json);
      default:
        this.stack.push(value);
        return NOT_SHARED;
    }
  }

  private walkString(text: string): number {
    const shared = this.sharedString(text);
    this.stack.push(shared?.text ?? text);
    return shared?.code ?? NOT_SHARED;
  }

  private walkArray(list: readonly unknown[]): number {
    const start = this.stack.length;
    let hash = mix(0x811c9dc5, list.length);
    let shared = true;
    for (const item of list) {
      const part = this.walk(item);
      shared &&= part !== NOT_SHARED;
      hash = mix(hash, part);
    }
    return this.settle(start, shared ? hash : NOT_SHARED, list, false);
  }

  private walkObject(source: Json): number {
    if (Object.getPrototypeOf(source) !== Object.prototype) {
      this.stack.push(source);
      return NOT_SHARED;
    }
    const start = this.stack.length;
    let hash = 0x050c5d1f;
    // Assigning `__proto__` to a copy would set its prototype instead of adding a property.
    let shared = !Object.hasOwn(source, "__proto__");
    for (const name of Object.keys(source)) {
      const key = this.walkString(name);
      const part = this.walk(source[name]);
      shared &&= key !== NOT_SHARED && part !== NOT_SHARED;
      hash = mix(mix(hash, key), part);
    }
    return this.settle(start, shared ? hash : NOT_SHARED, source, true);
  }

  /**
   * Replaces the children on the stack from `start` with the parent: the shared value equal to
   * them, a new shared copy of them, or (not shared) the original.
   */
  private settle(start: number, hash: number, original: object, isObject: boolean): number {
    let result: object = original;
    if (hash !== NOT_SHARED) result = this.find(hash, start, isObject);
    this.stack.length = start;
    this.stack.push(result);
    return hash;
  }

  /** The shared value equal to the children on the stack from `start`, added if there is none. */
  private find(hash: number, start: number, isObject: boolean): object {
    const bucket = this.values.get(hash);
    for (const candidate of bucket ?? []) {
      const same = isObject
        ? this.sameObject(candidate, start)
        : Array.isArray(candidate) && this.sameArray(candidate, start);
      if (same) return candidate;
    }
    const copy = this.copyOfStack(start, isObject);
    Object.freeze(copy);
    if (bucket === undefined) this.values.set(hash, [copy]);
    else bucket.push(copy);
    return copy;
  }

  private sameArray(candidate: readonly unknown[], start: number): boolean {
    const stack = this.stack;
    if (candidate.length !== stack.length - start) return false;
    for (let i = 0; i < candidate.length; i++) {
      if (!Object.is(candidate[i], stack[start + i])) return false;
    }
    return true;
  }

  private sameObject(candidate: object, start: number): boolean {
    if (Array.isArray(candidate)) return false;
    const stack = this.stack;
    let at = start;
    // for-in rather than Object.keys: no array per comparison. Shared copies are plain objects
    // with no enumerable inherited keys, and their own keys come in the order they were added.
    for (const key in candidate) {
      if (at >= stack.length || key !== stack[at]) return false;
      if (!Object.is((candidate as Json)[key], stack[at + 1])) return false;
      at += 2;
    }
    return at === stack.length;
  }

  private copyOfStack(start: number, isObject: boolean): object {
    if (!isObject) return this.stack.slice(start);
    const copy: Json = {};
    for (let i = start; i < this.stack.length; i += 2) {
      copy[this.stack[i] as string] = this.stack[i + 1];
    }
    return copy;
  }
}
