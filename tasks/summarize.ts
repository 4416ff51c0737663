/**
 * The summarization task (after Stiennon et al. 2020, "Learning to summarize from human feedback", and
 * the DPO paper's §6.1 TL;DR experiment, small enough for two CPU cores): a GPT policy reads a generated
 * news item and writes a summary after the separator, `<bos> document tldr` → `summary <eos>`.
 *
 * The gold preference is an embedded fact judge ({@link FactScorer}): the corpus knows each document's
 * five key facts, and a summary scores
 *
 *   s = w_c · coverage + w_p · precision − w_l · excess          ({@link FACT_WEIGHTS})
 *
 * coverage the fraction of the five facts it states, precision the fraction of its content words that
 * are its document's fact words, excess its tokens beyond the reference's length. The reference summary
 * scores the maximum, w_c + w_p = 1. The same score is the task's `gold` reward of a full
 * prompt + completion text (RL, preference pairs) and, as a deterministic pairwise judge, its `judge`.
 * Deviation, flagged: the judge reads words, not order, so a shuffle of the reference's words scores
 * the maximum too; π_ref (and the KL to it) keeps samples in the reference's form, and the judge stays
 * exact and cheap. Stiennon et al.'s gold preference is human labellers; this one is a rule.
 *
 * π_ref ({@link summarizeReference}) is supervised fine-tuning on imperfect summaries (see
 * `summarize_corpus.ts`), cached under the build cache by a hash of the config and the corpus, like the
 * sentiment task's.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { Rng } from "../engine/rng.ts";
import type { Runtime } from "../engine/runtime.ts";
import type { Prompt } from "../envs/text.ts";
import type { TextScorer } from "../models/classifier.ts";
import type { GptConfig } from "../models/gpt.ts";
import { gptParams } from "../models/gpt.ts";
import { GptPolicy } from "../models/gpt_policy.ts";
import type { Judge } from "../models/judge.ts";
import { scoreJudge } from "../models/judge.ts";
import { splitWords, WordTokenizer } from "../models/tokenizer.ts";
import { loadWeights, saveWeights } from "../models/weights.ts";
import { cacheDir, configHash, exists } from "./_cache.ts";
import { sft, type SftBudget } from "./_sft.ts";
import type {
  Facts,
  SftSummary,
  SummarizeCorpus,
  SummarizeCorpusConfig,
  SummarizeDocument,
} from "./summarize_corpus.ts";
import {
  generateSummarizeCorpus,
  imperfectSummary,
  MAX_DOCUMENT_TOKENS,
  SEPARATOR,
  SUMMARIZE_VOCABULARY,
} from "./summarize_corpus.ts";
import type { BuildOptions, TextTask, TextTaskSpec } from "./text_tasks.ts";

/** How π_ref is fine-tuned. */
export interface SummarizeReferenceConfig extends SftBudget {
  /** Width, depth and heads of the GPT (the vocabulary is the tokenizer's). */
  model: Pick<GptConfig, "dModel" | "layers" | "heads">;
  /** Longest sequence: BOS + document + separator + summary + EOS must fit. */
  context: number;
}

/** The whole task. */
export interface SummarizeConfig {
  corpus: SummarizeCorpusConfig;
  reference: SummarizeReferenceConfig;
  /** Most tokens a summary may have (EOS included). */
  maxNewTokens: number;
}

/**
 * The embedded defaults. Measured on two shared cores: π_ref builds in 45–110 s (by the load of the
 * machine), held-out loss 0.43 nats per summary token; its mean gold score on the evaluation prompts is
 * 0.75 at temperature 1, 0.89 at 0.7 and 0.97 greedy (references 1, an empty summary 0). A cached build
 * loads in under a second.
 */
export const SUMMARIZE_DEFAULTS: SummarizeConfig = {
  corpus: { seed: 0, sft: 8000, heldOut: 256, trainPrompts: 256, evalPrompts: 128 },
  reference: {
    model: { dModel: 64, layers: 2, heads: 4 },
    context: 64,
    steps: 1200,
    batch: 32,
    lr: 3e-3,
    weightDecay: 0.01,
  },
  maxNewTokens: 20,
};

