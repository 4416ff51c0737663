/**
 * `deno task bench`: run a suite and write `runs/<run-id>/{manifest.json, results.jsonl, results.json,
 * report.html}`. With no arguments it runs the embedded default suite (`tasks/quick.yaml`: the bandits and
 * `sentiment.small`). Progress goes
 * to stderr (a live line on a terminal, plain lines elsewhere); the last line on stdout is
 * `report: <path>`.
 *
 * Subcommands spread a run over processes and machines (see `jobs.ts`, `plan.ts`, `slurm.ts`): `plan`
 * prints the cells as JSON lines (and with `--out` creates the run folder), `run-cell` runs one cell of a
 * run folder, `merge` writes its results and report, `slurm submit` runs it as a Slurm job array; and
 * `--jobs N` runs the cells of a plain run in N worker processes.
 *
 * Every flag, the suite and the output folder are checked before any cell starts. Exit codes: 0 every
 * cell ok, 1 some cell failed (or an unexpected error), 2 bad input, 130 interrupted (Ctrl-C; what is
 * finished is saved, and the message says how to resume).
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Registry } from "../algorithms/mod.ts";
import { BUILT_INS, unknownName } from "../algorithms/mod.ts";
import { EP_CHOICES, type EpChoice } from "../engine/runtime.ts";
import type { BanditTask } from "../tasks/bandits.ts";
import { displayPath, loadBanditTasks } from "../tasks/bandits.ts";
import { TEXT_TASKS } from "../tasks/text_tasks.ts";
import type { RunOptions } from "./run.ts";
import { configHash, readManifest, RunInterrupted, runSuite } from "./run.ts";
import { createRunFolder, mergeRun, openRunFolder, runCells, runSuiteParallel } from "./jobs.ts";
import { missingCells, planLine, readRunRecords } from "./plan.ts";
import type { SlurmSettings } from "./slurm.ts";
import { checkSbatchValue, submit } from "./slurm.ts";
import type { Cell, Suite, SuiteOverrides } from "./suite.ts";
import { describeAlgorithms, overrideSuite, parseSeeds, parseSuite, planCells } from "./suite.ts";
import { checkInput, checkOutputDir } from "./validate.ts";
import { ConfigError } from "../results/mod.ts";
import type { Known } from "./plugins.ts";
import { loadPlugins, loadRunPlugins } from "./plugins.ts";
import { suitePluginSpecs } from "./suite.ts";
import { fromFileUrl, toFileUrl } from "./paths.ts";
import { aggregateLine, verdictLines } from "./verdict.ts";

/** The suite `deno task bench` runs when none is given. */
export const DEFAULT_SUITE = new URL("../tasks/quick.yaml", import.meta.url);

const HELP = `Usage: deno task bench [options]
       deno task bench plan [suite options] [--out <dir>] | plan --run <run-dir>
       deno task bench run-cell --run <run-dir> --index <i>
       deno task bench merge --run <run-dir>
       deno task bench slurm submit [suite options | --resume <run-dir>] [slurm options] [--dry-run]

Runs a suite of cells (task × algorithm × hyperparameters × seed), evaluates every checkpoint with the
same exact evaluator, and writes runs/<run-id>/{manifest.json, results.jsonl, results.json, report.html}.

Options:
  --suite <file>         suite YAML (default: the embedded tasks/quick.yaml)
  --plugin <file.ts>     load a module exporting algorithms and/or bandit tasks (repeatable; a suite
                         lists its own under plugins: [paths relative to the suite file]); with
                         --help, its algorithms are listed below
  --tasks <a,b>          run only these tasks (replaces the suite's list)
  --algorithms <a,b>     run only these algorithms (suite config kept; defaults if the suite omits one)
  --seeds <n | a,b,c>    a number of seeds (0..n-1) or a list
  --out <dir>            where run folders go (default: runs)
  --resume <run-dir>     finish an interrupted run with its own config (skips the cells on record)
  --ep <provider>        execution provider: ${EP_CHOICES.join(" | ")} (default: cpu)
  --threads <n>          ONNX Runtime intra-op threads per process running cells (default: 1; bandit
                         graphs are too small to share)
  --jobs <n>             run cells in n worker processes (default: 1, in this process); results are
                         the same bytes as with 1
  --quiet                no progress lines
  -h, --help             this help

Suite settings besides tasks and algorithms: seeds, checkpoints,
  divergence: { max_grad_norm: 1e6, max_kl: 100 }   a cell beyond these (or with a NaN/Inf loss) fails
  stats: { resamples: 2000, confidence: 0.95, seed: 0 }   IQM over seeds, stratified bootstrap intervals

Scaling out (a run folder shared by several processes, or a Slurm cluster):
  plan                   print the cells as JSON lines (index, id, task, algorithm, knob, seed, hparams);
                         with --out, also create the run folder (manifest only) and print its path on stderr
  run-cell               run one cell of a run folder (its suite, provider and threads come from its
                         manifest) into <run-dir>/cells/<i>.json
  merge                  results.json and report.html of a run whose cells are all on record
  slurm submit           write <run-dir>/slurm/{array,merge}.sbatch and submit them: a job array with one
                         task per cell (one per missing cell with --resume), then the merge, depending on it
    --cpus-per-task <n>  (default: --threads)   --mem <size> (e.g. 4G)   --time <limit> (e.g. 01:00:00)
    --partition <name>   --account <name>   --max-parallel <n> (array tasks at once)
    --deno <path>        the Deno executable on the compute nodes (default: this one)
    --dry-run            write the files and print the sbatch commands without submitting

Exit codes: 0 all cells ok, 1 some cell failed, 2 bad input, 130 interrupted (resume with --resume).

Algorithms and hyperparameters (a list in a suite sweeps, a scalar fixes; bandit default, then the
text default where it differs):
`;

