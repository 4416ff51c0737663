/**
 * Running a suite: plan the cells, check where they go, run them one after another (bandit cells are
 * milliseconds; the session cache makes every cell of one algorithm and task share one ONNX session),
 * append each record durably as it finishes, then aggregate, write `results.json`, the report and the
 * manifest.
 *
 * Crash safety: the run folder appears with its manifest already inside, each finished cell is one
 * fsynced line of `results.jsonl`, and every other file is replaced atomically. A run killed at any
 * point resumes (`--resume runs/<id>`) by skipping the cells on record, and ends with the same
 * `results.json` as a run that was never interrupted. An abort (Ctrl-C) stops at the next step of the
 * current cell, which is dropped and runs again on resume.
 *
 * The steps are exported for runs whose cells go elsewhere (`jobs.ts`): {@link openRun} creates or
 * reopens the run folder, {@link finishRun} aggregates records in plan order into the results.
 *
 * @module
 */
import type { Registry } from "../algorithms/mod.ts";
import { BUILT_INS } from "../algorithms/mod.ts";
import * as ort from "npm:onnxruntime-node@1.30.0";
import { cpus, totalmem } from "node:os";
import denoJson from "../deno.json" with { type: "json" };
import type { EpChoice } from "../engine/runtime.ts";
import { Runtime } from "../engine/runtime.ts";
import { buildReport } from "../reports/report.ts";
import { checkpointsCsv, summaryCsv } from "../reports/tables.ts";
import type { BanditTask } from "../tasks/bandits.ts";
import { isTextTask, TEXT_TASKS } from "../tasks/text_tasks.ts";
import type { CellEnv, LoadedText, Proxy } from "./cell.ts";
import { loadText, runCell } from "./cell.ts";
import { Progress } from "./progress.ts";
import type { CellRecord, Environment, Manifest, Results, StatsSettings } from "../results/mod.ts";
import { budgetsFor, ConfigError } from "../results/mod.ts";
import { pairwiseAtMatchedKl, temperatureWinRates } from "./winrates.ts";
import { aggregate } from "./aggregate.ts";
import {
  appendRecord,
  canonicalJson,
  createDirAtomic,
  gitState,
  removeStaleTemporaries,
  runId,
  sha256,
  writeAtomic,
} from "./store.ts";
import type { RunRecords } from "./plan.ts";
import type { RunLock } from "./lock.ts";
import { acquireRunLock } from "./lock.ts";
import { gatherCellFiles, readRunRecords } from "./plan.ts";
import type { Cell, Suite } from "./suite.ts";
import { checkTextTaskInputs, planCells, suiteTextTasks } from "./suite.ts";
import { checkInput, checkOutputDir } from "./validate.ts";

/** Options of {@link runSuite}. */
export interface RunOptions {
  /** Folder that holds run folders (default `runs`). */
  out?: string;
  /** Resume this run folder instead of starting a new one. */
  resume?: string;
  /** Execution provider (default `cpu`). */
  ep?: EpChoice;
  /** Intra-op threads of ONNX Runtime (default 1, for reproducibility). */
  threads?: number;
  /** Progress and messages, one line each (default: stderr); null silences them. */
  log?: ((line: string) => void) | null;
  /** Raw writes to a terminal: progress becomes one live line rewritten in place. */
  live?: ((text: string) => void) | null;
  /** The terminal's width, for the live line. */
  columns?: () => number;
  /** Stops the run after saving what is finished (Ctrl-C). */
  signal?: AbortSignal;
  /** The algorithms the suite names (default: the built-ins): the suite's plugins must be in it. */
  registry?: Registry;
}

/** The outcome of a run. */
export interface RunOutcome {
  /** The run folder. */
  readonly dir: string;
  /** The finished run's results, as written to `results.json`. */
  readonly results: Results;
  /** Path of the run's HTML report (`report.html` in `dir`). */
  readonly reportPath: string;
  /** Wall-clock seconds this call took (a resume counts only its own part). */
  readonly wallSeconds: number;
}

/** Thrown by {@link runSuite} when its signal stopped it: the finished cells are on disk in `dir`. */
export class RunInterrupted extends Error {
  override name = "RunInterrupted";
  /** The run folder to resume. */
  readonly dir: string;
  /** Cells on record in `results.jsonl`, and in the plan. */
  readonly done: number;
  readonly total: number;

