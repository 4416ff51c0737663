/**
 * `deno task bench`: run a suite and write `runs/<run-id>/{manifest.json, results.jsonl, results.json,
 * report.html}`. With no arguments it runs the embedded default suite (`tasks/quick.yaml`: the bandits and
 * `sentiment.small`). Progress goes
 * to stderr (a live line on a terminal, plain lines elsewhere); the last line on stdout is
 * `report: <path>`.
 *
 * Every flag, the suite and the output folder are checked before any cell starts. Exit codes: 0 every
 * cell ok, 1 some cell failed (or an unexpected error), 2 bad input, 130 interrupted (Ctrl-C; what is
 * finished is saved, and the message says how to resume).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { unknownName } from "../algorithms/_hparams.ts";
import { ALGORITHMS } from "../algorithms/registry.ts";
import { EP_CHOICES, type EpChoice } from "../engine/runtime.ts";
import type { BanditTask } from "../tasks/bandits.ts";
import { displayPath, loadBanditTasks } from "../tasks/bandits.ts";
import { TEXT_TASKS } from "../tasks/text_tasks.ts";
import type { RunOptions } from "./run.ts";
import { configHash, readManifest, RunInterrupted, runSuite } from "./run.ts";
import type { Suite, SuiteOverrides } from "./suite.ts";
import { describeAlgorithms, overrideSuite, parseSeeds, parseSuite, planCells } from "./suite.ts";
import { checkInput, checkOutputDir, ConfigError } from "./validate.ts";

/** The suite `deno task bench` runs when none is given. */
export const DEFAULT_SUITE = new URL("../tasks/quick.yaml", import.meta.url);

const HELP = `Usage: deno task bench [options]

Runs a suite of cells (task × algorithm × hyperparameters × seed), evaluates every checkpoint with the
same exact evaluator, and writes runs/<run-id>/{manifest.json, results.jsonl, results.json, report.html}.

Options:
  --suite <file>         suite YAML (default: the embedded tasks/quick.yaml)
  --tasks <a,b>          run only these tasks (replaces the suite's list)
  --algorithms <a,b>     run only these algorithms (suite config kept; defaults if the suite omits one)
  --seeds <n | a,b,c>    a number of seeds (0..n-1) or a list
  --out <dir>            where run folders go (default: runs)
  --resume <run-dir>     finish an interrupted run with its own config (skips the cells on record)
  --ep <provider>        execution provider: ${EP_CHOICES.join(" | ")} (default: cpu)
  --threads <n>          ONNX Runtime intra-op threads (default: 1; bandit graphs are too small to share)
  --quiet                no progress lines
  -h, --help             this help

Suite settings besides tasks and algorithms: seeds, checkpoints,
  divergence: { max_grad_norm: 1e6, max_kl: 100 }   a cell beyond these (or with a NaN/Inf loss) fails
  stats: { resamples: 2000, confidence: 0.95, seed: 0 }   IQM over seeds, stratified bootstrap intervals

Exit codes: 0 all cells ok, 1 some cell failed, 2 bad input, 130 interrupted (resume with --resume).

Algorithms and hyperparameters (a list in a suite sweeps, a scalar fixes):
`;

const OPTIONS = {
  suite: { type: "string" },
  tasks: { type: "string" },
  algorithms: { type: "string" },
  seeds: { type: "string" },
  out: { type: "string" },
  resume: { type: "string" },
  ep: { type: "string" },
  threads: { type: "string" },
  quiet: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** A run, checked and ready: nothing has been written yet. */
export interface PreparedRun {
  readonly suite: Suite;
  readonly tasks: ReadonlyMap<string, BanditTask>;
  readonly options: Pick<RunOptions, "out" | "resume" | "ep" | "threads">;
  readonly quiet: boolean;
}

/**
 * Parses and checks everything a run needs — flags, the suite file, the tasks, the run folder to
 * resume or the folder to write to — without writing anything. Returns null for `--help`; throws a
 * {@link ConfigError} naming the field for any bad input.
 */
export async function prepareRun(args: readonly string[]): Promise<PreparedRun | null> {
  let values: {
    [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]["type"] extends "string" ? string : boolean;
  };
  try {
    ({ values } = parseArgs({ args: [...args], options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (e) {
    throw argsError(e);
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
  const tasks = await loadBanditTasks();
  const known = [...tasks.keys(), ...TEXT_TASKS.keys()];
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

  let suite: Suite;
  const flagsGiven = values.suite !== undefined || Object.keys(overrides).length > 0;
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
    suite = flagsGiven ? await suiteFromFlags(values.suite, overrides, known) : manifest.suite;
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
        if (!known.includes(task)) throw new RangeError(`unknown task "${task}"`);
      }
      planCells(suite);
    } catch (e) {
      fail("--resume", `its config no longer validates: ${(e as Error).message}`);
    }
  } else {
    suite = await suiteFromFlags(values.suite, overrides, known);
    await checkOutputDir(values.out ?? "runs");
  }
  if (planCells(suite).length === 0) {
    throw new ConfigError(
      `Cannot parse config "${suite.file}": it plans no cell (no policy algorithm)`,
      "algorithms",
    );
  }
  return {
    suite,
    tasks,
    quiet: values.quiet ?? false,
    options: {
      ...(values.out !== undefined ? { out: values.out } : {}),
      ...(values.resume !== undefined ? { resume: values.resume } : {}),
      ...(ep !== undefined ? { ep } : {}),
      ...(threads !== undefined ? { threads } : {}),
    },
  };
}

/** Parses arguments and runs; returns the process exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let prepared: PreparedRun | null;
  try {
    prepared = await prepareRun(args);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return e instanceof ConfigError ? 2 : 1;
  }
  if (!prepared) {
    console.log(HELP + describeAlgorithms(ALGORITHMS));
    return 0;
  }
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
    const run = await runSuite(prepared.suite, prepared.tasks, {
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
    });
    const failed = run.results.cells.filter((c) => c.status !== "ok").length;
    console.error(
      `${run.results.cells.length} cells in ${run.wallSeconds.toFixed(1)}s${
        failed ? `, ${failed} failed (listed in the report)` : ""
      }`,
    );
    console.log(`report: ${run.reportPath}`);
    return failed ? 1 : 0;
  } catch (e) {
    if (e instanceof RunInterrupted) {
      console.error(`${e.message}.\nResume with: deno task bench --resume ${e.dir}`);
      return 130;
    }
    console.error(e instanceof Error ? e.message : String(e));
    return e instanceof ConfigError ? 2 : 1;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, stop);
  }
}

async function suiteFromFlags(
  suitePath: string | undefined,
  overrides: SuiteOverrides,
  known: readonly string[],
): Promise<Suite> {
  const url = suitePath ? new URL(suitePath, `file://${Deno.cwd()}/`) : DEFAULT_SUITE;
  const file = suitePath ? displayPath(url) : displayPath(DEFAULT_SUITE);
  const text = suitePath
    ? (await checkInput(url.pathname, "text", { field: "--suite" })).value as string
    : await Deno
      .readTextFile(DEFAULT_SUITE);
  return overrideSuite(parseSuite(text, file, known), overrides, known);
}

/** A ConfigError for what `parseArgs` rejected, with a did-you-mean for a misspelt flag. */
function argsError(e: unknown): ConfigError {
  const msg = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: string }).code;
  const flag = msg.match(/'(-{1,2}[^' ]+)/)?.[1] ?? "";
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const known = Object.keys(OPTIONS).map((k) => `--${k}`);
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

if (import.meta.main) Deno.exit(await main(Deno.args));