const OPTIONS = {
  suite: { type: "string" },
  plugin: { type: "string", multiple: true },
  tasks: { type: "string" },
  algorithms: { type: "string" },
  seeds: { type: "string" },
  out: { type: "string" },
  resume: { type: "string" },
  ep: { type: "string" },
  threads: { type: "string" },
  jobs: { type: "string" },
  quiet: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type Flags = Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;
type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** A run, checked and ready: nothing has been written yet. */
export interface PreparedRun {
  readonly suite: Suite;
  readonly tasks: ReadonlyMap<string, BanditTask>;
  /** The built-in algorithms and the run's plugins'. */
  readonly registry: Registry;
  readonly options: Pick<RunOptions, "out" | "resume" | "ep" | "threads">;
  readonly quiet: boolean;
  /** Worker processes (`--jobs`, default 1: cells run in this process). */
  readonly jobs: number;
  /** Values of the flags a subcommand added (`extra` of {@link prepareRun}), unchecked. */
  readonly extra: FlagValues;
}

/** What a subcommand changes in {@link prepareRun}'s flags. */
export interface FlagSet {
  /** Flags of the subcommand besides the run's. */
  readonly extra?: Flags;
  /** Run flags the subcommand does not take. */
  readonly omit?: readonly (keyof typeof OPTIONS)[];
}

/**
 * Parses and checks everything a run needs — flags, the suite file, the tasks, the run folder to
 * resume or the folder to write to — without writing anything. Returns null for `--help`; throws a
 * {@link ConfigError} naming the field for any bad input.
 */
export async function prepareRun(args: readonly string[], set: FlagSet = {}): Promise<PreparedRun | null> {
  const options: Flags = { ...OPTIONS, ...set.extra };
  for (const k of set.omit ?? []) delete options[k];
  let values: {
    [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true } ? string[]
      : (typeof OPTIONS)[K]["type"] extends "string" ? string
      : boolean;
  };
  let all: FlagValues;
  try {
    all = parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values;
    values = all as typeof values;
  } catch (e) {
    throw argsError(e, options);
  }
  if (values.help) return null;
  const flagError = (flag: string, value: unknown, allowed: string): never => {
    throw new ConfigError(
      `Cannot parse the command line: ${flag} = ${
        JSON.stringify(value)
      } is not allowed (allowed: ${allowed})`,
      flag,
    );
  };
  let ep = values.ep as EpChoice | undefined;
  if (ep !== undefined && !EP_CHOICES.includes(ep)) flagError("--ep", ep, `one of ${EP_CHOICES.join(", ")}`);
  let threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= 1024)) {
    flagError("--threads", values.threads, "an integer in [1, 1024]");
  }
  const jobs = values.jobs === undefined ? 1 : Number(values.jobs);
  if (!(Number.isInteger(jobs) && jobs >= 1 && jobs <= 1024)) {
    flagError("--jobs", values.jobs, "an integer in [1, 1024]");
  }
  const base = { registry: BUILT_INS, tasks: await loadBanditTasks() };
  const pluginFlags = (values.plugin ?? []).map((path) => ({ path, field: "--plugin" }));
  const list = (s: string | undefined) => s?.split(",").map((x) => x.trim()).filter(Boolean);
  const overrides: SuiteOverrides = {};
  const t = list(values.tasks), a = list(values.algorithms);
  if (values.tasks !== undefined) {
    overrides.tasks = t?.length ? t : flagError("--tasks", values.tasks, "task names");
  }
  if (values.algorithms !== undefined) {
    overrides.algorithms = a?.length ? a : flagError("--algorithms", values.algorithms, "algorithm names");
  }
  if (values.seeds !== undefined) {
    const parts = list(values.seeds) ?? [];
    const nums = parts.map(Number);
    try {
      overrides.seeds = parseSeeds(parts.length === 1 && !values.seeds.includes(",") ? nums[0] : nums);
    } catch {
      flagError(
        "--seeds",
        values.seeds,
        "a count in [1, 10000] or a comma-separated list of distinct integers ≥ 0",
      );
    }
  }

  let suite: Suite, known: Known;
  const flagsGiven = values.suite !== undefined || Object.keys(overrides).length > 0 ||
    pluginFlags.length > 0;
  if (values.resume !== undefined) {
    if (values.out !== undefined) {
      throw new ConfigError(
        `Cannot parse the command line: --out cannot be combined with --resume (the run stays in "${values.resume}")`,
        "--out",
      );
    }
    const manifest = await readManifest(values.resume);
    const fail = (field: string, why: string): never => {
      throw new ConfigError(`Cannot resume "${values.resume}" (${field}): ${why}`, field);
    };
    // The run's plugins, as they were: a plugin whose file changed is refused, naming it.
    known = await loadRunPlugins(manifest.suite.plugins, base);
    ({ suite, known } = flagsGiven
      ? await suiteFromFlags(values.suite, overrides, pluginFlags, base)
      : { suite: manifest.suite, known });
    if (configHash(suite) !== manifest.configHash) {
      fail(
        "--resume",
        "it was started with another config; resume with --resume alone to use the run's own config",
      );
    }
    // The run's own settings, unless flags say otherwise; a different provider or thread count would
    // give different bytes, so it is refused rather than silently mixed.
    if (ep !== undefined && ep !== "auto" && ep !== manifest.executionProvider) {
      fail("--ep", `it ran on ${manifest.executionProvider}, not ${ep}`);
    }
    if (threads !== undefined && threads !== manifest.threads) {
      fail("--threads", `it ran with ${manifest.threads} thread(s), not ${threads}`);
    }
    ep = manifest.executionProvider as EpChoice;
    threads = manifest.threads;
    try {
      // The plugins and tasks of today must still accept the run's config.
      for (const task of suite.tasks) {
        if (!known.tasks.has(task) && !TEXT_TASKS.has(task) && suite.textTasks?.[task] === undefined) {
          throw new RangeError(`unknown task "${task}"`);
        }
      }
      planCells(suite, known.registry);
    } catch (e) {
      fail("--resume", `its config no longer validates: ${(e as Error).message}`);
    }
  } else {
    ({ suite, known } = await suiteFromFlags(values.suite, overrides, pluginFlags, base));
    await checkOutputDir(values.out ?? "runs");
  }
  if (planCells(suite, known.registry).length === 0) {
    throw new ConfigError(
      `Cannot parse config "${suite.file}": it plans no cell (no policy algorithm)`,
      "algorithms",
    );
  }
  return {
    suite,
    tasks: known.tasks,
    registry: known.registry,
    quiet: values.quiet ?? false,
    jobs,
    extra: Object.fromEntries(Object.keys(set.extra ?? {}).map((k) => [k, all[k]])),
    options: {
      ...(values.out !== undefined ? { out: values.out } : {}),
      ...(values.resume !== undefined ? { resume: values.resume } : {}),
      ...(ep !== undefined ? { ep } : {}),
      ...(threads !== undefined ? { threads } : {}),
    },
  };
}

