/**
 * A text task as a {@link PolicyEnv}: rows are prompt + completion token sequences packed to the
 * policy's full context (so one compiled shape serves every batch of an algorithm, and every knob
 * value and seed of a task through the runtime's session cache), the policy is any trainable sequence
 * model (the harness's GPT, an imported ONNX causal LM), π_ref is the environment's reference model,
 * and rollouts sample completions of training prompts at temperature 1 with the task's length limit.
 *
 * Also the text reward-model environment: a small transformer classifier over a row's decoded text,
 * tokenized as the gold scorer reads it.
 *
 * @module
 */
import type { Graph, Tensor, TensorData } from "../engine/graph.ts";
import type { Rng } from "../engine/rng.ts";
import type { ClassifierConfig, TextScorer } from "../models/classifier.ts";
import { classifierLogits, classifierParams } from "../models/classifier.ts";
import {
  declareParams,
  type GptConfig,
  gptValues,
  initParams,
  tokenLogProbs,
  valueHeadParams,
} from "../models/gpt.ts";
import type { SequencePolicy, TrainablePolicy } from "../models/sequence_policy.ts";
import { packSequences, responseLogProbs } from "../models/sequence_policy.ts";
import type { Tokenizer } from "../models/tokenizer.ts";
import type { PolicyEnv, Reward, Rows, SequenceNodes } from "./policy_env.ts";
import { entropyOf } from "./policy_env.ts";
import type { ScorerEnv } from "./scorer_env.ts";
import type { TextEnv } from "./text.ts";

/** Graph inputs of packed rows. */
export const SEQ = { tokens: "seq.tokens", targets: "seq.targets", mask: "seq.mask" } as const;

/** A text policy environment: the {@link PolicyEnv} of a trainable sequence model on a text task. */
export interface TextPolicyEnv extends PolicyEnv {
  readonly text: TextEnv;
  readonly policy: TrainablePolicy;
}

/**
 * Most optimizer steps folded into one call on text: the folded graph holds a copy of the training
 * graph per step, so its compile time and size grow with the count.
 */
export const MAX_FOLDED_STEPS = 8;

/** The policy environment of `policy` (π_ref's GPT unless told otherwise) on a text task. */
export function textPolicyEnv(text: TextEnv, policy: TrainablePolicy): TextPolicyEnv {
  const t = policy.context, dtype = policy.dtype;
  const eos = text.tokenizer.special.eos;
  const start = (rows: Rows, b: number) => b * t + rows.prompts[b]!.length - 1;
  return {
    text,
    policy,
    dtype,
    context: t,
    maxNewTokens: text.maxNewTokens,
    eos,
    foldSteps: MAX_FOLDED_STEPS,
    prompts: text.trainPrompts.map((p) => Int32Array.from(p.ids)),
    support: null,
    initialParams(options = {}) {
      const out = new Map<string, TensorData>([...policy.params].map(([k, v]) => [k, v.slice()]));
      for (const s of options.valueHead ? valueHead(policy) : []) {
        const n = s.shape.reduce((a, d) => a * d, 1);
        out.set(s.name, dtype === "float64" ? new Float64Array(n) : new Float32Array(n));
      }
      return out;
    },
    nodes(g: Graph, rows: number, options = {}): SequenceNodes {
      const tokens = g.input(SEQ.tokens, [rows, t], "int64");
      const targets = g.input(SEQ.targets, [rows, t], "int64");
      const mask = g.input(SEQ.mask, [rows, t], dtype);
      const { logits, hidden } = policy.forwardNodes(g, tokens); // [B, T, V], [B, T, D]
      const tokenLogp = g.mul(tokenLogProbs(g, logits, targets), mask); // [B, T]
      const nodes: { -readonly [K in keyof SequenceNodes]: SequenceNodes[K] } = {
        tokenLogp,
        seqLogp: g.reduceSum(tokenLogp, [1]),
        mask,
      };
      if (options.valueHead) nodes.values = gptValues(g, declareParams(g, valueHead(policy), dtype), hidden);
      if (options.entropy) nodes.entropy = entropyOf(g, g.logSoftmax(logits)); // [B, T]
      return nodes;
    },
    feeds(rows) {
      const packed = packSequences(rows, { length: t, pad: 0 });
      return {
        [SEQ.tokens]: packed.inputs,
        [SEQ.targets]: packed.targets,
        [SEQ.mask]: dtype === "float64" ? Float64Array.from(packed.mask) : packed.mask,
      };
    },
    tokenFeed(rows, perToken) {
      const out = dtype === "float64"
        ? new Float64Array(rows.prompts.length * t)
        : new Float32Array(rows.prompts.length * t);
      perToken.forEach((v, b) => {
        for (let i = 0; i < v.length; i++) out[start(rows, b) + i] = v[i]!;
      });
      return out;
    },
    perToken: (rows, flat) =>
      rows.responses.map((r, b) =>
        Float64Array.from({ length: r.length }, (_, i) => Number(flat[start(rows, b) + i]!))
      ),
    async rollout(params, o) {
      const current = policy.withParams(params);
      const prompts = drawPrompts(text, o.prompts, o.rng).flatMap((p) =>
        Array.from({ length: o.group }, () => p)
      );
      const comp = await current.sample(prompts, { rng: o.rng, maxNewTokens: text.maxNewTokens, eos });
      const rows = { prompts: comp.prompts, responses: comp.responses };
      return {
        ...rows,
        old: await responseLogProbs(current, rows), // as the training graph computes them
        ref: await responseLogProbs(text.reference, rows),
      };
    },
    sampleReference: (prompts, options) => text.reference.sample(prompts, options),
    referenceLogProbs: (rows, options = {}) => chunkedLogProbs(text.reference, rows, options.chunk),
  };
}

