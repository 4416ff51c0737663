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
  /** Candidate pairs left out by `identical: drop` and `ties: drop` (absent: none were). */
  readonly dropped?: { readonly identical: number; readonly ties: number };
}

/** How a pair's label is decided (see {@link PairSpec.label}). */
export const PAIR_LABELS = ["bradley_terry", "deterministic"] as const;
/** What happens to a pair of equal gold rewards (see {@link PairSpec.ties}). */
export const PAIR_TIES = ["coin", "drop"] as const;
/** What happens to a pair of two identical responses (see {@link PairSpec.identical}). */
export const PAIR_IDENTICAL = ["keep", "drop"] as const;

/**
 * The preference-data regime of a text task (a suite's `pairs:`): how many pairs, over which prompts,
 * from how many completions per prompt, labelled how. The optional fields default to
 * {@link PAIR_DEFAULTS}, which draw exactly the pairs of the first version (two completions per prompt,
 * every training prompt cycled, Bradley–Terry labels): a spec holds only what a suite set, so an old
 * suite hashes as it did.
 */
export interface PairSpec {
  /** Pairs in total per seed. */
  readonly count: number;
  /**
   * Bradley–Terry scale s of `label: bradley_terry`: P(y1 ≻ y2) = σ(s·(r(y1) − r(y2))); `Infinity` gives
   * the higher reward with p = 1 but still draws (and flips a coin on ties), as the first version did.
   */
  readonly scale: number;
  /** Distinct training prompts used: the first `prompts` of the task's training prompts (default: all). */
  readonly prompts?: number;
  /** Completions of π_ref per prompt, k ≥ 2; each prompt's group gives its k(k−1)/2 pairs (default 2). */
  readonly completions?: number;
  /** `bradley_terry` (default): a draw of σ(scale·Δr); `deterministic`: the higher gold reward wins, no draw. */
  readonly label?: typeof PAIR_LABELS[number];
  /** Equal gold rewards: `coin` (default), a fair coin picks the chosen one; `drop`, the pair is left out. */
  readonly ties?: typeof PAIR_TIES[number];
  /** Two identical responses: `keep` (default), labelled like any pair; `drop`, left out. */
  readonly identical?: typeof PAIR_IDENTICAL[number];
}

/** The defaults of a {@link PairSpec}'s optional fields (`prompts`: every training prompt). */
export const PAIR_DEFAULTS = {
  completions: 2,
  label: "bradley_terry",
  ties: "coin",
  identical: "keep",
} as const satisfies Omit<Required<PairSpec>, "count" | "scale" | "prompts">;

/** Options of {@link sampleTextPairs}: the pair spec. */
export type TextPairOptions = PairSpec;

/**
 * Preference pairs as in DPO's sentiment experiment, under the regime `spec` (all draws from `rng`):
 *
 * 1. Groups: group g completes prompt g mod P, P the first `spec.prompts` training prompts. A round
 *    samples k = `spec.completions` completions of each of its groups at temperature 1 — k calls of
 *    π_ref over the round's prompts, completion j of every group in call j — and scores them.
 * 2. Each group gives its k(k−1)/2 pairs (i, j), i < j, in order; `identical: drop` and `ties: drop`
 *    leave some out. The label: Bradley–Terry draws "i wins" with p = σ(scale·(r_i − r_j)); deterministic
 *    takes the higher reward and draws only a tie's coin.
 * 3. Pairs are taken until there are `count`. A round has as many groups as the pairs still missing
 *    need at the rate pairs were kept so far, so with nothing dropped there is one round of
 *    ⌈count / (k(k−1)/2)⌉ groups (at the defaults, `count` groups of 2: the first version's draws).
 */
