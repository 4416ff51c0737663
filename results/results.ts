/**
 * The results format: one record per cell in `results.jsonl`, and the aggregate `results.json` the
 * report is built from. Wall-clock values appear only in fields named `wallSeconds`, `startedAt` and
 * `finishedAt`, so two runs of one config compare byte for byte once those are stripped.
 *
 * Aggregates follow rliable: per seed first (a checkpoint's KL and reward, a seed's best reward within
 * a KL budget), then the interquartile mean over seeds with a stratified bootstrap interval, and the
 * probability that one series beats another at a KL budget, across tasks. Every bootstrap draws from
 * `Rng.stream(stats.seed, "bootstrap", <what>, ...)`, so the intervals are as reproducible as the rest.
 *
 * Versions: `schema` is `prefbench.results/<major>.<minor>` ({@link RESULTS_SCHEMA}). A minor version
 * only adds optional fields, so a reader of major 1 reads every 1.x: it ignores fields it does not
 * know and treats fields a file lacks as absent (the report leaves out what they would draw). Removing,
 * renaming or retyping a field, or changing what a value means, is a new major version, and
 * {@link parseResults} refuses a major version it does not know, naming the file and the version.
 *
 * - 1.0 (written as `prefbench.results/1`): the first bandit harness; a cell's `status` was "ok" or "error".
 * - 1.1: `status` is "ok" or "failed", with `failure` saying where; optional `TaskInfo.kind` and
 *   `TaskInfo.budgets`, `areas`, `winRates`, `winPoints`, `CheckpointRecord.samples`, `CellRecord.curve`
 *   and `CellRecord.referenceReward`.
 * - 1.2: judged text tasks (summarization): `CheckpointRecord.completions`, `CellRecord.temperatureWins`
 *   and `referenceTemperatureWins`, and the aggregates `temperatureWinRates`, `pairwise` and `judges`.
 *   The status rename is the one change that is not additive; it is a minor version all the same because
 *   the only test a 1.0 reader could make, `status === "ok"`, keeps its meaning, and {@link parseResults}
 *   reads a 1.0 "error" as "failed" with failure kind "error".
 * - 1.3: `verdict`: per task and KL budget, every series ranked with its interval, P(best) and the leaders;
 *   `aggregate`: every series' normalized score over tasks (IQM, interval, performance profile).
 *   Text cells: `CellRecord.pairStats`, the statistics of their preference pairs.
 *
 * @module
 */
import type { HParams } from "../algorithms/mod.ts";
import type { OraclePoint, PairStats } from "../envs/mod.ts";
import { ConfigError } from "./config_error.ts";

/** The version of the results format this prefbench writes (see the module doc for the rule). */
export const RESULTS_VERSION = { major: 1, minor: 3 } as const;

/** The schema tag of `results.json` this prefbench writes. */
export const RESULTS_SCHEMA = "prefbench.results/1.3";

/** KL budgets (nats) at which bandit envelopes are compared with the oracle. */
export const BANDIT_BUDGETS: readonly number[] = [0.05, 0.1, 0.25, 0.5, 1, 2];

/**
 * KL budgets (nats) of text tasks: KL summed over a completion's tokens reaches nats to tens of nats.
 * Bandit tasks use {@link BANDIT_BUDGETS} instead, since their exact KLs stay below ~3 nats.
 */
export const TEXT_BUDGETS: readonly number[] = [1, 2, 5, 10];

/** The KL budgets (nats) at which a task's series are summarized. */
export function budgetsFor(kind: "bandit" | "text"): readonly number[] {
  return kind === "bandit" ? BANDIT_BUDGETS : TEXT_BUDGETS;
}

/**
 * One completion sampled at a checkpoint, on a held-out prompt (text tasks; absent on bandits). Every
 * string here is data or model output, which reports escape.
 */
export interface SampleRecord {
  /** The prompt, as text. */
  prompt: string;
  /** The sampled completion, as text, without the prompt. */
  completion: string;
  /** Its gold reward. */
  reward: number;
  /** Its proxy reward, for cells trained on the proxy. */
  proxyReward?: number;
  /** Σ over its positions of the exact next-token KL(π‖π_ref) (nats). */
  kl?: number;
  /** The task's reference text for the prompt (a reference summary), when it has one. */
  reference?: string;
}

/**
 * Training metrics logged at one optimizer step, in the one metric namespace every algorithm shares
 * (`losses/policy`, `losses/value`, `charts/grad_norm`, ...). Reports draw them as training curves.
 */
