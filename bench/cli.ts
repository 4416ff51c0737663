/**
 * `deno task bench`: run a suite and write `runs/<run-id>/{manifest.json, results.jsonl, results.json,
 * report.html}`. With no arguments it runs the embedded bandit suite (`tasks/quick.yaml`). Progress goes
 * to stderr; the last line on stdout is `report: <path>`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ALGORITHMS } from "../algorithms/registry.ts";
import { EP_CHOICES, type EpChoice } from "../engine/runtime.ts";
import { displayPath, loadBanditTasks } from "../tasks/bandits.ts";
import { runSuite } from "./run.ts";
import type { SuiteOverrides } from "./suite.ts";
import { describeAlgorithms, overrideSuite, parseSeeds, parseSuite } from "./suite.ts";

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
  --resume <run-dir>     finish an interrupted run (same suite and options)
  --ep <provider>        execution provider: ${EP_CHOICES.join(" | ")} (default: cpu)
  --threads <n>          ONNX Runtime intra-op threads (default: 1; bandit graphs are too small to share)
  --quiet                no progress lines
  -h, --help             this help

Algorithms and hyperparameters (a list in a suite sweeps, a scalar fixes):
`;

/** Parses arguments and runs; returns the process exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
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
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`${e instanceof Error ? e.message : e}\nRun with --help for the options.`);
    return 2;
  }
  if (values.help) {
    console.log(HELP + describeAlgorithms(ALGORITHMS));
    return 0;
  }
  try {
    const ep = (values.ep ?? "cpu") as EpChoice;
    if (!EP_CHOICES.includes(ep)) {
      throw new RangeError(`--ep "${values.ep}" is not known (known: ${EP_CHOICES.join(", ")})`);
    }
    const threads = values.threads === undefined ? 1 : Number(values.threads);
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RangeError(`--threads "${values.threads}" is not allowed (allowed: an integer ≥ 1)`);
    }
    const tasks = await loadBanditTasks();
    const known = [...tasks.keys()];
    const suiteUrl = values.suite ? new URL(values.suite, `file://${Deno.cwd()}/`) : DEFAULT_SUITE;
    const suiteText = await Deno.readTextFile(suiteUrl).catch((e) => {
      throw new Error(`Cannot read suite "${values.suite}": ${e instanceof Error ? e.message : e}`);
    });
    const list = (s: string | undefined) => s?.split(",").map((x) => x.trim()).filter(Boolean);
    const overrides: SuiteOverrides = {};
    const t = list(values.tasks), a = list(values.algorithms);
    if (t) overrides.tasks = t;
    if (a) overrides.algorithms = a;
    if (values.seeds !== undefined) {
      const s = list(values.seeds)!.map(Number);
      overrides.seeds = parseSeeds(s.length === 1 && !values.seeds.includes(",") ? s[0] : s);
    }
    const suite = overrideSuite(parseSuite(suiteText, displayPath(suiteUrl), known), overrides, known);
    const run = await runSuite(suite, tasks, {
      ep,
      threads,
      log: values.quiet ? null : (l) => console.error(l),
      ...(values.out ? { out: values.out } : {}),
      ...(values.resume ? { resume: values.resume } : {}),
    });
    const failed = run.results.cells.filter((c) => c.status !== "ok").length;
    console.error(
      `${run.results.cells.length} cells in ${run.wallSeconds.toFixed(1)}s${
        failed ? `, ${failed} failed` : ""
      }`,
    );
    console.log(`report: ${run.reportPath}`);
    return failed ? 1 : 0;
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
