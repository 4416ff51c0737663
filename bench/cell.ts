/**
 * Running one cell: the only place a task, an algorithm and the evaluator meet, and the one place
 * divergence is detected, for every algorithm alike. The cell's random streams are
 * `Rng.stream(seed, "cell", cellId, purpose)`; its preference data come from
 * `Rng.stream(seed, "data", task)`, shared by every algorithm of that task and seed, so DPO, IPO and
 * the proxy reward model see the same pairs.
 *
 * Divergence: every optimizer step's metrics pass through `TrainContext.onStep`, where a NaN or ±∞
 * loss or metric, or a gradient norm above the suite's ceiling, stops the cell; every checkpoint's
 * evaluation is checked for a finite KL and reward and for the KL ceiling. A stopped cell is recorded
 * as `status: "failed"` with the reason, the step and the last good checkpoint, and the run goes on.
 *
 * Text tasks (`sentiment`, `sentiment.small`) go through the same steps and checks: the task is built
 * (or read from the build cache) once per run, its preference pairs once per (task, seed) from
 * `Rng.stream(seed, "data", task)`, π_ref's comparator completions once per task, and each checkpoint is
 * evaluated by `evaluateText` with `Rng.stream(seed, "cell", cellId, "eval", step)`.
 *
 * @module
 */
import { rewardModel, type RewardModelConfig } from "../algorithms/reward_model.ts";
import { parseHParams } from "../algorithms/mod.ts";
import type { Registry } from "../algorithms/registry.ts";
import type {
  Checkpoint,
  FittedScorer,
  HParams,
  PolicyAlgorithm,
  RewardSource,
  TrainContext,
} from "../algorithms/types.ts";
import { Rng } from "../engine/rng.ts";
import type { Runtime } from "../engine/runtime.ts";
import type { StepMetrics } from "../engine/trainer.ts";
import type { PreferencePairs } from "../envs/bandit.ts";
import { allRows, banditPolicyEnv, banditScorerEnv, pairRows, tableReward } from "../envs/bandit_policy.ts";
import type { PairData, PolicyEnv, Reward } from "../envs/policy_env.ts";
import { textPolicyEnv, textReward, textScorerEnv } from "../envs/text_policy.ts";
import type { BanditTask } from "../tasks/bandits.ts";
import { taskPairs, taskPolicy, taskScorer } from "../tasks/bandits.ts";
import type { TextPairs } from "../envs/text.ts";
import { pairStats, sampleTextPairs } from "../envs/text.ts";
import type { TextTask, TextTaskSpec } from "../tasks/text_tasks.ts";
import type { Judge } from "../models/judge.ts";
import type {
  CellRecord,
  CheckpointRecord,
  CurvePoint,
  FailureKind,
  TemperatureWins,
} from "../results/mod.ts";
import { referenceCompletions, referenceSweep, suiteJudge, temperatureSweep } from "./winrates.ts";
import { isTextTask, TEXT_TASKS } from "../tasks/text_tasks.ts";
import type { TextBaseline } from "./evaluate.ts";
import { banditProbs, evaluateBandit, evaluateText, textBaseline, textPolicy } from "./evaluate.ts";
import { round6 } from "../results/mod.ts";
import type { Cell, DivergenceLimits, JudgeSpec } from "./suite.ts";

/** A fitted proxy reward: the scores and the fit's metrics. */
export interface Proxy {
  scores: Float64Array;
  metrics: Record<string, number>;
}

