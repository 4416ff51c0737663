/**
 * prefbench as a library: compare preference-optimization algorithms on shared tasks, training and
 * sampling every model through ONNX Runtime. What a user composes:
 *
 * - the algorithm registry ({@link Registry}: list, look up, register — `BUILT_INS.with([mine], src)`),
 *   the algorithm interfaces ({@link PolicyAlgorithm}, {@link TrainContext}, {@link Checkpoint}) and
 *   the environment interfaces every algorithm is written against ({@link PolicyEnv}, {@link Rows},
 *   {@link Reward}); the building blocks of the built-in loops (the pairwise loop, update phases);
 * - bandit tasks ({@link BanditTask}, {@link makeBandit}) for plugins that add tasks;
 * - suites: {@link parseSuite}, {@link runSuite} (in this process: the run folder and its results),
 *   {@link readResults} and {@link buildReport};
 * - the engine: the graph IR, autodiff, AdamW, ONNX serialization, ONNX Runtime sessions, seeded RNG.
 *
 * Importable by path or `file://` URL from any folder, without this repository's `deno.json`.
 *
 * @example
 * ```ts
 * import { BUILT_INS, parseSuite, runSuite } from "./mod.ts";
 * import { algorithms } from "./examples/uniform_mix.ts";
 *
 * const registry = BUILT_INS.with(algorithms, "examples/uniform_mix.ts");
 * const yaml = "seeds: 1\ntasks: [bandit.random]\nalgorithms: { uniform_mix: { alpha: [0, 0.5] } }";
 * const suite = await parseSuite(yaml, "inline.yaml", { registry });
 * const { dir, results } = await runSuite(suite, { registry, out: "runs", log: null });
 * ```
 *
 * @module
 */
export * from "./engine/mod.ts";

export type {
  Algorithm,
  AlgorithmKind,
  Checkpoint,
  CheckpointPolicy,
  FitContext,
  FittedScorer,
  HParams,
  HParamSpec,
  HParamSpecs,
  HParamValue,
  PluginBase,
  PolicyAlgorithm,
  RewardSource,
  Sampler,
  ScorerAlgorithm,
  TrainContext,
} from "./algorithms/mod.ts";
export {
  ALGORITHMS,
  BUILT_IN,
  BUILT_INS,
  HParamError,
  isPolicyAlgorithm,
  parseHParams,
  Registry,
} from "./algorithms/mod.ts";
export { batchSize, referenceSums, stepLoop, trainPairwise } from "./algorithms/_pairwise.ts";
export type { MarginOptions, PairwiseLoss, PairwiseRun, StepLoop } from "./algorithms/_pairwise.ts";
export type { Completions, SampleOptions } from "./models/sequence_policy.ts";
export { checkpointSteps, scalarFeeds, stepLr, trained, vector } from "./algorithms/_policy.ts";
export { minibatches, normalize, updatePhase } from "./algorithms/_rollout.ts";

export type {
  PairData,
  PolicyEnv,
  Reward,
  Rollout,
  Rows,
  SequenceNodes,
  Support,
} from "./envs/policy_env.ts";
export { sequenceSums } from "./envs/policy_env.ts";
export type { ScorerEnv } from "./envs/scorer_env.ts";
export type { Bandit, BanditInit, Feedback, OraclePoint } from "./envs/bandit.ts";
export { makeBandit } from "./envs/bandit.ts";
export type { BanditTask, PolicyFamily } from "./tasks/bandits.ts";
export { POLICY_FAMILIES } from "./tasks/bandits.ts";
export type { Features } from "./models/loglinear.ts";

export { parseSuite, runSuite } from "./bench/library.ts";
export type { Suite, SuiteOptions, SuiteRunOptions } from "./bench/library.ts";
export type { DivergenceLimits, JudgeSpec, SlurmSuiteSettings, SuiteAlgorithm } from "./bench/suite.ts";
export type { PluginRef } from "./results/mod.ts";
export type {
  DataGoldConfig,
  DataReferenceConfig,
  DataTaskConfig,
  DataTaskKind,
} from "./tasks/data_tasks.ts";
export { DATA_TASK_KINDS } from "./tasks/data_tasks.ts";
export type { DatasetFormat, DatasetPreset, DatasetRole, DatasetSpec } from "./tasks/datasets.ts";
export { DATASET_FORMATS, DATASET_PRESETS } from "./tasks/datasets.ts";
export type { SftBudget } from "./tasks/_sft.ts";
export type { RunOptions, RunOutcome } from "./bench/run.ts";
export { readResults } from "./results/mod.ts";
export type {
  ActionProbs,
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
  Manifest,
  ManifestSuite,
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
} from "./results/mod.ts";
export type { PairSpec } from "./envs/text.ts";
export { PAIR_IDENTICAL, PAIR_LABELS, PAIR_TIES } from "./envs/text.ts";
export type { SuiteTextTask } from "./tasks/text_task_schema.ts";
export type { DerivedTaskConfig } from "./tasks/text_tasks.ts";
export { buildReport } from "./reports/mod.ts";
export type { ReportManifest, ReportOptions } from "./reports/mod.ts";