/**
 * A reduced task for tests and quick runs: the same model, fewer SFT documents and steps; π_ref builds
 * in about 30 s (held-out loss 0.70) and is less fluent: mean gold 0.51 at temperature 1, 0.81 greedy.
 * A smaller GPT (d = 32 or 48) did not learn to copy the facts in under a minute (gold under 0.1).
 */
export const SUMMARIZE_SMALL: SummarizeConfig = {
  corpus: { seed: 0, sft: 4000, heldOut: 128, trainPrompts: 64, evalPrompts: 64 },
  reference: { ...SUMMARIZE_DEFAULTS.reference, steps: 600, lr: 5e-3 },
  maxNewTokens: 20,
};

/** Bump when the code changes what the same config trains, so old cache files are not reused. */
const REFERENCE_BUILD = 1;

/** The task's tokenizer: the corpus vocabulary, word level. */
export function summarizeTokenizer(): WordTokenizer {
  return new WordTokenizer(SUMMARIZE_VOCABULARY);
}

/** The text a document and a summary make together (what the policy reads and writes, without specials). */
export function summarizeText(document: string, summary: string): string {
  return `${document} ${SEPARATOR} ${summary}`;
}

// --- the fact judge ----------------------------------------------------------------------------------

/**
 * Weights of the fact score: coverage, precision and the penalty per token beyond the reference
 * length. Coverage weighs most (a summary is first of all about the facts); precision second, so a
 * wrong fact costs more than a missing one (it is both missing and imprecise); the length penalty
 * alone separates padding with function words from the reference.
 */
export const FACT_WEIGHTS = { coverage: 0.6, precision: 0.4, length: 0.05 } as const;

/** Words that carry no fact: not counted by precision. */
export const FUNCTION_WORDS: ReadonlySet<string> = new Set([
  "a",
  "the",
  "in",
  "on",
  "with",
  "and",
  "at",
  "for",
  "of",
  ".",
  ",",
]);

/** A summary's fact score and its parts. */
export interface FactScore {
  /** Fraction of the five facts stated (a fact is stated when all its content words occur). */
  readonly coverage: number;
  /** Fraction of content words that are fact words, each fact word matched at most once (0 when none). */
  readonly precision: number;
  /** Tokens beyond the reference summary's length. */
  readonly excess: number;
  /** w_c · coverage + w_p · precision − w_l · excess. */
  readonly score: number;
}

/** The content words of each fact. */
function factWords(f: Facts): string[][] {
  return [[f.who], [f.verb, f.object], [f.where], [f.when], [f.count, f.unit]];
}

/** The fact score of `summary` for a document with facts `f` and a reference of `referenceLength` tokens. */
export function factScore(f: Facts, summary: string, referenceLength = 12): FactScore {
  const words = splitWords(summary);
  const present = new Set(words);
  const facts = factWords(f);
  const coverage = facts.filter((ws) => ws.every((w) => present.has(w))).length / facts.length;
  // Multiset match: a fact word said twice counts once, the repeat is imprecise.
  const unmatched = new Map<string, number>();
  for (const w of facts.flat()) unmatched.set(w, (unmatched.get(w) ?? 0) + 1);
  let content = 0, matched = 0;
  for (const w of words) {
    if (FUNCTION_WORDS.has(w)) continue;
    content++;
    const left = unmatched.get(w) ?? 0;
    if (left > 0) {
      matched++;
      unmatched.set(w, left - 1);
    }
  }
  const precision = content > 0 ? matched / content : 0;
  const excess = Math.max(0, words.length - referenceLength);
  const { coverage: wc, precision: wp, length: wl } = FACT_WEIGHTS;
  return { coverage, precision, excess, score: wc * coverage + wp * precision - wl * excess };
}