/** What every cell of a run shares. */
export interface CellEnv {
  readonly rt: Runtime;
  /** The algorithms cells may name: the built-ins and the run's plugins. */
  readonly registry: Registry;
  readonly tasks: ReadonlyMap<string, BanditTask>;
  readonly checkpoints: number;
  /** The reward model's config (behind `reward: proxy`). */
  readonly rewardModel: HParams;
  /** Proxies already fit in this run, by `task/seed` (fitting is deterministic, so sharing is exact). */
  readonly proxies: Map<string, Promise<Proxy>>;
  /** When a cell counts as diverged. */
  readonly divergence: DivergenceLimits;
  /** Text tasks loaded in this run (built or read from the cache once), by name. */
  readonly texts?: Map<string, Promise<LoadedText>>;
  /** Who judges judged text tasks, when the suite says (default: each task's own judge). */
  readonly judge?: JudgeSpec;
  /** Text tasks the suite defines (`text_tasks:`, see `suiteTextTasks`), beside the built-in ones. */
  readonly textSpecs?: ReadonlyMap<string, TextTaskSpec>;
  /** Where building a task logs its progress (default: stderr); a live progress line clears itself first. */
  readonly log?: (line: string) => void;
}

/** A text task ready for cells: its environment, π_ref's comparator rewards, pairs per seed. */
export interface LoadedText {
  readonly spec: TextTaskSpec;
  readonly env: TextTask;
  readonly baseline: TextBaseline;
  readonly pairs: Map<number, Promise<TextPairs>>;
  /** Proxy reward models fit in this run, by seed (fitting is deterministic, so sharing is exact). */
  readonly proxies: Map<number, Promise<FittedScorer>>;
  /** Tasks with a judge: π_ref's completions per temperature and its own sweep, drawn once. */
  readonly judged: {
    readonly judge: Judge;
    readonly refs: Promise<Map<number, string[]>>;
    readonly sweep: Promise<TemperatureWins[]>;
  } | null;
}

/** What a caller may watch or stop while a cell runs. */
export interface CellHooks {
  /** Aborting stops the cell at its next step; {@link runCell} then returns null (nothing to record). */
  readonly signal?: AbortSignal;
  /** After every optimizer step that passed the divergence checks. */
  readonly onStep?: (step: number, metrics: StepMetrics) => void;
  /** After every checkpoint that passed the checks. */
  readonly onCheckpoint?: (ck: CheckpointRecord) => void;
}

/** Why a cell stopped early: thrown from the step hook or the checkpoint check, caught in {@link runCell}. */
export class Divergence extends Error {
  override name = "Divergence";
  readonly kind: Exclude<FailureKind, "error">;
  readonly step: number | null;

  constructor(kind: Exclude<FailureKind, "error">, step: number | null, message: string) {
    super(message);
    this.kind = kind;
    this.step = step;
  }
}

/** Thrown into a cell's training when its run is interrupted. */
class Interrupted extends Error {
  override name = "Interrupted";
}

/** The preference dataset of a task for a seed. */
export function cellPairs(task: BanditTask, seed: number): PreferencePairs {
  return taskPairs(task, Rng.stream(seed, "data", task.name));
}

/**
 * Checks one step's metrics: every value finite (the loss named first), the gradient norm under its
 * ceiling. Throws a {@link Divergence} naming the metric, its value, the step and the ceiling.
 */
export function checkStep(step: number, metrics: StepMetrics, limits: DivergenceLimits, what = ""): void {
  const names = Object.keys(metrics).sort((a, b) => Number(b === "loss") - Number(a === "loss"));
  for (const k of names) {
    const v = metrics[k]!;
    if (!Number.isFinite(v)) throw new Divergence("non_finite", step, `${what}${k} is ${v} at step ${step}`);
  }
  const g = metrics.grad_norm;
  if (g !== undefined && limits.maxGradNorm !== null && g > limits.maxGradNorm) {
    throw new Divergence(
      "grad_norm",
      step,
      `${what}gradient norm ${
        g.toPrecision(4)
      } at step ${step} exceeds divergence.max_grad_norm = ${limits.maxGradNorm}`,
    );
  }
}

