/**
 * Text-generation environments: prompts, a gold text scorer, and the evaluator's KL.
 *
 * KL(π‖π_ref) of a prompt's completions is measured as in the DESIGN: along each sampled response y,
 * the sum over its positions of the exact next-token KL,
 *
 *   K(x, y) = Σ_t KL(π(·|x, y_<t) ‖ π_ref(·|x, y_<t)) = Σ_t Σ_v π(v|x, y_<t) · log(π(v|·) / π_ref(v|·)),
 *
 * whose expectation over y ~ π is the sequence-level KL(π(·|x) ‖ π_ref(·|x)) by the chain rule, and which
 * is non-negative term by term (so never the negative estimates of the single-sample log-ratio, and of
 * lower variance: it integrates over each position's next token exactly).
 *
 * @module
 */
import type { Rng } from "../engine/rng.ts";
import type { Completions, SequencePolicy } from "../models/sequence_policy.ts";
import { packSequences } from "../models/sequence_policy.ts";
import type { TextScorer } from "../models/classifier.ts";
import type { Tokenizer } from "../models/tokenizer.ts";

/** A prompt: token ids (BOS first) and their text. */
export interface Prompt {
  readonly ids: readonly number[];
  readonly text: string;
  /** The whole text the prompt was cut from (a comparator for win rates), where there is one. */
  readonly reference?: string;
}

/** A text-generation environment. */
export interface TextEnv {
  readonly tokenizer: Tokenizer;
  /** Prompts for training (online sampling, preference pairs). */
  readonly trainPrompts: readonly Prompt[];
  /** Held-out prompts the evaluator samples from. */
  readonly evalPrompts: readonly Prompt[];
  /** Most tokens a completion may have (EOS included). */
  readonly maxNewTokens: number;
  /** The gold reward of a text (for sentiment: the classifier's p(positive)). */
  readonly gold: TextScorer;
  /** π_ref. */
  readonly reference: SequencePolicy;
}

/** The full text (prompt and response, special tokens dropped) of each completion. */
export function completionTexts(tokenizer: Tokenizer, c: Completions): string[] {
  return c.prompts.map((p, b) => tokenizer.decode([...p, ...c.responses[b]!]));
}

/** The gold reward of each completion: the scorer applied to prompt + response text. */
export function goldRewards(env: Pick<TextEnv, "tokenizer" | "gold">, c: Completions): Promise<Float64Array> {
  return env.gold.score(completionTexts(env.tokenizer, c));
}

/** Options of {@link klAlongSamples}. */
export interface KlOptions {
  /** Rows per forward pass (default 64); the last chunk is padded, so one compiled shape serves all. */
  chunk?: number;
}

/**
 * For each completion, Σ over its response positions of the exact KL(π ‖ π_ref) between the two
 * models' full next-token distributions: `[B]`, each ≥ 0, exactly 0 when π and π_ref are the same model.
 *
 * @example
 * ```ts
 * const c = await policy.sample(prompts, { rng, maxNewTokens: 16, eos });
 * const kl = await klAlongSamples({ policy, reference }, c);
 * const { mean, stderr } = meanStderr(kl);
 * ```
 */
