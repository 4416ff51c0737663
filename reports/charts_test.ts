import assert from "node:assert/strict";
import { fixtureResults, HOSTILE, TINY } from "../tests/_report_fixture.ts";
import { assertSnapshot } from "../tests/_snapshot.ts";
import type {
  CompareRow,
  CurveRow,
  FrontierRow,
  LengthRow,
  LogRatioRow,
  PairwiseRow,
  ProbRow,
  TemperatureRow,
  WinRateRow,
} from "./charts.ts";
import {
  compareRows,
  compareSpec,
  curveRows,
  curveSpec,
  frontierRows,
  frontierSpec,
  lengthRows,
  lengthSpec,
  logRatioRows,
  logRatioSpec,
  pairwiseSpec,
  probRows,
  probSpec,
  temperatureSpec,
  winRateRows,
  winRateSpec,
} from "./charts.ts";
import { compactSvg, prefixIds, renderSvg } from "./render.ts";

// Small hand-written rows: the snapshots pin each spec's layers, encodings and titles, and the rows
// ride along in `data.values` unchanged.
const FRONTIER: FrontierRow[] = [
  { series: "oracle π*_β", layer: "oracle", kl: 0, reward: 0 },
  { series: "oracle π*_β", layer: "oracle", kl: 1, reward: 0.8 },
  {
    series: "dpo",
    layer: "point",
    kl: 0.5,
    reward: 0.4,
    knob: 0.1,
    step: 10,
    klLo: 0.4,
    klHi: 0.6,
    rewardLo: 0.35,
    rewardHi: 0.45,
    seeds: 3,
  },
  {
    series: "dpo",
    layer: "envelope",
    kl: 0.5,
    reward: 0.4,
    knob: 0.1,
    step: 10,
    klLo: 0.4,
    klHi: 0.6,
    rewardLo: 0.35,
    rewardHi: 0.45,
    seeds: 3,
  },
];
const PROBS: ProbRow[] = [
  { panel: "dpo (beta)", knob: "π_ref", action: "a", actionIndex: 0, prob: 0.5, lo: 0.5, hi: 0.5 },
  { panel: "dpo (beta)", knob: "π_ref", action: "b", actionIndex: 1, prob: 0.5, lo: 0.5, hi: 0.5 },
  { panel: "dpo (beta)", knob: "0.1", action: "a", actionIndex: 0, prob: 0.9, lo: 0.85, hi: 0.95 },
  { panel: "dpo (beta)", knob: "0.1", action: "b", actionIndex: 1, prob: 0.1, lo: 0.05, hi: 0.15 },
];
const WINS: WinRateRow[] = [
  {
    series: "ipo",
    layer: "point",
    knob: 0.3,
    step: 20,
    kl: 0.2,
    klLo: 0.1,
    klHi: 0.3,
    winRate: 0.6,
    winRateLo: 0.55,
    winRateHi: 0.65,
    seeds: 3,
  },
  {
    series: "ipo",
    layer: "envelope",
    knob: 0.3,
    step: 20,
    kl: 0.2,
    klLo: 0.1,
    klHi: 0.3,
    winRate: 0.6,
    winRateLo: 0.55,
    winRateHi: 0.65,
    seeds: 3,
  },
];
const CURVES: CurveRow[] = [
  { series: "dpo", knob: "0.1", metric: "losses/policy", step: 1, value: 0.7, lo: 0.69, hi: 0.71, seeds: 3 },
  { series: "dpo", knob: "0.1", metric: "losses/policy", step: 2, value: 0.6, lo: 0.58, hi: 0.62, seeds: 3 },
  { series: "dpo", knob: "0.1", metric: "charts/grad_norm", step: 1, value: 2, lo: 1, hi: 3, seeds: 3 },
];
const COMPARE: CompareRow[] = [
  { run: "oracle", series: "oracle π*_β", kl: 0, reward: 0 },
  { run: "A", series: "dpo", kl: 0.5, reward: 0.4 },
  { run: "B", series: "dpo", kl: 0.5, reward: 0.6 },
];
const TEMPERATURE: TemperatureRow[] = [0, 1].flatMap((temperature) => [
  {
    series: "dpo",
    line: "dpo beta=0.1",
    comparator: "vs reference texts",
    temperature,
    winRate: 0.4 + 0.1 * temperature,
    winRateLo: 0.3,
    winRateHi: 0.6,
    n: 192,
    seeds: 3,
  },
  {
    series: "π_ref",
    line: "π_ref",
    comparator: "vs reference texts",
    temperature,
    winRate: 0.3,
    winRateLo: 0.25,
    winRateHi: 0.35,
    n: 64,
    seeds: 1,
  },
]);
const PAIRWISE: PairwiseRow[] = [
  {
    kl: 2,
    row: "dpo",
    column: "ppo",
    winRate: 0.4,
    winRateLo: 0.3,
    winRateHi: 0.5,
    n: 192,
    klRow: 1.9,
    klColumn: 2.2,
  },
  {
    kl: 2,
    row: "ppo",
    column: "dpo",
    winRate: 0.6,
    winRateLo: 0.5,
    winRateHi: 0.7,
    n: 192,
    klRow: 2.2,
    klColumn: 1.9,
  },
];

