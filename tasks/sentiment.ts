/**
 * The sentiment task (Rafailov et al. 2023, "Direct Preference Optimization", §6.1, controlled sentiment
 * generation), small enough for two CPU cores: a GPT policy completes prefixes of held-out reviews and
 * the gold reward is a sentiment classifier's p(positive), run through ONNX Runtime.
 *
 * Everything is built by the harness from the embedded corpus ({@link generateCorpus}) and cached under
 * the build cache (`.cache/prefbench/`, see `_cache.ts`), keyed by a hash of the config and the corpus:
 * - the gold classifier ({@link sentimentClassifier}): trained on labelled reviews, saved as an ONNX
 *   inference model and always scored from that file, like an external classifier;
 * - π_ref ({@link sentimentReference}): supervised fine-tuning of the GPT on reviews of both
 *   sentiments, saved as a weights file (`models/weights.ts`).
 * A second build reads the files; a damaged file is rebuilt with a warning (or, with
 * `onCorrupt: "error"`, is an error naming the file).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { Graph, type TensorData } from "../engine/graph.ts";
import { Rng } from "../engine/rng.ts";
import type { BuildOptions, TextTaskSpec } from "./text_tasks.ts";
import type { Runtime } from "../engine/runtime.ts";
import { Trainer } from "../engine/trainer.ts";
import type { Prompt, TextEnv } from "../envs/text.ts";
import type { ClassifierConfig } from "../models/classifier.ts";
import {
  binaryCrossEntropy,
  classifierLogits,
  classifierParams,
  exportClassifier,
  SentimentScorer,
} from "../models/classifier.ts";
import type { GptConfig } from "../models/gpt.ts";
import { declareParams, gptParams, initParams } from "../models/gpt.ts";
import { GptPolicy } from "../models/gpt_policy.ts";
import { WordTokenizer } from "../models/tokenizer.ts";
import { loadWeights, saveWeights, writeAtomic } from "../models/weights.ts";
import { cacheDir, configHash, exists } from "./_cache.ts";
import { EpochOrder, schedule, sft } from "./_sft.ts";
import type { Corpus, CorpusConfig, Review } from "./sentiment_corpus.ts";
import { generateCorpus, MAX_REVIEW_TOKENS, SENTIMENT_VOCABULARY } from "./sentiment_corpus.ts";

/** How the gold classifier is trained. */
export interface ClassifierTrainConfig {
  /** Width, depth and heads of the encoder (the vocabulary is the tokenizer's). */
  model: Pick<ClassifierConfig, "dModel" | "layers" | "heads">;
  /** Tokens read per text (longer texts are truncated). */
  maxLen: number;
  /** AdamW steps, minibatch size, peak learning rate, weight decay. */
  steps: number;
  batch: number;
  lr: number;
  weightDecay: number;
  /** Static batch size of the exported inference model. */
  exportBatch: number;
}

/** How π_ref is fine-tuned. */
export interface ReferenceTrainConfig {
  /** Width, depth and heads of the GPT (the vocabulary is the tokenizer's). */
  model: Pick<GptConfig, "dModel" | "layers" | "heads">;
  /** Longest sequence (BOS + review + EOS); at least {@link MAX_REVIEW_TOKENS} + 2. */
  context: number;
  steps: number;
  batch: number;
  lr: number;
  weightDecay: number;
}

/** The whole task. */
export interface SentimentConfig {
  corpus: CorpusConfig;
  classifier: ClassifierTrainConfig;
  reference: ReferenceTrainConfig;
  /** Prompts are the first `minWords..maxWords` tokens of held-out reviews (BOS added). */
  prompts: { train: number; eval: number; minWords: number; maxWords: number };
  /** Most tokens a completion may have (EOS included). */
  maxNewTokens: number;
}

