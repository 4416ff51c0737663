/**
 * Judged win rates end to end on the reduced summarization task: a bench run records every policy's
 * win rates against the written references and π_ref at each temperature, and every pair of series at
 * matched KL; π_ref's greedy row is recomputed here from its own decoding and the fact judge; best-of-4
 * under the gold judge beats π_ref; the report draws both charts.
 */
import assert from "node:assert/strict";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import { runSuite } from "../bench/run.ts";
import { parseSuite } from "../bench/suite.ts";
import { REFERENCE_SERIES, WIN_TEMPERATURES } from "../bench/winrates.ts";
import { loadSummarizeTask, SUMMARIZE_SMALL } from "../tasks/summarize.ts";
import { TEXT_TASKS } from "../tasks/text_tasks.ts";
import { TASKS } from "./_bandit.ts";

const SUITE = `
name: summarize-test
seeds: 1
checkpoints: 2
tasks: [summarize.small]
algorithms:
  ppo: { kl_coef: 0.05, iterations: 4, batch_size: 16, minibatches: 2, reward: gold }
  best_of_n: { n: 4, reward: gold }
stats: { resamples: 400, confidence: 0.95, seed: 0 }
`;

Deno.test("summarize.small: win rates by temperature and pairwise at matched KL, recomputable and drawn", async () => {
  const suite = parseSuite(SUITE, "summarize-test.yaml", [...TASKS.keys(), ...TEXT_TASKS.keys()]);
  const out = await Deno.makeTempDir({ prefix: "prefbench-summarize-" });
  try {
    const run = await runSuite(suite, TASKS, { out, log: null });
    const r = run.results;
    assert.ok(r.cells.every((c) => c.status === "ok"), r.cells.map((c) => c.error).join("\n"));
    assert.equal(r.judges!["summarize.small"], "facts");
    const rates = r.temperatureWinRates!["summarize.small"]!;
    assert.deepEqual(Object.keys(rates).sort(), [REFERENCE_SERIES, "best_of_n", "ppo"].sort());
    const prompts = SUMMARIZE_SMALL.corpus.evalPrompts;
    for (const series of ["ppo", "best_of_n"]) {
      assert.equal(rates[series]!.length, 2 * WIN_TEMPERATURES.length);
      for (const w of rates[series]!) {
        assert.equal(w.n, prompts);
        assert.ok(w.winRateCi[0] <= w.winRate && w.winRate <= w.winRateCi[1]);
      }
    }
    // Best of 4 under the gold judge beats π_ref's single sample at temperature 1, interval and all.
    const bon = rates.best_of_n!.find((w) => w.vs === "pi_ref" && w.temperature === 1)!;
    assert.ok(bon.winRateCi[0] > 0.5, `best-of-4 vs π_ref at T = 1: ${bon.winRate} ${bon.winRateCi}`);

    // π_ref's greedy row, recomputed: decode greedily, score against the written references.
    const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
    const task = await loadSummarizeTask(rt, SUMMARIZE_SMALL, { log: null });
    const greedy = await task.reference.sample(task.evalPrompts.map((p) => p.ids), {
      rng: Rng.stream(0, "unused"),
      maxNewTokens: task.maxNewTokens,
      eos: task.tokenizer.special.eos,
      temperature: 0,
    });
    let wins = 0;
    task.evalPrompts.forEach((p, i) => {
      const mine = task.gold.scoreSummary(p.text, task.tokenizer.decode([...greedy.responses[i]!])).score;
      const theirs = task.gold.scoreSummary(p.text, p.reference!).score;
      wins += mine > theirs ? 1 : mine === theirs ? 0.5 : 0;
    });
    const refRow = rates[REFERENCE_SERIES]!.find((w) => w.temperature === 0)!;
    assert.equal(refRow.winRate, wins / prompts);

    // Pairwise: ppo against best_of_n at every text budget, from the checkpoints nearest each.
    const pairs = r.pairwise!["summarize.small"]!;
    assert.deepEqual(pairs.map((p) => p.kl), r.tasks["summarize.small"]!.budgets);
    for (const p of pairs) {
      assert.deepEqual([p.a, p.b, p.n, p.seeds], ["ppo", "best_of_n", prompts, 1]);
      assert.ok(p.winRateCi[0] <= p.winRate && p.winRate <= p.winRateCi[1]);
    }
    // Each checkpoint kept its completions, one per held-out prompt.
    for (const c of r.cells) for (const k of c.checkpoints) assert.equal(k.completions!.length, prompts);

    const html = await Deno.readTextFile(run.reportPath);
    assert.ok(html.includes('<h2 id="judged">Judged win rates</h2>'));
    assert.ok(html.includes("summarize.small: win rate by temperature"));
    assert.ok(html.includes("summarize.small: pairwise win rates at matched KL"));
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