export interface CurvePoint {
  /** The checkpoint's optimizer step. */
  step: number;
  /** That step's finite training metrics, with the evaluator's `eval/reward` and `eval/kl`, by name. */
  metrics: Record<string, number>;
}

/** One evaluated checkpoint. */
export interface CheckpointRecord {
  /** Optimizer steps taken (0 for inference-time methods). */
  step: number;
  /** Exact KL(π‖π_ref) on bandits (nats). */
  kl: number;
  /** Expected gold reward. */
  reward: number;
  /** Gold win rate against π_ref, ties ½. */
  winRate: number;
  /** Expected proxy reward, for cells trained on the proxy. */
  proxyReward?: number;
  /** Seconds since the cell started. */
  wallSeconds: number;
  /** The training metrics of the last step (loss, grad_norm, ...). */
  metrics: Record<string, number>;
  /** π(y|x), `[context][action]`, 6 significant digits. */
  probs?: number[][];
  /** (1.1) Completions sampled at this checkpoint (text tasks); reports show the last checkpoint's. */
  samples?: SampleRecord[];
  /**
   * (1.2) Judged text tasks: the first temperature-1 completion of every held-out prompt, in prompt
   * order, kept so series can be judged against each other at matched KL after the run.
   */
  completions?: string[];
}

/** Why a cell stopped early. */
export type FailureKind =
  /** A loss or metric was NaN or ±∞, or the evaluator measured a non-finite KL or reward. */
  | "non_finite"
  /** A step's pre-clip gradient norm exceeded `divergence.max_grad_norm`. */
  | "grad_norm"
  /** A checkpoint's KL(π‖π_ref) exceeded `divergence.max_kl`. */
  | "kl_ceiling"
  /** The algorithm threw. */
  | "error";

/** Where a failed cell stopped. */
export interface Failure {
  /** What stopped it. */
  kind: FailureKind;
  /** The optimizer step at which it was detected (null before the first step). */
  step: number | null;
  /** The step of the last checkpoint that passed every check (kept in `checkpoints`), or null. */
  lastGoodCheckpoint: number | null;
}

/** One cell's outcome (a line of `results.jsonl`). */
export interface CellRecord {
  /** `task/algorithm/knob=v[,k=v...]/seed=s`: stable, and the key of the cell's random streams. */
  id: string;
  /** The task's name. */
  task: string;
  /** The algorithm's name. */
  algorithm: string;
  /** The frontier line the cell belongs to: the algorithm, plus its swept non-knob values. */
  series: string;
  /** Name of the algorithm's knob. */
  knob: string;
  /** The knob's value in this cell. */
  knobValue: number | string | boolean;
  /** Every hyperparameter the cell ran with, defaults filled in. */
  hparams: HParams;
  /** The seed of the cell's random streams. */
  seed: number;
  /** "failed": the cell diverged or threw; `error` says why and `failure` where. */
  status: "ok" | "failed";
  /** Why a failed cell stopped: the error's message. */
  error?: string;
  /** (1.1) Where a failed cell stopped. */
  failure?: Failure;
  /** The checkpoints evaluated (for a failed cell, those before the failure). */
  checkpoints: CheckpointRecord[];
  /** The proxy reward model's fit, for cells trained on the proxy. */
  rewardModel?: Record<string, number>;
  /** (1.1) Training metrics per logged step, for training curves (absent where nothing was logged). */
  curve?: CurvePoint[];
  /** Text tasks: π_ref's mean gold reward on the evaluation prompts (what KL 0 buys), from the same evaluator. */
  referenceReward?: number;
  /** (1.2) Judged text tasks: the final checkpoint's win rates per temperature, per held-out prompt. */
  temperatureWins?: TemperatureWins[];
  /** (1.2) Judged text tasks: π_ref's own sweep against the reference texts (the same in every cell). */
  referenceTemperatureWins?: TemperatureWins[];
  /**
   * (1.3) Text tasks: the statistics of the cell's preference pairs (those of its task and seed, the same
   * in every cell of both): label agreement with the gold order, ties, identical pairs, distinct prompts,
   * length difference.
   */
  pairStats?: PairStatsRecord;
  /** Wall-clock seconds the cell took. */
  wallSeconds: number;
}

/** The statistics of a text task's preference pairs for one seed (`CellRecord.pairStats`), as sampled. */
export type PairStatsRecord = PairStats;

