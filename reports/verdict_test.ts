import assert from "node:assert/strict";
import { fixtureResults } from "../tests/_report_fixture.ts";
import type { Results, VerdictEntry, VerdictRow } from "../results/mod.ts";
import { buildReport, escapeHtml } from "./report.ts";
import { headlineBudget, verdictSentences } from "./verdict.ts";

const row = (series: string, reward: number, ci: [number, number] | null, behind: number): VerdictRow => ({
  series,
  reward,
  ci,
  pBest: null,
  seeds: ci ? 3 : 1,
  behind,
});
const entry = (kl: number, ranking: VerdictRow[], leaders: string[], note?: string): VerdictEntry => ({
  kl,
  ranking,
  leaders,
  rule: "overlap",
  ...(note ? { note } : {}),
});

Deno.test("the verdict sentence names the leader, the series within its interval and who trails by how much", () => {
  const at5 = entry(5, [
    row("ppo", 0.853, [0.847, 0.861], 0),
    row("grpo", 0.85, [0.84, 0.86], 0.003),
    row("best_of_n", 0.849, [0.845, 0.852], 0.004),
    row("dpo", 0.67, [0.66, 0.68], 0.183),
    row("ipo", 0.62, [0.6, 0.64], 0.233),
  ], ["ppo", "grpo", "best_of_n"]);
  const r = {
    verdict: { sentiment: [entry(1, [], []), entry(2, [], []), at5, entry(10, [], [])] },
  } as unknown as Results;
  assert.deepEqual(verdictSentences(r), [{
    task: "sentiment",
    sentence:
      "sentiment, KL ≤ 5 nats: ppo leads with 0.853 [0.847, 0.861]; grpo and best_of_n are within its " +
      "interval; dpo trails by 0.183, and 1 more further.",
  }]);
});

Deno.test("the headline budget is the middle one; one seed says so; π_ref's own value is named", () => {
  const budgets = [0.05, 0.1, 0.25, 0.5, 1, 2].map((kl) => entry(kl, [], []));
  assert.equal(headlineBudget(budgets)!.kl, 0.5);
  assert.equal(headlineBudget([1, 2, 5, 10].map((kl) => entry(kl, [], [])))!.kl, 5);
  const one = entry(
    0.5,
    [row("a", 0.9, null, 0), { ...row("b", 0.5, null, 0.4), atReference: true }],
    ["a"],
    "1 seed: no interval",
  );
  const r = { verdict: { t: [entry(0.25, [], []), one, entry(1, [], [])] } } as unknown as Results;
  assert.equal(
    verdictSentences(r)[0]!.sentence,
    "t, KL ≤ 0.5 nats: a leads with 0.900; b trails by 0.400 (1 seed: no interval).",
  );
});

Deno.test("the report opens with the verdict: its section comes before the Summary and holds a sentence per task", async () => {
  const r = fixtureResults();
  const html = await buildReport(r, { harness: "prefbench test", gitCommit: null } as never, {
    interactive: false,
  });
  const verdict = html.indexOf('id="verdict"'), summary = html.indexOf('id="summary"');
  assert.ok(verdict > 0 && verdict < summary, "the verdict section is first");
  for (const { sentence } of verdictSentences(r)) {
    assert.ok(html.includes(`<li>${escapeHtml(sentence)}</li>`), sentence);
  }
  assert.equal(verdictSentences(r).length, Object.keys(r.verdict!).length);
});