const LOG_RATIOS: LogRatioRow[] = [1, 2].flatMap((step) =>
  (["chosen", "rejected"] as const).map((side) => ({
    series: "dpo",
    knob: "0.1",
    metric: `pairs/${side}_logratio`,
    side,
    step,
    value: side === "chosen" ? -step : -3 * step,
    lo: -3 * step,
    hi: 0,
    seeds: 3,
  }))
);
const LENGTHS: LengthRow[] = [
  { series: "dpo", knob: "0.1", seed: 0, step: 100, length: 18, eosRate: 0.6, reward: 0.7 },
  { series: "ppo", knob: "0.05", seed: 0, step: 100, length: 9, eosRate: 1, reward: 0.8 },
];

Deno.test("every chart spec matches its snapshot", async (t) => {
  const specs = {
    frontier: frontierSpec("bandit.t", FRONTIER),
    // A text task has no oracle: its layer is left out, not drawn empty.
    frontierWithoutOracle: frontierSpec("text.t", FRONTIER.filter((r) => r.layer !== "oracle")),
    probabilities: probSpec("bandit.t", PROBS),
    winRate: winRateSpec("bandit.t", WINS),
    trainingCurves: curveSpec("text.t", CURVES),
    compare: compareSpec("bandit.t", COMPARE),
    temperature: temperatureSpec("text.t", TEMPERATURE),
    pairwise: pairwiseSpec("text.t", PAIRWISE),
    logRatios: logRatioSpec("text.t", LOG_RATIOS),
    rewardAgainstLength: lengthSpec("text.t", LENGTHS),
  };
  for (const [name, spec] of Object.entries(specs)) {
    await t.step(name, async () => {
      await assertSnapshot(import.meta.url, name, spec);
    });
  }
});

Deno.test("chart specs are pure: the same rows give the same spec, which carries the rows as its data", () => {
  const pairs: [() => Record<string, unknown>, unknown[]][] = [
    [() => frontierSpec("t", FRONTIER), FRONTIER],
    [() => probSpec("t", PROBS), PROBS],
    [() => winRateSpec("t", WINS), WINS],
    [() => curveSpec("t", CURVES), CURVES],
    [() => compareSpec("t", COMPARE), COMPARE],
    [() => temperatureSpec("t", TEMPERATURE), TEMPERATURE],
    [() => pairwiseSpec("t", PAIRWISE), PAIRWISE],
    [() => logRatioSpec("t", LOG_RATIOS), LOG_RATIOS],
    [() => lengthSpec("t", LENGTHS), LENGTHS],
  ];
  for (const [make, rows] of pairs) {
    assert.deepEqual(make(), make());
    assert.equal((make().data as { values: unknown }).values, rows);
  }
});

