/**
 * The preference-data regime of text tasks. On a constructed environment (a fake π_ref drawing one or two
 * tokens of two, a gold reward counting one token, so identical responses and ties are common): the
 * defaults against a copy of the first version's sampler, each knob's guarantee, and the statistics. On
 * `sentiment.small`: the defaults against the copy again, and a suite's derived tasks end to end (shared
 * builds and data stream, the config hash, pair statistics in the cell record).
 */
import assert from "node:assert/strict";
import { BUILT_INS } from "../algorithms/registry.ts";
import { loadText, runCell, textCellPairs } from "../bench/cell.ts";
import { cellEnv, configHash } from "../bench/run.ts";
import { checkTextTaskInputs, parseSuite, planCells, suiteTextTasks } from "../bench/suite.ts";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import { ConfigError } from "../results/mod.ts";
import { loadSentimentTask, SENTIMENT_SMALL, type SentimentTask } from "../tasks/sentiment.ts";
import { TEXT_TASKS } from "../tasks/text_tasks.ts";
import type { Completions, SequencePolicy } from "../models/sequence_policy.ts";
import type { Tokenizer } from "../models/tokenizer.ts";
import type { PairSpec, Prompt, TextEnv, TextPairs } from "../envs/text.ts";
import { goldRewards, pairStats, sampleTextPairs } from "../envs/text.ts";

type PairEnv = Pick<TextEnv, "tokenizer" | "gold" | "reference" | "trainPrompts" | "maxNewTokens">;

const TOKENIZER = {
  vocabSize: 6,
  special: { pad: 0, bos: 1, eos: 2, unk: 3 },
  encode: () => [],
  decode: (ids: ArrayLike<number>) => Array.from(ids, (i) => `t${i}`).join(" "),
  token: (id: number) => `t${id}`,
} as unknown as Tokenizer;

/** A π_ref that answers each prompt with 1–2 tokens of {4, 5} (`vary`: false, always `[4]`). */
function fakeReference(vary = true): SequencePolicy {
  const sample = (prompts: readonly (readonly number[])[], o: { rng: Rng }): Promise<Completions> => {
    const responses = prompts.map(() => {
      if (!vary) return Int32Array.of(4);
      const length = 1 + (o.rng.uint32() % 2);
      return Int32Array.from({ length }, () => 4 + (o.rng.uint32() % 2));
    });
    return Promise.resolve({
      prompts: prompts.map((p) => Int32Array.from(p)),
      responses,
      logProbs: responses.map((r) => new Float64Array(r.length)),
      sampleLogProbs: responses.map((r) => new Float64Array(r.length)),
      finished: new Uint8Array(prompts.length),
    });
  };
  return { vocab: 6, context: 8, sample } as unknown as SequencePolicy;
}

function fakeEnv(prompts = 5, vary = true): PairEnv {
  const trainPrompts: Prompt[] = Array.from(
    { length: prompts },
    (_, i) => ({ ids: [1, 10 + i], text: `p${i}` }),
  );
  return {
    tokenizer: TOKENIZER,
    // The gold reward: how many "t5" the text has (0, 1 or 2: ties are frequent).
    gold: { score: (texts) => Promise.resolve(Float64Array.from(texts, (t) => t.split("t5").length - 1)) },
    reference: fakeReference(vary),
    trainPrompts,
    maxNewTokens: 2,
  };
}

