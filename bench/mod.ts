/**
 * The bench: suite parsing and planning, input checks, running cells (with divergence detection),
 * the evaluator, frontiers, statistics across seeds, progress and the crash-safe run store. The types
 * it writes (records, results, manifest) and `ConfigError` are the results contract, `results/mod.ts`.
 *
 * @module
 */
export type { Cell, DivergenceLimits, Suite, SuiteAlgorithm, SuiteOverrides } from "./suite.ts";
export {
  DIVERGENCE_DEFAULTS,
  overrideSuite,
  parseSeeds,
  parseSuite,
  planCells,
  STATS_DEFAULTS,
} from "./suite.ts";
export type { RunOptions, RunOutcome } from "./run.ts";
export { configHash, describeEnvironment, readManifest, RunInterrupted, runSuite } from "./run.ts";
export type { CellEnv, CellHooks, LoadedText } from "./cell.ts";
export {
  cellPairs,
  checkCheckpoint,
  checkStep,
  Divergence,
  loadText,
  runCell,
  textCellPairs,
} from "./cell.ts";
export type { Evaluation, TextBaseline, TextEvaluation } from "./evaluate.ts";
export {
  completionsPerPrompt,
  EVAL_COMPLETIONS,
  evaluateBandit,
  evaluateText,
  textBaseline,
} from "./evaluate.ts";
export { aggregate, meanOverBudget } from "./aggregate.ts";
export type { AggregateOptions, TextTaskInfo } from "./aggregate.ts";
export * from "./frontier.ts";
export * from "./stats.ts";
export { checkInput, checkOutputDir } from "./validate.ts";
export type { CheckedInput, InputKind, InputRef } from "./validate.ts";
export { Progress } from "./progress.ts";
export type { ProgressOptions } from "./progress.ts";
export type { PreparedRun } from "./cli.ts";
export { DEFAULT_SUITE, main, prepareRun } from "./cli.ts";
