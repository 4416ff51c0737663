/**
 * Text tasks a suite defines over local data (`text_tasks:` in a suite), the DPO paper's two setups
 * (Rafailov et al. 2023, §6.1) on real files:
 *
 * - `sentiment`: prompts are the first `min_tokens..max_tokens` tokens of held-out dataset texts (IMDb
 *   reviews); π_ref is our GPT fine-tuned on the other texts with the task's tokenizer (the shared SFT
 *   of `_sft.ts`); the gold reward is an external ONNX sequence classifier's probability of one label
 *   (`models/external_scorer.ts`).
 * - `summarize`: prompts are the `prompt` (or `post`) column, their references the `completion` (or
 *   `summary`) column; π_ref is the GPT fine-tuned on prompt → completion, the loss on the completion;
 *   the gold reward is an external ONNX reward model's logit of the whole text, and the judge of win
 *   rates is that reward model read as Bradley–Terry, P(a ≻ b) = σ(r(a) − r(b)).
 *
 * The dataset is streamed (up to `max_rows` rows, default all) and a uniform sample of `rows` rows kept
 * by reservoir sampling (Hugging Face's IMDb split is sorted by label, so its first rows would all be
 * negative); the sample is shuffled and split: evaluation prompts first, then training prompts, then the
 * SFT rows (of which 5%, at most 500, measure π_ref's held-out loss). No random draw is made outside
 * `Rng.stream(seed, "data-task", name, purpose)`. π_ref is cached like the embedded tasks' (keyed by the
 * rows, the tokenizer file and the config); the tokenizer, dataset and models are read from disk only.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { Rng } from "../engine/rng.ts";
import type { Runtime } from "../engine/runtime.ts";
import type { PairSpec, Prompt } from "../envs/text.ts";
import { ExternalScorer, type ExternalScorerConfig } from "../models/external_scorer.ts";
import type { GptConfig } from "../models/gpt.ts";
import { gptParams, validateGpt } from "../models/gpt.ts";
import { GptPolicy } from "../models/gpt_policy.ts";
import { HfTokenizer } from "../models/hf_tokenizer.ts";
import type { Judge } from "../models/judge.ts";
import { scoreJudge } from "../models/judge.ts";
import { loadWeights, saveWeights } from "../models/weights.ts";
import { cacheDir, configHash, exists } from "./_cache.ts";
import { sft, type SftBudget, type SftRow } from "./_sft.ts";
import type { DataRow, DatasetRole, DatasetSpec } from "./datasets.ts";
import { readDataset } from "./datasets.ts";
import type { BuildOptions, TextTask, TextTaskSpec } from "./text_tasks.ts";

/** The kinds of data task. */
export const DATA_TASK_KINDS = ["sentiment", "summarize"] as const;
/** A data task's kind: `sentiment` or `summarize`. */
export type DataTaskKind = typeof DATA_TASK_KINDS[number];

/** The gold model of a data task (paths as given, resolved by the suite). */
export interface DataGoldConfig {
  /** The ONNX classifier (sentiment) or reward model (summarize). */
  readonly path: string;
  /** Its tokenizer.json (default: the task's tokenizer). */
  readonly tokenizer?: string;
  /** Classifier: the class whose probability is the reward (default 1). */
  readonly labelIndex?: number;
  /** Classifier: a label name from `config.json`'s `id2label` beside the model. */
  readonly label?: string;
  /** The model's input names; `mask` or `tokenTypes` null where it has no such input (default: by the model). */
  readonly inputs?: {
    readonly ids?: string;
    readonly mask?: string | null;
    readonly tokenTypes?: string | null;
  };
  /** The output read (default `logits`). */
  readonly output?: string;
  /** Tokens per scored text (default: the model's static length, else 128). */
  readonly maxLength?: number;
  /** Texts per model run (default 32). */
  readonly batch?: number;
}

/** How π_ref is fine-tuned on the dataset. */
export interface DataReferenceConfig extends SftBudget {
  /** Model width D of π_ref's GPT (divisible by `heads`). */
  readonly dModel: number;
  /** Transformer blocks of π_ref's GPT. */
  readonly layers: number;
  /** Attention heads of π_ref's GPT. */
  readonly heads: number;
  /** Longest sequence (BOS, prompt and completion, EOS). */
  readonly context: number;
}

