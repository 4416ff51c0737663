/**
 * `deno task bench:jobs`: the bandit part of the default suite (`tasks/quick.yaml` with its four bandit
 * tasks) run with `--jobs 1` and with `--jobs N` (default 2; `--jobs N` here sets it), each as the CLI
 * runs it, from process start to exit. Prints the wall times, the speed-up, and whether the two
 * results.json are byte-identical once the wall-clock fields are stripped (exit 1 if not).
 *
 * @module
 */
import { parseArgs } from "node:util";

const CLI = new URL("../bench/cli.ts", import.meta.url).pathname;
const BANDITS = "bandit.ipo-total-order,bandit.ipo-single-pair,bandit.ood,bandit.random";
const WALL_CLOCK = new Set(["wallSeconds", "startedAt", "finishedAt"]);

/** results.json without its wall-clock fields. */
function strip(text: string): string {
  return JSON.stringify(JSON.parse(text, (k, v) => (WALL_CLOCK.has(k) ? undefined : v)));
}

/**
 * CPU seconds (user + system) of this process's finished children and their own waited-for children
 * (`cutime` + `cstime` of /proc/self/stat), or null off Linux. On a machine shared with other work the
 * wall time says little; the CPU time shows what the pool itself costs.
 */
function childCpuSeconds(): number | null {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    // proc(5) fields 16 and 17 (cutime, cstime); after the ")" ending comm, field 3 comes first.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[13]) + Number(fields[14])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/** Runs the suite with `jobs` workers into `out`; returns the wall and CPU time and the results.json text. */
async function timed(
  jobs: number,
  out: string,
): Promise<{ seconds: number; cpu: number | null; results: string; cells: number }> {
  const t0 = performance.now(), cpu0 = childCpuSeconds();
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "--tasks", BANDITS, "--out", out, "--jobs", String(jobs), "--quiet"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - t0) / 1000, cpu1 = childCpuSeconds();
  const dec = new TextDecoder();
  if (!r.success) throw new Error(`--jobs ${jobs} failed:\n${dec.decode(r.stderr)}`);
  const report = dec.decode(r.stdout).trim().split("\n").at(-1)!.replace(/^report: /, "");
  const results = await Deno.readTextFile(report.replace(/report\.html$/, "results.json"));
  const cpu = cpu0 === null || cpu1 === null ? null : cpu1 - cpu0;
  return { seconds, cpu, results, cells: JSON.parse(results).cells.length };
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { jobs: { type: "string" } } });
  const jobs = Number(values.jobs ?? 2);
  if (!(Number.isInteger(jobs) && jobs >= 2)) {
    console.error(
      `bench:jobs: --jobs = ${JSON.stringify(values.jobs)} is not allowed (allowed: an integer ≥ 2)`,
    );
    Deno.exit(2);
  }
  const tmp = await Deno.makeTempDir({ prefix: "prefbench-jobs-bench-" });
  try {
    const loadBefore = Deno.build.os === "linux"
      ? Deno.readTextFileSync("/proc/loadavg").split(" ")[0]
      : null;
    const one = await timed(1, `${tmp}/one`);
    const many = await timed(jobs, `${tmp}/many`);
    const same = strip(one.results) === strip(many.results);
    const cpu = (c: number | null) => (c === null ? "" : `, ${c.toFixed(1)} CPU-s`);
    // Other work on the machine slows both runs unevenly; the load says how much there was.
    const load = loadBefore === null ? "" : `, load average ${loadBefore} before the runs`;
    console.log(
      `bandit tasks of tasks/quick.yaml: ${one.cells} cells, ${navigator.hardwareConcurrency} cores${load}`,
    );
    console.log(`--jobs 1: ${one.seconds.toFixed(1)} s${cpu(one.cpu)}`);
    console.log(`--jobs ${jobs}: ${many.seconds.toFixed(1)} s${cpu(many.cpu)}`);
    console.log(`speed-up: ${(one.seconds / many.seconds).toFixed(2)}×`);
    console.log(`results.json (wall-clock fields stripped): ${same ? "byte-identical" : "DIFFERENT"}`);
    if (!same) Deno.exitCode = 1;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}