Deno.test("every chart spec compiles and renders to an SVG with marks", async () => {
  for (
    const spec of [
      frontierSpec("t", FRONTIER),
      probSpec("t", PROBS),
      winRateSpec("t", WINS),
      curveSpec("t", CURVES),
      compareSpec("t", COMPARE),
      temperatureSpec("t", TEMPERATURE),
      pairwiseSpec("t", PAIRWISE),
      logRatioSpec("t", LOG_RATIOS),
      lengthSpec("t", LENGTHS),
    ]
  ) {
    const svg = await renderSvg(spec);
    assert.match(svg, /^<svg/);
    assert.match(svg, /class="mark-(line|symbol|rect|rule|area)/);
  }
});

const results = fixtureResults();

Deno.test("frontierRows: the oracle, each (knob, checkpoint) aggregated over seeds with intervals, and envelopes", () => {
  const rows = frontierRows(results, TINY);
  assert.equal(rows.filter((r) => r.layer === "oracle").length, results.oracle[TINY]!.length);
  const points = rows.filter((r) => r.layer === "point");
  assert.equal(points.length, 2 * 2 * 2, "two series × two knob values × two checkpoints");
  for (const p of points) {
    assert.equal(p.seeds, 3);
    assert.ok(p.rewardLo! <= p.reward && p.reward <= p.rewardHi! && p.klLo! <= p.kl && p.kl <= p.klHi!);
  }
  const envelope = rows.filter((r) => r.layer === "envelope" && r.series === "dpo").map((r) => r.reward);
  assert.deepEqual(envelope, [...envelope].sort((a, b) => a - b), "an envelope's reward rises with KL");
});

Deno.test("winRateRows: win rate against π_ref per checkpoint with intervals, and its envelope", () => {
  const rows = winRateRows(results, HOSTILE);
  assert.equal(rows.filter((r) => r.layer === "point").length, 8);
  for (const r of rows) {
    assert.ok(0 <= r.winRateLo && r.winRateLo <= r.winRate && r.winRate <= r.winRateHi && r.winRateHi <= 1);
    assert.ok(r.winRate > 0.5, "every fixture policy moves towards better actions");
  }
  const older = { ...results }; // a 1.0 results.json: no win points
  delete older.winPoints;
  assert.deepEqual(winRateRows(older, HOSTILE), []);
});

Deno.test("probRows: π_ref and each knob value's final probabilities, on single-context tasks", () => {
  const rows = probRows(results, TINY);
  assert.equal(rows.length, 2 * (1 + 2) * 3, "two series × (π_ref + two knob values) × three actions");
  const ref = rows.filter((r) => r.knob === "π_ref");
  assert.ok(ref.every((r) => Math.abs(r.prob - 1 / 3) < 1e-12 && r.lo === r.hi));
});

Deno.test("curveRows: the mean over seeds with the seeds' range, per metric; none without curves", () => {
  const rows = curveRows(results, TINY);
  assert.equal(new Set(rows.map((r) => r.metric)).size, 2);
  assert.equal(rows.length, 2 * 2 * 2 * 5, "series × knob × metric × step");
  const first = rows.find((r) =>
    r.series === "dpo" && r.knob === "0.1" && r.metric === "losses/policy" && r.step === 1
  )!;
  assert.equal(first.seeds, 3);
  assert.ok(
    Math.abs(first.value - 10.01) < 1e-9 && Math.abs(first.lo - 10) < 1e-9 &&
      Math.abs(first.hi - 10.02) < 1e-9,
  );
  assert.deepEqual(curveRows(fixtureResults({ text: false }), TINY), []);
});

Deno.test("logRatioRows and lengthRows: the pairs' log-ratios by side, and every checkpoint's length and reward", () => {
  const r = fixtureResults();
  const cell = r.cells.find((c) => c.task === TINY && c.curve)!;
  const point = cell.curve!.at(-1)!;
  const edited = {
    ...r,
    cells: r.cells.map((c) =>
      c !== cell ? c : {
        ...c,
        curve: c.curve!.map((p) =>
          p !== point ? p : {
            ...p,
            metrics: { ...p.metrics, "pairs/chosen_logratio": -1.5, "pairs/rejected_logratio": -4 },
          }
        ),
        checkpoints: c.checkpoints.map((ck, i) =>
          i === 0
            ? { ...ck, metrics: { ...ck.metrics, "eval/response_length": 12.5, "eval/eos_rate": 0.75 } }
            : ck
        ),
      }
    ),
  };
  const ratios = logRatioRows(edited, TINY);
  assert.deepEqual(
    ratios.map((x) => [x.side, x.value, x.seeds]).sort(),
    [["chosen", -1.5, 1], ["rejected", -4, 1]],
  );
  const lengths = lengthRows(edited, TINY);
  assert.equal(lengths.length, 1);
  assert.deepEqual(
    { length: lengths[0]!.length, eos: lengths[0]!.eosRate, reward: lengths[0]!.reward },
    { length: 12.5, eos: 0.75, reward: cell.checkpoints[0]!.reward },
  );
  assert.deepEqual(logRatioRows(r, TINY), []);
  assert.deepEqual(lengthRows(r, TINY), []);
});

Deno.test("compareRows: both runs' envelopes, labelled, and the oracle once", () => {
  const rows = compareRows(results, fixtureResults({ shift: 1 }), TINY, ["A", "B"]);
  assert.equal(rows.filter((r) => r.run === "oracle").length, results.oracle[TINY]!.length);
  for (const run of ["A", "B"]) {
    assert.ok(
      rows.some((r) => r.run === run && r.series === "dpo") &&
        rows.some((r) => r.run === run && r.series === "ipo"),
    );
  }
});

Deno.test("prefixIds and compactSvg keep an SVG's references consistent and drop per-mark labels", () => {
  const svg =
    `<svg><defs><clipPath id="clip1"><rect/></clipPath></defs><g clip-path="url(#clip1)"><path aria-label="x: 1" role="graphics-symbol" transform="translate(1.23456,2)" d="M0.123456,1"/></g><use href="#clip1"/></svg>`;
  assert.equal(
    prefixIds(svg, "c0-"),
    svg.replace('id="clip1"', 'id="c0-clip1"').replace("url(#clip1)", "url(#c0-clip1)").replace(
      'href="#clip1"',
      'href="#c0-clip1"',
    ),
  );
  const small = compactSvg(svg);
  assert.ok(
    !small.includes("aria-label") && small.includes('transform="translate(1.23,2)"') &&
      small.includes('d="M0.12,1"'),
  );
});
