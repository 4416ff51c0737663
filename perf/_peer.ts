/**
 * A PyTorch peer process for the benchmarks: a Python script that warms up, prints one `ready` JSON
 * line, then answers each `steps N` line on stdin with one JSON line holding the wall time of each of
 * the N runs (`ms`), so a benchmark can interleave its own runs with PyTorch's and both see the same
 * background load. EOF on stdin ends it.
 *
 * @module
 */

/** A running peer. */
export class TorchPeer {
  readonly torch: string;
  readonly threads: number;
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #lines: AsyncIterator<string>;

  private constructor(
    child: Deno.ChildProcess,
    lines: AsyncIterator<string>,
    ready: Record<string, unknown>,
  ) {
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    this.#lines = lines;
    this.torch = String(ready.torch);
    this.threads = Number(ready.threads);
  }

  /**
   * Starts `python script ...args` and waits for its warm-up; null (with the reason through `log`)
   * when it exits first.
   */
  static async start(
    python: string,
    script: URL,
    args: readonly (string | number)[],
    opts: { label: string; log: (line: string) => void },
  ): Promise<TorchPeer | null> {
    const argv = [script.pathname, ...args.map(String)];
    opts.log(`torch ${opts.label}: ${python} ${argv.join(" ")}`);
    const child = new Deno.Command(python, { args: argv, stdin: "piped", stdout: "piped", stderr: "inherit" })
      .spawn();
    const lines = readLines(child.stdout);
    const first = await lines.next();
    if (first.done) {
      const status = await child.status;
      opts.log(
        `torch ${opts.label}: the PyTorch peer exited (code ${status.code}) before it was ready; ` +
          "its column is left empty",
      );
      return null;
    }
    return new TorchPeer(child, lines, JSON.parse(first.value) as Record<string, unknown>);
  }

  /** Runs `n` timed steps in the peer; returns their wall times and the last loss (NaN if none). */
  async steps(n: number): Promise<{ ms: number[]; loss: number }> {
    await this.#stdin.write(new TextEncoder().encode(`steps ${n}\n`));
    const line = await this.#lines.next();
    if (line.done) throw new Error("The PyTorch peer exited while running steps");
    const reply = JSON.parse(line.value) as { ms?: number[]; loss?: number; error?: string };
    if (!reply.ms) throw new Error(`The PyTorch peer answered: ${reply.error ?? line.value}`);
    return { ms: reply.ms, loss: reply.loss ?? NaN };
  }

  /** Ends the peer (EOF on its stdin) and waits for it. */
  async close(): Promise<void> {
    await this.#stdin.close();
    await this.#child.status;
  }
}

/** The lines of a byte stream, without their newlines. */
async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, nl);
      buf = buf.slice(nl + 1);
    }
  }
  if (buf) yield buf;
}