/** The value head's parameters for the policy's hidden width (`vhead.w` [D, 1], `vhead.b` [1]). */
function valueHead(policy: TrainablePolicy) {
  if (policy.hiddenSize === null) {
    throw new RangeError("Text training: this policy exposes no hidden state for a value head");
  }
  return valueHeadParams({ dModel: policy.hiddenSize } as GptConfig);
}

/** `n` training prompts drawn uniformly with replacement. */
function drawPrompts(env: TextEnv, n: number, rng: Rng): number[][] {
  const p = env.trainPrompts;
  if (p.length === 0) throw new RangeError("Text training: the environment has no training prompts");
  return Array.from({ length: n }, () => [...p[rng.int(p.length)]!.ids]);
}

/**
 * Per-token log π(y_t | x, y_<t) of rows under a fixed model, in chunks of `chunk` rows so every call
 * reuses one compiled shape (the last chunk is padded by repeating a row).
 */
async function chunkedLogProbs(model: SequencePolicy, rows: Rows, chunk = rows.prompts.length) {
  const n = rows.prompts.length;
  const out: Float64Array[] = new Array(n);
  for (let s = 0; s < n; s += chunk) {
    const idx = Array.from({ length: chunk }, (_, i) => Math.min(s + i, n - 1));
    const lp = await responseLogProbs(model, {
      prompts: idx.map((i) => rows.prompts[i]!),
      responses: idx.map((i) => rows.responses[i]!),
    });
    idx.forEach((i, r) => (out[i] = lp[r]!));
  }
  return out;
}

/** The full text (prompt and response, special tokens dropped) of each row. */
export function rowTexts(tokenizer: Tokenizer, rows: Rows): string[] {
  return rows.prompts.map((p, b) => tokenizer.decode([...p, ...rows.responses[b]!]));
}

/** A scorer of texts as a {@link Reward} of rows (each row's prompt and response decoded together). */
export function textReward(tokenizer: Tokenizer, scorer: TextScorer): Reward {
  return (rows) => scorer.score(rowTexts(tokenizer, rows));
}

/** The text reward model: a one-layer transformer over 32 tokens (the proxy is meant to be small). */
const TEXT_SCORER = { dModel: 32, layers: 1, heads: 2, maxLen: 32 } as const;

/** The text reward-model environment: a small classifier's logit over each row's decoded text. */
export function textScorerEnv(tokenizer: Tokenizer): ScorerEnv {
  const cfg: ClassifierConfig = { vocab: tokenizer.vocabSize, ...TEXT_SCORER };
  const specs = classifierParams(cfg), l = cfg.maxLen;
  return {
    dtype: "float32",
    initialParams: (rng) => initParams(specs, rng),
    nodes(g: Graph, rows: number): Tensor {
      const p = declareParams(g, specs);
      const ids = g.input("scorer.ids", [rows, l], "int64");
      const mask = g.input("scorer.mask", [rows, l], "int64");
      return classifierLogits(g, cfg, p, ids, mask); // [B]
    },
    feeds(rows) {
      const texts = rowTexts(tokenizer, rows);
      const ids = new BigInt64Array(texts.length * l).fill(BigInt(tokenizer.special.pad));
      const mask = new BigInt64Array(texts.length * l);
      texts.forEach((s, i) =>
        tokenizer.encode(s).slice(0, l).forEach((id, j) => {
          ids[i * l + j] = BigInt(id);
          mask[i * l + j] = 1n;
        })
      );
      return { "scorer.ids": ids, "scorer.mask": mask };
    },
    scoreBatch: 64,
    decays: (_name, rank) => rank >= 2,
  };
}