  /** `where`: the file or folder holding the saved cells (default `<dir>/results.jsonl`). */
  constructor(dir: string, done: number, total: number, where = `${dir}/results.jsonl`) {
    super(`Interrupted: ${done} of ${total} cells are saved in ${where}`);
    this.dir = dir;
    this.done = done;
    this.total = total;
  }
}

/**
 * The hash that identifies a suite's config (a resume must match it). A suite's `slurm` resources are
 * left out: where cells run does not change what they compute.
 */
export function configHash(suite: Suite): string {
  const { slurm: _, ...config } = suite as Suite & { slurm?: unknown };
  return sha256(canonicalJson(config));
}

/** A run folder opened by {@link openRun}: created with its manifest, or resumed, and ready for cells. */
export interface OpenRun {
  readonly dir: string;
  readonly suite: Suite;
  readonly manifest: Manifest<Suite>;
  readonly cells: readonly Cell[];
  /** Cells already on record (`results.jsonl` and `cells/`), by id. */
  readonly done: Map<string, CellRecord>;
  readonly env: CellEnv;
  readonly tasks: ReadonlyMap<string, BanditTask>;
  /** This process's provider, threads and versions. */
  readonly environment: Environment;
  /** The run folder's lock, held by this process until it releases it. */
  readonly lock: RunLock;
}

/**
 * Runs (or resumes) a suite in this process, one cell after another; returns where the run went. Bad
 * input throws a {@link ConfigError} before anything is written; an abort through `opts.signal` throws
 * {@link RunInterrupted} once the finished cells are on disk.
 */
export async function runSuite(
  suite: Suite,
  tasks: ReadonlyMap<string, BanditTask>,
  opts: RunOptions = {},
): Promise<RunOutcome> {
  const log = opts.log === undefined ? (l: string) => console.error(l) : opts.log;
  const t0 = performance.now();
  const run = await openRun(suite, tasks, opts);
  try {
    return await runCells(run);
  } finally {
    await run.lock.release();
  }

  async function runCells(run: OpenRun): Promise<RunOutcome> {
    const { dir, cells, done, env } = run;
    const jsonl = `${dir}/results.jsonl`;
    const progress = runProgress(run, log, opts);
    // A task built mid-run logs through the progress line, so its lines never land inside the live one.
    const runEnv: CellEnv = progress ? { ...env, log: (line) => progress.message(line) } : env;
    const records: CellRecord[] = [];
    let interrupted = false;
    for (const cell of cells) {
      const finished = done.get(cell.id);
      if (finished) {
        records.push(finished);
        continue;
      }
      if (opts.signal?.aborted) {
        interrupted = true;
        break;
      }
      progress?.start(cell);
      const rec = await runCell(cell, runEnv, {
        ...(opts.signal ? { signal: opts.signal } : {}),
        onStep: (step) => progress?.step(step),
        onCheckpoint: (ck) => progress?.checkpoint(ck.kl, ck.reward),
      });
      if (!rec) {
        interrupted = true;
        break;
      }
      await appendRecord(jsonl, rec);
      done.set(cell.id, rec);
      records.push(rec);
      progress?.finish(cell, rec);
    }
    progress?.clear();
    if (interrupted) throw new RunInterrupted(dir, done.size, cells.length);
    const { results, reportPath } = await finishRun(run, records, run.environment, env);
    return { dir, results, reportPath, wallSeconds: (performance.now() - t0) / 1000 };
  }
}

/**
 * Checks a suite and creates its run folder (manifest inside) under `opts.out`, or reopens the run
 * `opts.resume` (same config; its manifest records the resume); reads the cells on record. Bad input
 * throws a {@link ConfigError} before anything is written.
 */
