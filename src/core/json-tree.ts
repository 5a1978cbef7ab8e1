/**
 * A JSON body as an upstream may read it, for constraints. `JSON.parse` hides three things a constraint must see:
 * repeated keys (it keeps the last; Go and others may keep another), the literal text of numbers (it rounds them
 * to doubles; Go's int64 and decimal types do not) and keys whose escapes decode to the same name. So this tree
 * keeps every key of every object in order, decoded, and every number as its literal.
 *
 * It is not a validating parser: `parseJsonTree` first runs JSON.parse (the strict grammar) and only then walks the
 * text, which is therefore known to be well formed. The walk is iterative (no recursion limit to hit on deep
 * nesting) and linear in the text.
 */

/** A JSON number, kept as written. */
export class JsonNumber {
  constructor(readonly literal: string) {}
}

/** A JSON object with every member in order, duplicates included; keys decoded. */
export class JsonObject {
  readonly keys: string[] = [];
  readonly values: JsonValue[] = [];
}

export type JsonValue = string | boolean | null | JsonNumber | JsonObject | JsonValue[];

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** Index of the closing quote of the string whose opening quote is at `i`. */
function stringEnd(text: string, i: number): { end: number; escaped: boolean } {
  let j = i + 1;
  let escaped = false;
  for (;;) {
    const c = text.charCodeAt(j);
    if (c === 0x22) return { end: j, escaped };
    if (c === 0x5c) {
      escaped = true;
      j += 2;
    } else j += 1;
  }
}

function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2b || c === 0x2d || c === 0x65 || c === 0x45;
}

type Container = JsonObject | JsonValue[];

/** Parses `text` keeping duplicates and number literals, or returns null when it is not valid JSON. */
export function parseJsonTree(text: string): JsonValue | null {
  try {
    JSON.parse(text);
  } catch {
    return null;
  }
  const stack: Container[] = [];
  let pendingKey: string | null = null;
  let root: JsonValue | null = null;
  const put = (v: JsonValue) => {
    const top = stack[stack.length - 1];
    if (top === undefined) root = v;
    else if (Array.isArray(top)) top.push(v);
    else {
      top.keys.push(pendingKey as string);
      top.values.push(v);
      pendingKey = null;
    }
  };
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (WS.has(c) || c === 0x2c /* , */ || c === 0x3a /* : */) {
      i++;
    } else if (c === 0x22 /* " */) {
      const { end, escaped } = stringEnd(text, i);
      const s = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
      const top = stack[stack.length - 1];
      if (top instanceof JsonObject && pendingKey === null) pendingKey = s;
      else put(s);
      i = end + 1;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const container: Container = c === 0x7b ? new JsonObject() : [];
      put(container);
      stack.push(container);
      i++;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      i++;
    } else if (c === 0x74 /* t */) {
      put(true);
      i += 4;
    } else if (c === 0x66 /* f */) {
      put(false);
      i += 5;
    } else if (c === 0x6e /* n */) {
      put(null);
      i += 4;
    } else {
      let j = i + 1;
      while (j < text.length && isNumberChar(text.charCodeAt(j))) j++;
      put(new JsonNumber(text.slice(i, j)));
      i = j;
    }
  }
  return root;
}

/** True when some object in the tree repeats a key (after decoding escapes). */
export function hasDuplicateKey(root: JsonValue): boolean {
  const todo: JsonValue[] = [root];
  while (todo.length > 0) {
    const v = todo.pop();
    if (v instanceof JsonObject) {
      if (new Set(v.keys).size !== v.keys.length) return true;
      for (const x of v.values) todo.push(x);
    } else if (Array.isArray(v)) for (const x of v) todo.push(x);
  }
  return false;
}

/** True when `text` (valid JSON) repeats a key in some object, also when the two spellings differ only by escapes. */
export function hasDuplicateKeys(text: string): boolean {
  const tree = parseJsonTree(text);
  return tree !== null && hasDuplicateKey(tree);
}