/** A suite-defined text task over local data: plain data, hashed with the suite. */
export interface DataTaskConfig {
  /** Which of the two setups the task is. */
  readonly kind: DataTaskKind;
  /** One line for listings (default: built from the kind, the dataset and the gold model). */
  readonly description?: string;
  /** The dataset file and how its columns map to roles. */
  readonly dataset: DatasetSpec;
  /** The policy's tokenizer.json. */
  readonly tokenizer: string;
  /** The gold reward model (and, for `summarize`, the judge of win rates). */
  readonly gold: DataGoldConfig;
  /** Rows the task keeps: a uniform sample (seeded) of the rows read. */
  readonly rows: number;
  /** Rows read from the start of the dataset (default: all; a stream, so memory holds only `rows`). */
  readonly maxRows?: number;
  /** Seed of the shuffle, the split and the prompt lengths. */
  readonly seed: number;
  /** Prompts per split; sentiment prompts are `minTokens..maxTokens` tokens of a text. */
  readonly prompts: {
    readonly train: number;
    readonly eval: number;
    readonly minTokens: number;
    readonly maxTokens: number;
  };
  /** How π_ref is fine-tuned on the SFT rows. */
  readonly reference: DataReferenceConfig;
  /** Most tokens a completion may have (EOS included). */
  readonly maxNewTokens: number;
  /** The preference-data regime: pairs per seed, prompts, completions per prompt, labels. */
  readonly pairs: PairSpec;
}

/** Defaults of each kind (a suite overrides any of them). */
export const DATA_TASK_DEFAULTS: Readonly<
  Record<DataTaskKind, Omit<DataTaskConfig, "kind" | "dataset" | "tokenizer" | "gold">>
> = {
  sentiment: {
    rows: 25000,
    seed: 0,
    prompts: { train: 256, eval: 128, minTokens: 2, maxTokens: 8 },
    reference: {
      dModel: 128,
      layers: 2,
      heads: 4,
      context: 64,
      steps: 2000,
      batch: 32,
      lr: 3e-3,
      weightDecay: 0.01,
    },
    maxNewTokens: 24,
    pairs: { count: 4096, scale: 10 },
  },
  summarize: {
    rows: 20000,
    seed: 0,
    prompts: { train: 256, eval: 128, minTokens: 1, maxTokens: 1 },
    reference: {
      dModel: 128,
      layers: 2,
      heads: 4,
      context: 512,
      steps: 2000,
      batch: 16,
      lr: 3e-3,
      weightDecay: 0.01,
    },
    maxNewTokens: 48,
    pairs: { count: 4096, scale: 1 },
  },
};

/** Bump when the code changes what the same config trains, so old cache files are not reused. */
const REFERENCE_BUILD = 1;

/** The TextTaskSpec of a suite-defined task, for the cell runner. */
export function dataTaskSpec(name: string, config: DataTaskConfig): TextTaskSpec {
  return {
    name,
    description: config.description ??
      (config.kind === "sentiment"
        ? `Complete ${config.dataset.path} prefixes: gold reward ${config.gold.path}'s p(label ${
          config.gold.label ?? config.gold.labelIndex ?? 1
        })`
        : `Summarize ${config.dataset.path}: gold reward and judge ${config.gold.path}`),
    pairs: config.pairs,
    load: (rt, options) => loadDataTask(rt, name, config, options),
  };
}

/** A loaded data task: the environment, and what it was built from. */
export interface DataTask extends TextTask {
  readonly gold: ExternalScorer;
  readonly reference: GptPolicy;
  readonly referenceBuild: { readonly path: string; readonly trained: boolean; readonly heldOutLoss: number };
  /** SFT rows used (after the prompts were taken and rows that do not fit were skipped). */
  readonly sftRows: number;
}

