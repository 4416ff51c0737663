import assert from "node:assert/strict";
import { Rng } from "../engine/rng.ts";
import type { Judge } from "../models/judge.ts";
import { scoreJudge } from "../models/judge.ts";
import type { SampleOptions } from "../models/sequence_policy.ts";
import type { TextTask } from "../tasks/text_tasks.ts";
import type { CellRecord } from "../results/mod.ts";
import { nestedBootstrapMean } from "./stats.ts";
import {
  pairwiseAtMatchedKl,
  REFERENCE_SERIES,
  suiteJudge,
  temperatureSweep,
  temperatureWinRates,
  WIN_TEMPERATURES,
} from "./winrates.ts";

const STATS = { resamples: 400, confidence: 0.95, seed: 0 };

/** A judge that prefers the longer text (by words), ties ½: easy to compute by hand. */
const longer: Judge = scoreJudge("longer", {
  score: (items) => Promise.resolve(Float64Array.from(items, (i) => i.text.split(" ").length)),
}, { scale: Infinity });

/** A task with three held-out prompts whose reference texts have 2, 3 and 4 words; words are ids. */
function fakeTask(): TextTask {
  const words = ["<pad>", "<bos>", "<eos>", "w"];
  return {
    evalPrompts: [0, 1, 2].map((i) => ({ ids: [1], text: `doc ${i}`, reference: "w ".repeat(i + 2).trim() })),
    tokenizer: {
      special: { pad: 0, bos: 1, eos: 2, unk: 3 },
      vocabSize: 4,
      encode: () => [],
      decode: (ids: ArrayLike<number>) => Array.from(ids).filter((i) => i > 2).map((i) => words[i]).join(" "),
    },
    maxNewTokens: 8,
  } as unknown as TextTask;
}

Deno.test("nestedBootstrapMean: the mean of all values with n; a point for constants; wider when seeds disagree", () => {
  const same = nestedBootstrapMean([[0.5, 0.5], [0.5]], Rng.stream(0, "t"));
  assert.deepEqual(same, { value: 0.5, lo: 0.5, hi: 0.5, n: 3 });
  const agree = nestedBootstrapMean([[1, 0, 1, 0], [1, 0, 1, 0]], Rng.stream(0, "t"), { resamples: 2000 });
  const disagree = nestedBootstrapMean([[1, 1, 1, 1], [0, 0, 0, 0]], Rng.stream(0, "t"), { resamples: 2000 });
  assert.equal(agree.value, 0.5);
  assert.equal(disagree.value, 0.5);
  assert.equal(disagree.n, 8);
  // Resampling seeds: with two seeds that disagree entirely, a resample is all-1 or all-0 half the time.
  assert.equal(disagree.lo, 0);
  assert.equal(disagree.hi, 1);
  assert.ok(agree.hi - agree.lo < disagree.hi - disagree.lo);
});

Deno.test("temperatureSweep judges the policy's completions against references and π_ref at each temperature", async () => {
  const env = fakeTask();
  // The policy answers with `round(1 + 4·T)` words at temperature T, whatever the prompt.
  const policy = {
    sampler: {
      sample: (prompts: readonly (readonly number[])[], o: SampleOptions) =>
        Promise.resolve({
          prompts: prompts.map((p) => Int32Array.from(p)),
          responses: prompts.map(() => new Int32Array(Math.round(1 + 4 * (o.temperature ?? 1))).fill(3)),
        }),
    },
    kl: 0,
  } as never;
  // π_ref answers with 3 words at every temperature.
  const refs = new Map(WIN_TEMPERATURES.map((t) => [t, ["w w w", "w w w", "w w w"]]));
  const sweep = await temperatureSweep(env, longer, policy, refs, (p) => Rng.stream(0, p));
  assert.equal(sweep.length, 2 * WIN_TEMPERATURES.length);
  const at = (t: number, vs: string) => sweep.find((w) => w.temperature === t && w.vs === vs)!.wins;
  // T = 0: 1 word loses to every reference (2, 3, 4 words) and to π_ref's 3.
  assert.deepEqual(at(0, "reference"), [0, 0, 0]);
  assert.deepEqual(at(0, "pi_ref"), [0, 0, 0]);
  // T = 0.5: 3 words beat 2, tie 3, lose to 4; tie π_ref.
  assert.deepEqual(at(0.5, "reference"), [1, 0.5, 0]);
  assert.deepEqual(at(0.5, "pi_ref"), [0.5, 0.5, 0.5]);
  // T = 1: 5 words beat everything.
  assert.deepEqual(at(1, "reference"), [1, 1, 1]);
  assert.equal(sweep[0]!.swapped, undefined, "a judge without an order records none");
});

/** A finished text cell with checkpoints given as [kl, completions]. */
function cell(series: string, seed: number, knob: number, cks: [number, string[]][]): CellRecord {
  return {
    id: `summarize/${series}/k=${knob}/seed=${seed}`,
    task: "summarize",
    algorithm: series,
    series,
    knob: "k",
    knobValue: knob,
    hparams: {},
    seed,
    status: "ok",
    checkpoints: cks.map(([kl, completions], i) => ({
      step: i + 1,
      kl,
      reward: 0,
      winRate: 0.5,
      wallSeconds: 0,
      metrics: {},
      completions,
    })),
    wallSeconds: 0,
  };
}

