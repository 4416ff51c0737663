/**
 * The text tasks a suite can name: one list, built from each task family's own entries, so a suite, the
 * CLI's `--tasks` and error messages all know the same names.
 *
 * @module
 */
import type { Runtime } from "../engine/runtime.ts";
import type { PairSpec, TextEnv } from "../envs/text.ts";
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
  /** Its preference-data regime: pairs per seed, prompts, completions per prompt, labels ({@link PairSpec}). */
  readonly pairs: PairSpec;
  /**
   * The task this one derives from (a suite's `text_tasks: { name: { base, pairs } }`): it loads the
   * base's builds and its pairs draw from the base's data stream, so two regimes of one base differ only
   * where their specs do. Absent on tasks that are their own base.
   */
  readonly base?: string;
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

/**
 * A suite's task derived from another text task (`text_tasks: { name: { base, pairs } }`): the base's
 * prompts, π_ref and gold reward under another preference-data regime. Plain data, hashed with the suite.
 */
export interface DerivedTaskConfig {
  /** The text task it derives from: a built-in one or a data task of the same suite. */
  readonly base: string;
  /** One line for listings (default: the base's, and the regime). */
  readonly description?: string;
  /** The regime: the base's pairs with the fields the suite set replaced. */
  readonly pairs: PairSpec;
}

/**
 * The spec of a derived task: the base's `load` (so its classifier and π_ref, cached by their own config,
 * are read rather than retrained), its own pairs, and the base's name as `base`.
 *
 * @example
 * ```ts
 * const dpo4 = derivedTaskSpec("sentiment.dpo4", {
 *   base: "sentiment",
 *   pairs: { count: 4096, scale: 10, completions: 4, label: "deterministic" },
 * }, TEXT_TASKS.get("sentiment")!);
 * dpo4.description; // "... (pairs: 4096, 4 completions per prompt, deterministic labels)"
 * ```
 */
export function derivedTaskSpec(name: string, config: DerivedTaskConfig, base: TextTaskSpec): TextTaskSpec {
  return {
    name,
    description: config.description ?? `${base.description} (pairs: ${describePairs(config.pairs)})`,
    pairs: config.pairs,
    base: base.base ?? base.name,
    load: (rt, options) => base.load(rt, options),
  };
}

/** A pair spec in words: `16384, 4 completions per prompt, deterministic labels, ties dropped`. */
export function describePairs(p: PairSpec): string {
  const words = [String(p.count)];
  if (p.prompts !== undefined) words.push(`the first ${p.prompts} prompts`);
  if ((p.completions ?? 2) !== 2) words.push(`${p.completions} completions per prompt`);
  words.push(
    p.label === "deterministic" ? "deterministic labels" : `Bradley–Terry labels at scale ${p.scale}`,
  );
  if (p.ties === "drop") words.push("ties dropped");
  if (p.identical === "drop") words.push("identical responses dropped");
  return words.join(", ");
}
