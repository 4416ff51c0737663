/**
 * Tokenizers: text ↔ token ids behind one small interface, so a Hugging Face `tokenizer.json` can
 * implement it later without touching models or environments. The embedded one is word-level: a fixed
 * vocabulary, lower-cased words, punctuation split off, and four special tokens.
 *
 * @module
 */

/** Ids of the special tokens every tokenizer must name. */
export interface SpecialIds {
  /** Padding (never a model target; masked everywhere). */
  readonly pad: number;
  /** Beginning of sequence: every prompt starts with it. */
  readonly bos: number;
  /** End of sequence: a response ends with it. */
  readonly eos: number;
  /** Out-of-vocabulary words. */
  readonly unk: number;
}

/** Text in, ids out, and back (the subset of a Hugging Face tokenizer the harness needs). */
export interface Tokenizer {
  /** Number of ids, specials included: every id is in `[0, vocabSize)`. */
  readonly vocabSize: number;
  readonly special: SpecialIds;
  /** Ids of `text`, without special tokens. */
  encode(text: string): number[];
  /** Text of `ids`; special tokens are dropped unless `keepSpecial`. */
  decode(ids: ArrayLike<number>, options?: { keepSpecial?: boolean }): string;
  /** The string of one id (`<unk>`-style names for specials). */
  token(id: number): string;
}

/** Names of the special tokens of {@link WordTokenizer}, in id order 0..3. */
export const WORD_SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"] as const;

/**
 * A word-level tokenizer: ids 0..3 are `<pad> <bos> <eos> <unk>`, then the words in the order given.
 * `encode` lower-cases, splits on whitespace and splits `. , ! ? ;` off as tokens of their own;
 * `decode` joins with single spaces, so `encode(decode(ids))` gives `ids` back for in-vocabulary ids.
 *
 * @example
 * ```ts
 * const tok = new WordTokenizer(["the", "movie", "was", "good", "."]);
 * tok.encode("The movie was good."); // [4, 5, 6, 7, 8]
 * tok.decode([1, 4, 5, 2]); // "the movie"
 * ```
 */
export class WordTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly special: SpecialIds = { pad: 0, bos: 1, eos: 2, unk: 3 };
  readonly #words: readonly string[];
  readonly #ids = new Map<string, number>();

  constructor(words: readonly string[]) {
    this.#words = [...WORD_SPECIALS, ...words];
    this.#words.forEach((w, i) => {
      if (i >= WORD_SPECIALS.length && (w === "" || /\s/.test(w) || w !== w.toLowerCase())) {
        throw new RangeError(`WordTokenizer: invalid word "${w}" (lower case, no spaces, not empty)`);
      }
      if (this.#ids.has(w)) throw new RangeError(`WordTokenizer: the word "${w}" appears twice`);
      this.#ids.set(w, i);
    });
    this.vocabSize = this.#words.length;
  }

  /** The vocabulary without the specials, in id order (what the constructor took). */
  get words(): readonly string[] {
    return this.#words.slice(WORD_SPECIALS.length);
  }

  encode(text: string): number[] {
    return splitWords(text).map((w) => this.#ids.get(w) ?? this.special.unk);
  }

  decode(ids: ArrayLike<number>, options: { keepSpecial?: boolean } = {}): string {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!options.keepSpecial && id < WORD_SPECIALS.length && id !== this.special.unk) continue;
      out.push(this.token(id));
    }
    return out.join(" ");
  }

  token(id: number): string {
    const w = this.#words[id];
    if (w === undefined) throw new RangeError(`WordTokenizer: id ${id} is outside [0, ${this.vocabSize})`);
    return w;
  }
}

/** Lower-cased words with `. , ! ? ;` as separate tokens. */
export function splitWords(text: string): string[] {
  return text.toLowerCase().replace(/([.,!?;])/g, " $1 ").split(/\s+/).filter((w) => w !== "");
}
