/**
 * Judges from outside the harness, behind the {@link Judge} interface of `judge.ts`:
 * - {@link onnxRewardJudge}: a reward model read from an ONNX file, P(a ≻ b) = σ(r(a) − r(b)), the
 *   Bradley–Terry reading of a reward (Ouyang et al. 2022, eq. 1);
 * - {@link chatJudge}: a chat model behind an OpenAI-compatible `POST {url}/chat/completions` endpoint (a
 *   local server a user runs), asked which of two summaries is better, as in the DPO paper's GPT-4 win
 *   rates (Rafailov et al. 2023, §6.2, Appendix C.2). The order the two are shown in is drawn per item
 *   from the caller's stream and recorded (`swapped`), since such judges prefer a position.
 *
 * @module
 */
import { basename } from "node:path";
import type { TensorData } from "../engine/graph.ts";
import type { Rng } from "../engine/rng.ts";
import type { ValueSpec } from "../engine/onnx.ts";
import type { Executable, Runtime } from "../engine/runtime.ts";
import { CLASSIFIER_IO, readSequenceModel } from "./classifier.ts";
import type { Judge, JudgeItem, Judgement } from "./judge.ts";
import { scoreJudge } from "./judge.ts";
import type { Tokenizer } from "./tokenizer.ts";

// --- a reward model from an ONNX file ----------------------------------------------------------------

/**
 * How a reward is read off a model's output:
 * - `logits` [B, 2] (a two-class sequence classifier): r = z₁ − z₀, the log-odds of label 1;
 * - `logits` [B] or [B, 1] (a reward model, Hugging Face's `num_labels = 1`): r = z;
 * - `p_positive` [B] (what `exportClassifier` writes; the file holds no logit): r = p.
 */
export type RewardOutput = "twoClass" | "scalar" | "probability";

/**
 * A pointwise reward of texts from an ONNX sequence classifier or reward model: int64 `input_ids`
 * [batch, length] and optionally `attention_mask` of the same shape, static shapes, outputs as in
 * {@link RewardOutput}; texts are tokenized, truncated or padded to the length and run in batches.
 */
export class OnnxRewardModel {
  readonly path: string;
  readonly tokenizer: Tokenizer;
  readonly batch: number;
  readonly maxLen: number;
  readonly output: RewardOutput;
  readonly #exe: Executable;
  readonly #fetch: string;

  private constructor(
    path: string,
    tokenizer: Tokenizer,
    exe: Executable,
    fetch: ValueSpec,
    output: RewardOutput,
  ) {
    this.path = path;
    this.tokenizer = tokenizer;
    this.#exe = exe;
    this.#fetch = fetch.name;
    this.output = output;
    const ids = exe.inputs.find((s) => s.name === CLASSIFIER_IO.ids)!;
    this.batch = ids.shape[0]!;
    this.maxLen = ids.shape[1]!;
  }

  /** Loads a model file; every failure names the file and says what was wrong. */
  static async fromFile(rt: Runtime, path: string, tokenizer: Tokenizer): Promise<OnnxRewardModel> {
    const fail = (why: string): never => {
      throw new Error(`Cannot load the reward model "${path}": ${why}`);
    };
    const { model, ids } = await readSequenceModel(path, fail);
    const b = ids.shape[0]!;
    const [fetch, output] = readOutput(model.outputs, b) ??
      fail(
        `it needs an output "${CLASSIFIER_IO.logits}" [${b}, 2], [${b}, 1] or [${b}], or ` +
          `"${CLASSIFIER_IO.prob}" [${b}] (it has ${
            model.outputs.map((o) => `"${o.name}" [${o.shape}]`).join(", ") || "none"
          })`,
      );
    let exe: Executable;
    try {
      exe = await rt.load(model);
    } catch (e) {
      return fail(`ONNX Runtime rejected it (${e instanceof Error ? e.message.split("\n")[0] : e})`);
    }
    return new OnnxRewardModel(path, tokenizer, exe, fetch, output);
  }