/**
 * The embedded defaults (what `deno task bench` uses). Measured on two busy cores: the classifier reaches
 * 99.4% held-out and 100% probe accuracy in about 55 s; π_ref 1.82 nats/token (unigram 4.38) in about
 * 30 s; a cached build loads in under a second.
 * One encoder layer: two layers learned contrast ("A , but B") more slowly at this budget.
 */
export const SENTIMENT_DEFAULTS: SentimentConfig = {
  corpus: { seed: 0, train: 30000, heldOut: 1000, probe: 400 },
  classifier: {
    model: { dModel: 64, layers: 1, heads: 4 },
    maxLen: 32,
    steps: 1500,
    batch: 64,
    lr: 3e-3,
    weightDecay: 0.01,
    exportBatch: 64,
  },
  reference: {
    model: { dModel: 64, layers: 2, heads: 4 },
    context: 32,
    steps: 1500,
    batch: 32,
    lr: 3e-3,
    weightDecay: 0.01,
  },
  prompts: { train: 256, eval: 128, minWords: 2, maxWords: 8 },
  maxNewTokens: 24,
};

/**
 * A reduced task for tests and quick runs: the classifier (15–30 s on two cores) still reaches 95%
 * held-out accuracy; π_ref (under 10 s) is well below the unigram loss but less fluent.
 */
export const SENTIMENT_SMALL: SentimentConfig = {
  corpus: { seed: 0, train: 12000, heldOut: 500, probe: 300 },
  classifier: { ...SENTIMENT_DEFAULTS.classifier, model: { dModel: 48, layers: 1, heads: 4 }, steps: 800 },
  reference: {
    ...SENTIMENT_DEFAULTS.reference,
    model: { dModel: 32, layers: 1, heads: 2 },
    steps: 400,
    lr: 4e-3,
  },
  prompts: { train: 64, eval: 64, minWords: 2, maxWords: 8 },
  maxNewTokens: 24,
};

/** Bump when a model's code changes what the same config trains, so old cache files are not reused. */
const CLASSIFIER_BUILD = 1;
const REFERENCE_BUILD = 1;

/** Options of the builders (shared by every text task). */
export type { BuildOptions } from "./text_tasks.ts";

/** The task's tokenizer: the corpus vocabulary, word level. */
export function sentimentTokenizer(): WordTokenizer {
  return new WordTokenizer(SENTIMENT_VOCABULARY);
}

/** SHA-256 of a corpus's texts and labels: part of every cache key, so a changed generator rebuilds. */
export function corpusDigest(corpus: Corpus): string {
  const h = createHash("sha256");
  for (const split of [corpus.train, corpus.heldOut, corpus.probe]) {
    for (const r of split) h.update(`${r.label}\t${r.text}\n`);
    h.update("--\n");
  }
  return h.digest("hex").slice(0, 16);
}

// --- the gold classifier -------------------------------------------------------------------------------

/** Accuracies of the gold classifier, measured through its ONNX file. */
export interface ClassifierMetrics {
  heldOutAccuracy: number;
  probeAccuracy: number;
  /** Final training loss (mean of the last 20 steps). */
  trainLoss: number;
  /** Wall time of the build, seconds (0 when read from the cache). */
  buildSeconds: number;
}

/** A gold classifier, loaded from its cache file. */
export interface BuiltClassifier {
  readonly scorer: SentimentScorer;
  /** The ONNX file. */
  readonly path: string;
  /** True when this call trained it (false: read from the cache). */
  readonly trained: boolean;
  /** As recorded when it was built. */
  readonly metrics: ClassifierMetrics;
}

/**
 * The gold sentiment classifier: read from the cache, or trained on the corpus, exported to ONNX,
 * written to the cache, and then read back from the file (so a fresh build is scored exactly as a
 * cached one). Accuracy on held-out reviews and on the negation probe is measured through the file.
 */