/** Checks one checkpoint's evaluation: a finite KL and reward, and the KL under its ceiling. */
export function checkCheckpoint(
  ck: { step: number; kl: number; reward: number },
  limits: DivergenceLimits,
): void {
  for (const k of ["kl", "reward"] as const) {
    if (!Number.isFinite(ck[k])) {
      throw new Divergence("non_finite", ck.step, `evaluated ${k} is ${ck[k]} at step ${ck.step}`);
    }
  }
  if (limits.maxKl !== null && ck.kl > limits.maxKl) {
    throw new Divergence(
      "kl_ceiling",
      ck.step,
      `KL(π‖π_ref) = ${
        ck.kl.toPrecision(4)
      } nats at step ${ck.step} exceeds divergence.max_kl = ${limits.maxKl}`,
    );
  }
}

/** What a cell's loop needs of its task: the training context's parts and a checkpoint's evaluation. */
interface CellTask {
  readonly env: PolicyEnv;
  readonly pairs: PairData;
  trainingReward(source: RewardSource): Promise<Reward>;
  /** The evaluator's record of a checkpoint (the caller adds the wall time). */
  evaluate(ck: Checkpoint): Promise<Omit<CheckpointRecord, "wallSeconds">>;
  /** Work on the final checkpoint once training ended (judged win rates). */
  finish(last: Checkpoint): Promise<void>;
}

/**
 * Trains and evaluates one cell. Divergence and errors become a record with status "failed", not an
 * exception; an abort through `hooks.signal` returns null.
 */
export async function runCell(cell: Cell, env: CellEnv, hooks: CellHooks = {}): Promise<CellRecord | null> {
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  const alg = env.registry.get(cell.algorithm) as PolicyAlgorithm;
  const record: CellRecord = {
    id: cell.id,
    task: cell.task,
    algorithm: cell.algorithm,
    series: cell.series,
    knob: cell.knob,
    knobValue: cell.knobValue,
    hparams: cell.hparams,
    seed: cell.seed,
    status: "ok",
    checkpoints: [],
    wallSeconds: 0,
  };
  let lastStep: number | null = null;
  try {
    const task = isTextTask(cell.task) || env.textSpecs?.has(cell.task)
      ? await textCellTask(cell, env, record)
      : await banditCellTask(cell, env, record);
    const ctx: TrainContext = {
      rt: env.rt,
      env: task.env,
      pairs: task.pairs,
      trainingReward: (source) => task.trainingReward(source),
      rng: (purpose) => Rng.stream(cell.seed, "cell", cell.id, purpose),
      checkpoints: env.checkpoints,
      onStep: (step, metrics) => {
        if (hooks.signal?.aborted) throw new Interrupted();
        lastStep = step;
        checkStep(step, metrics, env.divergence);
        hooks.onStep?.(step, metrics);
      },
    };
    let last: Checkpoint | null = null;
    for await (const ck of alg.train(ctx, cell.hparams)) {
      last = ck;
      const e = await task.evaluate(ck);
      checkCheckpoint(e, env.divergence);
      const rec: CheckpointRecord = { ...e, wallSeconds: seconds() };
      record.checkpoints.push(rec);
      hooks.onCheckpoint?.(rec);
      if (hooks.signal?.aborted) throw new Interrupted();
    }
    if (record.checkpoints.length === 0 || !last) throw new Error(`${alg.name} yielded no checkpoint`);
    await task.finish(last);
  } catch (e) {
    if (e instanceof Interrupted || hooks.signal?.aborted) return null;
    markFailed(record, e, lastStep);
  }
  return finishRecord(record, seconds());
}

/** A bandit cell: exact evaluation of every checkpoint's action distribution. */
async function banditCellTask(cell: Cell, env: CellEnv, record: CellRecord): Promise<CellTask> {
  const task = env.tasks.get(cell.task)!;
  const pairs = cellPairs(task, cell.seed);
  const policyEnv = await banditPolicyEnv(env.rt, task.bandit, taskPolicy(task));
  // Set when the algorithm asks for the proxy reward; the evaluator then logs the proxy beside the gold.
  let proxy: Proxy | null = null;
  return {
    env: policyEnv,
    pairs: pairRows(pairs),
    async trainingReward(source) {
      if (source === "gold") return tableReward(task.bandit, task.bandit.reward);
      proxy = await fitProxy(env, task, cell.seed, pairs);
      record.rewardModel = proxy.metrics;
      return tableReward(task.bandit, proxy.scores);
    },
    async evaluate(ck) {
      const probs = await banditProbs(policyEnv, ck.policy);
      const { probs: table, ...e } = evaluateBandit(task.bandit, probs, proxy?.scores ?? null);
      return { step: ck.step, ...e, metrics: { ...ck.metrics }, probs: table.map((row) => row.map(round6)) };
    },
    finish: () => Promise.resolve(),
  };
}

