/**
 * Judges: given a document and two candidate texts (summaries), the probability that the first is
 * better. One interface for every source of pairwise preference — an embedded gold judge a task
 * defines, a reward model read from an ONNX file, or a chat model behind an OpenAI-compatible endpoint —
 * so win rates are computed the same way whichever judges them.
 *
 * A judgement is a probability: a deterministic judge says 1, 0 or ½ (a tie); a reward-model judge says
 * σ(r(a) − r(b)); a chat judge says 1 or 0 for the summary it picked. Win rates average them, so ties
 * count half.
 *
 * @module
 */
import type { Rng } from "../engine/rng.ts";

/** One comparison: a document and two candidates for it. */
export interface JudgeItem {
  readonly document: string;
  readonly a: string;
  readonly b: string;
}

/** The verdict on one {@link JudgeItem}. */
export interface Judgement {
  /** P(a is better than b), in [0, 1]; ½ is a tie. */
  readonly probability: number;
  /**
   * For judges that are shown the two candidates in an order (chat models): true when `b` was shown
   * first. Recorded so a position bias can be measured; absent for judges without an order.
   */
  readonly swapped?: boolean;
}

/** A pairwise judge. */
export interface Judge {
  /** What judged, for reports: `facts`, `onnx:<file>`, `chat:<model>@<url>`. */
  readonly name: string;
  /**
   * Judges every item; `rng` draws whatever the judge randomizes (a chat judge's presentation order),
   * so a rerun with the same stream judges alike.
   */
  compare(items: readonly JudgeItem[], rng: Rng): Promise<Judgement[]>;
}

/** A pointwise score of a candidate for a document: what reward-model judges compare. */
export interface PairScorer {
  score(items: readonly { document: string; text: string }[]): Promise<Float64Array>;
}

/**
 * A judge from a pointwise scorer: P(a ≻ b) = σ(scale·(s(a) − s(b))), or with `scale: Infinity` the
 * deterministic comparison (1, 0, or ½ on equal scores): the Bradley–Terry reading of a reward.
 */
export function scoreJudge(name: string, scorer: PairScorer, options: { scale: number }): Judge {
  const { scale } = options;
  if (!(scale > 0)) throw new RangeError(`Judge "${name}": scale = ${scale} (must be > 0)`);
  return {
    name,
    async compare(items) {
      const sa = await scorer.score(items.map((i) => ({ document: i.document, text: i.a })));
      const sb = await scorer.score(items.map((i) => ({ document: i.document, text: i.b })));
      return items.map((_, k) => {
        const d = sa[k]! - sb[k]!;
        const probability = scale === Infinity
          ? (d > 0 ? 1 : d < 0 ? 0 : 0.5)
          : 1 / (1 + Math.exp(-scale * d));
        return { probability };
      });
    },
  };
}