/** Builds a data task: tokenizer, gold, rows, prompts, π_ref (cached). */
export async function loadDataTask(
  rt: Runtime,
  name: string,
  config: DataTaskConfig,
  options: BuildOptions = {},
): Promise<DataTask> {
  const log = options.log === undefined ? (l: string) => console.error(l) : options.log;
  const tok = await HfTokenizer.fromFile(config.tokenizer);
  const goldTok = config.gold.tokenizer && config.gold.tokenizer !== config.tokenizer
    ? await HfTokenizer.fromFile(config.gold.tokenizer)
    : tok;
  const gold = await ExternalScorer.fromFile(rt, config.gold.path, goldTok, scorerConfig(config));
  const gpt: GptConfig = {
    vocab: tok.vocabSize,
    dModel: config.reference.dModel,
    layers: config.reference.layers,
    heads: config.reference.heads,
    context: config.reference.context,
  };
  try {
    validateGpt(gpt);
  } catch (e) {
    throw new RangeError(`Text task "${name}": reference: ${e instanceof Error ? e.message : e}`);
  }
  const roles = config.kind === "sentiment" ? ["text"] as const : ["prompt", "completion"] as const;
  const { rows, scanned } = await sampleRows(name, config, roles);
  const order = Rng.stream(config.seed, "data-task", name, "shuffle").shuffle([...rows.keys()]);
  const shuffled = order.map((i) => rows[i]!);
  const split = config.kind === "sentiment"
    ? sentimentSplit(name, config, tok, shuffled)
    : summarizeSplit(name, config, tok, shuffled);
  log?.(
    `prefbench: ${name}: ${rows.length} of ${scanned} rows of ${config.dataset.path}: ${split.evalPrompts.length} evaluation ` +
      `and ${split.trainPrompts.length} training prompts, ${split.sft.length} SFT rows` +
      (split.skipped ? ` (${split.skipped} rows skipped: ${split.skippedWhy})` : ""),
  );
  const ref = await dataReference(rt, name, config, gpt, tok, split.sft, options, log);
  const task: DataTask = {
    tokenizer: tok,
    gold,
    reference: ref.policy,
    referenceBuild: { path: ref.path, trained: ref.trained, heldOutLoss: ref.heldOutLoss },
    trainPrompts: split.trainPrompts,
    evalPrompts: split.evalPrompts,
    maxNewTokens: config.maxNewTokens,
    sftRows: split.sft.length,
  };
  if (config.kind === "summarize") return { ...task, judge: rewardJudge(gold) };
  return task;
}

/**
 * A uniform sample of `rows` rows (reservoir sampling, Algorithm R, from the task's seeded stream) of the
 * first `maxRows` rows of the dataset (default: all), streamed: memory holds `rows` rows, whatever the
 * file's size, and a file sorted by label (IMDb) still gives both labels.
 */
async function sampleRows(
  name: string,
  config: DataTaskConfig,
  roles: readonly DatasetRole[],
): Promise<{ rows: DataRow[]; scanned: number }> {
  const rng = Rng.stream(config.seed, "data-task", name, "sample");
  const kept: DataRow[] = [];
  let seen = 0;
  const options = config.maxRows === undefined ? { roles } : { roles, maxRows: config.maxRows };
  for await (const row of readDataset(config.dataset, options)) {
    if (kept.length < config.rows) kept.push(row);
    else {
      const j = rng.int(seen + 1);
      if (j < config.rows) kept[j] = row;
    }
    seen++;
  }
  return { rows: kept, scanned: seen };
}

function scorerConfig(config: DataTaskConfig): ExternalScorerConfig {
  const g = config.gold;
  const out: ExternalScorerConfig = {
    kind: config.kind === "sentiment" ? "classifier" : "reward",
    tokenizerPath: g.tokenizer ?? config.tokenizer,
  };
  if (g.inputs) {
    out.inputs = {
      ...(g.inputs.ids !== undefined ? { ids: g.inputs.ids } : {}),
      ...(g.inputs.mask !== undefined ? { mask: g.inputs.mask } : {}),
      ...(g.inputs.tokenTypes !== undefined ? { tokenTypes: g.inputs.tokenTypes } : {}),
    };
  }
  if (g.output !== undefined) out.output = g.output;
  if (g.labelIndex !== undefined) out.labelIndex = g.labelIndex;
  if (g.label !== undefined) out.label = g.label;
  if (g.maxLength !== undefined) out.maxLength = g.maxLength;
  if (g.batch !== undefined) out.batch = g.batch;
  return out;
}

