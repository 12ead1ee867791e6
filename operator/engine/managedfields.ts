// metadata.managedFields records, per field manager, which fields it last set and when. The entry
// that most recently set fields under `spec` names the last writer of an object's desired state.
// It is evidence, not proof: anyone who can update an object can also rewrite managedFields.

import { at, isObj, objs, str } from "./fields.js";
import type { KubeObject } from "./types.js";

export interface FieldWriter {
  manager: string;
  /** `Apply` (server-side apply) or `Update`. */
  operation?: string;
  /** When the manager last changed its fields; absent in some hand-written inputs. */
  time?: string;
}

/** True when the object carries managedFields at all (live objects do; rendered files rarely). */
export function hasManagedFields(object: KubeObject): boolean {
  return objs(object.metadata.managedFields).length > 0;
}

/** True when an entry owns at least one field under spec. */
function ownsSpec(entry: Record<string, unknown>): boolean {
  const spec = at(entry, "fieldsV1", "f:spec");
  return isObj(spec) || spec === true;
}

function timeOf(entry: Record<string, unknown>): number {
  const t = Date.parse(str(entry.time) ?? "");
  return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
}

/**
 * The field managers that wrote spec most recently: usually one; several when their entries carry
 * the same time (the API server keeps second precision). Status subresource entries are ignored:
 * controllers write status without changing what the object asks for.
 */
export function lastSpecWriters(object: KubeObject): FieldWriter[] {
  const managed = object.metadata.managedFields;
  if (!Array.isArray(managed) || managed.length === 0) return [];
  // One pass: each entry's time is parsed once; a later time starts the list over.
  let latest = Number.NEGATIVE_INFINITY;
  let newest: Record<string, unknown>[] = [];
  for (const e of objs(managed)) {
    if (str(e.subresource) === "status" || !ownsSpec(e) || str(e.manager) === undefined) continue;
    const t = timeOf(e);
    if (newest.length > 0 && t < latest) continue;
    if (newest.length === 0 || t > latest) {
      latest = t;
      newest = [];
    }
    newest.push(e);
  }
  return newest.map((e) => {
    const writer: FieldWriter = { manager: str(e.manager) ?? "" };
    const operation = str(e.operation);
    const time = str(e.time);
    if (operation !== undefined) writer.operation = operation;
    if (time !== undefined) writer.time = time;
    return writer;
  });
}