/** What the report needs to know about a task. */
export interface TaskInfo {
  /** (1.1) "bandit" (exact tables below, oracle frontier) or "text"; absent in 1.0 files: "bandit". */
  kind?: "bandit" | "text";
  /** (1.1) The KL budgets (nats) its series are summarized at ({@link budgetsFor}). */
  budgets?: number[];
  /** One line describing the task. */
  description: string;
  /** Number of contexts X (0 on text tasks). */
  contexts: number;
  /** Number of actions K (0 on text tasks). */
  actions: number;
  /** Display names of the actions, length K (empty on text tasks). */
  actionNames: string[];
  /** The policy family: `tabular` or `loglinear` on bandits, `gpt` on text tasks. */
  policy: string;
  /** π_ref(y|x), `[context][action]`. */
  reference: number[][];
  /** Gold reward, `[context][action]`. */
  reward: number[][];
  /** The gold reward of π_ref: what KL 0 buys. */
  referenceReward: number;
}

/** A series' best reward within a KL budget: the IQM over seeds of each seed's best, with its interval. */
export interface BudgetSummary {
  /** The budget (nats). */
  kl: number;
  /** IQM over seeds of {@link rewardWithinBudget}. */
  reward: number;
  /** Bootstrap interval of `reward`, `[lo, hi]`. */
  rewardCi: [number, number];
  /** Seeds aggregated. */
  seeds: number;
  /** The oracle's reward at this KL (bandits), and the gap oracle − reward. */
  oracle?: number;
  /** `oracle − reward` (bandits). */
  gap?: number;
}

/** P(a > b): how often a seed of series `a` beats one of `b` on best reward within a KL budget. */
export interface Improvement {
  /** The KL budget (nats). */
  kl: number;
  /** The first series (series in the order they first appear). */
  a: string;
  /** The series `a` is compared with. */
  b: string;
  /** The tasks both series ran on (the strata). */
  tasks: string[];
  /** Mean over tasks of P(a > b), ties ½. */
  probability: number;
  /** Bootstrap interval of `probability`, `[lo, hi]`. */
  ci: [number, number];
}

/** A single-context task's final action probabilities for one knob value: IQM over seeds per action. */
export interface ActionProbs {
  /** The knob value. */
  knob: number | string | boolean;
  /** Seeds aggregated (cells at this knob value). */
  seeds: number;
  /** Per action: IQM over seeds of the final π(y) (`prob`, `lo` and `hi` to 6 significant digits). */
  prob: number[];
  /** Per action, the lower end of the interval of `prob`. */
  lo: number[];
  /** Per action, the upper end of the interval of `prob`. */
  hi: number[];
}

/**
 * The area under a series' frontier up to a KL budget B, per nat: (1/B)∫₀ᴮ best(k) dk, where best(k) is
 * the best reward a seed reached within KL k (π_ref's reward at least). In reward units: the mean reward
 * the series buys over budgets from 0 to B, so it rewards reaching high reward early.
 */
export interface AreaSummary {
  /** B (nats): the task's largest budget. */
  kl: number;
  /** IQM over seeds of each seed's area, with its interval. */
  area: number;
  /** Bootstrap interval of `area`, `[lo, hi]`. */
  areaCi: [number, number];
  /** Seeds aggregated. */
  seeds: number;
  /** The oracle frontier's area (bandits). */
  oracle?: number;
}

/** Win rate against π_ref of each seed's best checkpoint within a KL budget (π_ref itself: ½). */
export interface WinRateSummary {
  /** The KL budget (nats). */
  kl: number;
  /** IQM over seeds, with its interval. */
  winRate: number;
  /** Bootstrap interval of `winRate`, `[lo, hi]`. */
  winRateCi: [number, number];
  /** Seeds aggregated. */
  seeds: number;
}

/** Win rate against π_ref at one (knob value, checkpoint) of a series, aggregated over seeds. */
export interface WinRatePoint {
  /** The knob value. */
  knob: number | string | boolean;
  /** The checkpoint's optimizer step. */
  step: number;
  /** IQM over seeds of KL(π‖π_ref) and of the win rate, with intervals. */
  kl: number;
  /** Bootstrap interval of `kl`, `[lo, hi]`. */
  klCi: [number, number];
  /** IQM over seeds of the win rate against π_ref. */
  winRate: number;
  /** Bootstrap interval of `winRate`, `[lo, hi]`. */
  winRateCi: [number, number];
  /** Seeds aggregated. */
  seeds: number;
}

