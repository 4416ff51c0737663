/**
 * Running one cell: the only place a task, an algorithm and the evaluator meet. The cell's random
 * streams are `Rng.stream(seed, "cell", cellId, purpose)`; its preference data come from
 * `Rng.stream(seed, "data", task)`, shared by every algorithm of that task and seed, so DPO, IPO and
 * the proxy reward model see the same pairs.
 *
 * @module
 */
import { rewardModel, type RewardModelConfig } from "../algorithms/reward_model.ts";
import { getAlgorithm } from "../algorithms/registry.ts";
import type { HParams, PolicyAlgorithm, RewardSource, TrainContext } from "../algorithms/types.ts";
import { Rng } from "../engine/rng.ts";
import type { Runtime } from "../engine/runtime.ts";
import type { PreferencePairs } from "../envs/bandit.ts";
import type { BanditTask } from "../tasks/bandits.ts";
import { taskPairs, taskPolicy, taskScorer } from "../tasks/bandits.ts";
import { evaluateBandit } from "./evaluate.ts";
import type { CellRecord, CheckpointRecord } from "./results.ts";
import { round6 } from "./results.ts";
import type { Cell } from "./suite.ts";

/** A fitted proxy reward: the scores and the fit's metrics. */
export interface Proxy {
  scores: Float64Array;
  metrics: Record<string, number>;
}

/** What every cell of a run shares. */
export interface CellEnv {
  readonly rt: Runtime;
  readonly tasks: ReadonlyMap<string, BanditTask>;
  readonly checkpoints: number;
  /** The reward model's config (behind `reward: proxy`). */
  readonly rewardModel: HParams;
  /** Proxies already fit in this run, by `task/seed` (fitting is deterministic, so sharing is exact). */
  readonly proxies: Map<string, Promise<Proxy>>;
}

/** The preference dataset of a task for a seed. */
export function cellPairs(task: BanditTask, seed: number): PreferencePairs {
  return taskPairs(task, Rng.stream(seed, "data", task.name));
}

/** Trains and evaluates one cell. Errors become a record with status "error", not an exception. */
export async function runCell(cell: Cell, env: CellEnv): Promise<CellRecord> {
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  const task = env.tasks.get(cell.task)!;
  const alg = getAlgorithm(cell.algorithm) as PolicyAlgorithm;
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
  const pairs = cellPairs(task, cell.seed);
  // Set when the algorithm asks for the proxy reward; the evaluator then logs the proxy beside the gold.
  const used: { proxy: Proxy | null } = { proxy: null };
  const ctx: TrainContext = {
    rt: env.rt,
    env: task.bandit,
    policy: taskPolicy(task),
    pairs,
    trainingReward: async (source: RewardSource) => {
      if (source === "gold") return task.bandit.reward;
      const proxy = used.proxy = await fitProxy(env, task, cell.seed, pairs);
      record.rewardModel = proxy.metrics;
      return proxy.scores;
    },
    rng: (purpose) => Rng.stream(cell.seed, "cell", cell.id, purpose),
    checkpoints: env.checkpoints,
  };
  try {
    for await (const ck of alg.train(ctx, cell.hparams)) {
      const { probs, ...e } = evaluateBandit(task.bandit, ck.probs, used.proxy?.scores ?? null);
      const rec: CheckpointRecord = {
        step: ck.step,
        ...e,
        wallSeconds: seconds(),
        metrics: { ...ck.metrics },
      };
      rec.probs = probs.map((row) => row.map(round6));
      record.checkpoints.push(rec);
    }
    if (record.checkpoints.length === 0) throw new Error(`${alg.name} yielded no checkpoint`);
  } catch (e) {
    record.status = "error";
    record.error = e instanceof Error ? e.message : String(e);
  }
  record.wallSeconds = seconds();
  return record;
}

function fitProxy(env: CellEnv, task: BanditTask, seed: number, pairs: PreferencePairs): Promise<Proxy> {
  const key = `${task.name}/${seed}`;
  let p = env.proxies.get(key);
  if (!p) {
    p = rewardModel.fit({ rt: env.rt, scorer: taskScorer(task), pairs }, env.rewardModel as RewardModelConfig)
      .then((f) => ({ scores: f.scores, metrics: { ...f.metrics } }));
    env.proxies.set(key, p);
  }
  return p;
}