export async function openRun(
  suite: Suite,
  tasks: ReadonlyMap<string, BanditTask>,
  opts: Omit<RunOptions, "signal" | "live" | "columns"> = {},
): Promise<OpenRun> {
  const log = opts.log === undefined ? (l: string) => console.error(l) : opts.log;
  const hash = configHash(suite);
  const registry = opts.registry ?? BUILT_INS;
  const cells = planCells(suite, registry);
  if (cells.length === 0) throw new ConfigError(`Suite "${suite.name}" plans no cell`, "algorithms");
  for (const t of suite.tasks) {
    if (!tasks.has(t) && !isTextTask(t) && suite.textTasks?.[t] === undefined) {
      throw new ConfigError(`Cannot run task "${t}": it is not loaded`, "tasks");
    }
  }
  // Everything that can be checked is checked before the runtime loads or anything is written.
  await checkJudge(suite);
  await checkTextTaskInputs(suite);
  let prior: RunRecords | null = null, manifest: Manifest<Suite> | null = null, lock: RunLock | null = null;
  if (opts.resume) {
    manifest = await readManifest(opts.resume);
    if (manifest.configHash !== hash) {
      throw new ConfigError(
        `Cannot resume "${opts.resume}" (--resume): it was started with another config ` +
          `(hash ${manifest.configHash.slice(0, 12)}, this one ${hash.slice(0, 12)}); ` +
          `resume with --resume alone to use the run's own config`,
        "--resume",
      );
    }
    lock = await acquireRunLock(opts.resume, { flag: "--resume", log });
    try {
      prior = await readRunRecords(opts.resume, cells);
    } catch (e) {
      await lock.release();
      throw new ConfigError(`Cannot resume "${opts.resume}" (--resume): ${(e as Error).message}`, "--resume");
    }
  } else await checkOutputDir(opts.out ?? "runs");
  try {
    return await openedRun();
  } catch (e) {
    await lock?.release();
    throw e;
  }

  async function openedRun(): Promise<OpenRun> {
    const rt = await Runtime.create({ ep: opts.ep ?? "cpu", threads: opts.threads ?? 1, log });
    const environment = describeEnvironment(rt);
    let dir: string;
    if (manifest && opts.resume) {
      dir = opts.resume;
      if (manifest.environment && canonicalJson(manifest.environment) !== canonicalJson(environment)) {
        log?.(
          `warning: "${dir}" was started with ${describe(manifest.environment)}; resuming with ${
            describe(environment)
          }: results may differ from an uninterrupted run`,
        );
      }
      const git = await gitState();
      if (git.commit !== manifest.gitCommit || git.dirty || manifest.gitDirty) {
        log?.(
          `warning: "${dir}" was started at commit ${manifest.gitCommit ?? "(none)"}${
            manifest.gitDirty ? " (dirty)" : ""
          }; resuming at ${git.commit ?? "(none)"}${
            git.dirty ? " (dirty)" : ""
          }: the code may differ between its cells`,
        );
      }
      manifest.resumes.push({
        at: new Date().toISOString(),
        environment,
        gitCommit: git.commit,
        gitDirty: git.dirty,
      });
      await removeStaleTemporaries(dir);
      // Drop a torn last line before appending, so the next record starts on a line of its own.
      if (prior?.torn) {
        await writeAtomic(`${dir}/results.jsonl`, prior.jsonl.map((r) => JSON.stringify(r) + "\n").join(""));
      }
      await writeAtomic(`${dir}/manifest.json`, JSON.stringify(manifest, null, 2) + "\n");
    } else {
      manifest = await newManifest(suite, environment, registry);
      dir = await createDirAtomic(opts.out ?? "runs", runId(new Date(manifest.startedAt), hash), {
        "manifest.json": JSON.stringify(manifest, null, 2) + "\n",
      });
      lock = await acquireRunLock(dir, { flag: "--out", log });
    }
    return {
      dir,
      suite,
      manifest,
      cells,
      done: new Map(prior?.records ?? []),
      env: cellEnv(suite, rt, tasks, registry),
      tasks,
      environment,
      lock: lock!,
    };
  }
}

/**
 * The manifest of a new run of `suite` in `environment` (this machine, this commit, started now).
 * Nothing is written.
 */
export async function newManifest(
  suite: Suite,
  environment: Environment,
  registry: Registry = BUILT_INS,
): Promise<Manifest<Suite>> {
  const git = await gitState();
  return {
    harness: `prefbench ${denoJson.version}`,
    gitCommit: git.commit,
    gitDirty: git.dirty,
    suite,
    configHash: configHash(suite),
    deno: Deno.version.deno,
    onnxruntime: environment.onnxruntime,
    executionProvider: environment.executionProvider,
    threads: environment.threads,
    environment,
    machine: {
      os: Deno.build.os,
      arch: Deno.build.arch,
      cpu: cpus()[0]?.model ?? "unknown",
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      gpu: await gpuModel(),
    },
    seeds: suite.seeds,
    cells: planCells(suite, registry).length,
    startedAt: new Date().toISOString(),
    resumes: [],
    finishedAt: null,
  };
}