export async function sentimentClassifier(
  rt: Runtime,
  config: SentimentConfig = SENTIMENT_DEFAULTS,
  options: BuildOptions = {},
): Promise<BuiltClassifier> {
  const log = logger(options);
  const tok = sentimentTokenizer();
  const corpus = generateCorpus(config.corpus);
  const c = config.classifier;
  const key = configHash({
    build: CLASSIFIER_BUILD,
    corpus: corpusDigest(corpus),
    classifier: c,
    vocab: tok.vocabSize,
  });
  const path = join(cacheDir(options.cacheDir), `sentiment-classifier-${key}.onnx`);
  const metaPath = path.replace(/\.onnx$/, ".json");

  if (await exists(path)) {
    try {
      return { ...(await readClassifier(rt, path, metaPath, tok)), trained: false };
    } catch (e) {
      if (options.onCorrupt === "error") throw e;
      log?.(`prefbench: warning: rebuilding the sentiment classifier: ${e instanceof Error ? e.message : e}`);
    }
  }

  const started = performance.now();
  log?.(`prefbench: training the sentiment classifier (${c.steps} steps) -> ${path}`);
  const { params, trainLoss } = await trainClassifier(rt, config, corpus, tok, log);
  const cfg: ClassifierConfig = { vocab: tok.vocabSize, maxLen: c.maxLen, ...c.model };
  const model = exportClassifier(cfg, params, { batch: c.exportBatch });
  await writeAtomic(path, model.bytes);
  const scorer = await SentimentScorer.fromFile(rt, path, tok);
  const metrics: ClassifierMetrics = {
    heldOutAccuracy: await accuracy(scorer, corpus.heldOut),
    probeAccuracy: await accuracy(scorer, corpus.probe),
    trainLoss,
    buildSeconds: (performance.now() - started) / 1000,
  };
  const meta = {
    format: "prefbench.sentiment-classifier/1",
    sha256: model.hash,
    config: cfg,
    train: c,
    metrics,
  };
  await writeAtomic(metaPath, new TextEncoder().encode(JSON.stringify(meta, null, 2) + "\n"));
  log?.(
    `prefbench: sentiment classifier: held-out accuracy ${metrics.heldOutAccuracy.toFixed(3)}, ` +
      `negation probe ${metrics.probeAccuracy.toFixed(3)}, ${metrics.buildSeconds.toFixed(0)} s`,
  );
  return { scorer, path, trained: true, metrics };
}

async function readClassifier(rt: Runtime, path: string, metaPath: string, tok: WordTokenizer) {
  let meta: { sha256?: string; metrics?: ClassifierMetrics };
  try {
    meta = JSON.parse(await Deno.readTextFile(metaPath));
  } catch (e) {
    throw new Error(`Cannot read "${metaPath}" beside the classifier: ${e instanceof Error ? e.message : e}`);
  }
  const bytes = await Deno.readFile(path);
  const hash = createHash("sha256").update(bytes).digest("hex");
  if (hash !== meta.sha256) {
    throw new Error(
      `Cannot load the sentiment classifier "${path}": its checksum does not match "${metaPath}"`,
    );
  }
  const scorer = await SentimentScorer.fromFile(rt, path, tok);
  return { scorer, path, metrics: { ...meta.metrics!, buildSeconds: 0 } };
}

/** Fraction of reviews whose p(positive) is on the side of 0.5 their label says. */
export async function accuracy(scorer: SentimentScorer, reviews: readonly Review[]): Promise<number> {
  const p = await scorer.score(reviews.map((r) => r.text));
  let right = 0;
  reviews.forEach((r, i) => (right += (p[i]! > 0.5 ? 1 : 0) === r.label ? 1 : 0));
  return right / Math.max(reviews.length, 1);
}