/**
 * The gold fact judge of the task's documents, looked up by document text. As a {@link TextScorer} it
 * scores full prompt + completion texts (`envs/text.ts` `completionTexts`: "document tldr summary"),
 * split at the first separator.
 */
export class FactScorer implements TextScorer {
  readonly #documents = new Map<string, SummarizeDocument>();

  constructor(documents: Iterable<SummarizeDocument>) {
    for (const d of documents) this.#documents.set(splitWords(d.text).join(" "), d);
  }

  /** Number of documents known. */
  get size(): number {
    return this.#documents.size;
  }

  /** The document of `text` (a document, or a prompt: the document and the separator). */
  document(text: string): SummarizeDocument {
    const words = splitWords(text);
    if (words.at(-1) === SEPARATOR) words.pop();
    const doc = this.#documents.get(words.join(" "));
    if (!doc) {
      const shown = text.length > 60 ? `${text.slice(0, 60)}…` : text;
      throw new Error(
        `Fact judge: unknown document "${shown}" (not one of the task's ${this.size} documents)`,
      );
    }
    return doc;
  }

  /** The fact score of `summary` for `document`. */
  scoreSummary(document: string, summary: string): FactScore {
    const doc = this.document(document);
    return factScore(doc.facts, summary, splitWords(doc.reference).length);
  }

  /** Fact scores of full texts "document tldr summary" (an error when a text has no separator). */
  score(texts: readonly string[]): Promise<Float64Array> {
    // In an executor, so a bad text rejects the promise rather than throwing synchronously.
    return new Promise((resolve) =>
      resolve(Float64Array.from(texts, (text) => {
        const words = splitWords(text);
        const at = words.indexOf(SEPARATOR);
        if (at < 0) {
          throw new Error(`Fact judge: no "${SEPARATOR}" separator in "${text.slice(0, 60)}"`);
        }
        return this.scoreSummary(words.slice(0, at).join(" "), words.slice(at + 1).join(" ")).score;
      }))
    );
  }
}

/**
 * The fact judge as a pairwise {@link Judge} (deterministic: 1, 0, or ½ on equal scores). An item's
 * `document` is the document or the prompt text; `a` and `b` are summaries.
 */
export function factJudge(scorer: FactScorer): Judge {
  return scoreJudge("facts", {
    score: (items) =>
      Promise.resolve(Float64Array.from(items, (i) => scorer.scoreSummary(i.document, i.text).score)),
  }, { scale: Infinity });
}

// --- π_ref -------------------------------------------------------------------------------------------

/** SHA-256 of a corpus's documents and SFT summaries: part of the cache key, so a changed generator rebuilds. */
export function summarizeCorpusDigest(corpus: SummarizeCorpus): string {
  const h = createHash("sha256");
  for (const split of [corpus.sft, corpus.heldOut]) {
    for (const s of split) h.update(`${s.document.text}\t${s.summary}\n`);
    h.update("--\n");
  }
  return h.digest("hex").slice(0, 16);
}

/** What SFT reached. */
export interface SummarizeReferenceMetrics {
  /** Mean cross-entropy per summary token (EOS included) on held-out (document, summary) pairs. */
  heldOutLoss: number;
  trainLoss: number;
  buildSeconds: number;
}

/** π_ref, loaded from its cache file. */
export interface BuiltSummarizeReference {
  readonly policy: GptPolicy;
  readonly config: GptConfig;
  readonly path: string;
  /** True when this call trained it (false: read from the cache). */
  readonly trained: boolean;
  readonly metrics: SummarizeReferenceMetrics;
}

/** The reference policy's GPT config for a task config. */
export function summarizeGptConfig(config: SummarizeConfig): GptConfig {
  const r = config.reference, need = MAX_DOCUMENT_TOKENS + 2 + config.maxNewTokens;
  if (r.context < need) {
    throw new RangeError(
      `Invalid summarize config: reference.context = ${r.context} (must be ≥ ${need}: BOS, a document of ` +
        `up to ${MAX_DOCUMENT_TOKENS} tokens, the separator and maxNewTokens = ${config.maxNewTokens})`,
    );
  }
  return { vocab: summarizeTokenizer().vocabSize, context: r.context, ...r.model };
}

