/**
 * The results contract, beneath the bench (which writes runs) and the reports (which read them): the
 * types of `results.jsonl` records, `results.json` and `manifest.json`, the versioned reader of
 * `results.json`, and {@link ConfigError}, the error both throw for bad input. It imports nothing of
 * either side, so a report can be built from a run folder without loading the bench.
 *
 * @example
 * ```ts
 * import { readResults, RESULTS_SCHEMA } from "./mod.ts";
 *
 * const results = await readResults("runs/20260101-000000-c0ffee00/results.json");
 * console.log(results.schema === RESULTS_SCHEMA, results.cells.length);
 * ```
 *
 * @module
 */
export { ConfigError } from "./config_error.ts";
export type { Manifest, ManifestSuite, PluginRef } from "./manifest.ts";
export {
  BANDIT_BUDGETS,
  budgetsFor,
  parseResults,
  readResults,
  RESULTS_SCHEMA,
  RESULTS_VERSION,
  round6,
  schemaVersion,
  TEXT_BUDGETS,
} from "./results.ts";
export type {
  ActionProbs,
  AggregateMeta,
  AreaSummary,
  BudgetSummary,
  CellRecord,
  CheckpointRecord,
  Comparator,
  CrossTaskAggregate,
  CurvePoint,
  Environment,
  Failure,
  FailureKind,
  FrontierPoint,
  GapSummary,
  Improvement,
  PairStatsRecord,
  PairwiseWinRate,
  Results,
  SampleRecord,
  StatsSettings,
  TaskInfo,
  TemperatureWinRate,
  TemperatureWins,
  VerdictEntry,
  VerdictRow,
  WinRatePoint,
  WinRateSummary,
} from "./results.ts";
