import { foldName, formAliases, formSegments, isMethodOverrideKey, pathShape, related } from "./field-names.js";
import { JsonObject, type JsonValue } from "./json-tree.js";

/**
 * The places a request carries named fields — its query, a form or multipart body, a JSON body — behind one
 * lookup, so a constraint can be checked wherever an upstream may read its field. A lookup reports every value
 * the field takes (all repeats, every array element), whether it is absent somewhere, and whether the source is
 * ambiguous about it: a spelling that some upstream reads as the same field (see field-names.ts), a duplicate
 * JSON key, a file part, or a structure where a value was expected (`bad`).
 */

export interface Lookup {
  /** Query/form values are strings; JSON values are JSON scalars (numbers as JsonNumber). */
  values: unknown[];
  /** Some branch of the path does not carry the field (missing key, or an empty array on the way). */
  absent: boolean;
  /** Some reader may take another value than the ones listed, or a non-value (object, file) is there. */
  refused: boolean;
}

export interface FieldSource {
  /** Values are text (query, form, multipart) rather than typed JSON. */
  readonly text: boolean;
  lookup(path: readonly string[]): Lookup;
  /** A top-level `_method` (any case or spelling) that Rails/Laravel/Symfony honour as a method override. */
  hasMethodOverride(): boolean;
}

interface TextEntry {
  segs: string[] | null;
  aliases: string[];
  key: string;
  value: string | null;
}

/** Query or form parameters as (name, value) pairs in order; a null value is a file part (never checkable). */
export function textSource(pairs: ReadonlyArray<readonly [string, string | null]>): FieldSource {
  let entries: TextEntry[] | null = null;
  const prepared = (): TextEntry[] => {
    entries ??= pairs.map(([key, value]) => {
      const { segs, odd } = formSegments(key);
      return { key, value, segs: odd ? null : segs, aliases: formAliases(key) };
    });
    return entries;
  };
  return {
    text: true,
    lookup(path) {
      const out: Lookup = { values: [], absent: false, refused: false };
      const target = pathShape(path);
      for (const e of prepared()) {
        if (e.segs && e.segs.length === path.length && e.segs.every((s, i) => s === path[i])) {
          if (e.value === null) out.refused = true;
          else out.values.push(e.value);
        } else if (e.aliases.some((a) => related(a, target))) {
          out.refused = true;
        }
      }
      out.absent = out.values.length === 0;
      return out;
    },
    hasMethodOverride: () => pairs.some(([key]) => isMethodOverrideKey(key)),
  };
}

/** A query string's pairs (URLSearchParams semantics), or null when a raw `;` (a separator to some parsers) is in it. */
export function queryPairs(s: string): Array<[string, string]> | null {
  if (s.includes(";")) return null;
  return [...new URLSearchParams(s)];
}

const INDEX = /^(0|[1-9][0-9]*)$/;

function walk(node: JsonValue, path: readonly string[], i: number, out: Lookup): void {
  if (i === path.length) {
    if (Array.isArray(node)) {
      for (const el of node) {
        if (el instanceof JsonObject || Array.isArray(el)) out.refused = true;
        else out.values.push(el);
      }
      if (node.length === 0) out.absent = true;
    } else if (node instanceof JsonObject) out.refused = true;
    else out.values.push(node);
    return;
  }
  const seg = path[i] as string;
  if (Array.isArray(node)) {
    if (INDEX.test(seg)) {
      const el = node[Number(seg)];
      if (el === undefined) out.absent = true;
      else walk(el, path, i + 1, out);
      return;
    }
    if (node.length === 0) out.absent = true;
    for (const el of node) walk(el, path, i, out);
    return;
  }
  if (!(node instanceof JsonObject)) {
    out.absent = true;
    return;
  }
  const target = pathShape(path, i);
  let hit: JsonValue | undefined;
  let hits = 0;
  for (let k = 0; k < node.keys.length; k++) {
    const key = node.keys[k] as string;
    if (key === seg) {
      hits++;
      hit = node.values[k];
    } else if (
      formAliases(key).some((a) => related(a, target)) ||
      (key.length === seg.length && foldName(key) === foldName(seg))
    ) {
      out.refused = true;
    }
  }
  if (hits > 1) out.refused = true;
  if (hit === undefined) out.absent = true;
  else walk(hit, path, i + 1, out);
}

/** A JSON body (see json-tree.ts: duplicates and number literals kept). */
export function jsonSource(root: JsonValue): FieldSource {
  return {
    text: false,
    lookup(path) {
      const out: Lookup = { values: [], absent: false, refused: false };
      walk(root, path, 0, out);
      return out;
    },
    hasMethodOverride: () => root instanceof JsonObject && root.keys.some(isMethodOverrideKey),
  };
}