/** The first version's sampler, verbatim but for its signature: what the defaults must reproduce. */
async function firstVersion(
  env: PairEnv,
  options: { count: number; scale: number },
  rng: Rng,
): Promise<TextPairs> {
  const { count, scale } = options;
  const prompts = Array.from({ length: count }, (_, i) => env.trainPrompts[i % env.trainPrompts.length]!.ids);
  const sampleOptions = { rng, maxNewTokens: env.maxNewTokens, eos: env.tokenizer.special.eos };
  const a = await env.reference.sample(prompts, sampleOptions);
  const b = await env.reference.sample(prompts, sampleOptions);
  const [ra, rb] = await Promise.all([goldRewards(env, a), goldRewards(env, b)]);
  const chosen: Int32Array[] = [], rejected: Int32Array[] = [];
  const chosenReward = new Float64Array(count), rejectedReward = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const d = ra[i]! - rb[i]!;
    const pFirst = scale === Infinity ? (d > 0 ? 1 : d < 0 ? 0 : 0.5) : 1 / (1 + Math.exp(-scale * d));
    const first = rng.float() < pFirst;
    chosen.push(first ? a.responses[i]! : b.responses[i]!);
    rejected.push(first ? b.responses[i]! : a.responses[i]!);
    chosenReward[i] = first ? ra[i]! : rb[i]!;
    rejectedReward[i] = first ? rb[i]! : ra[i]!;
  }
  return { prompts: a.prompts, chosen, rejected, chosenReward, rejectedReward };
}

/** The pairs as plain arrays, for deepEqual (and the stream's next draw: both consumed it alike). */
function pairsBytes(p: TextPairs, rng: Rng) {
  return {
    prompts: p.prompts.map((x) => [...x]),
    chosen: p.chosen.map((x) => [...x]),
    rejected: p.rejected.map((x) => [...x]),
    chosenReward: [...p.chosenReward],
    rejectedReward: [...p.rejectedReward],
    next: rng.uint32(),
  };
}

/** A stream that counts its `float()` draws (the label draws: the fake π_ref draws `uint32()` only). */
function countingStream(...purpose: string[]): { rng: Rng; floats: () => number } {
  const rng = Rng.stream(0, ...purpose);
  const float = rng.float.bind(rng);
  let n = 0;
  rng.float = () => (n++, float());
  return { rng, floats: () => n };
}

const same = (a: Int32Array, b: Int32Array) => a.length === b.length && a.every((v, i) => v === b[i]);

Deno.test("sampleTextPairs at the default regime draws the first version's pairs from the same stream", async () => {
  const env = fakeEnv();
  for (const spec of [{ count: 37, scale: 10 }, { count: 8, scale: Infinity }, { count: 3, scale: 0.5 }]) {
    const [r1, r2] = [Rng.stream(3, "data", "t"), Rng.stream(3, "data", "t")];
    const ours = await sampleTextPairs(env, spec, r1);
    assert.equal(ours.dropped, undefined, "nothing is dropped at the defaults");
    assert.deepEqual(
      pairsBytes(ours, r1),
      pairsBytes(await firstVersion(env, spec, r2), r2),
      JSON.stringify(spec),
    );
    // The defaults spelled out (every prompt, 2 completions, Bradley–Terry, ties coin, identical kept).
    const spelled: PairSpec = {
      ...spec,
      prompts: 5,
      completions: 2,
      label: "bradley_terry",
      ties: "coin",
      identical: "keep",
    };
    const [r3, r4] = [Rng.stream(3, "data", "t"), Rng.stream(3, "data", "t")];
    assert.deepEqual(
      pairsBytes(await sampleTextPairs(env, spelled, r3), r3),
      pairsBytes(await sampleTextPairs(env, spec, r4), r4),
    );
  }
});