/** An SFT row: the prompt (BOS, document, separator) conditions, the summary and EOS are the targets. */
function sftRow(tok: WordTokenizer, s: SftSummary) {
  return { prompt: promptIds(tok, s.document), response: [...tok.encode(s.summary), tok.special.eos] };
}

function promptIds(tok: WordTokenizer, doc: SummarizeDocument): number[] {
  return [tok.special.bos, ...tok.encode(doc.text), ...tok.encode(SEPARATOR)];
}

/**
 * π_ref: read from the cache, or trained by supervised fine-tuning on (document, imperfect summary)
 * pairs, the loss on the summary tokens only, and written to the cache.
 */
export async function summarizeReference(
  rt: Runtime,
  config: SummarizeConfig = SUMMARIZE_DEFAULTS,
  options: BuildOptions = {},
): Promise<BuiltSummarizeReference> {
  const log = options.log === undefined ? (l: string) => console.error(l) : options.log;
  const tok = summarizeTokenizer();
  const corpus = generateSummarizeCorpus(config.corpus);
  const gpt = summarizeGptConfig(config);
  const key = configHash({
    build: REFERENCE_BUILD,
    corpus: summarizeCorpusDigest(corpus),
    reference: config.reference,
    gpt,
  });
  const path = join(cacheDir(options.cacheDir), `summarize-reference-${key}.weights`);

  if (await exists(path)) {
    try {
      const w = await loadWeights(path);
      const meta = w.meta as { metrics: SummarizeReferenceMetrics };
      let policy: GptPolicy;
      try {
        policy = GptPolicy.create(rt, gpt, w.tensors);
      } catch (e) {
        throw new Error(`Cannot use weights "${path}" as π_ref: ${e instanceof Error ? e.message : e}`);
      }
      return { policy, config: gpt, path, trained: false, metrics: { ...meta.metrics, buildSeconds: 0 } };
    } catch (e) {
      if (options.onCorrupt === "error") throw e;
      log?.(`prefbench: warning: rebuilding π_ref: ${e instanceof Error ? e.message : e}`);
    }
  }

  const started = performance.now();
  const r = config.reference;
  log?.(`prefbench: fine-tuning π_ref on imperfect summaries (${r.steps} steps) -> ${path}`);
  const fit = await sft(rt, gpt, {
    train: corpus.sft.map((s) => sftRow(tok, s)),
    heldOut: corpus.heldOut.map((s) => sftRow(tok, s)),
  }, {
    budget: r,
    init: Rng.stream(config.corpus.seed, "summarize", "reference", "init"),
    minibatch: Rng.stream(config.corpus.seed, "summarize", "reference", "minibatch"),
    pad: tok.special.pad,
    log,
  });
  const metrics: SummarizeReferenceMetrics = {
    heldOutLoss: fit.heldOutLoss,
    trainLoss: fit.trainLoss,
    buildSeconds: (performance.now() - started) / 1000,
  };
  await saveWeights(path, fit.params, {
    shapes: new Map(gptParams(gpt).map((s) => [s.name, s.shape])),
    meta: { format: "prefbench.summarize-reference/1", config: gpt, train: r, metrics },
  });
  log?.(
    `prefbench: π_ref: held-out loss ${metrics.heldOutLoss.toFixed(3)} nats/token, ` +
      `${metrics.buildSeconds.toFixed(0)} s`,
  );
  const saved = await loadWeights(path); // read back: the cached and the fresh policy are the same bytes
  return { policy: GptPolicy.create(rt, gpt, saved.tensors), config: gpt, path, trained: true, metrics };
}

// --- prompts and the task ----------------------------------------------------------------------------

/**
 * The shares of the written reference summaries win rates are judged against ({@link writtenReference}):
 * correct, like a person's TL;DR, but not always complete or concise.
 */
export const WRITTEN_REFERENCE_KINDS = { reference: 0.4, missing: 0.3, padded: 0.3 } as const;

