/** Driving `bench/cli.ts` as a child process, for the end-to-end tests. */

/** Path of the bench CLI. */
export const CLI = new URL("../bench/cli.ts", import.meta.url).pathname;

/** The results.json fields that hold wall-clock time, and so differ between identical runs. */
export const WALL_CLOCK = new Set(["wallSeconds", "startedAt", "finishedAt"]);

/** results.json without its wall-clock fields, re-serialized in the same key order. */
export function strip(text: string): string {
  return JSON.stringify(JSON.parse(text, (k, v) => (WALL_CLOCK.has(k) ? undefined : v)));
}

/** Starts `deno run -A bench/cli.ts ...args` with piped output. */
export function spawnBench(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}