/** A text cell: checkpoints sampled on held-out prompts; judged tasks sweep temperatures at the end. */
async function textCellTask(cell: Cell, env: CellEnv, record: CellRecord): Promise<CellTask> {
  const task = await loadText(env, cell.task);
  const pairs = await textCellPairs(task, cell.seed);
  record.pairStats = pairStats(pairs);
  const policy = task.env.reference;
  let proxy: Reward | null = null;
  record.referenceReward = task.baseline.rewards.reduce((a, v) => a + v, 0) / task.baseline.rewards.length;
  return {
    env: textPolicyEnv(task.env, policy),
    pairs,
    async trainingReward(source) {
      if (source === "gold") return textReward(task.env.tokenizer, task.env.gold);
      const fitted = await fitTextProxy(env, task, cell.seed);
      record.rewardModel = { ...fitted.metrics };
      return proxy = fitted.reward;
    },
    async evaluate(ck) {
      const e = await evaluateText(task.env, { policy: textPolicy(policy, ck.policy) }, {
        rng: Rng.stream(cell.seed, "cell", cell.id, "eval", String(ck.step)),
        baseline: task.baseline,
        proxy,
      });
      return {
        step: ck.step,
        kl: e.kl,
        reward: e.reward,
        winRate: e.winRate,
        metrics: {
          ...ck.metrics,
          "eval/kl_stderr": e.klStderr,
          "eval/reward_stderr": e.rewardStderr,
          "eval/response_length": e.responseLength,
          "eval/eos_rate": e.eosRate,
        },
        samples: e.samples,
        ...(e.proxyReward !== undefined ? { proxyReward: e.proxyReward } : {}),
        ...(task.judged ? { completions: e.completions } : {}),
      };
    },
    async finish(last) {
      if (!task.judged) return;
      // The final policy's win rates against the references and π_ref at every temperature.
      const j = task.judged;
      record.temperatureWins = await temperatureSweep(
        task.env,
        j.judge,
        textPolicy(policy, last.policy),
        await j.refs,
        (purpose) => Rng.stream(cell.seed, "cell", cell.id, "win-rates", purpose),
      );
      record.referenceTemperatureWins = await j.sweep;
    },
  };
}

function fitProxy(env: CellEnv, task: BanditTask, seed: number, pairs: PreferencePairs): Promise<Proxy> {
  const key = `${task.name}/${seed}`;
  let p = env.proxies.get(key);
  if (!p) {
    p = rewardModel.fit({
      rt: env.rt,
      scorer: banditScorerEnv(task.bandit, taskScorer(task)),
      pairs: pairRows(pairs),
      rng: (purpose) => Rng.stream(seed, "proxy", task.name, purpose),
      // The proxy is trained too, so it diverges like a cell; every cell that needs it then fails with its reason.
      onStep: (step, metrics) => checkStep(step, metrics, env.divergence, "reward model: "),
    }, env.rewardModel as RewardModelConfig)
      .then(async (f) => ({ scores: await f.reward(allRows(task.bandit)), metrics: { ...f.metrics } }));
    env.proxies.set(key, p);
  }
  return p;
}