  /** The reward of each text (see {@link RewardOutput}). */
  async score(texts: readonly string[]): Promise<Float64Array> {
    const out = new Float64Array(texts.length);
    const b = this.batch, l = this.maxLen, pad = this.tokenizer.special.pad;
    const wantsMask = this.#exe.inputs.some((s) => s.name === CLASSIFIER_IO.mask);
    for (let start = 0; start < texts.length; start += b) {
      const ids = new BigInt64Array(b * l).fill(BigInt(pad));
      const mask = new BigInt64Array(b * l);
      const n = Math.min(b, texts.length - start);
      for (let i = 0; i < n; i++) {
        this.tokenizer.encode(texts[start + i]!).slice(0, l).forEach((id, t) => {
          ids[i * l + t] = BigInt(id);
          mask[i * l + t] = 1n;
        });
      }
      const feeds: Record<string, TensorData> = { [CLASSIFIER_IO.ids]: ids };
      if (wantsMask) feeds[CLASSIFIER_IO.mask] = mask;
      const y = (await this.#exe.run(feeds))[this.#fetch]!;
      for (let i = 0; i < n; i++) {
        out[start + i] = this.output === "twoClass" ? Number(y[2 * i + 1]) - Number(y[2 * i]) : Number(y[i]);
      }
    }
    return out;
  }
}

/** The output a reward is read from, preferring a logit to a probability. */
function readOutput(outputs: readonly ValueSpec[], b: number): [ValueSpec, RewardOutput] | null {
  const is = (s: ValueSpec, name: string, ...shapes: number[][]) =>
    s.name === name && s.dtype.startsWith("float") && shapes.some((sh) => sh.join() === s.shape.join());
  for (const s of outputs) if (is(s, CLASSIFIER_IO.logits, [b, 2])) return [s, "twoClass"];
  for (const s of outputs) if (is(s, CLASSIFIER_IO.logits, [b], [b, 1])) return [s, "scalar"];
  for (const s of outputs) if (is(s, CLASSIFIER_IO.prob, [b])) return [s, "probability"];
  return null;
}

/** Options of {@link onnxRewardJudge}. */
export interface OnnxJudgeOptions {
  /** The text the model reads for a document and a summary (default: the two joined by a space). */
  text?: (document: string, summary: string) => string;
  /** Bradley–Terry scale s: P(a ≻ b) = σ(s·(r(a) − r(b))) (default 1; `Infinity` is deterministic). */
  scale?: number;
}

/**
 * A judge from an ONNX reward model on disk: P(a ≻ b) = σ(s·(r(a) − r(b))) with r read as in
 * {@link RewardOutput}. Named `onnx:<file name>`.
 *
 * @example
 * ```ts
 * const judge = await onnxRewardJudge(rt, "rm.onnx", tok, { text: summarizeText });
 * const [j] = await judge.compare([{ document, a, b }], rng); // j.probability = σ(r(a) − r(b))
 * ```
 */
export async function onnxRewardJudge(
  rt: Runtime,
  path: string,
  tokenizer: Tokenizer,
  options: OnnxJudgeOptions = {},
): Promise<Judge & { readonly model: OnnxRewardModel }> {
  const model = await OnnxRewardModel.fromFile(rt, path, tokenizer);
  const text = options.text ?? ((d: string, s: string) => `${d} ${s}`);
  const judge = scoreJudge(`onnx:${basename(path)}`, {
    score: (items) => model.score(items.map((i) => text(i.document, i.text))),
  }, { scale: options.scale ?? 1 });
  return { ...judge, model };
}

// --- a chat model behind an OpenAI-compatible endpoint -----------------------------------------------

/** Options of {@link chatJudge}. */
export interface ChatJudgeOptions {
  /** The API base, e.g. `http://127.0.0.1:8080/v1` (the judge posts to `{url}/chat/completions`). */
  url: string;
  /** The `model` field of the request. */
  model: string;
  /** Sent as `Authorization: Bearer <apiKey>` when given. */
  apiKey?: string;
  /** The fetch to use (default: the global one); tests and proxies pass their own. */
  fetch?: typeof fetch;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Where a warning about an unreadable answer goes (default: stderr); null silences it. */
  log?: ((line: string) => void) | null;
}

/** What the chat judge is asked (system message). */
export const CHAT_JUDGE_SYSTEM =
  "You compare two summaries of a document. Answer with one letter, A or B, and nothing else.";

/** The question about one item, the summaries shown in the given order. */
export function chatJudgePrompt(document: string, first: string, second: string): string {
  return `Document:\n${document}\n\nSummary A:\n${first}\n\nSummary B:\n${second}\n\n` +
    `Which summary states the document's key facts more accurately, completely and concisely? ` +
    `Answer "A" or "B".`;
}

/** The first standalone "A" or "B" of a reply (case-sensitive, so the article "a" is not read), or null. */
export function parseChoice(reply: string): "A" | "B" | null {
  const m = /(?<![A-Za-z])([AB])(?![A-Za-z])/.exec(reply);
  return m ? (m[1] as "A" | "B") : null;
}

/** A chat judge, with a count of the answers it could not read. */
export interface ChatJudge extends Judge {
  /** Answers without a standalone A or B so far (each judged ½, a tie, with a warning). */
  readonly unparsed: number;
}

/**
 * A judge asking a chat model behind an OpenAI-compatible endpoint, at temperature 0. For each item a
 * draw from `rng` decides whether `b` is shown first (`swapped`), so a position bias averages out and
 * can be measured; the reply's first standalone A or B is mapped back through the swap. An answer with
 * neither is a tie (½), counted in `unparsed` and logged: one unreadable answer should not end a long
 * evaluation, and the count says how many there were. Network failures, non-200 answers and bodies
 * that are not chat completions are errors naming the URL (and the status).
 */
export function chatJudge(options: ChatJudgeOptions): ChatJudge {
  const endpoint = `${options.url.replace(/\/+$/, "")}/chat/completions`;
  const doFetch = options.fetch ?? fetch;
  const log = options.log === undefined ? (l: string) => console.error(l) : options.log;
  const concurrency = options.concurrency ?? 4;
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) {
    throw new RangeError(`Chat judge: concurrency = ${concurrency} (must be an integer ≥ 1)`);
  }
  let unparsed = 0;