/** Parses arguments and runs (or runs a subcommand); returns the process exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const [first, ...rest] = args;
  if (first === "plan" || first === "run-cell" || first === "merge" || first === "slurm") {
    try {
      return await SUBCOMMANDS[first](rest);
    } catch (e) {
      console.error(e instanceof Error ? e.message : String(e));
      return e instanceof ConfigError ? 2 : 1;
    }
  }
  let prepared: PreparedRun | null;
  try {
    prepared = await prepareRun(args);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return e instanceof ConfigError ? 2 : 1;
  }
  if (!prepared) return await printHelp(args);
  const tty = Deno.stderr.isTerminal();
  const encoder = new TextEncoder();
  const live = tty && !prepared.quiet
    ? (text: string) => void Deno.stderr.writeSync(encoder.encode(text))
    : null;
  const log = (line: string) => console.error(tty ? `\r\x1b[2K${line}` : line);
  const abort = new AbortController();
  const stop = () => {
    if (abort.signal.aborted) {
      console.error("\nInterrupted again: exiting now (finished cells are already on disk).");
      Deno.exit(130);
    }
    console.error("\nInterrupted: stopping after saving the finished cells (Ctrl-C again to exit at once).");
    abort.abort();
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  try {
    const opts: RunOptions = {
      ...prepared.options,
      log: prepared.quiet ? null : log,
      live,
      columns: () => {
        try {
          return Deno.consoleSize().columns;
        } catch {
          return 120; // not a terminal after all (redirected mid-run)
        }
      },
      signal: abort.signal,
      registry: prepared.registry,
    };
    const run = prepared.jobs > 1
      ? await runSuiteParallel(prepared.suite, prepared.tasks, { ...opts, jobs: prepared.jobs })
      : await runSuite(prepared.suite, prepared.tasks, opts);
    const failed = run.results.cells.filter((c) => c.status !== "ok").length;
    console.error(
      `${run.results.cells.length} cells in ${run.wallSeconds.toFixed(1)}s${
        failed ? `, ${failed} failed (listed in the report)` : ""
      }`,
    );
    if (!prepared.quiet) {
      for (const line of verdictLines(run.results.verdict ?? {})) console.error(line);
      const across = aggregateLine(run.results.aggregate);
      if (across) console.error(across);
    }
    console.log(`report: ${run.reportPath}`);
    return failed ? 1 : 0;
  } catch (e) {
    if (e instanceof RunInterrupted) {
      const jobs = prepared.jobs > 1 ? ` --jobs ${prepared.jobs}` : "";
      console.error(`${e.message}.\nResume with: deno task bench --resume ${e.dir}${jobs}`);
      return 130;
    }
    console.error(e instanceof Error ? e.message : String(e));
    return e instanceof ConfigError ? 2 : 1;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, stop);
  }
}

/**
 * The suite the flags name (or the default one), with its plugins and the `--plugin` ones loaded on
 * top of `base`, narrowed by the overrides.
 */
