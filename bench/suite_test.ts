import assert from "node:assert/strict";
import { ALGORITHMS, isPolicyAlgorithm, knownAlgorithms } from "../algorithms/registry.ts";
import { DPO_TEXT_DEFAULTS } from "../algorithms/dpo.ts";
import { TEXT_TASKS } from "../tasks/text_tasks.ts";
import { DEFAULT_SUITE } from "./cli.ts";
import {
  DIVERGENCE_DEFAULTS,
  overrideSuite,
  parseSeeds,
  parseSuite,
  planCells,
  STATS_DEFAULTS,
} from "./suite.ts";
import type { ConfigError } from "../results/mod.ts";

const TASKS = ["bandit.ipo-total-order", "bandit.ipo-single-pair", "bandit.ood", "bandit.random"];
const parse = (text: string) => parseSuite(text, "tasks/x.yaml", TASKS);

Deno.test("the default suite: every policy algorithm, ≥ 6 knob values each, 3 seeds, 4 bandit tasks and sentiment.small", async () => {
  const s = parseSuite(await Deno.readTextFile(DEFAULT_SUITE), "tasks/quick.yaml", [
    ...TASKS,
    ...TEXT_TASKS.keys(),
  ]);
  assert.deepEqual(s.tasks, [...TASKS, "sentiment.small"]);
  assert.deepEqual(s.seeds, [0, 1, 2]);
  for (const alg of ALGORITHMS.filter(isPolicyAlgorithm)) {
    const entry = s.algorithms.find((a) => a.name === alg.name);
    assert.ok(entry, `${alg.name} is in the default suite`);
    const knob = entry.sweep.find(([k]) => k === alg.knob);
    assert.ok(knob && knob[1].length >= 6, `${alg.name} sweeps ≥ 6 values of ${alg.knob}`);
  }
  const cells = planCells(s);
  assert.equal(new Set(cells.map((c) => c.id)).size, cells.length, "cell ids are unique");
  const text = cells.filter((c) => c.task === "sentiment.small");
  // Every knob sweeps 6 values; best-of-n also sweeps its reward (gold, proxy).
  const policies = ALGORITHMS.filter(isPolicyAlgorithm).length;
  assert.equal(cells.length - text.length, 4 * (6 * (policies - 1) + 6 * 2) * 3);
  // On text, the five core algorithms run from their text defaults with the suite's text_algorithms values.
  assert.deepEqual(
    [...new Set(text.map((c) => c.algorithm))].sort(),
    ["best_of_n", "dpo", "grpo", "ipo", "ppo"],
  );
  const dpo = text.find((c) => c.algorithm === "dpo")!;
  assert.equal(dpo.hparams.lr, DPO_TEXT_DEFAULTS.lr);
});

Deno.test("tasks/variants.yaml: every policy algorithm of the registry, on the bandits and on text", async () => {
  const url = new URL("../tasks/variants.yaml", import.meta.url);
  const s = parseSuite(await Deno.readTextFile(url), "tasks/variants.yaml", [...TASKS, ...TEXT_TASKS.keys()]);
  const cells = planCells(s);
  for (const alg of ALGORITHMS.filter(isPolicyAlgorithm)) {
    for (const task of [...TASKS, "sentiment.small"]) {
      assert.ok(cells.some((c) => c.algorithm === alg.name && c.task === task), `${alg.name} on ${task}`);
    }
  }
  // DPO's loss variants are series of their own.
  assert.deepEqual(
    [
      ...new Set(
        cells.filter((c) => c.algorithm === "dpo" && c.task !== "sentiment.small").map((c) => c.series),
      ),
    ],
    ["dpo loss=sigmoid", "dpo loss=hinge"],
  );
});

Deno.test("tasks/sentiment.yaml: five algorithms, ≥ 4 knob values for DPO, IPO and PPO, 3 seeds", async () => {
  const url = new URL("../tasks/sentiment.yaml", import.meta.url);
  const s = parseSuite(await Deno.readTextFile(url), "tasks/sentiment.yaml", [...TEXT_TASKS.keys()]);
  assert.deepEqual(s.seeds, [0, 1, 2]);
  assert.deepEqual(s.algorithms.map((a) => a.name).sort(), ["best_of_n", "dpo", "grpo", "ipo", "ppo"]);
  for (const name of ["dpo", "ipo", "ppo"]) {
    const entry = s.algorithms.find((a) => a.name === name)!;
    assert.ok(entry.sweep[0]![1].length >= 4, `${name} sweeps ≥ 4 knob values`);
  }
});