/**
 * The written reference summary of a document: what a policy's summary is compared with for its win
 * rate against references (as the DPO paper compares with the TL;DR dataset's human summaries). It is
 * the five-fact form 40% of the time, and otherwise misses a fact or is padded, never wrong: so the
 * fact judge's optimum beats it about 80% of the time (ties ½), π_ref much less often, and win rates
 * against references measure what they do in the paper rather than how often a policy matches one
 * fixed string.
 */
export function writtenReference(doc: SummarizeDocument, rng: Rng): string {
  const kinds = Object.keys(WRITTEN_REFERENCE_KINDS) as (keyof typeof WRITTEN_REFERENCE_KINDS)[];
  const kind = kinds[rng.categorical(kinds.map((k) => WRITTEN_REFERENCE_KINDS[k]))]!;
  return kind === "reference" ? doc.reference : imperfectSummary(doc, kind, rng);
}

/**
 * Prompts: BOS, a document and the separator; each prompt's `reference` is a written reference summary
 * ({@link writtenReference}, from its own stream per split). Training and evaluation prompts are
 * disjoint documents, neither seen by π_ref's SFT.
 */
export function summarizePrompts(
  config: SummarizeConfig,
  corpus: SummarizeCorpus = generateSummarizeCorpus(config.corpus),
): { train: Prompt[]; eval: Prompt[] } {
  const tok = summarizeTokenizer();
  const make = (docs: readonly SummarizeDocument[], split: string): Prompt[] => {
    const rng = Rng.stream(config.corpus.seed, "summarize", "written-references", split);
    return docs.map((doc) => {
      const ids = promptIds(tok, doc);
      return { ids, text: tok.decode(ids), reference: writtenReference(doc, rng) };
    });
  };
  return { train: make(corpus.trainPrompts, "train"), eval: make(corpus.evalPrompts, "eval") };
}

/** The summarization task's environment. */
export interface SummarizeTask extends TextTask {
  readonly corpus: SummarizeCorpus;
  readonly gold: FactScorer;
  readonly judge: Judge;
  readonly reference: GptPolicy;
  readonly referenceBuild: BuiltSummarizeReference;
}

/** Builds (or reads from the cache) everything the summarization task needs. */
export async function loadSummarizeTask(
  rt: Runtime,
  config: SummarizeConfig = SUMMARIZE_DEFAULTS,
  options: BuildOptions = {},
): Promise<SummarizeTask> {
  const corpus = generateSummarizeCorpus(config.corpus);
  const referenceBuild = await summarizeReference(rt, config, options);
  const prompts = summarizePrompts(config, corpus);
  const gold = new FactScorer([
    ...corpus.evalPrompts,
    ...corpus.trainPrompts,
    ...corpus.heldOut.map((s) => s.document),
    ...corpus.sft.map((s) => s.document),
  ]);
  return {
    tokenizer: summarizeTokenizer(),
    corpus,
    gold,
    judge: factJudge(gold),
    reference: referenceBuild.policy,
    referenceBuild,
    trainPrompts: prompts.train,
    evalPrompts: prompts.eval,
    maxNewTokens: config.maxNewTokens,
  };
}

/** The summarization tasks, as `tasks/text_tasks.ts` lists them. */
export const SUMMARIZE_TASKS: readonly TextTaskSpec[] = [
  {
    name: "summarize",
    description: "Summarize generated news items: gold preference a fact judge (coverage, precision, length)",
    pairs: { count: 4096, scale: 10 },
    load: (rt, options) => loadSummarizeTask(rt, SUMMARIZE_DEFAULTS, options),
  },
  {
    name: "summarize.small",
    description: "The summarization task with a smaller π_ref and prompt sets (quick runs, tests)",
    // 16 pairs per training prompt: enough for DPO's budgets, and a quarter of the sampling.
    pairs: { count: 1024, scale: 10 },
    load: (rt, options) => loadSummarizeTask(rt, SUMMARIZE_SMALL, options),
  },
];
