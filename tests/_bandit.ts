/**
 * Helpers for the bandit acceptance tests: a cell context for one task and seed, and running an
 * algorithm to its last checkpoint.
 */
import type { HParams, PolicyAlgorithm, TrainContext } from "../algorithms/types.ts";
import { parseHParams } from "../algorithms/_hparams.ts";
import { Rng } from "../engine/rng.ts";
import type { Runtime } from "../engine/runtime.ts";
import type { StepMetrics } from "../engine/trainer.ts";
import { cellPairs } from "../bench/cell.ts";
import { REWARD_MODEL_DEFAULTS, rewardModel } from "../algorithms/reward_model.ts";
import type { BanditTask } from "../tasks/bandits.ts";
import { loadBanditTasks, taskPolicy, taskScorer } from "../tasks/bandits.ts";

export const TASKS = await loadBanditTasks();

/** A task by name (throws if the task file lost it). */
export function task(name: string): BanditTask {
  const t = TASKS.get(name);
  if (!t) throw new Error(`no task ${name}`);
  return t;
}

/** A training context like the bench builds, for one task and seed. */
export function context(
  rt: Runtime,
  t: BanditTask,
  seed = 0,
  opts: { checkpoints?: number; onStep?: (step: number, m: StepMetrics) => void } = {},
): TrainContext {
  const pairs = cellPairs(t, seed);
  return {
    rt,
    env: t.bandit,
    policy: taskPolicy(t),
    pairs,
    trainingReward: async (source) =>
      source === "gold"
        ? t.bandit.reward
        : (await rewardModel.fit({ rt, scorer: taskScorer(t), pairs }, REWARD_MODEL_DEFAULTS)).scores,
    rng: (purpose) => Rng.stream(seed, "cell", `test/${t.name}`, purpose),
    checkpoints: opts.checkpoints ?? 1,
    ...(opts.onStep ? { onStep: opts.onStep } : {}),
  };
}

/** Runs an algorithm with overrides on a task; returns the final checkpoint's probabilities. */
export async function finalProbs(
  rt: Runtime,
  alg: PolicyAlgorithm,
  t: BanditTask,
  overrides: HParams,
  seed = 0,
): Promise<Float64Array> {
  const config = parseHParams(alg.name, alg.hparams, alg.defaults, overrides);
  let last: Float64Array | null = null;
  for await (const ck of alg.train(context(rt, t, seed), config)) last = ck.probs;
  if (!last) throw new Error(`${alg.name} yielded no checkpoint`);
  return last;
}