async function suiteFromFlags(
  suitePath: string | undefined,
  overrides: SuiteOverrides,
  pluginFlags: readonly { path: string; field: string }[],
  base: Pick<Known, "registry" | "tasks">,
): Promise<{ suite: Suite; known: Known }> {
  const url = suitePath ? toFileUrl(suitePath) : DEFAULT_SUITE;
  const file = displayPath(url);
  const text = suitePath
    ? (await checkInput(fromFileUrl(url), "text", { field: "--suite" })).value as string
    : await Deno.readTextFile(DEFAULT_SUITE);
  const known = await loadPlugins([...pluginFlags, ...suitePluginSpecs(text, file)], base);
  const tasks = [...known.tasks.keys(), ...TEXT_TASKS.keys()];
  const parsed = parseSuite(text, file, { tasks, registry: known.registry, plugins: known.plugins });
  return { suite: overrideSuite(parsed, overrides, tasks, known.registry), known };
}

/** `--help`: the flags, then every algorithm, with those of `--plugin` modules (loaded for it). */
async function printHelp(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: OPTIONS, strict: false, allowPositionals: true });
  const paths = ([] as unknown[]).concat(values.plugin ?? []).filter((p): p is string =>
    typeof p === "string"
  );
  try {
    const known = await loadPlugins(paths.map((path) => ({ path, field: "--plugin" })), {
      registry: BUILT_INS,
      tasks: new Map(),
    });
    console.log(HELP + describeAlgorithms(known.registry));
    return 0;
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return e instanceof ConfigError ? 2 : 1;
  }
}