/** A frontier point: one (knob value, checkpoint step) of a series, aggregated over seeds. */
export interface FrontierPoint {
  /** Interquartile mean over seeds of KL(π‖π_ref). */
  readonly kl: number;
  /** Interquartile mean over seeds of the reward. */
  readonly reward: number;
  /** Bootstrap confidence intervals of the two IQMs, `[lo, hi]`. */
  readonly klCi: readonly [number, number];
  /** Bootstrap confidence interval of `reward`'s IQM, `[lo, hi]`. */
  readonly rewardCi: readonly [number, number];
  /** The knob value. */
  readonly knob: number | string | boolean;
  /** The checkpoint's optimizer step. */
  readonly step: number;
  /** Seeds aggregated. */
  readonly seeds: number;
}

/** The gap of a series to the oracle. */
export interface GapSummary {
  /** Mean over the envelope's points of oracle(kl) − reward. */
  readonly meanGap: number;
  /** The envelope's best reward within each KL budget, the oracle's, and the gap (null when none fits). */
  readonly budgets: readonly { kl: number; reward: number | null; oracle: number; gap: number | null }[];
}

/** What a win rate is against. */
export type Comparator = "reference" | "pi_ref";

/** One cell's judgements at one temperature against one comparator: one per held-out prompt. */
export interface TemperatureWins {
  /** Sampling temperature of the cell's completions. */
  temperature: number;
  /** What they were judged against: the task's reference texts, or π_ref's completions at this temperature. */
  vs: Comparator;
  /** P(policy's completion better), per held-out prompt, in prompt order. */
  wins: number[];
  /** Per prompt, whether the judge was shown the comparator first (judges that see an order). */
  swapped?: boolean[];
}

/** A win rate against a comparator at a temperature, over seeds and prompts. */
export interface TemperatureWinRate {
  /** The knob value of the series' cells ("π_ref" rows have none). */
  knob: number | string | boolean | null;
  /** What the completions were judged against. */
  vs: Comparator;
  /** Sampling temperature of the completions. */
  temperature: number;
  /** Mean P(completion better) over seeds and prompts, ties ½. */
  winRate: number;
  /** Two-level bootstrap interval (seeds, then prompts) of `winRate`, `[lo, hi]`. */
  winRateCi: [number, number];
  /** Judgements (prompts × seeds). */
  n: number;
  /** Seeds aggregated (1 for π_ref's rows). */
  seeds: number;
}

/** Series a's win rate against series b at a matched KL budget. */
export interface PairwiseWinRate {
  /** The budget (nats): each seed's checkpoint of each series nearest it is compared. */
  kl: number;
  /** The first series (series in the order they first appear). */
  a: string;
  /** The series `a` is judged against. */
  b: string;
  /** Mean P(a's completion better) over seeds and prompts, ties ½. */
  winRate: number;
  /** Two-level bootstrap interval (seeds, then prompts) of `winRate`, `[lo, hi]`. */
  winRateCi: [number, number];
  /** Judgements (prompts × seeds). */
  n: number;
  /** Seeds at which both series had a checkpoint with completions. */
  seeds: number;
  /** Mean over seeds of the compared checkpoints' KLs: how well they match. */
  klA: number;
  /** Mean over seeds of b's compared checkpoint's KL. */
  klB: number;
}

/** How per-seed metrics are aggregated: IQM with stratified percentile bootstrap intervals. */
export interface StatsSettings {
  /** Bootstrap resamples per interval. */
  readonly resamples: number;
  /** Two-sided confidence level of the intervals. */
  readonly confidence: number;
  /** Seed of the bootstrap streams (`Rng.stream(seed, "bootstrap", ...)`). */
  readonly seed: number;
}

/** Where the numbers came from, so a difference between machines can be explained. */
export interface Environment {
  /** The ONNX Runtime execution provider that ran the cells (`cpu`, `cuda`, `webgpu`). */
  executionProvider: string;
  /** Intra-op threads per session. */
  threads: number;
  /** Deno version. */
  deno: string;
  /** V8 version. */
  v8: string;
  /** TypeScript version bundled with Deno. */
  typescript: string;
  /** ONNX Runtime version. */
  onnxruntime: string;
  /** Operating system (`Deno.build.os`). */
  os: string;
  /** CPU architecture (`Deno.build.arch`). */
  arch: string;
}

