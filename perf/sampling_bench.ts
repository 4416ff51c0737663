/**
 * Sampling throughput of {@link GptPolicy} in its three modes: fused (the default: 16 decode steps and
 * their draws per `session.run`), one cached decode step per call, and no cache (the full forward per
 * token): `deno task bench:sampling [--batch 1,16,64] [--threads 2] [--runs 3]`.
 *
 * The model is the sentiment task's π_ref size (defaults of `tasks/sentiment.ts`) with random weights
 * (speed does not depend on them); every row generates until the context is full (no EOS), so both
 * modes produce the same number of tokens. Prints generated tokens per second (median of the runs,
 * after one untimed warm-up run per mode); timings are for reading, never asserted.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import { SENTIMENT_DEFAULTS, sentimentTokenizer } from "../tasks/sentiment.ts";
import { type GptConfig, gptParams, initParams } from "../models/gpt.ts";
import { GptPolicy } from "../models/gpt_policy.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    batch: { type: "string", default: "1,16,64" },
    threads: { type: "string", default: "2" },
    runs: { type: "string", default: "3" },
  },
});
const r = SENTIMENT_DEFAULTS.reference;
const cfg: GptConfig = { vocab: sentimentTokenizer().vocabSize, context: r.context, ...r.model };
const rt = await Runtime.create({ ep: "cpu", threads: Number(args.values.threads), log: null });
const policy = GptPolicy.create(rt, cfg, initParams(gptParams(cfg), Rng.stream(0, "init")));
const runs = Number(args.values.runs);
const promptLen = 3, maxNew = cfg.context - promptLen;

console.log(
  `GPT d=${cfg.dModel} layers=${cfg.layers} heads=${cfg.heads} V=${cfg.vocab} context=${cfg.context}; ` +
    `prompt ${promptLen} tokens, ${maxNew} new tokens per row; ${args.values.threads} threads`,
);
console.log("batch  mode      tokens/s   ms/token-step");
const MODES = [
  { name: "fused", cache: true, fused: true },
  { name: "step", cache: true, fused: false },
  { name: "no cache", cache: false, fused: false },
] as const;
for (const batch of args.values.batch.split(",").map(Number)) {
  const prompts = Array.from({ length: batch }, (_, b) => [1, 4 + (b % 50), 5]);
  for (const mode of MODES) {
    const once = async (seed: number) => {
      const t0 = performance.now();
      const c = await policy.sample(prompts, {
        rng: Rng.stream(seed, "sampling"),
        maxNewTokens: maxNew,
        eos: null,
        cache: mode.cache,
        fused: mode.fused,
      });
      const seconds = (performance.now() - t0) / 1000;
      return { seconds, tokens: c.responses.reduce((a, x) => a + x.length, 0) };
    };
    await once(0); // compile and warm up
    const times: number[] = [];
    let tokens = 0;
    for (let i = 1; i <= runs; i++) {
      const m = await once(i);
      times.push(m.seconds);
      tokens = m.tokens;
    }
    const median = times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
    const steps = cfg.context - 1; // positions fed
    console.log(
      `${String(batch).padStart(5)}  ${mode.name.padEnd(8)}  ${(tokens / median).toFixed(0).padStart(7)}   ${
        (1000 * median / steps).toFixed(2).padStart(6)
      }`,
    );
  }
}