/** The text a reward model reads for a document (prompt) and a summary: joined by a space unless one is there. */
export function joinSummary(document: string, summary: string): string {
  return /\s$/.test(document) || /^\s/.test(summary) || summary === ""
    ? document + summary
    : `${document} ${summary}`;
}

/** The reward model as the task's pairwise judge: P(a ≻ b) = σ(r(a) − r(b)). */
function rewardJudge(gold: ExternalScorer): Judge {
  return scoreJudge(`onnx:${gold.name}`, {
    score: (items) => gold.score(items.map((i) => joinSummary(i.document, i.text))),
  }, { scale: 1 });
}

interface Split {
  evalPrompts: Prompt[];
  trainPrompts: Prompt[];
  sft: SftRow[];
  skipped: number;
  skippedWhy: string;
}

/** Sentiment: prompts are prefixes of the first rows' texts; the other texts are SFT rows. */
function sentimentSplit(name: string, c: DataTaskConfig, tok: HfTokenizer, rows: readonly DataRow[]): Split {
  const { minTokens, maxTokens } = c.prompts;
  const need = maxTokens + 1 + c.maxNewTokens;
  if (c.reference.context < need) {
    throw new RangeError(
      `Text task "${name}": reference.context = ${c.reference.context} (must be ≥ ${need}: BOS, ` +
        `prompts.max_tokens = ${maxTokens} and max_new_tokens = ${c.maxNewTokens})`,
    );
  }
  const rng = Rng.stream(c.seed, "data-task", name, "prompt-lengths");
  const prompts: Prompt[] = [];
  let i = 0, skipped = 0;
  for (; i < rows.length && prompts.length < c.prompts.eval + c.prompts.train; i++) {
    const text = rows[i]!.text!;
    const ids = tok.encode(text);
    const most = Math.min(maxTokens, ids.length - 1); // always less than the whole text
    if (most < minTokens) {
      skipped++;
      continue;
    }
    const k = minTokens + rng.int(most - minTokens + 1);
    const p = [tok.special.bos, ...ids.slice(0, k)];
    prompts.push({ ids: p, text: tok.decode(p), reference: text });
  }
  enoughPrompts(
    name,
    c,
    prompts.length,
    rows.length,
    `texts longer than prompts.min_tokens = ${minTokens} tokens`,
  );
  const room = c.reference.context - 2;
  const sft = rows.slice(i).map((r) => {
    const ids = tok.encode(r.text!);
    // A text cut to the context ends without EOS: π_ref should not learn to stop where the cut was.
    return {
      prompt: [tok.special.bos],
      response: ids.length <= room ? [...ids, tok.special.eos] : ids.slice(0, room + 1),
    };
  }).filter((r) => r.response.length > 0);
  return {
    evalPrompts: prompts.slice(0, c.prompts.eval),
    trainPrompts: prompts.slice(c.prompts.eval),
    sft,
    skipped,
    skippedWhy: `fewer than ${minTokens + 1} tokens`,
  };
}

/** Summarize: prompts (documents) with their references; SFT on prompt → completion. Rows that do not fit are skipped. */
function summarizeSplit(name: string, c: DataTaskConfig, tok: HfTokenizer, rows: readonly DataRow[]): Split {
  const prompts: Prompt[] = [], sft: SftRow[] = [];
  let skipped = 0;
  for (const r of rows) {
    const p = [tok.special.bos, ...tok.encode(r.prompt!)];
    const completion = [...tok.encode(r.completion!), tok.special.eos];
    if (prompts.length < c.prompts.eval + c.prompts.train) {
      if (p.length + c.maxNewTokens > c.reference.context) {
        skipped++;
        continue;
      }
      prompts.push({ ids: p, text: tok.decode(p), reference: r.completion! });
    } else if (p.length + completion.length <= c.reference.context) {
      sft.push({ prompt: p, response: completion });
    } else skipped++;
  }
  enoughPrompts(
    name,
    c,
    prompts.length,
    rows.length,
    `prompts of at most ${c.reference.context - c.maxNewTokens - 1} tokens`,
  );
  return {
    evalPrompts: prompts.slice(0, c.prompts.eval),
    trainPrompts: prompts.slice(c.prompts.eval),
    sft,
    skipped,
    skippedWhy: `longer than reference.context = ${c.reference.context} tokens`,
  };
}

