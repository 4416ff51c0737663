/**
 * Best-of-n on bandits is computed exactly, ties included: checked against its KL bound, monotone
 * reward in n, n = 1 being π_ref, and a Monte Carlo simulation of the procedure itself.
 */
import assert from "node:assert/strict";
import { bestOfN, bestOfNKlBound, bestOfNPolicy } from "../algorithms/best_of_n.ts";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import { exactKl, expectedReward, makeBandit, refProbs } from "../envs/bandit.ts";
import { finalProbs, task } from "./_bandit.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
const NS = [1, 2, 3, 4, 8, 16, 64, 256];

/** A bandit with tied rewards (actions 0 and 1 tie at the top) and a skewed π_ref. */
const tied = makeBandit({
  actionNames: ["a", "b", "c", "d"],
  reward: [[1, 1, 0, 0.5], [0, 2, 2, 2]],
  refProbs: [[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1]],
  feedback: "deterministic",
});

Deno.test("best_of_n: exact KL ≤ log n − (n−1)/n, expected reward non-decreasing in n, n = 1 is π_ref", async (t) => {
  for (const [name, b] of [["bandit.random", task("bandit.random").bandit], ["tied", tied]] as const) {
    await t.step(name, () => {
      const ref = refProbs(b);
      let prev = -Infinity;
      for (const n of NS) {
        const p = bestOfNPolicy(ref, b.reward, b.actions, n);
        for (let o = 0; o < p.length; o += b.actions) {
          const row = p.subarray(o, o + b.actions).reduce((s, v) => s + v, 0);
          assert.ok(Math.abs(row - 1) < 1e-12, `n=${n}: a row sums to ${row}`);
        }
        const kl = exactKl(b, p), r = expectedReward(b, p);
        assert.ok(kl <= bestOfNKlBound(n) + 1e-12, `n=${n}: KL ${kl} > bound ${bestOfNKlBound(n)}`);
        assert.ok(r >= prev - 1e-12, `n=${n}: reward ${r} < ${prev}`);
        prev = r;
        if (n === 1) assert.ok(p.every((v, i) => Math.abs(v - ref[i]!) < 1e-15), "best-of-1 is π_ref");
      }
    });
  }
});

Deno.test("best_of_n: the exact distribution matches simulating the procedure (ties broken uniformly)", () => {
  const rng = Rng.stream(7, "test", "best_of_n");
  const ref = refProbs(tied), k = tied.actions, draws = 100_000;
  for (const n of [2, 5]) {
    const exact = bestOfNPolicy(ref, tied.reward, k, n);
    for (let x = 0; x < tied.contexts; x++) {
      const row = ref.subarray(x * k, (x + 1) * k);
      const counts = new Array<number>(k).fill(0);
      for (let d = 0; d < draws; d++) {
        const samples = Array.from({ length: n }, () => rng.categorical(row));
        const best = Math.max(...samples.map((y) => tied.reward[x * k + y]!));
        const top = samples.filter((y) => tied.reward[x * k + y] === best);
        counts[top[rng.int(top.length)]!]!++;
      }
      counts.forEach((c, y) => {
        const p = exact[x * k + y]!, se = Math.sqrt((p * (1 - p)) / draws);
        assert.ok(Math.abs(c / draws - p) < 5 * se + 1e-9, `n=${n} x=${x} y=${y}: ${c / draws} vs ${p}`);
      });
    }
  }
});

Deno.test("best_of_n: the plugin yields the exact policy under the gold reward, and ranks by the proxy when asked", async () => {
  const t = task("bandit.random");
  const gold = await finalProbs(rt, bestOfN, t, { n: 8, reward: "gold" });
  assert.deepEqual([...gold], [...bestOfNPolicy(refProbs(t.bandit), t.bandit.reward, t.bandit.actions, 8)]);
  const proxy = await finalProbs(rt, bestOfN, t, { n: 8, reward: "proxy" });
  assert.notDeepEqual([...proxy], [...gold]);
  // A proxy fit on 512 noisy pairs ranks worse than the gold reward itself.
  assert.ok(expectedReward(t.bandit, proxy) < expectedReward(t.bandit, gold));
});