export async function sampleTextPairs(
  env: Pick<TextEnv, "tokenizer" | "gold" | "reference" | "trainPrompts" | "maxNewTokens">,
  spec: PairSpec,
  rng: Rng,
): Promise<TextPairs> {
  const { count, scale } = spec;
  const k = spec.completions ?? PAIR_DEFAULTS.completions, label = spec.label ?? PAIR_DEFAULTS.label;
  const ties = spec.ties ?? PAIR_DEFAULTS.ties, identical = spec.identical ?? PAIR_DEFAULTS.identical;
  const train = env.trainPrompts;
  if (train.length === 0) throw new RangeError("Text pairs: the environment has no training prompts");
  const used = spec.prompts ?? train.length;
  const whole = (v: number, min: number) => Number.isSafeInteger(v) && v >= min;
  if (!whole(count, 1)) {
    throw new RangeError(`Text pairs: pairs.count = ${count} is not allowed (allowed: an integer ≥ 1)`);
  }
  if (!whole(k, 2)) {
    throw new RangeError(`Text pairs: pairs.completions = ${k} is not allowed (allowed: an integer ≥ 2)`);
  }
  if (!whole(used, 1) || used > train.length) {
    throw new RangeError(
      `Text pairs: pairs.prompts = ${used} is not allowed (allowed: an integer in [1, ${train.length}], the task's training prompts)`,
    );
  }
  const pool = train.slice(0, used);
  const perGroup = k * (k - 1) / 2;
  const sampleOptions = { rng, maxNewTokens: env.maxNewTokens, eos: env.tokenizer.special.eos };
  const prompts: Int32Array[] = [], chosen: Int32Array[] = [], rejected: Int32Array[] = [];
  const chosenReward = new Float64Array(count), rejectedReward = new Float64Array(count);
  const dropped = { identical: 0, ties: 0 };
  let groupsDrawn = 0, formed = 0;
  while (chosen.length < count) {
    // A regime that drops (nearly) everything would loop for ever: stop once far more were formed than kept.
    if (formed >= 64 * count) {
      throw new RangeError(
        `Text pairs: ${formed} candidate pairs gave only ${chosen.length} of pairs.count = ${count} ` +
          `(pairs.identical = drop left out ${dropped.identical}, pairs.ties = drop ${dropped.ties})`,
      );
    }
    const missing = count - chosen.length;
    const rate = formed === 0 ? 1 : Math.max(chosen.length / formed, 1 / 64);
    const groups = Math.ceil(missing / (perGroup * rate));
    const roundPrompts = Array.from({ length: groups }, (_, g) => pool[(groupsDrawn + g) % used]!.ids);
    groupsDrawn += groups;
    const samples: Completions[] = [];
    for (let j = 0; j < k; j++) samples.push(await env.reference.sample(roundPrompts, sampleOptions)); // [k][groups]
    const rewards = await Promise.all(samples.map((c) => goldRewards(env, c)));
    for (let g = 0; g < groups; g++) {
      for (let i = 0; i < k; i++) {
        for (let j = i + 1; j < k && chosen.length < count; j++) {
          formed++;
          const a = samples[i]!.responses[g]!, b = samples[j]!.responses[g]!;
          if (identical === "drop" && sameTokens(a, b)) {
            dropped.identical++;
            continue;
          }
          const ra = rewards[i]![g]!, rb = rewards[j]![g]!, d = ra - rb;
          if (d === 0 && ties === "drop") {
            dropped.ties++;
            continue;
          }
          const first = firstWins(label, scale, d, rng);
          const n = chosen.length;
          prompts.push(samples[i]!.prompts[g]!);
          chosen.push(first ? a : b);
          rejected.push(first ? b : a);
          chosenReward[n] = first ? ra : rb;
          rejectedReward[n] = first ? rb : ra;
        }
      }
    }
  }
  return {
    prompts,
    chosen,
    rejected,
    chosenReward,
    rejectedReward,
    ...(dropped.identical + dropped.ties > 0 ? { dropped } : {}),
  };
}

/** What a text task's preference data look like (a cell record's `pairStats`). */
export interface PairStats {
  /** Pairs. */
  readonly count: number;
  /** Distinct prompts among them, by their tokens (a task's training prompts may repeat). */
  readonly prompts: number;
  /**
   * Among pairs whose two gold rewards differ, the fraction whose chosen response has the higher one
   * (null when every pair is a tie): 1 for deterministic labels, lower the noisier the labels.
   */
  readonly agreement: number | null;
  /** Pairs whose two gold rewards are equal. */
  readonly ties: number;
  /** Pairs whose two responses are the same tokens. */
  readonly identical: number;
  /** Mean over pairs of |r(chosen) − r(rejected)|. */
  readonly rewardGap: number;
  /** Mean over pairs of the chosen response's length minus the rejected one's (tokens, EOS included). */
  readonly lengthDiff: number;
  /** Candidate pairs `identical: drop` left out. */
  readonly droppedIdentical: number;
  /** Candidate pairs `ties: drop` left out. */
  readonly droppedTies: number;
}

/** The statistics of a pair dataset: label agreement with the gold order, ties, duplicates, lengths. */
export function pairStats(pairs: TextPairs): PairStats {
  const n = pairs.chosen.length;
  let ties = 0, identical = 0, agree = 0, gap = 0, length = 0;
  for (let i = 0; i < n; i++) {
    const d = pairs.chosenReward[i]! - pairs.rejectedReward[i]!;
    if (d === 0) ties++;
    else if (d > 0) agree++;
    gap += Math.abs(d);
    const c = pairs.chosen[i]!, r = pairs.rejected[i]!;
    if (sameTokens(c, r)) identical++;
    length += c.length - r.length;
  }
  return {
    count: n,
    prompts: new Set(pairs.prompts.map((p) => p.join(","))).size,
    agreement: n > ties ? agree / (n - ties) : null,
    ties,
    identical,
    rewardGap: n ? gap / n : 0,
    lengthDiff: n ? length / n : 0,
    droppedIdentical: pairs.dropped?.identical ?? 0,
    droppedTies: pairs.dropped?.ties ?? 0,
  };
}

/** Whether the first of two completions is the chosen one, their gold rewards differing by `d`. */
function firstWins(label: typeof PAIR_LABELS[number], scale: number, d: number, rng: Rng): boolean {
  // Deterministic: the higher reward, and a coin on a tie (its only draw).
  if (label === "deterministic") return d > 0 || (d === 0 && rng.float() < 0.5);
  // Bradley–Terry: one draw per pair, as the first version drew it (scale ∞ included).
  const p = scale === Infinity ? (d > 0 ? 1 : d < 0 ? 0 : 0.5) : 1 / (1 + Math.exp(-scale * d));
  return rng.float() < p;
}

function sameTokens(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
