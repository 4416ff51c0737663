/**
 * Cells in other processes: `run-cell` (one cell, or a worker that takes cell indices on stdin), `merge`
 * (results and report of a run whose cells are all on record) and the `--jobs N` pool that drives N
 * workers on this machine.
 *
 * A worker reads everything from the run folder — the suite from its manifest, the provider and thread
 * count the manifest records — so every process runs the same config, and writes each record to
 * `cells/<index>.json` (see `plan.ts`). A cell's result depends only on its id and seed: its random
 * streams are keyed by them, and the per-run caches a worker fills (proxy reward models per task and
 * seed, text tasks, preference pairs per seed) are deterministic functions of their keys, so a worker
 * that recomputes them gets the same values. The merge orders records by the plan, so `results.json`
 * is the same bytes (wall-clock fields aside) however many processes ran the cells, in whatever order.
 *
 * Kills: a worker killed mid-cell leaves that cell off the record (it runs again on resume); a parent
 * killed outright closes its workers' stdin, and each finishes the cell it holds, records it, and exits.
 * A cell recorded twice counts once.
 *
 * @module
 */
import type { EpChoice } from "../engine/runtime.ts";
import { Runtime } from "../engine/runtime.ts";
import type { BanditTask } from "../tasks/bandits.ts";
import { loadBanditTasks } from "../tasks/bandits.ts";
import { TEXT_TASKS } from "../tasks/text_tasks.ts";
import { runCell } from "./cell.ts";
import { cellFile, indexRanges, missingCells, readRunRecords, writeCellRecord } from "./plan.ts";
import type { CellRecord, Environment, Manifest } from "../results/mod.ts";
import type { OpenRun, RunOptions, RunOutcome } from "./run.ts";
import {
  cellEnv,
  checkJudge,
  configHash,
  describeEnvironment,
  finishRun,
  newManifest,
  openRun,
  readManifest,
  RunInterrupted,
  runProgress,
} from "./run.ts";
import { canonicalJson, createDirAtomic, gitState, runId } from "./store.ts";
import type { Cell, Suite } from "./suite.ts";
import { checkTextTaskInputs, planCells } from "./suite.ts";
import { ConfigError } from "../results/mod.ts";
import type { Registry } from "../algorithms/mod.ts";
import { BUILT_INS } from "../algorithms/mod.ts";
import { loadRunPlugins } from "./plugins.ts";
import { acquireRunLock } from "./lock.ts";

const CLI = new URL("./cli.ts", import.meta.url);
const CONFIG = new URL("../deno.json", import.meta.url);

/** An existing run folder, checked: its manifest, its suite and plan, the bandit tasks. */
export interface RunFolder {
  readonly dir: string;
  readonly manifest: Manifest<Suite>;
  readonly suite: Suite;
  readonly cells: readonly Cell[];
  readonly tasks: ReadonlyMap<string, BanditTask>;
  /** The built-in algorithms and the run's plugins (loaded, checked against their recorded hashes). */
  readonly registry: Registry;
}

/**
 * Opens the run folder `dir` for a worker, a merge or a resubmission: its manifest must be whole and its
 * config must still plan with today's algorithms and tasks. Errors are {@link ConfigError}s naming the
 * folder and `flag`.
 */
export async function openRunFolder(dir: string, flag = "--run"): Promise<RunFolder> {
  const manifest = await readManifest(dir, flag);
  const fail = (why: string): never => {
    throw new ConfigError(`Cannot use "${dir}" (${flag}): ${why}`, flag);
  };
  const suite = manifest.suite;
  if (configHash(suite) !== manifest.configHash) {
    fail("its manifest's suite does not hash to its configHash (was manifest.json edited?)");
  }
  const { tasks, registry } = await loadRunPlugins(suite.plugins, {
    registry: BUILT_INS,
    tasks: await loadBanditTasks(),
  });
  let cells: Cell[] = [];
  try {
    for (const t of suite.tasks) {
      if (!tasks.has(t) && !TEXT_TASKS.has(t) && suite.textTasks?.[t] === undefined) {
        throw new RangeError(`unknown task "${t}"`);
      }
    }
    cells = planCells(suite, registry);
  } catch (e) {
    fail(`its config no longer validates: ${(e as Error).message}`);
  }
  if (manifest.cells !== undefined && manifest.cells !== cells.length) {
    fail(`its manifest says ${manifest.cells} cells, but its config plans ${cells.length}`);
  }
  return { dir, manifest, suite, cells, tasks, registry };
}

/** How {@link runCells} takes its cells. */
export type CellSource =
  /** One cell, by its index in the plan. */
  | { readonly index: number }
  /** A worker of the `--jobs` pool: indices on stdin, one per line; a JSON line on stdout per cell. */
  | { readonly worker: true };