Deno.test("deterministic labels order every pair by gold reward, drawing only a tie's coin", async (t) => {
  const env = fakeEnv();
  await t.step("ties: coin", async () => {
    const { rng, floats } = countingStream("det", "coin");
    const p = await sampleTextPairs(env, { count: 200, scale: 10, label: "deterministic" }, rng);
    const ties = p.chosenReward.filter((r, i) => r === p.rejectedReward[i]).length;
    p.chosenReward.forEach((r, i) =>
      assert.ok(r >= p.rejectedReward[i]!, `pair ${i}: ${r} < ${p.rejectedReward[i]}`)
    );
    assert.ok(ties > 20, `the fake gives ties (${ties})`);
    assert.equal(floats(), ties, "one coin per tie, nothing else");
    assert.equal(pairStats(p).agreement, 1);
  });
  await t.step("ties: drop", async () => {
    const { rng, floats } = countingStream("det", "drop");
    const p = await sampleTextPairs(
      env,
      { count: 200, scale: 10, label: "deterministic", ties: "drop" },
      rng,
    );
    assert.equal(p.chosen.length, 200, "dropped ties are made up by more groups");
    p.chosenReward.forEach((r, i) =>
      assert.ok(r > p.rejectedReward[i]!, `pair ${i} is not strictly ordered`)
    );
    assert.equal(floats(), 0, "deterministic labels draw nothing");
    assert.ok(p.dropped!.ties > 0 && p.dropped!.identical === 0);
  });
  await t.step("ties: drop under Bradley–Terry too", async () => {
    const p = await sampleTextPairs(env, { count: 100, scale: 1, ties: "drop" }, Rng.stream(0, "bt", "drop"));
    assert.ok(p.chosenReward.every((r, i) => r !== p.rejectedReward[i]));
    assert.ok(pairStats(p).agreement! < 1, "scale 1 labels some pairs against the gold order");
  });
});

Deno.test("completions: 4 gives the 6 pairs of each prompt's 4 completions, none repeated, prompts cycled", async () => {
  const env = fakeEnv(3);
  const p = await sampleTextPairs(env, { count: 6 * 7 + 2, scale: 10, completions: 4 }, Rng.stream(0, "k4"));
  assert.equal(p.chosen.length, 44, "pairs are taken until count, the last group in part");
  for (let g = 0; g * 6 < 44; g++) {
    const rows = [...Array(Math.min(6, 44 - 6 * g)).keys()].map((i) => 6 * g + i);
    // Group g completes training prompt g mod 3, and its pairs are of its own completions.
    for (const r of rows) assert.deepEqual([...p.prompts[r]!], env.trainPrompts[g % 3]!.ids, `row ${r}`);
    // Responses are the sampler's own arrays: identity tells which completion a side is.
    const completions = new Set(rows.flatMap((r) => [p.chosen[r]!, p.rejected[r]!]));
    const pairs = new Set(
      rows.map((r) => [p.chosen[r]!, p.rejected[r]!].map((x) => [...completions].indexOf(x)).sort().join()),
    );
    if (rows.length === 6) assert.equal(completions.size, 4, `group ${g}: 4 completions`);
    assert.equal(pairs.size, rows.length, `group ${g}: no pair repeated`);
  }
});

Deno.test("identical: drop leaves no identical pair, and count pairs all the same", async () => {
  const env = fakeEnv();
  const kept = await sampleTextPairs(env, { count: 300, scale: 10 }, Rng.stream(0, "same"));
  assert.ok(pairStats(kept).identical > 30, `the fake gives identical pairs (${pairStats(kept).identical})`);
  const p = await sampleTextPairs(env, { count: 300, scale: 10, identical: "drop" }, Rng.stream(0, "same"));
  assert.equal(p.chosen.length, 300);
  assert.ok(p.chosen.every((c, i) => !same(c, p.rejected[i]!)));
  const s = pairStats(p);
  assert.equal(s.identical, 0);
  assert.ok(s.droppedIdentical > 30 && s.droppedTies === 0, JSON.stringify(s));
  // A regime that drops everything is an error, not an endless loop.
  await assert.rejects(
    sampleTextPairs(fakeEnv(5, false), { count: 10, scale: 10, identical: "drop" }, Rng.stream(0, "none")),
    /candidate pairs gave only 0 of pairs\.count = 10 \(pairs\.identical = drop left out \d+, pairs\.ties = drop 0\)/,
  );
});