/** One series in a verdict. */
export interface VerdictRow {
  /** The series' name. */
  readonly series: string;
  /** IQM over seeds of its best reward within the budget (the Summary's number). */
  readonly reward: number;
  /** Its 95% stratified-bootstrap interval, or null with fewer than two seeds. */
  readonly ci: readonly [number, number] | null;
  /** Fraction of joint bootstrap resamples in which it has the highest IQM (ties shared); null with one seed. */
  readonly pBest: number | null;
  /** Seeds aggregated. */
  readonly seeds: number;
  /** How far its reward is below the top series' (0 for the top one). */
  readonly behind: number;
  /** True when no seed reached a checkpoint within the budget better than π_ref: the reward is π_ref's. */
  readonly atReference?: true;
}

/** The verdict of one task at one KL budget: who leads, by how much, how sure. */
export interface VerdictEntry {
  /** The KL budget (nats). */
  readonly kl: number;
  /** Every series, best first. */
  readonly ranking: readonly VerdictRow[];
  /** The series that cannot be told apart from the top one, by `rule`. */
  readonly leaders: readonly string[];
  /** How leaders are told apart from the rest. */
  readonly rule: string;
  /** Set when no series has two seeds: `1 seed: no interval`. */
  readonly note?: string;
}

/** The cross-task aggregate (rliable): each series' normalized scores summarized over tasks. */
export interface CrossTaskAggregate {
  /** How each task's rewards were normalized. */
  readonly normalization: string;
  /** Per task: the budget scored, π_ref's reward, the top reward and where it came from. */
  readonly budgets: Readonly<
    Record<
      string,
      { readonly kl: number; readonly reference: number; readonly top: number; readonly topFrom: string }
    >
  >;
  /** The thresholds τ of the performance profiles. */
  readonly profileTaus: readonly number[];
  /** Every series, best first. */
  readonly series: readonly {
    /** The series' name. */
    readonly series: string;
    /** IQM of its normalized scores pooled over its tasks' seeds. */
    readonly iqm: number;
    /** Stratified-bootstrap interval of `iqm` (seeds resampled within each task). */
    readonly ci: readonly [number, number];
    /** The tasks it ran on. */
    readonly tasks: readonly string[];
    /** (task, seed) runs pooled. */
    readonly runs: number;
    /** Fraction of its runs scoring at least each τ of `profileTaus`. */
    readonly profile: readonly number[];
  }[];
}

/** `results.json`. */
export interface Results {
  /** `prefbench.results/<major>.<minor>`: {@link RESULTS_SCHEMA} when written, the file's own when read. */
  schema: string;
  /** The suite's name. */
  suite: string;
  /** SHA-256 (hex) of the suite's config (`slurm` aside): the manifest's. */
  configHash: string;
  /** When the run started (ISO 8601). */
  startedAt: string;
  /** When the results were aggregated (ISO 8601). */
  finishedAt: string;
  /** Provider, threads and versions of the process that aggregated the run. */
  environment?: Environment;
  /** How seeds were aggregated. */
  stats: StatsSettings & { estimator: "iqm"; interval: "stratified percentile bootstrap" };
  /** What the report needs of each task, by task name. */
  tasks: Record<string, TaskInfo>;
  /** Every cell's record, in plan order. */
  cells: CellRecord[];
  /** Every series' points aggregated over seeds, per task. */
  points: Record<string, Record<string, FrontierPoint[]>>;
  /** Pareto envelopes of `points`: the frontiers. */
  frontiers: Record<string, Record<string, FrontierPoint[]>>;
  /** The oracle frontier π*_β on bandits. */
  oracle: Record<string, OraclePoint[]>;
  /** Each frontier's reward gap to the oracle at matched KL. */
  gaps: Record<string, Record<string, GapSummary>>;
  /** Per task and series, the best reward within each KL budget. */
  budgets: Record<string, Record<string, BudgetSummary[]>>;
  /** Probability of improvement of every pair of series at every KL budget, across tasks. */
  improvement: Improvement[];
  /** (1.3) Per task, the verdict at each of its KL budgets. */
  verdict?: Record<string, VerdictEntry[]>;
  /** (1.3) The cross-task aggregate of normalized scores at each task's middle budget. */
  aggregate?: CrossTaskAggregate;
  /** Single-context tasks: each series' final action probabilities per knob value. */
  actionProbs: Record<string, Record<string, ActionProbs[]>>;
  /** (1.1) Per task and series, the area under the frontier up to the task's largest budget. */
  areas?: Record<string, Record<string, AreaSummary>>;
  /** (1.1) Per task and series, the win rate against π_ref of each seed's best checkpoint per budget. */
  winRates?: Record<string, Record<string, WinRateSummary[]>>;
  /** (1.1) Per task and series, the win rate against π_ref at every (knob value, checkpoint). */
  winPoints?: Record<string, Record<string, WinRatePoint[]>>;
  /** (1.2) Judged text tasks: per series (and π_ref), win rates against references and π_ref per temperature. */
  temperatureWinRates?: Record<string, Record<string, TemperatureWinRate[]>>;
  /** (1.2) Judged text tasks: every pair of series judged against each other at matched KL. */
  pairwise?: Record<string, PairwiseWinRate[]>;
  /** (1.2) Judged text tasks: the judge's name. */
  judges?: Record<string, string>;
}