/**
 * `run-cell`: runs cells of the run folder `run.dir` in this process with the run's own provider and
 * threads, and writes each record to `cells/<index>.json`. Returns the exit code: 0 every cell ok (or
 * already on record), 1 a cell failed (its record is written), 130 interrupted through `signal` (the
 * cell in hand is dropped).
 */
export async function runCells(
  run: RunFolder,
  source: CellSource,
  opts: { log?: (line: string) => void; signal?: AbortSignal } = {},
): Promise<number> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const { dir, manifest, cells } = run;
  if ("index" in source && cells[source.index] === undefined) {
    throw new ConfigError(
      `Cannot parse the command line: --index = ${source.index} is not allowed (allowed: an integer in ` +
        `[0, ${cells.length - 1}]: "${dir}" plans ${cells.length} cells)`,
      "--index",
    );
  }
  if ("index" in source && await onRecord(run, cells[source.index]!)) {
    log(`cell ${source.index} (${cells[source.index]!.id}) is already on record in "${dir}": nothing to run`);
    return 0;
  }
  const rt = await Runtime.create({
    ep: manifest.executionProvider as EpChoice,
    threads: manifest.threads,
    log,
  });
  await warnIfDifferent(manifest, describeEnvironment(rt), log);
  const env = cellEnv(run.suite, rt, run.tasks, run.registry);
  const signal = opts.signal;
  if ("index" in source) {
    const cell = cells[source.index]!;
    const rec = await runCell(cell, env, signal ? { signal } : {});
    if (!rec) return 130;
    await writeCellRecord(dir, cell, rec);
    const last = rec.checkpoints.at(-1);
    log(
      `cell ${cell.index}/${cells.length} ${cell.id}: ${rec.status} in ${rec.wallSeconds.toFixed(2)}s` +
        (last ? `, reward ${last.reward.toFixed(3)} KL ${last.kl.toFixed(3)}` : "") +
        (rec.error ? `: ${rec.error}` : ""),
    );
    return rec.status === "ok" ? 0 : 1;
  }
  let code = 0;
  for await (const line of lines(Deno.stdin.readable)) {
    if (line.trim() === "") continue;
    const index = Number(line);
    const cell = Number.isInteger(index) ? cells[index] : undefined;
    if (!cell) throw new Error(`run-cell --worker: "${line}" is not a cell index of "${dir}"`);
    if (signal?.aborted) return 130;
    const rec = await runCell(cell, env, signal ? { signal } : {});
    if (!rec) return 130;
    await writeCellRecord(dir, cell, rec);
    if (rec.status !== "ok") code = 1;
    await writeAll(Deno.stdout, JSON.stringify({ index, status: rec.status }) + "\n");
  }
  return code;
}