async function trainClassifier(
  rt: Runtime,
  config: SentimentConfig,
  corpus: Corpus,
  tok: WordTokenizer,
  log: ((line: string) => void) | null,
): Promise<{ params: Map<string, TensorData>; trainLoss: number }> {
  const c = config.classifier;
  const cfg: ClassifierConfig = { vocab: tok.vocabSize, maxLen: c.maxLen, ...c.model };
  const specs = classifierParams(cfg);
  const g = new Graph();
  const p = declareParams(g, specs);
  const ids = g.input("ids", [c.batch, c.maxLen], "int64");
  const mask = g.input("mask", [c.batch, c.maxLen], "int64");
  const labels = g.input("labels", [c.batch]);
  const logits = classifierLogits(g, cfg, p, ids, mask);
  const trainer = await Trainer.create(
    rt,
    binaryCrossEntropy(g, logits, labels),
    initParams(specs, Rng.stream(config.corpus.seed, "sentiment", "classifier", "init")),
    { adamw: { weightDecay: c.weightDecay, clipNorm: 1 } },
  );
  const data = encodeReviews(tok, corpus.train, c.maxLen);
  const order = new EpochOrder(
    corpus.train.length,
    Rng.stream(config.corpus.seed, "sentiment", "classifier", "minibatch"),
  );
  const losses: number[] = [];
  for (let step = 1; step <= c.steps; step++) {
    const idx = order.next(c.batch);
    const batch = {
      ids: gatherRows(data.ids, idx, c.maxLen),
      mask: gatherRows(data.mask, idx, c.maxLen),
      labels: Float32Array.from(idx, (i) => data.labels[i]!),
    };
    const m = await trainer.step(batch, schedule(c.lr, step, c.steps));
    losses.push(m.loss!);
    if (step % 200 === 0) log?.(`prefbench:   classifier step ${step}/${c.steps} loss ${m.loss!.toFixed(4)}`);
  }
  const tail = losses.slice(-20);
  return { params: trainer.params, trainLoss: tail.reduce((a, b) => a + b, 0) / tail.length };
}

function encodeReviews(tok: WordTokenizer, reviews: readonly Review[], maxLen: number) {
  const ids = new BigInt64Array(reviews.length * maxLen).fill(BigInt(tok.special.pad));
  const mask = new BigInt64Array(reviews.length * maxLen);
  const labels = new Float32Array(reviews.length);
  reviews.forEach((r, i) => {
    tok.encode(r.text).slice(0, maxLen).forEach((id, t) => {
      ids[i * maxLen + t] = BigInt(id);
      mask[i * maxLen + t] = 1n;
    });
    labels[i] = r.label;
  });
  return { ids, mask, labels };
}

// --- π_ref ---------------------------------------------------------------------------------------------

/** What SFT reached, on held-out reviews. */
export interface ReferenceMetrics {
  /** Mean next-token cross-entropy (nats per token, EOS included) on held-out reviews. */
  heldOutLoss: number;
  /** The same for the unigram distribution of the training tokens (add-one smoothed). */
  unigramLoss: number;
  trainLoss: number;
  buildSeconds: number;
}

/** π_ref, loaded from its cache file. */
export interface BuiltReference {
  readonly policy: GptPolicy;
  readonly config: GptConfig;
  readonly path: string;
  readonly trained: boolean;
  readonly metrics: ReferenceMetrics;
}

/** The reference policy's GPT config for a task config. */
export function referenceGptConfig(config: SentimentConfig): GptConfig {
  const r = config.reference;
  if (r.context < MAX_REVIEW_TOKENS + 2) {
    throw new RangeError(
      `Invalid sentiment config: reference.context = ${r.context} (must be ≥ ${MAX_REVIEW_TOKENS + 2})`,
    );
  }
  return { vocab: sentimentTokenizer().vocabSize, context: r.context, ...r.model };
}

/**
 * π_ref: read from the cache, or trained by supervised fine-tuning on the training reviews of both
 * sentiments (BOS review EOS, masked cross-entropy) and written to the cache.
 */