Deno.test("prompts: N takes the first N training prompts; bad values are errors naming the field", async () => {
  const env = fakeEnv(5);
  const p = await sampleTextPairs(env, { count: 50, scale: 10, prompts: 2 }, Rng.stream(0, "few"));
  assert.deepEqual(new Set(p.prompts.map((x) => x[1])), new Set([10, 11]));
  assert.equal(pairStats(p).prompts, 2);
  const bad: [Partial<PairSpec>, RegExp][] = [
    [{ prompts: 6 }, /Text pairs: pairs\.prompts = 6 is not allowed \(allowed: an integer in \[1, 5\]/],
    [{ prompts: 0 }, /pairs\.prompts = 0 is not allowed/],
    [{ completions: 1 }, /pairs\.completions = 1 is not allowed \(allowed: an integer ≥ 2\)/],
    [{ count: 0 }, /pairs\.count = 0 is not allowed/],
  ];
  for (const [spec, message] of bad) {
    await assert.rejects(
      sampleTextPairs(env, { count: 4, scale: 10, ...spec }, Rng.stream(0, "bad")),
      message,
    );
  }
});

Deno.test("pairStats counts agreement, ties, identical pairs, prompts and length on a constructed dataset", () => {
  const i32 = (...v: number[]) => Int32Array.from(v);
  const pairs: TextPairs = {
    prompts: [i32(1, 7), i32(1, 7), i32(1, 8), i32(1, 9), i32(1, 8)],
    chosen: [i32(4, 2), i32(5), i32(4, 4, 4), i32(6, 2), i32(5, 5)],
    rejected: [i32(4, 2), i32(4, 4), i32(4), i32(6, 6, 2), i32(5)],
    chosenReward: Float64Array.of(0.5, 0.9, 0.2, 0.6, 0.3),
    rejectedReward: Float64Array.of(0.5, 0.1, 0.7, 0.6, 0.1),
    dropped: { identical: 3, ties: 1 },
  };
  assert.deepEqual(pairStats(pairs), {
    count: 5,
    prompts: 3,
    // Pairs 0 and 3 are ties; of the other three, 1 and 4 have the higher reward chosen.
    agreement: 2 / 3,
    ties: 2,
    identical: 1,
    rewardGap: (0 + 0.8 + 0.5 + 0 + 0.2) / 5,
    lengthDiff: (0 - 1 + 2 - 1 + 1) / 5,
    droppedIdentical: 3,
    droppedTies: 1,
  });
  const allTied = pairStats({
    ...pairs,
    chosenReward: new Float64Array(5),
    rejectedReward: new Float64Array(5),
  });
  assert.equal(allTied.agreement, null, "no pair of unequal rewards: no agreement to measure");
});

// --- on sentiment.small (its classifier and π_ref from the build cache) ------------------------------------

let small: Promise<{ rt: Runtime; env: SentimentTask }> | null = null;
function sentimentSmall() {
  return small ??= (async () => {
    const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
    return { rt, env: await loadSentimentTask(rt, SENTIMENT_SMALL, { log: null }) };
  })();
}

Deno.test("the default regime reproduces the first version's pairs on sentiment.small", async () => {
  const { env } = await sentimentSmall();
  const spec = TEXT_TASKS.get("sentiment.small")!.pairs;
  assert.deepEqual(spec, { count: 4096, scale: 10 });
  const [r1, r2] = [Rng.stream(0, "data", "sentiment.small"), Rng.stream(0, "data", "sentiment.small")];
  const ours = await sampleTextPairs(env, { ...spec, count: 256 }, r1);
  assert.deepEqual(
    pairsBytes(ours, r1),
    pairsBytes(await firstVersion(env, { ...spec, count: 256 }, r2), r2),
  );
});

const BUILT_IN = [...TEXT_TASKS.keys(), "bandit.random"];
const DERIVED = `
name: regimes
seeds: [0]
checkpoints: 1
tasks: [small.bt, small.det]
text_tasks:
  small.bt: { base: sentiment.small, pairs: { count: 64 } }
  small.det: { base: sentiment.small, pairs: { count: 64, label: deterministic } }
algorithms:
  best_of_n: { n: 1, reward: gold }
`;

Deno.test("a derived task loads its base's builds, draws from its base's stream, and records pair statistics", async () => {
  const { rt, env: base } = await sentimentSmall(); // builds the base's classifier and π_ref if not cached
  const suite = parseSuite(DERIVED, "regimes.yaml", BUILT_IN);
  assert.notEqual(
    configHash(suite),
    configHash(
      parseSuite(DERIVED.replace("count: 64, label", "count: 128, label"), "regimes.yaml", BUILT_IN),
    ),
    "the regime is part of the config",
  );
  const specs = suiteTextTasks(suite);
  assert.equal(specs.get("small.det")!.base, "sentiment.small");
  assert.match(
    specs.get("small.det")!.description,
    /^The sentiment task .* \(pairs: 64, deterministic labels\)$/,
  );

  const env = cellEnv(suite, rt, new Map(), BUILT_INS);
  const det = await loadText(env, "small.det");
  const loaded = det.env as SentimentTask;
  assert.equal(loaded.classifier.trained, false, "the classifier is read from the base's cache");
  assert.equal(loaded.referenceBuild.trained, false, "π_ref is read from the base's cache");
  assert.equal(loaded.referenceBuild.path, base.referenceBuild.path);

  // The base's stream: Bradley–Terry at the base's defaults gives the base's pairs; deterministic labels
  // order the same completions (drawing nothing more).
  const bt = await textCellPairs(await loadText(env, "small.bt"), 0);
  const r = Rng.stream(0, "data", "sentiment.small");
  assert.deepEqual(
    pairsBytes(bt, Rng.stream(0)),
    pairsBytes(await sampleTextPairs(base, { count: 64, scale: 10 }, r), Rng.stream(0)),
  );
  const dp = await textCellPairs(det, 0);
  bt.chosen.forEach((_, i) => {
    const sides = (p: TextPairs) => [[...p.chosen[i]!].join(), [...p.rejected[i]!].join()].sort();
    assert.deepEqual(sides(dp), sides(bt), `pair ${i}: the same two completions`);
    assert.ok(dp.chosenReward[i]! >= dp.rejectedReward[i]!);
  });

  const cell = planCells(suite).find((c) => c.task === "small.det")!;
  const rec = (await runCell(cell, env))!;
  assert.equal(rec.status, "ok", rec.error);
  assert.deepEqual(rec.pairStats, pairStats(dp));
  assert.equal(rec.pairStats!.agreement, 1);
  assert.equal(rec.pairStats!.count, 64);
});

Deno.test("a derived task's data-task base has its files checked, naming the base's field", async () => {
  const suite = parseSuite(
    `
tasks: [mine.det]
text_tasks:
  mine: { kind: sentiment, dataset: { path: missing.parquet, preset: imdb }, tokenizer: t.json, gold: { path: g.onnx } }
  mine.det: { base: mine, pairs: { label: deterministic } }
algorithms: { dpo: {} }
`,
    "/nowhere/s.yaml",
    BUILT_IN,
  );
  const e = await checkTextTaskInputs(suite).then(() => null, (e) => e);
  assert.ok(e instanceof ConfigError, String(e));
  assert.equal(e.field, "text_tasks.mine.dataset.path");
});

Deno.test("tasks/dpo_data.yaml: pair counts 1k to 32k × both label rules, each a regime of sentiment", async () => {
  const file = new URL("../tasks/dpo_data.yaml", import.meta.url);
  const suite = parseSuite(await Deno.readTextFile(file), "tasks/dpo_data.yaml", BUILT_IN);
  const specs = suiteTextTasks(suite);
  const regimes = suite.tasks.map((t) => specs.get(t)!);
  assert.ok(regimes.every((s) => s.base === "sentiment"));
  for (const label of ["bradley_terry", "deterministic"]) {
    const counts = regimes.filter((s) => s.pairs.label === label && s.pairs.completions === undefined);
    assert.deepEqual(counts.map((s) => s.pairs.count), [1024, 4096, 16384, 32768], label);
  }
  assert.deepEqual(new Set(planCells(suite).map((c) => c.algorithm)), new Set(["dpo", "ipo"]));
});