/** Whether `cell` is already on record in the run (a requeued Slurm task must not run it again). */
async function onRecord(run: RunFolder, cell: Cell): Promise<boolean> {
  try {
    await Deno.stat(cellFile(run.dir, cell.index));
    return true;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const { records } = await readRunRecords(run.dir, run.cells);
  return records.has(cell.id);
}

/** A worker on another provider, versions or commit than the run's manifest says: warn, as a resume does. */
async function warnIfDifferent(
  manifest: Manifest<Suite>,
  environment: Environment,
  log: (l: string) => void,
) {
  if (manifest.environment && canonicalJson(manifest.environment) !== canonicalJson(environment)) {
    const e = environment, m = manifest.environment;
    log(
      `warning: this worker runs ${e.executionProvider}, ${e.threads} thread(s), Deno ${e.deno}, ONNX Runtime ` +
        `${e.onnxruntime}, ${e.os}/${e.arch}; the run was started with ${m.executionProvider}, ${m.threads} ` +
        `thread(s), Deno ${m.deno}, ONNX Runtime ${m.onnxruntime}, ${m.os}/${m.arch}: its cells may differ`,
    );
  }
  const git = await gitState();
  if (git.commit !== manifest.gitCommit) {
    log(
      `warning: this worker runs commit ${git.commit ?? "(none)"}, the run was started at ` +
        `${manifest.gitCommit ?? "(none)"}: the code may differ between its cells`,
    );
  }
}

/**
 * `merge`: builds `results.json`, the report and the manifest's end time of a run whose every cell is
 * on record (in `results.jsonl` or `cells/`). Throws naming the missing cells and how to run them.
 */
export async function mergeRun(
  run: RunFolder,
): Promise<{ results: RunOutcome["results"]; reportPath: string }> {
  const lock = await acquireRunLock(run.dir, { flag: "--run", log: null });
  try {
    return await merge(run);
  } finally {
    await lock.release();
  }
}

async function merge(run: RunFolder): Promise<{ results: RunOutcome["results"]; reportPath: string }> {
  const { dir, manifest, suite, cells, tasks } = run;
  let records: Map<string, CellRecord>;
  try {
    ({ records } = await readRunRecords(dir, cells));
  } catch (e) {
    throw new ConfigError(`Cannot use "${dir}" (--run): ${(e as Error).message}`, "--run");
  }
  const missing = missingCells(cells, records);
  if (missing.length > 0) {
    throw new CellsMissing(
      `Cannot merge "${dir}": ${missing.length} of ${cells.length} cells are not on record (indices ` +
        `${indexRanges(missing.map((c) => c.index))}). Run them with: deno task bench --resume ${dir} ` +
        `[--jobs N], or on Slurm: deno task bench slurm submit --resume ${dir}`,
    );
  }
  const environment = manifest.environment ?? describeEnvironment({
    provider: manifest.executionProvider as Runtime["provider"],
    threads: manifest.threads,
  });
  const ordered = cells.map((c) => records.get(c.id)!);
  return await finishRun({ dir, suite, manifest, tasks }, ordered, environment, async () =>
    cellEnv(
      suite,
      await Runtime.create({ ep: manifest.executionProvider as EpChoice, threads: manifest.threads }),
      tasks,
      run.registry,
    ));
}

/** A merge, or a `--jobs` run, that ended with cells off the record (a worker died): exit code 1. */
export class CellsMissing extends Error {
  override name = "CellsMissing";
}

/**
 * Creates the run folder of `suite` under `opts.out` (default `runs`) holding its manifest, without
 * loading a runtime: for `plan --out` and `slurm submit`, whose cells run elsewhere. The provider must
 * be named (`auto` would resolve differently on each machine). Returns the folder.
 */
export async function createRunFolder(
  suite: Suite,
  opts: { out?: string; ep?: EpChoice; threads?: number; flag?: string; registry?: Registry },
): Promise<string> {
  const ep = opts.ep ?? "cpu";
  if (ep === "auto") {
    throw new ConfigError(
      `Cannot parse the command line: --ep = "auto" is not allowed here (allowed: cpu, cuda, webgpu): ` +
        `every worker of ${
          opts.flag ?? "a shared run"
        } must run the same provider, and auto picks per machine`,
      "--ep",
    );
  }
  await checkJudge(suite);
  await checkTextTaskInputs(suite);
  const environment = describeEnvironment({ provider: ep, threads: opts.threads ?? 1 });
  const manifest = await newManifest(suite, environment, opts.registry);
  return await createDirAtomic(opts.out ?? "runs", runId(new Date(manifest.startedAt), manifest.configHash), {
    "manifest.json": JSON.stringify(manifest, null, 2) + "\n",
  });
}

/** Options of {@link runSuiteParallel}. */
export interface ParallelOptions extends RunOptions {
  /** Worker processes (≥ 1). */
  readonly jobs: number;
}

/**
 * Runs (or resumes) a suite with `opts.jobs` worker processes on this machine, each running
 * `bench/cli.ts run-cell --worker` with the run's provider and `--threads` threads (so a cell runs
 * exactly as it would in one process); this process hands out cell indices as workers finish, shows a
 * line per finished cell and merges at the end. Throws {@link RunInterrupted} after an abort (the
 * workers are stopped; finished cells are on disk) and {@link CellsMissing} when a worker died in a cell.
 */
export async function runSuiteParallel(
  suite: Suite,
  tasks: ReadonlyMap<string, BanditTask>,
  opts: ParallelOptions,
): Promise<RunOutcome> {
  const t0 = performance.now();
  const run = await openRun(suite, tasks, opts);
  try {
    return await runParallel(run, opts, t0);
  } finally {
    await run.lock.release();
  }
}

/** {@link runSuiteParallel} on an opened run whose lock this process holds. */
async function runParallel(run: OpenRun, opts: ParallelOptions, t0: number): Promise<RunOutcome> {
  const log = opts.log === undefined ? (l: string) => console.error(l) : opts.log;
  const { dir, cells, done } = run;
  const progress = runProgress(run, log, { ...opts, workers: opts.jobs });
  const todo = missingCells(cells, done);
  const queue = chunks(todo, opts.jobs);
  const lost: string[] = [];
  const workers = new Set<Deno.ChildProcess>();
  const stop = () => {
    for (const w of workers) {
      try {
        w.kill("SIGINT"); // the worker drops the cell in hand and exits
      } catch { /* already gone */ }
    }
  };
  opts.signal?.addEventListener("abort", stop);

  /** One worker slot: a process takes chunks of cells until none is left; one that dies is replaced. */
  const slot = async (k: number): Promise<void> => {
    while (queue.length > 0 && !opts.signal?.aborted) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", CONFIG.pathname, CLI.pathname, "run-cell", "--run", dir, "--worker"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      workers.add(child);
      const stderr = (async () => {
        for await (const line of lines(child.stderr)) log?.(`worker ${k} (pid ${child.pid}): ${line}`);
      })();
      const stdin = child.stdin.getWriter();
      const enc = new TextEncoder();
      // The cells sent to this worker and not yet reported, in the order it runs them.
      let inHand: number[] = [];
      const next = async () => {
        const chunk = opts.signal?.aborted ? undefined : queue.shift();
        inHand = chunk ?? [];
        try {
          if (!chunk) await stdin.close();
          else await stdin.write(enc.encode(chunk.map((i) => `${i}\n`).join("")));
        } catch { /* the worker is gone; its status says why */ }
      };
      await next();
      for await (const line of lines(child.stdout)) {
        const index = reportedIndex(line);
        const cell = index === null ? undefined : cells[index];
        if (index === null || !cell) {
          log?.(`worker ${k} (pid ${child.pid}): ${line}`); // not a report: something else wrote to stdout
          continue;
        }
        const rec = JSON.parse(await Deno.readTextFile(cellFile(dir, index))) as CellRecord;
        done.set(cell.id, rec);
        progress?.finish(cell, rec);
        inHand = inHand.filter((i) => i !== index);
        if (inHand.length === 0) await next();
      }
      const status = await child.status;
      await stderr;
      workers.delete(child);
      if (inHand.length === 0) return;
      if (opts.signal?.aborted) return; // interrupted: the cells in hand run again on resume
      // The cell it was running is not retried here (a cell that kills its process would kill every
      // retry): a resume runs it. The rest of its chunk goes back to the queue. Every death consumes a
      // cell, so replacing the worker always ends.
      const [running, ...rest] = inHand;
      if (rest.length > 0) queue.unshift(rest);
      const cell = cells[running!]!;
      lost.push(
        `worker ${k} (pid ${child.pid}) ${
          status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`
        } while running cell ${cell.index} (${cell.id})`,
      );
      progress?.message(`${lost.at(-1)}: it is not on record; a new worker takes the next cells`);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.jobs, todo.length) }, (_, k) => slot(k + 1)));
  } finally {
    opts.signal?.removeEventListener("abort", stop);
    progress?.clear();
  }
  // A worker killed between writing its record and saying so still left the record: read the disk.
  for (const [id, rec] of (await readRunRecords(dir, cells)).records) if (!done.has(id)) done.set(id, rec);
  if (opts.signal?.aborted) {
    throw new RunInterrupted(dir, done.size, cells.length, `${dir} (results.jsonl and cells/)`);
  }
  const missing = missingCells(cells, done);
  if (missing.length > 0) {
    const why = lost.length > 3 ? [...lost.slice(0, 3), `${lost.length - 3} more`] : lost;
    throw new CellsMissing(
      `${missing.length} of ${cells.length} cells did not finish: ${why.join("; ")}. The other cells are ` +
        `saved in ${dir}; run the missing ones with: deno task bench --resume ${dir} --jobs ${opts.jobs}`,
    );
  }
  const records = cells.map((c) => done.get(c.id)!);
  const { results, reportPath } = await finishRun(run, records, run.environment, run.env);
  return { dir, results, reportPath, wallSeconds: (performance.now() - t0) / 1000 };
}

/**
 * The cells to run cut into chunks a worker takes at once: runs of one task and algorithm (so a worker
 * compiles that algorithm's graphs and fits that task's proxies once, instead of every worker doing
 * each), at most ⌈cells / (8·jobs)⌉ long so that the last chunks still spread over the workers.
 */
export function chunks(todo: readonly Cell[], jobs: number): number[][] {
  const max = Math.max(1, Math.ceil(todo.length / (8 * jobs)));
  const out: number[][] = [];
  let prev: Cell | null = null;
  for (const c of todo) {
    const last = out.at(-1);
    if (last && prev && prev.task === c.task && prev.algorithm === c.algorithm && last.length < max) {
      last.push(c.index);
    } else out.push([c.index]);
    prev = c;
  }
  return out;
}

/** The cell index of a worker's report line (`{"index":3,"status":"ok"}`), or null for any other line. */
function reportedIndex(line: string): number | null {
  try {
    const v = JSON.parse(line);
    return Number.isInteger(v?.index) ? v.index : null;
  } catch {
    return null;
  }
}

/** Lines of a byte stream (without their newlines); a last line without one is yielded too. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
  if (buf !== "") yield buf;
}

async function writeAll(w: { write(p: Uint8Array): Promise<number> }, text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  for (let off = 0; off < bytes.length;) off += await w.write(bytes.subarray(off));
}
