/**
 * The evaluator: one yardstick for every algorithm. On a bandit a checkpoint is its action
 * distribution, and everything is computed exactly from it: KL(π‖π_ref), expected gold reward, the
 * gold win rate against π_ref (ties ½) and, for cells trained on a proxy, the expected proxy reward.
 *
 * @module
 */
import type { Bandit } from "../envs/bandit.ts";
import { exactKl, expectedReward, winRateVsRef } from "../envs/bandit.ts";

/** What the evaluator reports for one checkpoint. */
export interface Evaluation {
  kl: number;
  reward: number;
  winRate: number;
  proxyReward?: number;
  /** π(y|x) as `[context][action]`. */
  probs: number[][];
}

/** Evaluates an action distribution `[X, K]` on a bandit; `proxy` is the proxy reward table, if any. */
export function evaluateBandit(b: Bandit, probs: Float64Array, proxy: Float64Array | null): Evaluation {
  const e: Evaluation = {
    kl: exactKl(b, probs),
    reward: expectedReward(b, probs),
    winRate: winRateVsRef(b, probs),
    probs: Array.from(
      { length: b.contexts },
      (_, x) => Array.from(probs.subarray(x * b.actions, (x + 1) * b.actions)),
    ),
  };
  if (proxy) e.proxyReward = expectedReward(b, probs, proxy);
  return e;
}
