/**
 * Reward model: a Bradley–Terry scorer fit on preference pairs (Christiano et al., 2017; Ouyang et al.,
 * 2022, eq. 1):
 *
 *   L_RM = −E_(x,y_w,y_l) log σ(s(x, y_w) − s(x, y_l))
 *
 * It is fit on the same pairs DPO sees, so online methods and best-of-n can optimize this proxy instead
 * of the gold reward, as in RLHF. On deterministic preferences the loss has no finite minimizer; the
 * step budget and weight decay set the scale of the scores. BT scores are defined up to a per-context
 * constant, which no policy objective here depends on.
 *
 * It fits a scorer rather than a policy, so it traces no frontier: a suite's `reward_model` entry
 * configures the proxy reward of every bandit cell that asks for `reward: proxy`.
 *
 * On text (`fitText`) the scorer is a small transformer encoder built from the gold classifier's blocks
 * (models/classifier.ts) reading prompt + completion, its one logit the score; minibatch AdamW on the
 * same pairs DPO sees. Text cells use the text defaults (the suite's `reward_model` entry sizes the
 * bandit tables).
 *
 * @module
 */
import type { Graph, Tensor } from "../engine/graph.ts";
import { Graph as G } from "../engine/graph.ts";
import { Trainer } from "../engine/trainer.ts";
import type { HParamSpecs } from "./_hparams.ts";
import { annealedLr, indices } from "./_policy.ts";
import type { TensorData } from "../engine/graph.ts";
import type { ClassifierConfig, TextScorer } from "../models/classifier.ts";
import { classifierLogits, classifierParams } from "../models/classifier.ts";
import { declareParams, initParams } from "../models/gpt.ts";
import type { Tokenizer } from "../models/tokenizer.ts";
import type { FitContext, FittedScorer, FittedTextScorer, ScorerAlgorithm, TextFitContext } from "./types.ts";

/** Reward-model hyperparameters (snake_case, as in suite files). */
export type RewardModelConfig = {
  /** Full-batch AdamW steps over the preference pairs. */
  steps: number;
  /** Peak AdamW learning rate. */
  lr: number;
  /** Decoupled weight decay λ ≥ 0 (AdamW), which keeps scores finite on deterministic preferences. */
  weight_decay: number;
};

/** Defaults: a few hundred full-batch steps on the bandit datasets. */
export const REWARD_MODEL_DEFAULTS: Readonly<RewardModelConfig> = { steps: 200, lr: 0.05, weight_decay: 0 };

/** Allowed values of every reward-model hyperparameter. */
export const REWARD_MODEL_HPARAMS: HParamSpecs<RewardModelConfig> = {
  steps: { type: "integer", min: 1 },
  lr: { type: "number", min: 0, minExclusive: true },
  weight_decay: { type: "number", min: 0 },
};

/** Per-pair Bradley–Terry loss −log σ(s_w − s_l) from score differences `[B]` (stable logSigmoid). */
export function bradleyTerryLoss(g: Graph, scoreMargin: Tensor): Tensor {
  return g.neg(g.logSigmoid(scoreMargin));
}

