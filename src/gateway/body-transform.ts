/**
 * A hook for the response relay (respond.ts): a per-response rewrite of the body, applied before the secret
 * scrubber, so whatever it emits is still scrubbed. Used by MCP services to filter `tools/list` answers
 * (gateway/mcp/tools-filter.ts). The relay asks the factory once per response head.
 */
export interface BodyTransform {
  /**
   * True when the transform needs the complete body before anything can be sent (a JSON document): the relay
   * then collects it, bounded by TRANSFORM_BODY_CAP, and answers 502 when it is larger.
   */
  readonly whole: boolean;
  /** Takes the next chunk, returns what can be sent now. May throw: the relay then cuts the response. */
  push(chunk: Buffer): Buffer;
  /** The body ended: returns the rest. */
  end(): Buffer;
}

/** `null`: relay as is. `"block"`: the body cannot be inspected (e.g. compressed), answer 502 instead. */
export type ResponseTransform = (
  status: number,
  headers: Readonly<Record<string, string | string[]>>,
) => BodyTransform | null | "block";

export const TRANSFORM_BODY_CAP = 4 * 1024 * 1024;
