/**
 * Everything the CLI touches outside itself, passed in so tests can run commands in-process: output streams,
 * stdin, the environment, and the shutdown signal `serve` waits for.
 */
export interface Out {
  write(s: string): unknown;
}

export interface In extends AsyncIterable<Buffer | string> {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

export interface CliIo {
  stdout: Out;
  stderr: Out;
  stdin: In;
  env: Readonly<Record<string, string | undefined>>;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM). */
  waitForShutdown(): Promise<void>;
}

export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin as unknown as In,
    env: process.env,
    waitForShutdown: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          process.off("SIGINT", done);
          process.off("SIGTERM", done);
          resolve();
        };
        process.on("SIGINT", done);
        process.on("SIGTERM", done);
      }),
  };
}

export function println(out: Out, line = ""): void {
  out.write(`${line}\n`);
}

export function printJson(out: Out, value: unknown): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
}
