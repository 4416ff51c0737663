import assert from "node:assert/strict";
import { Rng } from "../engine/rng.ts";
import {
  iqm,
  mean,
  probabilityOfImprovement,
  probabilityOfImprovementTask,
  quantileSorted,
  stratifiedBootstrap,
} from "./stats.ts";

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

Deno.test("iqm is scipy's trim_mean(x, 0.25) when n is divisible by 4, and weights partial values otherwise", () => {
  close(iqm([4, 1, 3, 2]), 2.5);
  close(iqm([1, 2, 3, 100]), 2.5); // the outlier is trimmed
  close(iqm([1, 2, 3, 4, 5, 6, 7, 8]), 4.5);
  close(iqm([-1e6, 3, 4, 5, 6, 7, 8, 1e6]), 5.5);
  // n = 3: value masses [0, 1/3], [1/3, 2/3], [2/3, 1] overlap [1/4, 3/4] by 1/12, 1/3, 1/12.
  close(iqm([0, 0, 6]), 1);
  close(iqm([3, 1, 2]), 2);
  // n = 5: overlaps 0.15, 0.2, 0.15 of the middle half.
  close(iqm([1, 2, 3, 4, 50]), 0.3 * 2 + 0.4 * 3 + 0.3 * 4);
  close(iqm([7]), 7);
  close(iqm([2, 4]), 3);
  assert.throws(() => iqm([]), /no values/);
});

Deno.test("quantiles interpolate linearly between order statistics (numpy's default)", () => {
  const s = [0, 10, 20, 30, 40];
  close(quantileSorted(s, 0), 0);
  close(quantileSorted(s, 1), 40);
  close(quantileSorted(s, 0.5), 20);
  close(quantileSorted(s, 0.025), 1);
  close(quantileSorted(s, 0.975), 39);
});

Deno.test("bootstrap closed forms: a constant stratum gives a zero-width interval; one value per stratum too", () => {
  const rng = Rng.stream(0, "test", "constant");
  assert.deepEqual(stratifiedBootstrap([[2, 2, 2], [5]], (s) => iqm(s.flat()), rng), {
    value: 2,
    lo: 2,
    hi: 2,
  });
  // Two values resampled: the mean is 0, 0.5 or 1 with probabilities ¼, ½, ¼, so a 95% interval is [0, 1].
  const ci = stratifiedBootstrap([[0, 1]], (s) => mean(s[0]!), Rng.stream(0, "test", "pair"));
  assert.deepEqual(ci, { value: 0.5, lo: 0, hi: 1 });
  assert.throws(() => stratifiedBootstrap([[]], (s) => mean(s.flat()), rng), /at least one value/);
  assert.throws(
    () => stratifiedBootstrap([[1]], (s) => mean(s.flat()), rng, { confidence: 1 }),
    /confidence = 1 is not allowed/,
  );
});

Deno.test("the bootstrap is a pure function of its stream: same stream, same interval; another stream, another", () => {
  const data = [[0.1, 0.5, 0.3, 0.9], [2, 2.5, 1.5]];
  const stat = (s: readonly (readonly number[])[]) => iqm(s.flat());
  const a = stratifiedBootstrap(data, stat, Rng.stream(3, "bootstrap", "x"));
  const b = stratifiedBootstrap(data, stat, Rng.stream(3, "bootstrap", "x"));
  const c = stratifiedBootstrap(data, stat, Rng.stream(3, "bootstrap", "y"));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.ok(a.lo <= a.value && a.value <= a.hi);
});

Deno.test("stratification: resamples keep each stratum's size, so a stratum of one value never varies", () => {
  // Stratum 0 holds a single huge value: unstratified resampling would sometimes drop or repeat it.
  const ci = stratifiedBootstrap(
    [[1000], [0, 1, 2, 3]],
    (s) => mean(s[0]!) + mean(s[1]!),
    Rng.stream(0, "s"),
  );
  assert.ok(ci.lo >= 1000 && ci.hi <= 1003, `${ci.lo}, ${ci.hi}`);
});

Deno.test("probability of improvement: Mann–Whitney closed forms, averaged over tasks", () => {
  close(probabilityOfImprovementTask([3, 4], [1, 2]), 1);
  close(probabilityOfImprovementTask([1, 2], [3, 4]), 0);
  close(probabilityOfImprovementTask([1, 2, 3], [2, 2]), 0.5); // 0 + 0 + ½ + ½ + 1 + 1 over 6
  close(probabilityOfImprovementTask([1, 1], [1]), 0.5);
  const rng = Rng.stream(0, "poi");
  const sure = probabilityOfImprovement([[3, 4, 5], [10]], [[0, 1, 2], [9]], rng);
  assert.deepEqual(sure, { value: 1, lo: 1, hi: 1 });
  const half = probabilityOfImprovement([[1, 2, 3], [0]], [[2, 2], [1]], Rng.stream(0, "poi", 2));
  close(half.value, (0.5 + 0) / 2);
  assert.ok(half.lo <= half.value && half.value <= half.hi);
  assert.throws(() => probabilityOfImprovement([[1]], [], rng), /same non-zero number of tasks/);
});

Deno.test("stratified bootstrap 95% intervals cover a known mean in [0.92, 0.98] of 1000 trials", () => {
  // Three strata (tasks) of 25 runs, each N(μ_t, σ_t); the statistic is the mean of the task means,
  // whose true value is the mean of μ_t. Percentile intervals of a mean of 25 normals cover ≈ 94%.
  const mus = [0, 3, -1], sigmas = [1, 0.5, 2], runs = 25, trials = 1000;
  const truth = mean(mus);
  const data = Rng.stream(0, "coverage", "data");
  let covered = 0;
  for (let t = 0; t < trials; t++) {
    const strata = mus.map((mu, k) => Array.from({ length: runs }, () => mu + sigmas[k]! * data.normal()));
    const ci = stratifiedBootstrap(
      strata,
      (s) => mean(s.map(mean)),
      Rng.stream(0, "coverage", "bootstrap", t),
      { resamples: 500 },
    );
    if (ci.lo <= truth && truth <= ci.hi) covered++;
  }
  const coverage = covered / trials;
  assert.ok(coverage >= 0.92 && coverage <= 0.98, `coverage ${coverage}`);
});

Deno.test("the IQM's interval covers the centre of a symmetric distribution in [0.92, 0.98] of 1000 trials", () => {
  // For a symmetric distribution the population IQM is its centre. Logistic noise: heavier tails than
  // the normal, which is where the IQM earns its keep.
  const centre = 2, runs = 40, trials = 1000;
  const data = Rng.stream(0, "coverage-iqm", "data");
  let covered = 0;
  for (let t = 0; t < trials; t++) {
    const xs = Array.from({ length: runs }, () => {
      const u = 1e-12 + data.float() * (1 - 2e-12);
      return centre + Math.log(u / (1 - u));
    });
    const ci = stratifiedBootstrap([xs], (s) => iqm(s[0]!), Rng.stream(0, "coverage-iqm", t), {
      resamples: 500,
    });
    if (ci.lo <= centre && centre <= ci.hi) covered++;
  }
  const coverage = covered / trials;
  assert.ok(coverage >= 0.92 && coverage <= 0.98, `coverage ${coverage}`);
});
