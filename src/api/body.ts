import type { IncomingMessage } from "node:http";

/** The control plane's request body limit. */
export const MAX_BODY_BYTES = 64 * 1024;

/** True when the declared Content-Length alone is over the limit: answered without reading the body. */
export function declaredTooLarge(contentLength: string | null | undefined, max = MAX_BODY_BYTES): boolean {
  return contentLength !== undefined && contentLength !== null && Number(contentLength) > max;
}

/** Reads the whole body from the socket, or null once it exceeds `max` bytes (the rest is not kept). */
export function readIncoming(incoming: IncomingMessage, max = MAX_BODY_BYTES): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        incoming.off("data", onData);
        resolve(null);
      } else chunks.push(chunk);
    };
    incoming.on("data", onData);
    incoming.once("end", () => resolve(Buffer.concat(chunks, size)));
    incoming.once("error", reject);
  });
}

/** The same for a WHATWG Request (in-process `app.request()`, or any runtime without an IncomingMessage). */
export async function readRequest(request: Request, max = MAX_BODY_BYTES): Promise<Buffer | null> {
  if (request.body === null) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks, size);
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
}