  async function ask(item: JudgeItem, swapped: boolean): Promise<Judgement> {
    const [first, second] = swapped ? [item.b, item.a] : [item.a, item.b];
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
    const body = JSON.stringify({
      model: options.model,
      temperature: 0,
      messages: [
        { role: "system", content: CHAT_JUDGE_SYSTEM },
        { role: "user", content: chatJudgePrompt(item.document, first, second) },
      ],
    });
    let res: Response;
    try {
      res = await doFetch(endpoint, { method: "POST", headers, body });
    } catch (e) {
      throw new Error(`Chat judge: cannot reach "${endpoint}": ${e instanceof Error ? e.message : e}`);
    }
    const text = await res.text();
    if (res.status !== 200) {
      throw new Error(
        `Chat judge: "${endpoint}" answered ${res.status} ${res.statusText}: ${text.slice(0, 200)}`.trimEnd(),
      );
    }
    let reply: unknown;
    try {
      reply =
        (JSON.parse(text) as { choices: { message: { content: unknown } }[] }).choices[0]!.message.content;
    } catch {
      reply = undefined;
    }
    if (typeof reply !== "string") {
      throw new Error(
        `Chat judge: "${endpoint}" did not answer a chat completion (no choices[0].message.content): ` +
          text.slice(0, 200),
      );
    }
    const choice = parseChoice(reply);
    if (choice === null) {
      unparsed++;
      log?.(`prefbench: warning: chat judge ${options.model}: no A or B in "${reply.slice(0, 80)}"; a tie`);
      return { probability: 0.5, swapped };
    }
    const firstWins = choice === "A";
    return { probability: firstWins !== swapped ? 1 : 0, swapped };
  }

  return {
    name: `chat:${options.model}@${options.url}`,
    get unparsed() {
      return unparsed;
    },
    async compare(items: readonly JudgeItem[], rng: Rng): Promise<Judgement[]> {
      // Every draw first, in item order: the presentation order never depends on answer timing.
      const swaps = items.map(() => rng.float() < 0.5);
      const out: Judgement[] = new Array(items.length);
      let next = 0, failed = false;
      const worker = async () => {
        while (next < items.length && !failed) {
          const k = next++;
          try {
            out[k] = await ask(items[k]!, swaps[k]!);
          } catch (e) {
            failed = true; // the other workers stop asking; the first error is the answer
            throw e;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
      return out;
    },
  };
}
