/**
 * Hugging Face tokenizers from a `tokenizer.json` on disk (BPE, WordPiece, Unigram), through npm
 * `@huggingface/tokenizers` (pure JavaScript, the tokenizer code of Transformers.js), behind the same
 * {@link Tokenizer} interface as the embedded word-level tokenizer.
 *
 * Special tokens. The harness needs four ids (pad, bos, eos, unk). Each is taken, in this order, from
 * an explicit token string the caller names (`options.specials`), from `tokenizer_config.json` beside the
 * file (`pad_token`, `bos_token`, `eos_token`, `unk_token`), from the model's `unk_token`, and from the
 * first conventional name present in the vocabulary:
 *
 * | id  | conventional names                                   | fallback when none is present |
 * | --- | ---------------------------------------------------- | ----------------------------- |
 * | eos | `</s>`, `<eos>`, `<\|endoftext\|>`, `[SEP]`          | none: an error                |
 * | bos | `<s>`, `<bos>`, `<\|startoftext\|>`, `[CLS]`         | eos (GPT-2 style)             |
 * | pad | `<pad>`, `[PAD]`, `<\|pad\|>`                         | eos (GPT-2 style)             |
 * | unk | `<unk>`, `[UNK]`, `<\|unk\|>`                         | eos (a byte-level BPE never produces an unknown) |
 *
 * A token string named explicitly that is not in the vocabulary is an error naming the file.
 *
 * @module
 */
import { Tokenizer as HfTokenizerImpl } from "npm:@huggingface/tokenizers@0.2.0";
import { basename, dirname, join } from "node:path";
import type { SpecialIds, Tokenizer } from "./tokenizer.ts";

/** Which special token plays each role, by token string (each must be in the vocabulary). */
export type SpecialTokens = Partial<Record<keyof SpecialIds, string>>;

/** Options of {@link HfTokenizer.fromFile}. */
export interface HfTokenizerOptions {
  /** Token strings for the special roles, overriding what the files say. */
  specials?: SpecialTokens;
  /**
   * `tokenizer_config.json` to read: a path, or null for none (default: the file of that name beside
   * `tokenizer.json`, when there is one).
   */
  config?: string | null;
}

/** Conventional names of each special role, in the order they are tried. */
export const SPECIAL_NAMES: Readonly<Record<keyof SpecialIds, readonly string[]>> = {
  eos: ["</s>", "<eos>", "<|endoftext|>", "[SEP]"],
  bos: ["<s>", "<bos>", "<|startoftext|>", "[CLS]"],
  pad: ["<pad>", "[PAD]", "<|pad|>"],
  unk: ["<unk>", "[UNK]", "<|unk|>"],
};

const MODEL_TYPES = ["BPE", "WordPiece", "Unigram"] as const;

/** The model type of a tokenizer.json: BPE, WordPiece or Unigram. */
export type HfModelType = typeof MODEL_TYPES[number];

/**
 * A Hugging Face tokenizer read from a `tokenizer.json`.
 *
 * @example
 * ```ts
 * const tok = await HfTokenizer.fromFile("models/distilbert-imdb/tokenizer.json");
 * const ids = tok.encode("A fine movie."); // ids of "a fine movie ." (no [CLS]/[SEP]: the harness adds BOS)
 * tok.decode([tok.special.bos, ...ids, tok.special.eos]); // "a fine movie."
 * tok.encodeWithSpecials("A fine movie."); // [CLS] ... [SEP], as the model was trained
 * ```
 */
export class HfTokenizer implements Tokenizer {
  /** The file it was read from (for messages). */
  readonly path: string;
  readonly modelType: HfModelType;
  readonly vocabSize: number;
  readonly special: SpecialIds;
  readonly #impl: HfTokenizerImpl;
  readonly #tokens: readonly (string | undefined)[];
  /** Ids {@link decode} drops: the special roles and every added token marked special, unk aside. */
  readonly #dropped: ReadonlySet<number>;

  private constructor(
    path: string,
    modelType: HfModelType,
    impl: HfTokenizerImpl,
    tokens: (string | undefined)[],
    special: SpecialIds,
    specialIds: readonly number[],
  ) {
    this.path = path;
    this.modelType = modelType;
    this.#impl = impl;
    this.#tokens = tokens;
    this.vocabSize = tokens.length;
    this.special = special;
    const dropped = new Set([...specialIds, special.pad, special.bos, special.eos]);
    if (special.unk !== special.eos) dropped.delete(special.unk);
    this.#dropped = dropped;
  }

  /** Reads a tokenizer.json; every failure names the file and says what is wrong. */
  static async fromFile(path: string, options: HfTokenizerOptions = {}): Promise<HfTokenizer> {
    const json = await readJson(path, "tokenizer");
    let config: Record<string, unknown> = {};
    const configPath = options.config === undefined
      ? join(dirname(path), "tokenizer_config.json")
      : options.config;
    if (configPath !== null && (options.config !== undefined || await isFile(configPath))) {
      config = await readJson(configPath, "tokenizer config");
    }
    return HfTokenizer.fromJson(json, {
      path,
      config,
      ...(options.specials ? { specials: options.specials } : {}),
    });
  }