/** A text task of the run, loaded once. */
export function loadText(env: CellEnv, name: string): Promise<LoadedText> {
  const texts = env.texts;
  if (!texts) throw new Error(`Cannot run text task "${name}": the run did not set up text tasks`);
  let t = texts.get(name);
  if (!t) {
    const spec = env.textSpecs?.get(name) ?? TEXT_TASKS.get(name);
    if (!spec) throw new Error(`unknown text task "${name}"`);
    t = (async () => {
      const task = await spec.load(env.rt, env.log ? { log: env.log } : {});
      // A derived task (another data regime of a base) compares against its base's π_ref completions.
      const baseline = await textBaseline(task, Rng.stream(0, "eval", spec.base ?? name, "reference"));
      let judged: LoadedText["judged"] = null;
      if (task.judge) {
        const judge = await suiteJudge(env.judge, task, env.rt), refs = referenceCompletions(task, name);
        judged = { judge, refs, sweep: refs.then((r) => referenceSweep(task, judge, r, name)) };
      }
      return { spec, env: task, baseline, pairs: new Map(), proxies: new Map(), judged };
    })();
    texts.set(name, t);
  }
  return t;
}

/**
 * The preference pairs of a text task for a seed (shared by every algorithm of that seed). A derived
 * task draws from its base's stream: regimes of one base share their random numbers (at k = 2 and one
 * count, Bradley–Terry and deterministic labels see the same completions).
 */
export function textCellPairs(t: LoadedText, seed: number): Promise<TextPairs> {
  let p = t.pairs.get(seed);
  if (!p) {
    p = sampleTextPairs(t.env, t.spec.pairs, Rng.stream(seed, "data", t.spec.base ?? t.spec.name));
    t.pairs.set(seed, p);
  }
  return p;
}

/** The text proxy reward of a task and seed: the reward model fit on that seed's pairs. */
function fitTextProxy(env: CellEnv, t: LoadedText, seed: number): Promise<FittedScorer> {
  let p = t.proxies.get(seed);
  if (!p) {
    p = textCellPairs(t, seed).then((pairs) =>
      rewardModel.fit(
        {
          rt: env.rt,
          scorer: textScorerEnv(t.env.tokenizer),
          pairs,
          rng: (purpose) => Rng.stream(seed, "proxy", t.spec.name, purpose),
          onStep: (step, metrics) => checkStep(step, metrics, env.divergence, "reward model: "),
        },
        parseHParams(
          rewardModel.name,
          rewardModel.hparams,
          rewardModel.textDefaults,
          {},
        ) as RewardModelConfig,
      )
    );
    t.proxies.set(seed, p);
  }
  return p;
}

/** Records why a cell stopped: the reason, the step and its last good checkpoint. */
function markFailed(record: CellRecord, e: unknown, lastStep: number | null): void {
  record.status = "failed";
  record.error = e instanceof Error ? e.message : String(e);
  record.failure = {
    kind: e instanceof Divergence ? e.kind : "error",
    step: e instanceof Divergence ? e.step : lastStep,
    lastGoodCheckpoint: record.checkpoints.at(-1)?.step ?? null,
  };
}

/** Adds the training curve and the wall time to a finished (or failed) cell's record. */
function finishRecord(record: CellRecord, wallSeconds: number): CellRecord {
  const curve = trainingCurve(record.checkpoints);
  if (curve) record.curve = curve;
  record.wallSeconds = wallSeconds;
  return record;
}

/**
 * The training curve of a cell: at each checkpoint, the evaluator's reward and KL (`eval/reward`,
 * `eval/kl`) beside the training metrics of that step. Absent for cells with fewer than two trained
 * checkpoints (inference-time methods), whose curve would be a single point.
 */
export function trainingCurve(checkpoints: readonly CheckpointRecord[]): CurvePoint[] | null {
  const trained = checkpoints.filter((ck) => ck.step > 0);
  if (trained.length < 2) return null;
  return trained.map((ck) => {
    const metrics: Record<string, number> = { "eval/reward": ck.reward, "eval/kl": ck.kl };
    for (const [k, v] of Object.entries(ck.metrics ?? {})) if (Number.isFinite(v)) metrics[k] = v;
    return { step: ck.step, metrics };
  });
}