Deno.test("suite errors name the file, the field, the value and what is allowed", () => {
  const cases: [string, string, string][] = [
    [
      "tasks: [bandit.ood]\nalgorithms: { dpp: {} }",
      "algorithms.dpp",
      `Cannot parse config "tasks/x.yaml": unknown algorithm "dpp" (did you mean "dpo"? known: ${knownAlgorithms()})`,
    ],
    [
      "tasks: [bandit.ood]\nalgorithms: { dpo: { beta: [0.1, -1] } }",
      "algorithms.dpo.beta",
      'Cannot parse config "tasks/x.yaml": algorithms.dpo.beta = -1 is not allowed (allowed: a number in (0, ∞))',
    ],
    [
      "tasks: [bandit.ood]\nalgorithms: { ppo: { reward: golden } }",
      "algorithms.ppo.reward",
      'Cannot parse config "tasks/x.yaml": algorithms.ppo.reward = "golden" is not allowed (allowed: one of gold, proxy)',
    ],
    [
      "tasks: [bandit.ood]\nalgorithms: { ipo: { taux: 1 } }",
      "algorithms.ipo.taux",
      'Cannot parse config "tasks/x.yaml": algorithms.ipo: unknown hyperparameter "taux" (did you mean "tau"? known: tau, steps, lr, anneal_lr, batch_size, max_grad_norm)',
    ],
    [
      "tasks: [bandit.oops]\nalgorithms: {}",
      "tasks[0]",
      `Cannot parse config "tasks/x.yaml": unknown task "bandit.oops" (known: ${TASKS.join(", ")})`,
    ],
    [
      "tasks: [bandit.ood]\nalgorithms: { reward_model: { steps: [10, 20] } }",
      "algorithms.reward_model.steps",
      'Cannot parse config "tasks/x.yaml": algorithms.reward_model.steps = [10,20] cannot be swept (the reward model configures the proxy reward)',
    ],
    [
      "tasks: [bandit.ood]\nalgorithms: {}\nseed: 3",
      "seed",
      'Cannot parse config "tasks/x.yaml": unknown key "seed" (did you mean "seeds"? known: name, seeds, checkpoints, tasks, algorithms, text_algorithms, divergence, stats, judge, text_tasks, slurm, plugins)',
    ],
  ];
  for (const [text, field, message] of cases) {
    assert.throws(
      () => parse(text),
      (e: Error) => e.message === message && (e as ConfigError).field === field,
      message,
    );
  }
});

Deno.test("divergence and stats settings: defaults, overrides, and null switches a ceiling off", () => {
  const base = "tasks: [bandit.ood]\nalgorithms: { dpo: {} }\n";
  assert.deepEqual(parse(base).divergence, DIVERGENCE_DEFAULTS);
  assert.deepEqual(parse(base).stats, STATS_DEFAULTS);
  const s = parse(base + "divergence: { max_grad_norm: 10, max_kl: ~ }\nstats: { resamples: 100, seed: 4 }");
  assert.deepEqual(s.divergence, { maxGradNorm: 10, maxKl: null });
  assert.deepEqual(s.stats, { resamples: 100, confidence: 0.95, seed: 4 });
});

Deno.test("planning: cells are task × algorithm × swept values × seed, ids key non-knob sweeps too", () => {
  const s = parse(`
seeds: [4, 7]
tasks: [bandit.ood, bandit.random]
algorithms:
  dpo: { beta: [0.1, 1], steps: 5 }
  best_of_n: { n: [1, 2], reward: [gold, proxy] }
`);
  const cells = planCells(s);
  assert.equal(cells.length, 2 * (2 + 4) * 2);
  assert.equal(cells[0]!.id, "bandit.ood/dpo/beta=0.1/seed=4");
  assert.equal(cells[0]!.hparams.steps, 5);
  const bon = cells.find((c) => c.algorithm === "best_of_n" && c.hparams.reward === "proxy")!;
  assert.equal(bon.series, "best_of_n reward=proxy");
  assert.match(bon.id, /^bandit\.ood\/best_of_n\/n=1,reward=proxy\/seed=4$/);
  // Overrides narrow tasks, pick algorithms (defaults if the suite omits one) and replace seeds.
  const o = overrideSuite(s, { tasks: ["bandit.random"], algorithms: ["dpo", "ipo"], seeds: [0] }, TASKS);
  assert.deepEqual(planCells(o).map((c) => c.id), [
    "bandit.random/dpo/beta=0.1/seed=0",
    "bandit.random/dpo/beta=1/seed=0",
    "bandit.random/ipo/tau=0.1/seed=0",
  ]);
  assert.throws(
    () => overrideSuite(s, { algorithms: ["reward_model"] }, TASKS),
    /--algorithms: "reward_model" fits/,
  );
  assert.deepEqual(parseSeeds(3), [0, 1, 2]);
  assert.throws(() => parseSeeds(0), /seeds = 0 is not allowed/);
});
