/**
 * Helpers for the bandit acceptance tests: a cell context for one task and seed (or for any bandit and
 * table policy), the action distributions of its checkpoints, and running an algorithm to its last one.
 */
import type { Checkpoint, HParams, PolicyAlgorithm, TrainContext } from "../algorithms/types.ts";
import { parseHParams } from "../algorithms/_hparams.ts";
import { Rng } from "../engine/rng.ts";
import type { Runtime } from "../engine/runtime.ts";
import type { StepMetrics } from "../engine/trainer.ts";
import { cellPairs } from "../bench/cell.ts";
import { banditProbs } from "../bench/evaluate.ts";
import { REWARD_MODEL_DEFAULTS, rewardModel } from "../algorithms/reward_model.ts";
import type { Bandit, PreferencePairs } from "../envs/bandit.ts";
import type { BanditPolicyEnv } from "../envs/bandit_policy.ts";
import { allRows, banditPolicyEnv, banditScorerEnv, pairRows, tableReward } from "../envs/bandit_policy.ts";
import type { TablePolicy, TableScorer } from "../models/tabular.ts";
import { tabularPolicy, tabularScorer } from "../models/tabular.ts";
import type { BanditTask } from "../tasks/bandits.ts";
import { loadBanditTasks, taskPolicy, taskScorer } from "../tasks/bandits.ts";

export const TASKS = await loadBanditTasks();

/** A task by name (throws if the task file lost it). */
export function task(name: string): BanditTask {
  const t = TASKS.get(name);
  if (!t) throw new Error(`no task ${name}`);
  return t;
}

/** A bandit training context: its environment is a {@link BanditPolicyEnv}, its pairs kept as tables too. */
export interface BanditContext extends TrainContext {
  readonly env: BanditPolicyEnv;
  readonly bandit: Bandit;
  /** The pairs as (context, chosen, rejected) tables. */
  readonly table: PreferencePairs;
  readonly policy: TablePolicy;
}

/** Options of {@link banditContext}. */
export interface ContextOptions {
  checkpoints?: number;
  onStep?: (step: number, m: StepMetrics) => void;
  /** The proxy's scorer (default: a free table) and its hyperparameters (default: the bandit defaults). */
  scorer?: TableScorer;
  proxy?: HParams;
  /** Seed and name of the cell's streams. */
  seed?: number;
  name?: string;
}

/** A training context on any bandit, table policy and pairs, like the bench builds for a cell. */
export async function banditContext(
  rt: Runtime,
  bandit: Bandit,
  policy: TablePolicy,
  pairs: PreferencePairs,
  opts: ContextOptions = {},
): Promise<BanditContext> {
  const seed = opts.seed ?? 0, name = opts.name ?? "test";
  const env = await banditPolicyEnv(rt, bandit, policy);
  const scorer = opts.scorer ?? tabularScorer({ contexts: bandit.contexts, actions: bandit.actions });
  return {
    rt,
    env,
    bandit,
    table: pairs,
    policy,
    pairs: pairRows(pairs),
    trainingReward: async (source) => {
      if (source === "gold") return tableReward(bandit, bandit.reward);
      const config = { ...REWARD_MODEL_DEFAULTS, ...opts.proxy } as typeof REWARD_MODEL_DEFAULTS;
      const fit = await rewardModel.fit({
        rt,
        scorer: banditScorerEnv(bandit, scorer),
        pairs: pairRows(pairs),
        rng: (purpose) => Rng.stream(seed, "proxy", name, purpose),
      }, config);
      return tableReward(bandit, await fit.reward(allRows(bandit)));
    },
    rng: (purpose) => Rng.stream(seed, "cell", `test/${name}`, purpose),
    checkpoints: opts.checkpoints ?? 1,
    ...(opts.onStep ? { onStep: opts.onStep } : {}),
  };
}

/** A training context like the bench builds, for one task and seed. */
export function context(
  rt: Runtime,
  t: BanditTask,
  seed = 0,
  opts: { checkpoints?: number; onStep?: (step: number, m: StepMetrics) => void } = {},
): Promise<BanditContext> {
  return banditContext(rt, t.bandit, taskPolicy(t), cellPairs(t, seed), {
    ...opts,
    seed,
    name: t.name,
    scorer: taskScorer(t),
  });
}

/** A small tabular context on a bandit: π initialized at π_ref. */
export function tableContext(
  rt: Runtime,
  bandit: Bandit,
  pairs: PreferencePairs,
  opts: ContextOptions = {},
): Promise<BanditContext> {
  const policy = tabularPolicy({
    contexts: bandit.contexts,
    actions: bandit.actions,
    initLogits: bandit.refLogProbs,
  });
  return banditContext(rt, bandit, policy, pairs, opts);
}

/** A checkpoint with its action distribution `[X, K]`. */
export type ProbsCheckpoint = Checkpoint & { readonly probs: Float64Array };

/** Runs an algorithm to the end; every checkpoint with its action distribution. */
export async function trainBandit(
  alg: PolicyAlgorithm,
  ctx: BanditContext,
  config: HParams,
): Promise<ProbsCheckpoint[]> {
  const out: ProbsCheckpoint[] = [];
  for await (const ck of alg.train(ctx, config)) {
    out.push({ ...ck, probs: await banditProbs(ctx.env, ck.policy) });
  }
  return out;
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
  const last = (await trainBandit(alg, await context(rt, t, seed), config)).at(-1);
  if (!last) throw new Error(`${alg.name} yielded no checkpoint`);
  return last.probs;
}