async function fit(ctx: FitContext, c: RewardModelConfig): Promise<FittedScorer> {
  const { scorer, pairs } = ctx;
  const n = pairs.x.length, k = scorer.actions;
  const g = new G();
  const scores = g.reshape(scorer.scores(g), [scorer.contexts * k]); // [X·K]
  const chosen = g.input("pairs.chosen", [n], "int64");
  const rejected = g.input("pairs.rejected", [n], "int64");
  const margin = g.sub(g.gather(scores, chosen), g.gather(scores, rejected)); // [N]
  const trainer = await Trainer.create(ctx.rt, g.mean(bradleyTerryLoss(g, margin)), scorer.init(), {
    adamw: { weightDecay: c.weight_decay, decay: () => true },
    metrics: { accuracy: g.mean(g.cast(g.less(g.scalar(0, scorer.dtype), margin), scorer.dtype)) },
  });
  const feeds = {
    "pairs.chosen": indices(Array.from(pairs.x, (x, i) => x * k + pairs.chosen[i]!)),
    "pairs.rejected": indices(Array.from(pairs.x, (x, i) => x * k + pairs.rejected[i]!)),
  };
  let metrics: Record<string, number> = {};
  for (let step = 1; step <= c.steps; step++) {
    metrics = await trainer.step(feeds, annealedLr(c.lr, step, c.steps));
    ctx.onStep?.(step, metrics);
  }
  const final = await trainer.evaluate(feeds);
  const exe = await ctx.rt.compile(g, { scores });
  const feedsScores = Object.fromEntries(exe.inputs.map((s) => [s.name, trainer.params.get(s.name)!]));
  const out = (await exe.run(feedsScores)).scores!;
  return {
    scores: out instanceof Float64Array ? out : Float64Array.from(out as Float32Array),
    metrics: {
      loss: final.loss!,
      accuracy: final.accuracy!,
      steps: c.steps,
      grad_norm: metrics.grad_norm ?? 0,
    },
  };
}

// --- text ----------------------------------------------------------------------------------------------

/**
 * Defaults on text: minibatch AdamW on a small transformer scorer. On `sentiment.small`'s 4096 pairs it
 * orders ~69% of clearly-ordered held-out pairs (gold rewards 0.5 apart) as the gold reward does: a
 * weak proxy, which is what makes over-optimization visible.
 */
export const REWARD_MODEL_TEXT_DEFAULTS: Readonly<RewardModelConfig> = {
  steps: 400,
  lr: 3e-3,
  weight_decay: 0.01,
};

/**
 * The text scorer's size: the gold classifier's architecture (models/classifier.ts), smaller. Its one
 * logit is the score s(x, y) of the whole text, prompt included.
 */
const TEXT_SCORER = { dModel: 32, layers: 1, heads: 2, maxLen: 32 } as const;
/** Pairs per step, and texts per scoring call. */
const TEXT_BATCH = 32, SCORE_BATCH = 64;

/** Token ids and padding masks of texts, `[n, L]` each, as the gold scorer reads them (truncated to L). */
function encodeTexts(tok: Tokenizer, texts: readonly string[], l: number) {
  const ids = new BigInt64Array(texts.length * l).fill(BigInt(tok.special.pad));
  const mask = new BigInt64Array(texts.length * l);
  texts.forEach((t, i) =>
    tok.encode(t).slice(0, l).forEach((id, j) => {
      ids[i * l + j] = BigInt(id);
      mask[i * l + j] = 1n;
    })
  );
  return { ids, mask };
}