/** What every cell of a run shares: the runtime, the tasks and the per-run caches (empty). */
export function cellEnv(
  suite: Suite,
  rt: Runtime,
  tasks: ReadonlyMap<string, BanditTask>,
  registry: Registry = BUILT_INS,
): CellEnv {
  return {
    rt,
    registry,
    tasks,
    checkpoints: suite.checkpoints,
    rewardModel: suite.rewardModel,
    proxies: new Map<string, Promise<Proxy>>(),
    texts: new Map<string, Promise<LoadedText>>(),
    divergence: suite.divergence,
    ...(suite.judge ? { judge: suite.judge } : {}),
    ...(suite.textTasks ? { textSpecs: suiteTextTasks(suite) } : {}),
  };
}

/** The progress display of a run (null when `log` is null), with its opening notes. */
export function runProgress(
  run: Pick<OpenRun, "dir" | "cells" | "done" | "suite">,
  log: ((line: string) => void) | null,
  opts: Pick<RunOptions, "live" | "columns"> & { readonly workers?: number },
): Progress | null {
  const { dir, cells, done, suite } = run;
  const progress = log
    ? new Progress({
      total: cells.length,
      done: done.size,
      remaining: cells.filter((c) => !done.has(c.id)),
      ...(opts.workers ? { workers: opts.workers } : {}),
      log,
      live: opts.live ?? null,
      ...(opts.columns ? { columns: opts.columns } : {}),
    })
    : null;
  if (done.size > 0) progress?.message(`resuming "${dir}": ${done.size} of ${cells.length} cells on record`);
  if (suite.seeds.length < 3) {
    progress?.message(
      `note: ${suite.seeds.length} seed(s): intervals across seeds need at least 3 to say much (the default is 3)`,
    );
  }
  return progress;
}

/**
 * Finishes a run whose every cell is on record: `records` in plan order are aggregated (judged win
 * rates included) into `results.json`, the report and the manifest's end time. Records that worker
 * processes left in `cells/` are first gathered into `results.jsonl` (in plan order) and the folder
 * removed, so a finished run reads the same however its cells ran. `env` may be a function, called
 * only when judging needs a runtime (a merge on a login node never loads one otherwise).
 */
export async function finishRun(
  run: Pick<OpenRun, "dir" | "suite" | "manifest" | "tasks">,
  records: readonly CellRecord[],
  environment: Environment,
  env: CellEnv | (() => Promise<CellEnv>) = () => Promise.reject(new Error("no runtime")),
): Promise<{ results: Results; reportPath: string }> {
  const { dir, suite, manifest, tasks } = run;
  const jsonl = `${dir}/results.jsonl`;
  await gatherCellFiles(dir, records);
  const finishedAt = new Date().toISOString();
  const results = aggregate(
    {
      suite: suite.name,
      configHash: manifest.configHash,
      startedAt: manifest.startedAt,
      finishedAt,
      environment,
    },
    [...records],
    { bandits: tasks, text: new Map([...TEXT_TASKS, ...suiteTextTasks(suite)]), stats: suite.stats },
  );
  try {
    if (records.some((c) => c.temperatureWins)) {
      await addJudgedWinRates(results, typeof env === "function" ? await env() : env, records, suite.stats);
    }
  } catch (e) {
    // Every cell is on disk: a judge that failed (an endpoint down) costs only the judging.
    throw new Error(
      `Judging the pairwise win rates failed: ${(e as Error).message}. Every cell is saved in ` +
        `${jsonl}; once the judge works, finish with: deno task bench --resume ${dir}`,
    );
  }
  await writeAtomic(`${dir}/results.json`, JSON.stringify(results) + "\n");
  await writeAtomic(`${dir}/summary.csv`, summaryCsv(results));
  await writeAtomic(`${dir}/checkpoints.csv`, checkpointsCsv(results));
  const reportPath = `${dir}/report.html`;
  manifest.finishedAt = finishedAt; // the report shows the manifest as it will be on disk
  await writeAtomic(
    reportPath,
    await buildReport(results, manifest, { runId: dir.slice(dir.lastIndexOf("/") + 1) }),
  );
  await writeAtomic(`${dir}/manifest.json`, JSON.stringify(manifest, null, 2) + "\n");
  return { results, reportPath };
}