/** A ConfigError for what `parseArgs` rejected, with a did-you-mean for a misspelt flag. */
function argsError(e: unknown, options: Flags = OPTIONS): ConfigError {
  const msg = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: string }).code;
  const flag = msg.match(/'(-{1,2}[^' ]+)/)?.[1] ?? "";
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const known = Object.keys(options).map((k) => `--${k}`);
    return new ConfigError(`Cannot parse the command line: ${unknownName("option", flag, known)}`, flag);
  }
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    const arg = msg.match(/'([^']*)'/)?.[1] ?? "";
    return new ConfigError(
      `Cannot parse the command line: unexpected argument "${arg}" (options take the form --name value; see --help)`,
      arg,
    );
  }
  return new ConfigError(`Cannot parse the command line: ${msg.split(".")[0]} (see --help)`, flag);
}

/** `plan`, `run-cell`, `merge` and `slurm`: each parses its own flags and returns an exit code. */
const SUBCOMMANDS: Record<"plan" | "run-cell" | "merge" | "slurm", (args: string[]) => Promise<number>> = {
  plan: planCommand,
  "run-cell": runCellCommand,
  merge: mergeCommand,
  slurm: slurmCommand,
};

const RUN_FLAG: Flags = { run: { type: "string" }, help: { type: "boolean", short: "h" } };

/** `plan`: the cells as JSON lines on stdout; with `--out`, the run folder too (its path on stderr). */
async function planCommand(args: string[]): Promise<number> {
  let cells: readonly Cell[];
  let dir: string | null = null;
  if (args.includes("--run") || args.some((a) => a.startsWith("--run="))) {
    const v = parseFlags(args, RUN_FLAG);
    cells = (await openRunFolder(requireFlag(v, "run", "plan --run <run-dir>"), "--run")).cells;
  } else {
    const p = await prepareRun(args, { omit: ["resume", "jobs", "quiet"] });
    if (!p) {
      console.log(HELP);
      return 0;
    }
    cells = planCells(p.suite, p.registry);
    if (p.options.out !== undefined) {
      dir = await createRunFolder(p.suite, { ...p.options, flag: "plan --out", registry: p.registry });
    }
  }
  await writeStdout(cells.map((c) => planLine(c) + "\n").join(""));
  if (dir) console.error(`run: ${dir}`);
  return 0;
}

/** `run-cell --run <dir> --index <i>` (or `--worker`: indices on stdin, for the `--jobs` pool). */
async function runCellCommand(args: string[]): Promise<number> {
  const v = parseFlags(args, { ...RUN_FLAG, index: { type: "string" }, worker: { type: "boolean" } });
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  const dir = requireFlag(v, "run", "run-cell --run <run-dir> --index <i>");
  if ((v.index === undefined) === !v.worker) {
    throw new ConfigError(
      "Cannot parse the command line: run-cell takes --index <i> (one cell) or --worker (indices on stdin)",
      "--index",
    );
  }
  const index = v.index === undefined ? null : Number(v.index);
  if (index !== null && !(/^\d+$/.test(String(v.index)) && Number.isSafeInteger(index))) {
    throw new ConfigError(
      `Cannot parse the command line: --index = ${
        JSON.stringify(v.index)
      } is not allowed (allowed: an integer ≥ 0)`,
      "--index",
    );
  }
  const run = await openRunFolder(dir, "--run");
  const abort = new AbortController();
  const stop = () => {
    if (abort.signal.aborted) Deno.exit(130);
    abort.abort();
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  try {
    return await runCells(run, index === null ? { worker: true } : { index }, { signal: abort.signal });
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, stop);
  }
}

/** `merge --run <dir>`: results.json and the report of a run whose cells are all on record. */
async function mergeCommand(args: string[]): Promise<number> {
  const v = parseFlags(args, RUN_FLAG);
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  const run = await openRunFolder(requireFlag(v, "run", "merge --run <run-dir>"), "--run");
  const { results, reportPath } = await mergeRun(run);
  const failed = results.cells.filter((c) => c.status !== "ok").length;
  console.error(
    `${results.cells.length} cells merged${failed ? `, ${failed} failed (listed in the report)` : ""}`,
  );
  console.log(`report: ${reportPath}`);
  return failed ? 1 : 0;
}

const SLURM_FLAGS: Flags = {
  "cpus-per-task": { type: "string" },
  mem: { type: "string" },
  time: { type: "string" },
  partition: { type: "string" },
  account: { type: "string" },
  "max-parallel": { type: "string" },
  deno: { type: "string" },
  "dry-run": { type: "boolean" },
};

