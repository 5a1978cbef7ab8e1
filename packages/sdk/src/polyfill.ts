// `await using` needs Symbol.asyncDispose; some Node 20 builds and older browsers lack it. Registering the
// well-known name through the global registry matches what TypeScript's downlevel helpers look for.
const S = Symbol as unknown as { asyncDispose?: symbol; dispose?: symbol };
S.asyncDispose ??= Symbol.for("Symbol.asyncDispose");
S.dispose ??= Symbol.for("Symbol.dispose");

export const asyncDispose: typeof Symbol.asyncDispose = Symbol.asyncDispose;
