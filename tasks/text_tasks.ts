/**
 * The text tasks a suite can name: one list, built from each task family's own entries, so a suite, the
 * CLI's `--tasks` and error messages all know the same names.
 *
 * @module
 */
import type { Runtime } from "../engine/runtime.ts";
import type { TextEnv } from "../envs/text.ts";
import type { GptPolicy } from "../models/gpt_policy.ts";
import type { Judge } from "../models/judge.ts";
import { SENTIMENT_TASKS } from "./sentiment.ts";
import { SUMMARIZE_TASKS } from "./summarize.ts";

/** Options of a text task's builders (its classifier, π_ref), which cache what they train. */
export interface BuildOptions {
  /** The cache folder (default: `cacheDir()`: `$PREFBENCH_CACHE` or `.cache/prefbench`). */
  cacheDir?: string;
  /** Progress and warnings, one line each (default: stderr); null silences them. */
  log?: ((line: string) => void) | null;
  /** What to do with a cache file that cannot be read: rebuild it with a warning (default), or throw. */
  onCorrupt?: "rebuild" | "error";
}

/** A loaded text task: the environment cells train and are evaluated on. */
export interface TextTask extends TextEnv {
  readonly reference: GptPolicy;
  /**
   * The task's pairwise judge, where win rates are judged pairwise (summarization): the evaluator then
   * also measures win rates against reference texts and π_ref at several temperatures.
   */
  readonly judge?: Judge;
}

/** A text task as suites name it. */
export interface TextTaskSpec {
  readonly name: string;
  readonly description: string;
  /** Pairs per seed (prompts cycled) and the Bradley–Terry scale of their labels on the gold reward. */
  readonly pairs: { readonly count: number; readonly scale: number };
  /** Builds the task (or reads what it trained from the cache). */
  load(rt: Runtime, options?: BuildOptions): Promise<TextTask>;
}

/** The text tasks, by the names suites and `--tasks` use. */
export const TEXT_TASKS: ReadonlyMap<string, TextTaskSpec> = new Map(
  [...SENTIMENT_TASKS, ...SUMMARIZE_TASKS].map((t) => [t.name, t]),
);

/** True when `name` is a text task. */
export function isTextTask(name: string): boolean {
  return TEXT_TASKS.has(name);
}