/** What `aggregate` (bench/aggregate.ts) records besides the cells. */
export interface AggregateMeta {
  suite: string;
  configHash: string;
  startedAt: string;
  finishedAt: string;
  environment?: Environment;
}

/** Rounds to 6 significant digits (probabilities in records: enough to read, small to store). */
export function round6(v: number): number {
  return v === 0 ? 0 : Number(v.toPrecision(6));
}

/**
 * The version in a schema tag: `prefbench.results/1` is 1.0, `prefbench.results/1.1` is 1.1; null when
 * the tag is not a prefbench results schema.
 */
export function schemaVersion(tag: unknown): { major: number; minor: number } | null {
  const m = typeof tag === "string" ? /^prefbench\.results\/(\d+)(?:\.(\d+))?$/.exec(tag) : null;
  return m ? { major: Number(m[1]), minor: Number(m[2] ?? 0) } : null;
}

/**
 * Parses a `results.json` of any version this prefbench reads (major {@link RESULTS_VERSION}, any
 * minor, older minors brought up to date) and throws a {@link ConfigError} naming `path` and the
 * version for anything else.
 *
 * @example
 * ```ts
 * parseResults('{"schema": "prefbench.results/99.0"}', "runs/x/results.json");
 * // ConfigError: Cannot read "runs/x/results.json": its schema "prefbench.results/99.0" is major
 * //   version 99, and this prefbench reads major version 1 only (prefbench.results/1.0 to 1.1, and ...
 * ```
 */
export function parseResults(text: string, path: string): Results {
  const fail = (why: string): never => {
    throw new ConfigError(`Cannot read "${path}": ${why}`, "schema");
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return fail(`it is not valid JSON (${(e as Error).message.split("\n")[0]})`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    return fail("it is not a prefbench results object");
  }
  const r = doc as Record<string, unknown>;
  const v = schemaVersion(r.schema);
  if (!v) {
    return fail(
      `schema = ${JSON.stringify(r.schema) ?? "(missing)"} is not a prefbench results schema ` +
        `(expected "prefbench.results/<major>.<minor>", such as "${RESULTS_SCHEMA}")`,
    );
  }
  const { major, minor } = RESULTS_VERSION;
  if (v.major !== major) {
    fail(
      `its schema "${r.schema}" is major version ${v.major}, and this prefbench reads major version ${major} ` +
        `only (prefbench.results/${major}.0 to ${major}.${minor}, and later ${major}.x); it was written by ${
          v.major > major ? "a newer" : "an older"
        } prefbench, which is needed to read it`,
    );
  }
  for (const key of ["cells", "tasks", "frontiers", "points", "budgets", "oracle"] as const) {
    const want = key === "cells" ? "a list" : "an object";
    const ok = key === "cells" ? Array.isArray(r[key]) : typeof r[key] === "object" && r[key] !== null;
    if (!ok) fail(`"${key}" is missing or not ${want}, as schema "${r.schema}" requires`);
  }
  // A later minor only adds fields this reader ignores; an earlier one is brought up to date here.
  if (v.minor < 1) {
    for (const c of r.cells as Record<string, unknown>[]) {
      // 1.0 called a cell that threw "error"; 1.1 calls every stopped cell "failed" and says how.
      if (c.status === "error") {
        c.status = "failed";
        c.failure ??= { kind: "error", step: null, lastGoodCheckpoint: null };
      }
    }
  }
  return { improvement: [], actionProbs: {}, gaps: {}, ...r } as unknown as Results;
}

/** Reads and parses `results.json` ({@link parseResults}); a missing or unreadable file names the path. */
export async function readResults(path: string): Promise<Results> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError(
      `Cannot read "${path}": ${
        e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message.split("\n")[0]
      }`,
      "schema",
    );
  }
  return parseResults(text, path);
}
