/**
 * π_ref of the sentiment task: supervised fine-tuning of the GPT on reviews of both sentiments, cached as
 * a weights file (reduced config: a few seconds on two cores).
 */
import assert from "node:assert/strict";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import { completionTexts } from "../envs/text.ts";
import { SENTIMENT_SMALL, sentimentPrompts, sentimentReference, sentimentTokenizer } from "./sentiment.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 2, log: null });

Deno.test("π_ref: held-out loss well below the unigram baseline; samples are in-vocabulary reviews that end", async () => {
  const dir = await Deno.makeTempDir();
  const lines: string[] = [];
  const ref = await sentimentReference(rt, SENTIMENT_SMALL, { cacheDir: dir, log: (l) => lines.push(l) });
  console.log(lines.at(-1));
  assert.ok(ref.trained);
  const { heldOutLoss, unigramLoss } = ref.metrics;
  assert.ok(unigramLoss > 3.5, `unigram loss ${unigramLoss} nats/token`);
  assert.ok(heldOutLoss < 0.6 * unigramLoss, `held-out loss ${heldOutLoss} vs unigram ${unigramLoss}`);

  const tok = sentimentTokenizer();
  const prompts = sentimentPrompts(SENTIMENT_SMALL).eval;
  const c = await ref.policy.sample(prompts.map((p) => p.ids), {
    rng: Rng.stream(0, "sampling"),
    maxNewTokens: SENTIMENT_SMALL.maxNewTokens,
    eos: tok.special.eos,
  });
  const special = new Set([tok.special.pad, tok.special.bos, tok.special.unk]);
  const clean = c.responses.filter((r) => r.every((id) => !special.has(id))).length / c.responses.length;
  const ended = c.responses.filter((r, i) => c.finished[i] && r.at(-1) === tok.special.eos).length /
    c.responses.length;
  const texts = completionTexts(tok, c);
  console.log(texts.slice(0, 3).join("\n"));
  assert.ok(clean >= 0.95, `${clean} of completions hold only words`);
  assert.ok(
    ended >= 0.9,
    `${ended} of completions end with EOS within ${SENTIMENT_SMALL.maxNewTokens} tokens`,
  );
  assert.ok(
    texts.filter((t) => t.endsWith(".")).length >= 0.9 * texts.length,
    "reviews end with a full stop",
  );

  // The second build reads the weights file: no training, the same parameters bit for bit.
  const again = await sentimentReference(rt, SENTIMENT_SMALL, { cacheDir: dir, log: null });
  assert.equal(again.trained, false);
  for (const [k, v] of ref.policy.params) assert.deepEqual(again.policy.params.get(k), v, k);
  assert.equal(again.metrics.heldOutLoss, heldOutLoss);

  // A truncated file is an error naming it (onCorrupt "error"), or is rebuilt with a warning.
  const bytes = await Deno.readFile(ref.path);
  await Deno.writeFile(ref.path, bytes.subarray(0, bytes.length - 64));
  await assert.rejects(
    sentimentReference(rt, SENTIMENT_SMALL, { cacheDir: dir, log: null, onCorrupt: "error" }),
    (e: Error) => e.message.startsWith(`Cannot read weights "${ref.path}"`) && /truncated/.test(e.message),
  );
  const warnings: string[] = [];
  const rebuilt = await sentimentReference(rt, SENTIMENT_SMALL, {
    cacheDir: dir,
    log: (l) => warnings.push(l),
  });
  assert.ok(rebuilt.trained);
  assert.ok(warnings.some((l) => l.includes("warning") && l.includes(ref.path)), warnings.join("\n"));
  for (const [k, v] of ref.policy.params) {
    assert.deepEqual(rebuilt.policy.params.get(k), v, `retraining is deterministic: ${k}`);
  }
  await Deno.remove(dir, { recursive: true });
});