export async function sentimentReference(
  rt: Runtime,
  config: SentimentConfig = SENTIMENT_DEFAULTS,
  options: BuildOptions = {},
): Promise<BuiltReference> {
  const log = logger(options);
  const tok = sentimentTokenizer();
  const corpus = generateCorpus(config.corpus);
  const gpt = referenceGptConfig(config);
  const key = configHash({
    build: REFERENCE_BUILD,
    corpus: corpusDigest(corpus),
    reference: config.reference,
    gpt,
  });
  const path = join(cacheDir(options.cacheDir), `sentiment-reference-${key}.weights`);

  if (await exists(path)) {
    try {
      const w = await loadWeights(path);
      const meta = w.meta as { metrics: ReferenceMetrics };
      let policy: GptPolicy;
      try {
        policy = GptPolicy.create(rt, gpt, w.tensors);
      } catch (e) {
        throw new Error(`Cannot use weights "${path}" as π_ref: ${e instanceof Error ? e.message : e}`);
      }
      return {
        policy,
        config: gpt,
        path,
        trained: false,
        metrics: { ...meta.metrics, buildSeconds: 0 },
      };
    } catch (e) {
      if (options.onCorrupt === "error") throw e;
      log?.(`prefbench: warning: rebuilding π_ref: ${e instanceof Error ? e.message : e}`);
    }
  }

  const started = performance.now();
  const r = config.reference;
  log?.(`prefbench: fine-tuning π_ref on the review corpus (${r.steps} steps) -> ${path}`);
  const train = corpus.train.map((rv) => tok.encode(rv.text));
  const held = corpus.heldOut.map((rv) => tok.encode(rv.text));
  const rows = (reviews: readonly number[][]) =>
    reviews.map((w) => ({ prompt: [tok.special.bos], response: [...w, tok.special.eos] }));
  const fit = await sft(rt, gpt, { train: rows(train), heldOut: rows(held) }, {
    budget: r,
    init: Rng.stream(config.corpus.seed, "sentiment", "reference", "init"),
    minibatch: Rng.stream(config.corpus.seed, "sentiment", "reference", "minibatch"),
    pad: tok.special.pad,
    log,
  });
  const metrics: ReferenceMetrics = {
    heldOutLoss: fit.heldOutLoss,
    unigramLoss: unigramLoss(train, held, tok),
    trainLoss: fit.trainLoss,
    buildSeconds: (performance.now() - started) / 1000,
  };
  const shapes = new Map(gptParams(gpt).map((s) => [s.name, s.shape]));
  const params = fit.params;
  await saveWeights(path, params, {
    shapes,
    meta: { format: "prefbench.sentiment-reference/1", config: gpt, train: r, metrics },
  });
  log?.(
    `prefbench: π_ref: held-out loss ${metrics.heldOutLoss.toFixed(3)} nats/token ` +
      `(unigram ${metrics.unigramLoss.toFixed(3)}), ${metrics.buildSeconds.toFixed(0)} s`,
  );
  const saved = await loadWeights(path); // read back: the cached and the fresh policy are the same bytes
  return { policy: GptPolicy.create(rt, gpt, saved.tensors), config: gpt, path, trained: true, metrics };
}

/** Cross-entropy of held-out tokens (EOS included) under the add-one-smoothed training unigram. */
function unigramLoss(train: readonly number[][], held: readonly number[][], tok: WordTokenizer): number {
  const counts = new Float64Array(tok.vocabSize).fill(1);
  let total = tok.vocabSize;
  for (const w of train) {
    for (const id of [...w, tok.special.eos]) counts[id]!++;
    total += w.length + 1;
  }
  let nll = 0, n = 0;
  for (const w of held) {
    for (const id of [...w, tok.special.eos]) {
      nll -= Math.log(counts[id]! / total);
      n++;
    }
  }
  return nll / n;
}

// --- prompts and the task ------------------------------------------------------------------------------

/**
 * Prompts: BOS and the first `minWords..maxWords` tokens of held-out reviews (always fewer than the
 * whole review). The first half of the held-out reviews gives training prompts, the second half
 * evaluation prompts, so neither π_ref, the classifier, nor training ever saw an evaluation prompt.
 */