function enoughPrompts(name: string, c: DataTaskConfig, got: number, rows: number, what: string): void {
  const want = c.prompts.eval + c.prompts.train;
  if (got < want) {
    throw new RangeError(
      `Text task "${name}": ${c.dataset.path} gave ${got} of the ${want} prompts asked for (${what}, ` +
        `among ${rows} rows read): raise rows, or lower prompts.train / prompts.eval`,
    );
  }
}

/** π_ref: from the cache, or fine-tuned on the SFT rows and written to the cache. */
async function dataReference(
  rt: Runtime,
  name: string,
  config: DataTaskConfig,
  gpt: GptConfig,
  tok: HfTokenizer,
  rows: readonly SftRow[],
  options: BuildOptions,
  log: ((line: string) => void) | null,
): Promise<{ policy: GptPolicy; path: string; trained: boolean; heldOutLoss: number }> {
  if (rows.length < 2) {
    throw new RangeError(`Text task "${name}": only ${rows.length} SFT rows are left for π_ref (raise rows)`);
  }
  const digest = createHash("sha256");
  digest.update(await Deno.readFile(tok.path));
  for (const r of rows) digest.update(`${r.prompt.join(",")}|${r.response.join(",")}\n`);
  const r = config.reference;
  const key = configHash({
    build: REFERENCE_BUILD,
    rows: digest.digest("hex"),
    reference: r,
    gpt,
    seed: config.seed,
  });
  const safe = name.replace(/[^A-Za-z0-9._-]/g, "_");
  const path = join(cacheDir(options.cacheDir), `data-${safe}-reference-${key}.weights`);
  if (await exists(path)) {
    try {
      const w = await loadWeights(path);
      const heldOutLoss = (w.meta as { metrics?: { heldOutLoss?: number } }).metrics?.heldOutLoss ?? NaN;
      return { policy: GptPolicy.create(rt, gpt, w.tensors), path, trained: false, heldOutLoss };
    } catch (e) {
      if (options.onCorrupt === "error") throw e;
      log?.(`prefbench: warning: rebuilding π_ref of ${name}: ${e instanceof Error ? e.message : e}`);
    }
  }
  const held = Math.min(500, Math.max(1, Math.floor(rows.length * 0.05)));
  const started = performance.now();
  log?.(`prefbench: ${name}: fine-tuning π_ref on ${rows.length - held} rows (${r.steps} steps) -> ${path}`);
  const fit = await sft(rt, gpt, { train: rows.slice(held), heldOut: rows.slice(0, held) }, {
    budget: r,
    init: Rng.stream(config.seed, "data-task", name, "reference", "init"),
    minibatch: Rng.stream(config.seed, "data-task", name, "reference", "minibatch"),
    pad: tok.special.pad,
    log,
  });
  const metrics = {
    heldOutLoss: fit.heldOutLoss,
    trainLoss: fit.trainLoss,
    buildSeconds: (performance.now() - started) / 1000,
  };
  await saveWeights(path, fit.params, {
    shapes: new Map(gptParams(gpt).map((s) => [s.name, s.shape])),
    meta: { format: "prefbench.data-reference/1", task: name, config: gpt, train: r, metrics },
  });
  log?.(
    `prefbench: ${name}: π_ref held-out loss ${metrics.heldOutLoss.toFixed(3)} nats/token, ` +
      `${metrics.buildSeconds.toFixed(0)} s`,
  );
  const saved = await loadWeights(path); // read back: the cached and the fresh policy are the same bytes
  return {
    policy: GptPolicy.create(rt, gpt, saved.tensors),
    path,
    trained: true,
    heldOutLoss: fit.heldOutLoss,
  };
}
