/**
 * The bench: suite parsing and planning, input checks, running cells (with divergence detection),
 * the evaluator, frontiers, statistics across seeds, progress and the crash-safe run store.
 *
 * @module
 */
export type {
  Cell,
  DivergenceLimits,
  StatsSettings,
  Suite,
  SuiteAlgorithm,
  SuiteOverrides,
} from "./suite.ts";
export {
  DIVERGENCE_DEFAULTS,
  overrideSuite,
  parseSeeds,
  parseSuite,
  planCells,
  STATS_DEFAULTS,
} from "./suite.ts";
export type { Manifest, RunOptions, RunOutcome } from "./run.ts";
export { configHash, describeEnvironment, readManifest, RunInterrupted, runSuite } from "./run.ts";
export type { CellEnv, CellHooks } from "./cell.ts";
export { cellPairs, checkCheckpoint, checkStep, Divergence, runCell } from "./cell.ts";
export type { Evaluation } from "./evaluate.ts";
export { evaluateBandit } from "./evaluate.ts";
export * from "./frontier.ts";
export * from "./results.ts";
export * from "./stats.ts";
export { checkInput, checkOutputDir, ConfigError } from "./validate.ts";
export type { CheckedInput, InputKind, InputRef } from "./validate.ts";
export { Progress } from "./progress.ts";
export type { ProgressOptions } from "./progress.ts";
export type { PreparedRun } from "./cli.ts";
export { DEFAULT_SUITE, main, prepareRun } from "./cli.ts";