Deno.test("pairwiseAtMatchedKl compares each seed's checkpoints nearest the budget, prompt by prompt", async () => {
  const env = fakeTask();
  const three = ["w w w", "w w w", "w w w"], one = ["w", "w", "w"], five = ["w w w w w", "w", "w w w"];
  const cells = [
    // a: KL 0.9 says 3 words, KL 4 says 1 word; two knob values, the nearest checkpoint across both is taken.
    cell("a", 0, 1, [[0.9, three]]),
    cell("a", 0, 2, [[4, one]]),
    cell("a", 1, 1, [[1.2, three], [6, one]]),
    // b: KL 1.1 says five (5, 1, 3 words).
    cell("b", 0, 1, [[1.1, five]]),
    cell("b", 1, 1, [[1.1, five], [4.5, three]]),
  ];
  const rates = await pairwiseAtMatchedKl("summarize", cells, { env, judge: longer, budgets: [1, 5] }, STATS);
  assert.equal(rates.length, 2);
  const [at1, at5] = rates;
  // At 1 nat: a's 3 words vs b's (5, 1, 3): lose, win, tie on both seeds → ½.
  assert.deepEqual([at1!.a, at1!.b, at1!.kl, at1!.winRate, at1!.n, at1!.seeds], ["a", "b", 1, 0.5, 6, 2]);
  assert.ok(Math.abs(at1!.klA - (0.9 + 1.2) / 2) < 1e-12 && Math.abs(at1!.klB - 1.1) < 1e-12);
  // At 5 nats: seed 0 a's 1 word (KL 4) vs b's five (KL 1.1): lose, tie, lose → 1/6 on that seed;
  // seed 1 a's 1 word (KL 6) vs b's 3 words (KL 4.5): all lose → 0. Mean over 6 judgements: 1/12.
  assert.ok(Math.abs(at5!.winRate - 1 / 12) < 1e-12, `${at5!.winRate}`);
  assert.ok(at5!.winRateCi[0] <= at5!.winRate && at5!.winRate <= at5!.winRateCi[1]);
});

Deno.test("temperatureWinRates aggregates per series, knob, comparator and temperature, with π_ref's rows", () => {
  const sweep = (wins: number[]) =>
    WIN_TEMPERATURES.flatMap((temperature) => [
      { temperature, vs: "reference" as const, wins },
      { temperature, vs: "pi_ref" as const, wins: wins.map((w) => 1 - w) },
    ]);
  const cells = [cell("a", 0, 1, [[1, []]]), cell("a", 1, 1, [[1, []]]), cell("a", 0, 2, [[1, []]])];
  cells[0]!.temperatureWins = sweep([1, 1, 0]);
  cells[1]!.temperatureWins = sweep([1, 0, 0]);
  cells[2]!.temperatureWins = sweep([1, 1, 1]);
  cells[0]!.referenceTemperatureWins = WIN_TEMPERATURES.map((temperature) => ({
    temperature,
    vs: "reference" as const,
    wins: [0, 0.5],
  }));
  const r = temperatureWinRates(cells, STATS).summarize!;
  const k1 = r.a!.filter((x) => x.knob === 1 && x.vs === "reference");
  assert.equal(k1.length, WIN_TEMPERATURES.length);
  assert.ok(k1.every((x) => Math.abs(x.winRate - 0.5) < 1e-12 && x.n === 6 && x.seeds === 2));
  const k2 = r.a!.find((x) => x.knob === 2 && x.vs === "pi_ref" && x.temperature === 0)!;
  assert.deepEqual([k2.winRate, k2.n, k2.seeds], [0, 3, 1]);
  const base = r[REFERENCE_SERIES]!;
  assert.equal(base.length, WIN_TEMPERATURES.length);
  assert.ok(base.every((x) => x.knob === null && x.winRate === 0.25 && x.n === 2));
});

Deno.test("a suite's chat judge is used for the sweep, and the order it was shown each pair in is recorded", async () => {
  // An endpoint that always answers "A": the policy wins exactly where it was shown first.
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    await req.json();
    return Response.json({ choices: [{ index: 0, message: { role: "assistant", content: "A" } }] });
  });
  try {
    const env = { ...fakeTask(), judge: longer } as TextTask;
    const judge = await suiteJudge(
      { kind: "chat", url: `http://127.0.0.1:${server.addr.port}/v1`, model: "m" },
      env,
      null as never, // a chat judge needs no runtime
    );
    assert.equal(judge.name.startsWith("chat"), true, judge.name);
    assert.equal(await suiteJudge(undefined, env, null as never), longer, "by default the task's own judge");
    const refs = new Map(WIN_TEMPERATURES.map((t) => [t, ["w", "w", "w"]]));
    const sweep = await temperatureSweep(
      env,
      judge,
      {
        sampler: {
          sample: (prompts: readonly (readonly number[])[]) =>
            Promise.resolve({
              prompts: prompts.map((p) => Int32Array.from(p)),
              responses: prompts.map(() => Int32Array.of(3)),
            }),
        },
        kl: 0,
      } as never,
      refs,
      (p) => Rng.stream(0, p),
    );
    let swapped = 0;
    for (const w of sweep) {
      assert.equal(w.swapped!.length, 3);
      w.wins.forEach((v, i) => assert.equal(v, w.swapped![i] ? 0 : 1));
      swapped += w.swapped!.filter(Boolean).length;
    }
    assert.ok(swapped > 0 && swapped < 30, `${swapped} of 30 pairs shown swapped`);
  } finally {
    await server.shutdown();
  }
});