export function sentimentPrompts(
  config: SentimentConfig,
  corpus: Corpus = generateCorpus(config.corpus),
): { train: Prompt[]; eval: Prompt[] } {
  const tok = sentimentTokenizer();
  const { minWords, maxWords } = config.prompts;
  if (!(Number.isInteger(minWords) && minWords >= 1 && maxWords >= minWords)) {
    throw new RangeError(`Invalid sentiment config: prompts.minWords..maxWords = ${minWords}..${maxWords}`);
  }
  const half = Math.floor(corpus.heldOut.length / 2);
  const make = (reviews: readonly Review[], n: number, purpose: string): Prompt[] => {
    const rng = Rng.stream(config.corpus.seed, "sentiment", "prompts", purpose);
    const out: Prompt[] = [];
    for (let i = 0; out.length < n; i++) {
      if (reviews.length === 0) {
        throw new RangeError("Invalid sentiment config: no held-out reviews for prompts");
      }
      const review = reviews[i % reviews.length]!;
      const words = tok.encode(review.text);
      const most = Math.min(maxWords, words.length - 1);
      if (most < minWords) continue;
      const k = minWords + rng.int(most - minWords + 1);
      const ids = [tok.special.bos, ...words.slice(0, k)];
      out.push({ ids, text: tok.decode(ids), reference: review.text });
      if (i > 100 * (n + reviews.length)) throw new RangeError("Sentiment prompts: no review is long enough");
    }
    return out;
  };
  return {
    train: make(corpus.heldOut.slice(0, half), config.prompts.train, "train"),
    eval: make(corpus.heldOut.slice(half), config.prompts.eval, "eval"),
  };
}

/** The sentiment task's environment: what an algorithm and the evaluator need. */
export interface SentimentTask extends TextEnv {
  readonly corpus: Corpus;
  readonly gold: SentimentScorer;
  readonly reference: GptPolicy;
  readonly classifier: BuiltClassifier;
  readonly referenceBuild: BuiltReference;
}

/** Builds (or reads from the cache) everything the sentiment task needs. */
export async function loadSentimentTask(
  rt: Runtime,
  config: SentimentConfig = SENTIMENT_DEFAULTS,
  options: BuildOptions = {},
): Promise<SentimentTask> {
  const corpus = generateCorpus(config.corpus);
  const classifier = await sentimentClassifier(rt, config, options);
  const referenceBuild = await sentimentReference(rt, config, options);
  const prompts = sentimentPrompts(config, corpus);
  return {
    tokenizer: classifier.scorer.tokenizer,
    corpus,
    gold: classifier.scorer,
    reference: referenceBuild.policy,
    classifier,
    referenceBuild,
    trainPrompts: prompts.train,
    evalPrompts: prompts.eval,
    maxNewTokens: config.maxNewTokens,
  };
}

// --- training helpers ----------------------------------------------------------------------------------

function gatherRows(src: BigInt64Array, idx: readonly number[], width: number): BigInt64Array {
  const out = new BigInt64Array(idx.length * width);
  idx.forEach((i, r) => out.set(src.subarray(i * width, (i + 1) * width), r * width));
  return out;
}

function logger(options: BuildOptions): ((line: string) => void) | null {
  return options.log === undefined ? (l) => console.error(l) : options.log;
}

// --- the text tasks a suite can name -------------------------------------------------------------------

/** The sentiment tasks, as `tasks/text_tasks.ts` lists them. */
export const SENTIMENT_TASKS: readonly TextTaskSpec[] = [
  {
    name: "sentiment",
    description: "Complete review prefixes positively: gold reward a sentiment classifier's p(positive)",
    pairs: { count: 4096, scale: 10 },
    load: (rt, options) => loadSentimentTask(rt, SENTIMENT_DEFAULTS, options),
  },
  {
    name: "sentiment.small",
    description: "The sentiment task with a smaller classifier, π_ref and prompt sets (quick runs, tests)",
    pairs: { count: 4096, scale: 10 },
    load: (rt, options) => loadSentimentTask(rt, SENTIMENT_SMALL, options),
  },
];