export async function klAlongSamples(
  models: { readonly policy: SequencePolicy; readonly reference: SequencePolicy },
  c: Completions,
  options: KlOptions = {},
): Promise<Float64Array> {
  const { policy, reference } = models;
  if (policy.vocab !== reference.vocab) {
    throw new RangeError(`KL: the policies' vocabularies differ (${policy.vocab} vs ${reference.vocab})`);
  }
  const v = policy.vocab;
  const length = Math.min(policy.context, reference.context);
  const chunk = options.chunk ?? 64;
  const batch = c.prompts.length;
  const out = new Float64Array(batch);
  for (let start = 0; start < batch; start += chunk) {
    const rows = [...Array(Math.min(chunk, batch - start)).keys()].map((i) => start + i);
    const prompts = rows.map((b) => c.prompts[b]!), responses = rows.map((b) => c.responses[b]!);
    while (prompts.length < Math.min(chunk, batch)) { // pad the chunk with copies of its first row
      prompts.push(prompts[0]!);
      responses.push(responses[0]!);
    }
    const packed = packSequences({ prompts, responses }, { length, pad: 0 });
    const [lp, lq] = await Promise.all([
      policy.nextTokenLogProbs(packed.ids, packed.batch),
      reference.nextTokenLogProbs(packed.ids, packed.batch),
    ]);
    rows.forEach((b, r) => {
      let sum = 0;
      for (let t = 0; t < length; t++) {
        if (!packed.mask[r * length + t]) continue;
        const o = (r * length + t) * v;
        let kl = 0;
        for (let i = 0; i < v; i++) {
          const a = lp[o + i]!;
          if (a > -Infinity) kl += Math.exp(a) * (a - lq[o + i]!);
        }
        // Each row is an exactly normalized float64 distribution, so kl ≥ 0 up to rounding (~1e-16).
        sum += Math.max(kl, 0);
      }
      out[b] = sum;
    });
  }
  return out;
}

/** Mean and standard error of the mean (sample standard deviation / √n). */
export function meanStderr(xs: ArrayLike<number>): { mean: number; stderr: number } {
  const n = xs.length;
  if (n === 0) return { mean: NaN, stderr: NaN };
  let mean = 0;
  for (let i = 0; i < n; i++) mean += xs[i]!;
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (xs[i]! - mean) ** 2;
  return { mean, stderr: n > 1 ? Math.sqrt(ss / (n - 1) / n) : NaN };
}

/** Preference pairs on text: for each row a prompt and two of π_ref's completions, the preferred first. */
export interface TextPairs {
  readonly prompts: readonly Int32Array[];
  readonly chosen: readonly Int32Array[];
  readonly rejected: readonly Int32Array[];
  /** Gold rewards of the two completions (for diagnostics: the labels are drawn from them). */
  readonly chosenReward: Float64Array;
  readonly rejectedReward: Float64Array;
}

/** Options of {@link sampleTextPairs}. */
export interface TextPairOptions {
  /** Pairs to draw: prompts are the training prompts in order, cycled. */
  count: number;
  /** Bradley–Terry scale s: P(y1 ≻ y2) = σ(s·(r(y1) − r(y2))); `Infinity` labels deterministically. */
  scale: number;
}

/**
 * Preference pairs as in DPO's sentiment experiment: two completions of π_ref per prompt at temperature
 * 1, labelled by Bradley–Terry feedback on the gold reward, all from one random stream.
 */
export async function sampleTextPairs(
  env: Pick<TextEnv, "tokenizer" | "gold" | "reference" | "trainPrompts" | "maxNewTokens">,
  options: TextPairOptions,
  rng: Rng,
): Promise<TextPairs> {
  const { count, scale } = options;
  if (env.trainPrompts.length === 0) {
    throw new RangeError("Text pairs: the environment has no training prompts");
  }
  const prompts = Array.from({ length: count }, (_, i) => env.trainPrompts[i % env.trainPrompts.length]!.ids);
  const sampleOptions = { rng, maxNewTokens: env.maxNewTokens, eos: env.tokenizer.special.eos };
  const a = await env.reference.sample(prompts, sampleOptions);
  const b = await env.reference.sample(prompts, sampleOptions);
  const [ra, rb] = await Promise.all([goldRewards(env, a), goldRewards(env, b)]);
  const chosen: Int32Array[] = [], rejected: Int32Array[] = [];
  const chosenReward = new Float64Array(count), rejectedReward = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const d = ra[i]! - rb[i]!;
    const pFirst = scale === Infinity ? (d > 0 ? 1 : d < 0 ? 0 : 0.5) : 1 / (1 + Math.exp(-scale * d));
    const first = rng.float() < pFirst;
    chosen.push(first ? a.responses[i]! : b.responses[i]!);
    rejected.push(first ? b.responses[i]! : a.responses[i]!);
    chosenReward[i] = first ? ra[i]! : rb[i]!;
    rejectedReward[i] = first ? rb[i]! : ra[i]!;
  }
  return { prompts: a.prompts, chosen, rejected, chosenReward, rejectedReward };
}