/** `slurm submit`: a new run folder (or `--resume`'s missing cells) as a job array plus a merge job. */
async function slurmCommand(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  if (verb !== "submit") {
    throw new ConfigError(
      `Cannot parse the command line: slurm ${
        verb === undefined ? "needs a command" : `"${verb}" is unknown`
      } ` +
        `(known: submit)`,
      "slurm",
    );
  }
  const p = await prepareRun(rest, { extra: SLURM_FLAGS, omit: ["jobs", "quiet"] });
  if (!p) {
    console.log(HELP);
    return 0;
  }
  // Flags override the suite's `slurm:` settings.
  const fromSuite: Partial<Record<string, string | number>> = { ...p.suite.slurm };
  const camel = (flag: string) => flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
  const x = Object.fromEntries(
    Object.entries(p.extra).map((
      [k, v],
    ) => [k, v ?? (fromSuite[camel(k)] === undefined ? v : String(fromSuite[camel(k)]))]),
  ) as Record<string, string | undefined> & { "dry-run"?: boolean };
  const int = (flag: string, value: string | undefined, max: number) => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!(/^\d+$/.test(value) && n >= 1 && n <= max)) {
      throw new ConfigError(
        `Cannot parse the command line: --${flag} = ${
          JSON.stringify(value)
        } is not allowed (allowed: an integer in [1, ${max}])`,
        `--${flag}`,
      );
    }
    return n;
  };
  const word = (flag: string, pattern: RegExp, allowed: string) =>
    x[flag] === undefined ? {} : { [flag]: checkSbatchValue(`--${flag}`, x[flag]!, pattern, allowed) };
  const threads = p.options.threads ?? 1;
  const cpusPerTask = int("cpus-per-task", x["cpus-per-task"], 4096) ?? threads;
  if (cpusPerTask < threads) {
    console.error(`warning: --cpus-per-task ${cpusPerTask} is below the run's ${threads} thread(s) per cell`);
  }
  const maxParallel = int("max-parallel", x["max-parallel"], 100000);
  const settings: SlurmSettings = {
    cpusPerTask,
    ...word("mem", /^\d+[KMGT]?$/, "a size such as 4G or 500M"),
    ...word("time", /^(\d+-)?\d+(:\d{1,2}){0,2}$/, "a Slurm time such as 30, 01:00:00 or 1-12"),
    ...word("partition", /^[\w.-]+$/, "a partition name (letters, digits, _ . -)"),
    ...word("account", /^[\w.-]+$/, "an account name (letters, digits, _ . -)"),
    ...(maxParallel ? { maxParallel } : {}),
    deno: x.deno ?? Deno.execPath(),
  };
  let dir: string, indices: number[];
  if (p.options.resume !== undefined) {
    const run = await openRunFolder(p.options.resume, "--resume");
    dir = await Deno.realPath(run.dir);
    const { records } = await readRunRecords(dir, run.cells);
    indices = missingCells(run.cells, records).map((c) => c.index);
    if (indices.length === 0) {
      console.error(`every cell of "${dir}" is on record: submitting the merge alone is not needed; run:`);
      console.error(`deno task bench merge --run ${dir}`);
      return 0;
    }
  } else {
    dir = await Deno.realPath(
      await createRunFolder(p.suite, { ...p.options, flag: "slurm submit", registry: p.registry }),
    );
    indices = planCells(p.suite, p.registry).map((c) => c.index);
  }
  const sub = await submit(dir, indices, settings, x["dry-run"] ? { dryRun: true } : {});
  for (const c of sub.commands) console.error(`${x["dry-run"] ? "would run" : "ran"}: ${c}`);
  if (sub.arrayJob) {
    console.error(
      `submitted ${indices.length} cells as array job ${sub.arrayJob}, merge as job ${sub.mergeJob}; ` +
        `logs in ${dir}/slurm/`,
    );
  }
  console.log(`run: ${dir}`);
  return 0;
}

function parseFlags(args: string[], flags: Flags): FlagValues {
  try {
    return parseArgs({ args, options: flags, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw argsError(e, flags);
  }
}

function requireFlag(v: FlagValues, name: string, usage: string): string {
  const value = v[name];
  if (typeof value !== "string" || value === "") {
    throw new ConfigError(
      `Cannot parse the command line: --${name} is required (usage: ${usage})`,
      `--${name}`,
    );
  }
  return value;
}

async function writeStdout(text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  for (let off = 0; off < bytes.length;) off += await Deno.stdout.write(bytes.subarray(off));
}

if (import.meta.main) Deno.exit(await main(Deno.args));