  /**
   * A tokenizer from a parsed tokenizer.json (`path` names it in messages); `config` is the parsed
   * `tokenizer_config.json`, if any.
   */
  static fromJson(
    json: unknown,
    options: { path: string; config?: Record<string, unknown>; specials?: SpecialTokens },
  ): HfTokenizer {
    const { path } = options;
    const fail = (why: string): never => {
      throw new Error(`Cannot load the tokenizer "${path}": ${why}`);
    };
    if (!isRecord(json)) return fail("it is not a JSON object (expected a Hugging Face tokenizer.json)");
    const model = json.model;
    const type = isRecord(model) ? model.type : undefined;
    if (!MODEL_TYPES.includes(type as HfModelType)) {
      fail(
        `model.type = ${JSON.stringify(type) ?? "(missing)"} is not supported (supported: ${
          MODEL_TYPES.join(", ")
        })`,
      );
    }
    // The library wants every top-level component present; tokenizer.json files write null for absent ones.
    const full = {
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      added_tokens: [],
      ...json,
    };
    const config = options.config ?? {};
    let impl: HfTokenizerImpl;
    try {
      impl = new HfTokenizerImpl(full, config);
    } catch (e) {
      return fail(`@huggingface/tokenizers rejected it (${e instanceof Error ? e.message : e})`);
    }
    const vocab = impl.get_vocab(true);
    let size = 0;
    for (const id of vocab.values()) size = Math.max(size, id + 1);
    if (size === 0) fail("its vocabulary is empty");
    const tokens: (string | undefined)[] = new Array(size);
    for (const [t, id] of vocab) tokens[id] = t;

    const idOf = (token: string, from: string): number => {
      const id = vocab.get(token);
      if (id === undefined) {
        fail(`${from} names the token ${JSON.stringify(token)}, which is not in the vocabulary`);
      }
      return id!;
    };
    const fromConfig = (role: keyof SpecialIds): string | undefined => {
      const v = config[`${role}_token`];
      if (typeof v === "string") return v;
      if (isRecord(v) && typeof v.content === "string") return v.content; // AddedToken form
      return undefined;
    };
    const pick = (role: keyof SpecialIds): number | undefined => {
      const explicit = options.specials?.[role];
      if (explicit !== undefined) return idOf(explicit, `specials.${role}`);
      const configured = fromConfig(role);
      if (configured !== undefined) return idOf(configured, `tokenizer_config.json's ${role}_token`);
      if (role === "unk" && isRecord(model) && typeof model.unk_token === "string") {
        const id = vocab.get(model.unk_token);
        if (id !== undefined) return id;
      }
      if (role === "unk" && isRecord(model) && typeof model.unk_id === "number") return model.unk_id;
      for (const name of SPECIAL_NAMES[role]) {
        const id = vocab.get(name);
        if (id !== undefined) return id;
      }
      return undefined;
    };
    const eos = pick("eos") ??
      fail(
        `no end-of-sequence token: none of ${SPECIAL_NAMES.eos.join(" ")} is in the vocabulary ` +
          `and tokenizer_config.json names no eos_token (name one with specials.eos)`,
      );
    const special: SpecialIds = {
      eos,
      bos: pick("bos") ?? eos,
      pad: pick("pad") ?? eos,
      unk: pick("unk") ?? eos,
    };
    const added = Array.isArray(json.added_tokens) ? json.added_tokens : [];
    const specialIds = added.filter((t) => isRecord(t) && t.special === true && typeof t.id === "number")
      .map((t) => (t as { id: number }).id);
    return new HfTokenizer(path, type as HfModelType, impl, tokens, special, specialIds);
  }

  /** The file name, for short labels. */
  get name(): string {
    return basename(this.path);
  }

  encode(text: string): number[] {
    return this.#impl.encode(text, { add_special_tokens: false }).ids;
  }

  /**
   * Ids of `text` with the special tokens the file's post-processor adds (`[CLS] … [SEP]`, `<s> … </s>`,
   * or none): what a model exported with this tokenizer was trained to read.
   */
  encodeWithSpecials(text: string): number[] {
    return this.#impl.encode(text, { add_special_tokens: true }).ids;
  }

  decode(ids: ArrayLike<number>, options: { keepSpecial?: boolean } = {}): string {
    const list = Array.from(ids);
    for (const id of list) this.token(id); // range check, with the file named
    const keep = options.keepSpecial ? list : list.filter((id) => !this.#dropped.has(id));
    if (keep.length === 0) return ""; // the library refuses an empty list
    return this.#impl.decode(keep, { skip_special_tokens: false });
  }

  token(id: number): string {
    const t = Number.isInteger(id) ? this.#tokens[id] : undefined;
    if (t === undefined) {
      throw new RangeError(
        `Tokenizer "${this.path}": id ${id} is not in the vocabulary (ids are in [0, ${this.vocabSize}))`,
      );
    }
    return t;
  }
}

async function readJson(path: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(
      `Cannot load the ${what} "${path}": ${e instanceof Deno.errors.NotFound ? "no such file" : String(e)}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(
      `Cannot load the ${what} "${path}": not valid JSON (${e instanceof Error ? e.message : e})`,
    );
  }
  if (!isRecord(json)) throw new Error(`Cannot load the ${what} "${path}": not a JSON object`);
  return json;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