/** Fits a Bradley–Terry text scorer on pairs of completions; the proxy reward of text tasks. */
async function fitText(ctx: TextFitContext, c: RewardModelConfig): Promise<FittedTextScorer> {
  const { pairs, tokenizer: tok } = ctx;
  const n = pairs.prompts.length;
  if (n === 0) throw new RangeError("reward_model: no preference pairs to fit");
  const cfg: ClassifierConfig = { vocab: tok.vocabSize, ...TEXT_SCORER };
  const l = cfg.maxLen, b = Math.min(TEXT_BATCH, n);
  const text = (i: number, y: ArrayLike<number>) => tok.decode([...pairs.prompts[i]!, ...Array.from(y)]);
  const chosen = encodeTexts(tok, pairs.chosen.map((y, i) => text(i, y)), l);
  const rejected = encodeTexts(tok, pairs.rejected.map((y, i) => text(i, y)), l);

  const g = new G();
  const specs = classifierParams(cfg);
  const p = declareParams(g, specs);
  const ids = g.input("pairs.ids", [2 * b, l], "int64"); // chosen rows, then rejected rows
  const mask = g.input("pairs.mask", [2 * b, l], "int64");
  const s = classifierLogits(g, cfg, p, ids, mask); // [2B]
  const margin = g.sub(g.slice(s, 0, 0, b), g.slice(s, 0, b, 2 * b)); // s(x, y_w) − s(x, y_l)
  const trainer = await Trainer.create(
    ctx.rt,
    g.mean(bradleyTerryLoss(g, margin)),
    initParams(specs, ctx.rng("init")),
    {
      adamw: { weightDecay: c.weight_decay, clipNorm: 1 },
      metrics: { accuracy: g.mean(g.cast(g.less(g.scalar(0), margin), "float32")) },
    },
  );
  const rows = (src: BigInt64Array, idx: readonly number[]) => {
    const out = new BigInt64Array(idx.length * l);
    idx.forEach((i, r) => out.set(src.subarray(i * l, (i + 1) * l), r * l));
    return out;
  };
  const order = ctx.rng("minibatch");
  let perm: number[] = [], cursor = n;
  let metrics: Record<string, number> = {};
  for (let step = 1; step <= c.steps; step++) {
    if (cursor + b > n) [perm, cursor] = [order.shuffle([...Array(n).keys()]), 0];
    const idx = perm.slice(cursor, cursor += b);
    const cat = (a: BigInt64Array, z: BigInt64Array) => {
      const out = new BigInt64Array(2 * b * l);
      out.set(rows(a, idx), 0);
      out.set(rows(z, idx), b * l);
      return out;
    };
    metrics = await trainer.step(
      { "pairs.ids": cat(chosen.ids, rejected.ids), "pairs.mask": cat(chosen.mask, rejected.mask) },
      annealedLr(c.lr, step, c.steps),
    );
    ctx.onStep?.(step, metrics);
  }

  // The scorer: the trained weights in an inference graph of a fixed batch.
  const sg = new G();
  const sp = declareParams(sg, specs);
  const exe = await ctx.rt.compile(sg, {
    score: classifierLogits(
      sg,
      cfg,
      sp,
      sg.input("ids", [SCORE_BATCH, l], "int64"),
      sg.input("mask", [SCORE_BATCH, l], "int64"),
    ),
  });
  const weights = new Map(trainer.params);
  const scorer: TextScorer = {
    async score(texts) {
      const out = new Float64Array(texts.length);
      for (let start = 0; start < texts.length; start += SCORE_BATCH) {
        const chunk = texts.slice(start, start + SCORE_BATCH);
        const e = encodeTexts(tok, [...chunk, ...Array(SCORE_BATCH - chunk.length).fill("")], l);
        const feeds: Record<string, TensorData> = { ids: e.ids, mask: e.mask };
        for (const spec of exe.inputs) if (!feeds[spec.name]) feeds[spec.name] = weights.get(spec.name)!;
        const y = (await exe.run(feeds)).score!;
        for (let i = 0; i < chunk.length; i++) out[start + i] = Number(y[i]);
      }
      return out;
    },
  };
  // Accuracy on the training pairs, through the scorer itself.
  const sw = await scorer.score(pairs.chosen.map((y, i) => text(i, y)));
  const sl = await scorer.score(pairs.rejected.map((y, i) => text(i, y)));
  let right = 0;
  sw.forEach((v, i) => (right += v > sl[i]! ? 1 : 0));
  return {
    scorer,
    metrics: {
      loss: metrics.loss ?? NaN,
      accuracy: right / n,
      steps: c.steps,
      grad_norm: metrics.grad_norm ?? 0,
    },
  };
}

/** The reward-model plugin. */
export const rewardModel = {
  name: "reward_model",
  kind: "supervised",
  summary: "Bradley–Terry reward model on the preference pairs (the proxy reward); no knob",
  defaults: REWARD_MODEL_DEFAULTS,
  hparams: REWARD_MODEL_HPARAMS,
  fit,
  textDefaults: REWARD_MODEL_TEXT_DEFAULTS,
  fitText,
} satisfies ScorerAlgorithm<RewardModelConfig>;