/** The suite's judge, checked before anything runs: its ONNX file parses, its API key is set. */
export async function checkJudge(suite: Suite): Promise<void> {
  const j = suite.judge;
  if (j?.kind === "onnx") await checkInput(j.path, "onnx", { field: "judge.path", config: suite.file });
  if (j?.kind === "chat" && j.apiKeyEnv !== undefined && Deno.env.get(j.apiKeyEnv) === undefined) {
    throw new ConfigError(
      `Cannot use the chat judge of "${suite.file}": judge.api_key_env names "${j.apiKeyEnv}", which is not set`,
      "judge.api_key_env",
    );
  }
}

/**
 * Judged text tasks: win rates per temperature (from the cells' sweeps) and every pair of series judged
 * at matched KL (from the completions the checkpoints kept), added to `results` in place.
 */
async function addJudgedWinRates(
  results: Results,
  env: CellEnv,
  records: readonly CellRecord[],
  stats: StatsSettings,
): Promise<void> {
  const judgedTasks = [...new Set(records.filter((c) => c.temperatureWins).map((c) => c.task))];
  if (judgedTasks.length === 0) return;
  results.temperatureWinRates = temperatureWinRates(records, stats);
  results.pairwise = {};
  results.judges = {};
  for (const name of judgedTasks) {
    const t = await loadText(env, name);
    if (!t.judged) continue;
    results.judges[name] = t.judged.judge.name;
    results.pairwise[name] = await pairwiseAtMatchedKl(name, records, {
      env: t.env,
      judge: t.judged.judge,
      budgets: results.tasks[name]?.budgets ?? budgetsFor("text"),
    }, stats);
  }
}

/** Reads and checks a run folder's manifest; errors name the folder and `flag` (`--resume`, `--run`). */
export async function readManifest(dir: string, flag = "--resume"): Promise<Manifest<Suite>> {
  const verb = flag === "--resume" ? "resume" : "use";
  const fail = (why: string): never => {
    throw new ConfigError(`Cannot ${verb} "${dir}" (${flag}): ${why}`, flag);
  };
  try {
    if (!(await Deno.stat(dir)).isDirectory) fail("it is not a folder");
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    fail(e instanceof Deno.errors.NotFound ? "no such folder" : String((e as Error).message));
  }
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/manifest.json`);
  } catch (e) {
    return fail(
      e instanceof Deno.errors.NotFound
        ? "it has no manifest.json, so it is not a prefbench run folder"
        : `manifest.json cannot be read (${(e as Error).message})`,
    );
  }
  let m: Partial<Manifest<Suite>>;
  try {
    m = JSON.parse(text);
  } catch (e) {
    return fail(`manifest.json is not valid JSON (${(e as Error).message})`);
  }
  if (
    typeof m !== "object" || m === null || typeof m.configHash !== "string" || typeof m.suite !== "object"
  ) {
    fail("manifest.json lacks configHash or suite: it was not written by this version of prefbench");
  }
  // Runs started before resumes were recorded resume too.
  return { resumes: [], ...m } as Manifest<Suite>;
}

/** Provider, threads and versions: what a byte-level difference between two machines would come from. */
export function describeEnvironment(rt: Pick<Runtime, "provider" | "threads">): Environment {
  const versions = ort.env.versions as Record<string, string | undefined>;
  return {
    executionProvider: rt.provider,
    threads: rt.threads,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    onnxruntime: versions.common ?? versions.node ?? "unknown",
    os: Deno.build.os,
    arch: Deno.build.arch,
  };
}

function describe(e: Environment): string {
  return `${e.executionProvider}, ${e.threads} thread(s), Deno ${e.deno}, ONNX Runtime ${e.onnxruntime}, ${e.os}/${e.arch}`;
}

/** The GPU model(s) on this machine as `nvidia-smi` names them, or null (no NVIDIA GPU or driver). */
async function gpuModel(): Promise<string | null> {
  try {
    const out = await new Deno.Command("nvidia-smi", {
      args: ["--query-gpu=name", "--format=csv,noheader"],
      stdout: "piped",
      stderr: "null",
    }).output();
    const names = new TextDecoder().decode(out.stdout).split("\n").map((l) => l.trim()).filter(Boolean);
    return out.success && names.length > 0 ? names.join(", ") : null;
  } catch {
    return null;
  }
}
