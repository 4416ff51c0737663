/**
 * Helpers for the text acceptance tests: the reduced sentiment task, a training context like the bench
 * builds, and evaluated checkpoints of an algorithm.
 */
import { parseHParams } from "../algorithms/_hparams.ts";
import type { HParams, PolicyAlgorithm, TrainContext } from "../algorithms/types.ts";
import { Rng } from "../engine/rng.ts";
import type { Runtime } from "../engine/runtime.ts";
import type { TextEnv, TextPairs } from "../envs/text.ts";
import { sampleTextPairs } from "../envs/text.ts";
import type { GptPolicy } from "../models/gpt_policy.ts";
import type { TextEvaluation } from "../bench/evaluate.ts";
import { evaluateText, textBaseline, textPolicy } from "../bench/evaluate.ts";
import type { TextPolicyEnv } from "../envs/text_policy.ts";
import { textPolicyEnv, textReward } from "../envs/text_policy.ts";
import type { TrainablePolicy } from "../models/sequence_policy.ts";

/** A text training context: its environment is a {@link TextPolicyEnv}. */
export interface TextContext extends TrainContext {
  readonly env: TextPolicyEnv;
}

/** A training context on a text environment, for one seed (the policy: π_ref's GPT unless given). */
export function textContext(
  rt: Runtime,
  env: TextEnv & { reference: GptPolicy },
  pairs: TextPairs,
  seed = 0,
  checkpoints = 1,
  policy: TrainablePolicy = env.reference,
): TextContext {
  return {
    rt,
    env: textPolicyEnv(env, policy),
    pairs,
    trainingReward: (source) => {
      if (source === "gold") return Promise.resolve(textReward(env.tokenizer, env.gold));
      throw new Error("the text test helper has no proxy");
    },
    rng: (purpose) => Rng.stream(seed, "cell", "test/text", purpose),
    checkpoints,
  };
}

/** Pairs of π_ref completions for a seed. */
export function textPairs(env: TextEnv, count: number, seed = 0): Promise<TextPairs> {
  return sampleTextPairs(env, { count, scale: 10 }, Rng.stream(seed, "data", "test/text"));
}

/** Trains `alg` with overrides of its text defaults; evaluates every checkpoint. */
export async function evaluateAlgorithm(
  rt: Runtime,
  env: TextEnv & { reference: GptPolicy },
  pairs: TextPairs,
  alg: PolicyAlgorithm,
  overrides: HParams,
  checkpoints = 2,
): Promise<{ reference: TextEvaluation; checkpoints: TextEvaluation[] }> {
  const config = parseHParams(alg.name, alg.hparams, alg.textDefaults, overrides);
  const baseline = await textBaseline(env, Rng.stream(0, "eval", "baseline"));
  const evalRng = () => Rng.stream(0, "eval", "test");
  const reference = await evaluateText(env, { policy: { model: env.reference } }, {
    rng: evalRng(),
    baseline,
    proxy: null,
  });
  const out: TextEvaluation[] = [];
  for await (const ck of alg.train(textContext(rt, env, pairs, 0, checkpoints), config)) {
    const policy = textPolicy(env.reference, ck.policy);
    out.push(await evaluateText(env, { policy }, { rng: evalRng(), baseline, proxy: null }));
  }
  return { reference, checkpoints: out };
}
