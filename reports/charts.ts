/**
 * Vega-lite specs built from results, in two steps: `xRows(results, task)` picks long-form rows (which
 * vega-lite reads natively) out of the results, and `xSpec(task, rows)` is a pure function of those
 * rows, snapshot-tested. Each spec carries its data, so it renders the same to SVG here and in
 * vega-embed in the page. Every aggregate drawn carries its interval: IQM over seeds with 95%
 * bootstrap bounds (training curves: the mean with the seeds' range).
 *
 * @module
 */
import { seriesColours } from "./palette.ts";
import type { Results } from "../results/mod.ts";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** Options of the spec builders that colour series. */
export interface SeriesOptions {
  /**
   * Every series of the run, in the order colours are given: with it, a series has the same colour in
   * every chart of a report, whichever series a chart happens to show (default: the chart's own).
   */
  readonly series?: readonly string[];
}

/**
 * The colour of a series: its algorithm's, fixed across every page (`palette.ts`), variants in lighter
 * shades of it; the scale lists the run's series (or the chart's own) with their colours explicitly.
 */
function seriesColor(o: SeriesOptions, rows: readonly { series: string }[]) {
  const shown = new Set(rows.map((r) => r.series));
  const domain = o.series ? [...o.series] : [...shown];
  return {
    field: "series",
    type: "nominal",
    title: "series",
    scale: { domain, range: seriesColours(domain) },
    // The legend lists the series this chart draws, in the run's order.
    legend: { labelLimit: 320, ...(o.series ? { values: o.series.filter((x) => shown.has(x)) } : {}) },
  };
}

/** A vega-lite spec (plain JSON). */
export type Spec = Record<string, unknown>;

/** One row of a frontier chart. */
export interface FrontierRow {
  /** "oracle", or an algorithm series. */
  series: string;
  /** "oracle" curve, a "point" aggregated over seeds, or a point of the "envelope". */
  layer: "oracle" | "point" | "envelope";
  /** IQM over seeds (points and envelope). */
  kl: number;
  reward: number;
  /** The knob's value and checkpoint step (points and envelope). */
  knob?: number | string | boolean;
  step?: number;
  /** 95% bootstrap intervals of kl and reward (points and envelope). */
  klLo?: number;
  klHi?: number;
  rewardLo?: number;
  rewardHi?: number;
  seeds?: number;
}

/** Long-form rows of one task's frontier chart. */
export function frontierRows(r: Results, task: string): FrontierRow[] {
  const rows: FrontierRow[] = (r.oracle[task] ?? []).map((p) => ({
    series: "oracle π*_β",
    layer: "oracle",
    kl: p.kl,
    reward: p.reward,
  }));
  for (const layer of ["point", "envelope"] as const) {
    for (const [series, pts] of Object.entries((layer === "point" ? r.points : r.frontiers)[task] ?? {})) {
      for (const p of pts) {
        rows.push({
          series,
          layer,
          kl: p.kl,
          reward: p.reward,
          knob: p.knob,
          step: p.step,
          klLo: p.klCi[0],
          klHi: p.klCi[1],
          rewardLo: p.rewardCi[0],
          rewardHi: p.rewardCi[1],
          seeds: p.seeds,
        });
      }
    }
  }
  return rows;
}

/**
 * Reward against KL(π‖π_ref): the oracle curve (black), every checkpoint of each series as the IQM over
 * seeds (faint points) and its Pareto envelope (line), each envelope point with its 95% bootstrap
 * intervals on both axes. KL is on a symlog axis: bandit KLs span 10⁻⁴ to a few nats.
 */
export function frontierSpec(task: string, rows: readonly FrontierRow[], o: SeriesOptions = {}): Spec {
  const x = {
    field: "kl",
    type: "quantitative",
    title: "KL(π‖π_ref) (nats)",
    scale: { type: "symlog", constant: 0.01 },
  };
  const y = { field: "reward", type: "quantitative", title: "expected gold reward", scale: { zero: false } };
  const color = seriesColor(o, rows);
  const tooltip = [
    { field: "series", type: "nominal" },
    { field: "knob", type: "nominal" },
    { field: "step", type: "quantitative" },
    { field: "kl", type: "quantitative", format: ".4f", title: "KL (IQM)" },
    { field: "klLo", type: "quantitative", format: ".4f", title: "KL 95% lo" },
    { field: "klHi", type: "quantitative", format: ".4f", title: "KL 95% hi" },
    { field: "reward", type: "quantitative", format: ".4f", title: "reward (IQM)" },
    { field: "rewardLo", type: "quantitative", format: ".4f", title: "reward 95% lo" },
    { field: "rewardHi", type: "quantitative", format: ".4f", title: "reward 95% hi" },
    { field: "seeds", type: "quantitative" },
  ];
  const envelope = { filter: "datum.layer === 'envelope'" };
  const hasOracle = rows.some((r) => r.layer === "oracle");
  return {
    $schema: SCHEMA,
    title: {
      text: task,
      subtitle: `reward vs KL: ${
        hasOracle ? "oracle, " : ""
      }checkpoints (IQM over seeds) and Pareto envelopes with 95% bootstrap intervals`,
    },
    width: 520,
    height: 320,
    data: { values: rows },
    layer: [
      // The oracle is known on bandits only; an empty layer would make vega warn of an infinite extent.
      ...(hasOracle
        ? [{
          transform: [{ filter: "datum.layer === 'oracle'" }],
          mark: { type: "line", color: "black", strokeDash: [6, 3], strokeWidth: 1.5 },
          encoding: { x, y, order: { field: "kl", type: "quantitative" } },
        }]
        : []),
      {
        transform: [{ filter: "datum.layer === 'point'" }],
        mark: { type: "point", opacity: 0.45, size: 30 },
        encoding: { x, y, color, tooltip },
      },
      {
        // Interval bars on the envelope's points only: on every faint point they would bury the chart.
        transform: [envelope],
        mark: { type: "rule", strokeWidth: 1.5, opacity: 0.7 },
        encoding: { x, y: { ...y, field: "rewardLo" }, y2: { field: "rewardHi" }, color },
      },
      {
        transform: [envelope],
        mark: { type: "rule", strokeWidth: 1.5, opacity: 0.7 },
        encoding: { x: { ...x, field: "klLo" }, x2: { field: "klHi" }, y, color },
      },
      {
        transform: [envelope],
        // A staircase: the best reward reached within each KL budget. A straight segment between two
        // envelope points would be a mixture no policy was shown to reach (and on the symlog axis it
        // would bow above the oracle).
        mark: { type: "line", point: true, strokeWidth: 2, interpolate: "step-after" },
        encoding: { x, y, color, order: { field: "kl", type: "quantitative" }, tooltip },
      },
    ],
  };
}

/** One row of an action-probability chart. */
export interface ProbRow {
  /** Panel title: the series and its knob's name. */
  panel: string;
  /** The knob's value, or "π_ref" for the reference bar. */
  knob: string;
  action: string;
  /** The action's position, so groups keep the task's action order. */
  actionIndex: number;
  /** IQM over seeds of the final π(y), and its 95% bootstrap interval (π_ref: exact, lo = hi). */
  prob: number;
  lo: number;
  hi: number;
}

/**
 * The final action probabilities of a single-context task per series and knob value (IQM over seeds
 * with intervals, from `results.actionProbs`), with π_ref as a first group.
 */
export function probRows(r: Results, task: string): ProbRow[] {
  const info = r.tasks[task];
  if (!info) return [];
  const rows: ProbRow[] = [];
  for (const [series, knobs] of Object.entries(r.actionProbs[task] ?? {})) {
    const knobName = r.cells.find((c) => c.task === task && c.series === series)?.knob ?? "knob";
    const panel = `${series} (${knobName})`;
    info.actionNames.forEach((action, a) => {
      const p = info.reference[0]![a]!;
      rows.push({ panel, knob: "π_ref", action, actionIndex: a, prob: p, lo: p, hi: p });
    });
    for (const k of knobs) {
      info.actionNames.forEach((action, a) => {
        rows.push({
          panel,
          knob: String(k.knob),
          action,
          actionIndex: a,
          prob: k.prob[a]!,
          lo: k.lo[a]!,
          hi: k.hi[a]!,
        });
      });
    }
  }
  return rows;
}

/**
 * Grouped bars of π(y) per knob value with interval bars, one panel per series. Panels are a concat
 * of filtered views rather than a facet: a layered facet with independent x scales makes vega-lite
 * warn on every compile.
 */
export function probSpec(task: string, rows: readonly ProbRow[]): Spec {
  const x = { field: "knob", type: "ordinal", title: null, sort: null, axis: { labelAngle: 0 } };
  const xOffset = { field: "action", type: "nominal", sort: [...new Set(rows.map((r) => r.action))] };
  const color = { ...xOffset, title: "action" };
  const tooltip = [
    { field: "knob", type: "nominal" },
    { field: "action", type: "nominal" },
    { field: "prob", type: "quantitative", format: ".4f", title: "π(y) (IQM)" },
    { field: "lo", type: "quantitative", format: ".4f", title: "95% lo" },
    { field: "hi", type: "quantitative", format: ".4f", title: "95% hi" },
  ];
  return {
    $schema: SCHEMA,
    title: {
      text: `${task}: final action probabilities`,
      subtitle: "IQM over seeds with 95% bootstrap intervals; π_ref first",
    },
    data: { values: rows },
    columns: 3,
    concat: [...new Set(rows.map((r) => r.panel))].map((panel) => ({
      title: { text: panel, fontSize: 11, fontWeight: "normal" },
      transform: [{ filter: { field: "panel", equal: panel } }],
      width: { step: 9 },
      height: 160,
      encoding: { x, xOffset, tooltip },
      layer: [
        {
          mark: { type: "bar" },
          encoding: {
            y: { field: "prob", type: "quantitative", title: "π(y)", scale: { domain: [0, 1] } },
            color,
          },
        },
        {
          mark: { type: "rule", color: "black", strokeWidth: 1 },
          encoding: { y: { field: "lo", type: "quantitative" }, y2: { field: "hi" } },
        },
      ],
    })),
  };
}

/** One row of a win-rate chart. */
export interface WinRateRow {
  series: string;
  /** A (knob value, checkpoint) aggregated over seeds, or a point of the series' Pareto envelope. */
  layer: "point" | "envelope";
  knob: number | string | boolean;
  step: number;
  /** IQM over seeds of KL(π‖π_ref) and of the win rate against π_ref, with 95% intervals. */
  kl: number;
  klLo: number;
  klHi: number;
  winRate: number;
  winRateLo: number;
  winRateHi: number;
  seeds: number;
}

/** Long-form rows of one task's win-rate chart (none when the results carry no `winPoints`). */
export function winRateRows(r: Results, task: string): WinRateRow[] {
  const rows: WinRateRow[] = [];
  for (const [series, pts] of Object.entries(r.winPoints?.[task] ?? {})) {
    const points = pts.map((p) => ({
      series,
      knob: p.knob,
      step: p.step,
      kl: p.kl,
      klLo: p.klCi[0],
      klHi: p.klCi[1],
      winRate: p.winRate,
      winRateLo: p.winRateCi[0],
      winRateHi: p.winRateCi[1],
      seeds: p.seeds,
    }));
    rows.push(...points.map((p) => ({ ...p, layer: "point" as const })));
    rows.push(...envelope(points, (p) => p.winRate).map((p) => ({ ...p, layer: "envelope" as const })));
  }
  return rows;
}

/**
 * Win rate against π_ref (gold judge, ties ½) against KL(π‖π_ref): every checkpoint of each series
 * (faint), its Pareto envelope with 95% intervals, and ½, where a policy is no better than π_ref.
 */
export function winRateSpec(task: string, rows: readonly WinRateRow[], o: SeriesOptions = {}): Spec {
  const x = {
    field: "kl",
    type: "quantitative",
    title: "KL(π‖π_ref) (nats)",
    scale: { type: "symlog", constant: 0.01 },
  };
  const y = {
    field: "winRate",
    type: "quantitative",
    title: "win rate vs π_ref",
    scale: { domain: [0, 1] },
  };
  const color = seriesColor(o, rows);
  const tooltip = [
    { field: "series", type: "nominal" },
    { field: "knob", type: "nominal" },
    { field: "step", type: "quantitative" },
    { field: "kl", type: "quantitative", format: ".4f", title: "KL (IQM)" },
    { field: "winRate", type: "quantitative", format: ".3f", title: "win rate (IQM)" },
    { field: "winRateLo", type: "quantitative", format: ".3f", title: "95% lo" },
    { field: "winRateHi", type: "quantitative", format: ".3f", title: "95% hi" },
    { field: "seeds", type: "quantitative" },
  ];
  const envelopeOnly = { filter: "datum.layer === 'envelope'" };
  return {
    $schema: SCHEMA,
    title: {
      text: `${task}: win rate`,
      subtitle: "against π_ref, ties ½: checkpoints (IQM over seeds) and Pareto envelopes with 95% intervals",
    },
    width: 520,
    height: 240,
    data: { values: rows },
    layer: [
      {
        data: { values: [{ half: 0.5 }] },
        mark: { type: "rule", color: "#888", strokeDash: [4, 4] },
        encoding: { y: { field: "half", type: "quantitative" } },
      },
      {
        transform: [{ filter: "datum.layer === 'point'" }],
        mark: { type: "point", opacity: 0.45, size: 30 },
        encoding: { x, y, color, tooltip },
      },
      {
        transform: [envelopeOnly],
        mark: { type: "rule", strokeWidth: 1.5, opacity: 0.7 },
        encoding: { x, y: { ...y, field: "winRateLo" }, y2: { field: "winRateHi" }, color },
      },
      {
        transform: [envelopeOnly],
        mark: { type: "line", point: true, strokeWidth: 2, interpolate: "step-after" },
        encoding: { x, y, color, order: { field: "kl", type: "quantitative" }, tooltip },
      },
    ],
  };
}

/** One row of a training-curve chart: one metric of one (series, knob value) at one step. */
export interface CurveRow {
  series: string;
  knob: string;
  metric: string;
  step: number;
  /** Mean over seeds, and the seeds' smallest and largest value. */
  value: number;
  lo: number;
  hi: number;
  seeds: number;
}

/** At most this many metrics are drawn per task (the rest stay in results.json). */
export const MAX_CURVE_METRICS = 8;

/**
 * Long-form rows of one task's training curves, from the cells that logged a `curve` (none on
 * results without curves: the section is then left out). Non-finite values are dropped.
 */
export function curveRows(r: Results, task: string): CurveRow[] {
  const rows = metricRows(r, task, () => true);
  // The evaluator's metrics first (the same yardstick for every algorithm), then training metrics A–Z.
  const rank = (m: string) => (m.startsWith("eval/") ? 0 : 1);
  const metrics = [...new Set(rows.map((g) => g.metric))]
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, MAX_CURVE_METRICS);
  return rows.filter((g) => metrics.includes(g.metric));
}

/** Curve rows of the metrics `keep` accepts: the mean over seeds per (series, knob, metric, step). */
function metricRows(r: Results, task: string, keep: (metric: string) => boolean): CurveRow[] {
  const groups = new Map<
    string,
    { series: string; knob: string; metric: string; step: number; v: number[] }
  >();
  for (const c of r.cells) {
    if (c.task !== task || c.status !== "ok" || !c.curve) continue;
    for (const point of c.curve) {
      for (const [metric, v] of Object.entries(point.metrics)) {
        if (!Number.isFinite(v) || !keep(metric)) continue;
        const key = JSON.stringify([c.series, String(c.knobValue), metric, point.step]);
        const g = groups.get(key) ??
          { series: c.series, knob: String(c.knobValue), metric, step: point.step, v: [] };
        g.v.push(v);
        groups.set(key, g);
      }
    }
  }
  return [...groups.values()].map((g) => ({
    series: g.series,
    knob: g.knob,
    metric: g.metric,
    step: g.step,
    value: g.v.reduce((a, b) => a + b, 0) / g.v.length,
    lo: Math.min(...g.v),
    hi: Math.max(...g.v),
    seeds: g.v.length,
  }));
}

/** The pairwise methods' diagnostics, over every training pair: which side each metric measures. */
export const LOG_RATIO_METRICS: Readonly<Record<string, "chosen" | "rejected">> = {
  "pairs/chosen_logratio": "chosen",
  "pairs/rejected_logratio": "rejected",
};

/** One row of the log-ratio chart: the mean log π/π_ref of one side of the pairs at a step. */
export interface LogRatioRow extends CurveRow {
  /** Which response of the pairs: the chosen or the rejected one. */
  side: "chosen" | "rejected";
}

/** Rows of the chosen and rejected responses' mean log-ratios against step (pairwise methods only). */
export function logRatioRows(r: Results, task: string): LogRatioRow[] {
  return metricRows(r, task, (m) => m in LOG_RATIO_METRICS).map((row) => ({
    ...row,
    side: LOG_RATIO_METRICS[row.metric]!,
  }));
}

/**
 * The mean log π/π_ref of the chosen (solid) and rejected (dashed) responses of the training pairs
 * against step, a line per (series, knob value): whether a pairwise method raises the chosen responses
 * or only pushes the rejected ones down faster.
 */
export function logRatioSpec(task: string, rows: readonly LogRatioRow[], o: SeriesOptions = {}): Spec {
  const x = { field: "step", type: "quantitative", title: "step" };
  return {
    $schema: SCHEMA,
    title: {
      text: `${task}: log-ratio of chosen and rejected responses`,
      subtitle:
        "mean over the training pairs of log π(y|x) − log π_ref(y|x), mean over seeds; solid: chosen, " +
        "dashed: rejected",
    },
    data: { values: rows },
    width: 420,
    height: 220,
    layer: [
      { mark: { type: "rule", color: "#999" }, encoding: { y: { datum: 0 } } },
      {
        mark: { type: "line", strokeWidth: 1.5, point: { size: 18 } },
        encoding: {
          x,
          y: { field: "value", type: "quantitative", title: "log π/π_ref (nats)" },
          color: seriesColor(o, rows),
          strokeDash: {
            field: "side",
            type: "nominal",
            title: "response",
            scale: { domain: ["chosen", "rejected"], range: [[1, 0], [5, 3]] },
            // The subtitle says which is which: a legend of line styles would draw them as dots here.
            legend: null,
          },
          detail: { field: "knob", type: "nominal" },
          tooltip: [
            { field: "series", type: "nominal" },
            { field: "knob", type: "nominal" },
            { field: "side", type: "nominal" },
            { field: "step", type: "quantitative" },
            { field: "value", type: "quantitative", format: ".3f", title: "mean over seeds" },
            { field: "seeds", type: "quantitative" },
          ],
        },
      },
    ],
  };
}

/** One row of the reward-against-length chart: a text checkpoint of one cell. */
export interface LengthRow {
  series: string;
  knob: string;
  seed: number;
  step: number;
  /** Mean completion length (tokens, EOS included) of the evaluator's samples. */
  length: number;
  /** Fraction of those completions that ended with EOS. */
  eosRate: number;
  reward: number;
}

/** Every text checkpoint that logged its completions' length, with its gold reward. */
export function lengthRows(r: Results, task: string): LengthRow[] {
  const rows: LengthRow[] = [];
  for (const c of r.cells) {
    if (c.task !== task || c.status !== "ok") continue;
    for (const ck of c.checkpoints) {
      const length = ck.metrics?.["eval/response_length"], eos = ck.metrics?.["eval/eos_rate"];
      if (length === undefined || !Number.isFinite(length)) continue;
      rows.push({
        series: c.series,
        knob: String(c.knobValue),
        seed: c.seed,
        step: ck.step,
        length,
        eosRate: eos ?? NaN,
        reward: ck.reward,
      });
    }
  }
  return rows;
}

/** Gold reward against mean completion length, a point per checkpoint: reward bought by length shows. */
export function lengthSpec(task: string, rows: readonly LengthRow[], o: SeriesOptions = {}): Spec {
  return {
    $schema: SCHEMA,
    title: {
      text: `${task}: reward against completion length`,
      subtitle:
        "a point per checkpoint and seed: the evaluator's mean completion length and mean gold reward",
    },
    data: { values: rows },
    width: 420,
    height: 220,
    mark: { type: "point", filled: true, size: 36, opacity: 0.8 },
    encoding: {
      x: {
        field: "length",
        type: "quantitative",
        title: "mean completion length (tokens)",
        scale: { zero: false },
      },
      y: { field: "reward", type: "quantitative", title: "gold reward", scale: { zero: false } },
      color: seriesColor(o, rows),
      tooltip: [
        { field: "series", type: "nominal" },
        { field: "knob", type: "nominal" },
        { field: "seed", type: "quantitative" },
        { field: "step", type: "quantitative" },
        { field: "length", type: "quantitative", format: ".1f" },
        { field: "eosRate", type: "quantitative", format: ".2f", title: "EOS rate" },
        { field: "reward", type: "quantitative", format: ".3f" },
      ],
    },
  };
}

/** Training metrics against step, a panel per metric: a line per (series, knob value), the seeds' range as a band. */
export function curveSpec(task: string, rows: readonly CurveRow[], o: SeriesOptions = {}): Spec {
  const x = { field: "step", type: "quantitative", title: "step" };
  const color = seriesColor(o, rows);
  const detail = { field: "knob", type: "nominal" };
  const tooltip = [
    { field: "series", type: "nominal" },
    { field: "knob", type: "nominal" },
    { field: "step", type: "quantitative" },
    { field: "value", type: "quantitative", format: ".4g", title: "mean over seeds" },
    { field: "lo", type: "quantitative", format: ".4g", title: "min" },
    { field: "hi", type: "quantitative", format: ".4g", title: "max" },
    { field: "seeds", type: "quantitative" },
  ];
  return {
    $schema: SCHEMA,
    title: {
      text: `${task}: training curves`,
      subtitle: "mean over seeds per (series, knob value); band: the seeds' range",
    },
    data: { values: rows },
    columns: 2,
    concat: [...new Set(rows.map((r) => r.metric))].map((metric) => ({
      title: { text: metric, fontSize: 11, fontWeight: "normal" },
      transform: [{ filter: { field: "metric", equal: metric } }],
      width: 300,
      height: 160,
      layer: [
        {
          mark: { type: "area", opacity: 0.15 },
          encoding: {
            x,
            y: { field: "lo", type: "quantitative", title: null, scale: { zero: false } },
            y2: { field: "hi" },
            color,
            detail,
          },
        },
        {
          mark: { type: "line", strokeWidth: 1.5 },
          encoding: {
            x,
            y: { field: "value", type: "quantitative", title: null, scale: { zero: false } },
            color,
            detail,
            tooltip,
          },
        },
      ],
    })),
  };
}

/** One row of a chart overlaying two runs' frontiers. */
export interface CompareRow {
  /** Which run: "A" or "B" (the legend says which folder each is). */
  run: string;
  /** An algorithm series, or "oracle π*_β" (drawn once, from run A). */
  series: string;
  kl: number;
  reward: number;
}

/** Rows overlaying two runs' Pareto envelopes on one task, with the oracle where run A has one. */
export function compareRows(
  a: Results,
  b: Results,
  task: string,
  labels: readonly [string, string],
): CompareRow[] {
  const rows: CompareRow[] = (a.oracle[task] ?? []).map((p) => ({
    run: "oracle",
    series: "oracle π*_β",
    kl: p.kl,
    reward: p.reward,
  }));
  for (const [r, run] of [[a, labels[0]], [b, labels[1]]] as const) {
    for (const [series, pts] of Object.entries(r.frontiers[task] ?? {})) {
      for (const p of pts) rows.push({ run, series, kl: p.kl, reward: p.reward });
    }
  }
  return rows;
}

/** Two runs' frontiers on one task: colour is the series, the dash pattern the run. */
export function compareSpec(task: string, rows: readonly CompareRow[]): Spec {
  const x = {
    field: "kl",
    type: "quantitative",
    title: "KL(π‖π_ref) (nats)",
    scale: { type: "symlog", constant: 0.01 },
  };
  const y = { field: "reward", type: "quantitative", title: "expected gold reward", scale: { zero: false } };
  const runs = [...new Set(rows.filter((r) => r.run !== "oracle").map((r) => r.run))];
  return {
    $schema: SCHEMA,
    title: {
      text: `${task}: frontiers of both runs`,
      subtitle: "Pareto envelopes (IQM over seeds); dashes: the run",
    },
    width: 520,
    height: 320,
    data: { values: rows },
    layer: [
      ...(rows.some((r) => r.run === "oracle")
        ? [{
          transform: [{ filter: "datum.run === 'oracle'" }],
          mark: { type: "line", color: "black", strokeWidth: 1, opacity: 0.6 },
          encoding: { x, y, order: { field: "kl", type: "quantitative" } },
        }]
        : []),
      {
        transform: [{ filter: "datum.run !== 'oracle'" }],
        mark: { type: "line", point: true, strokeWidth: 2, interpolate: "step-after" },
        encoding: {
          x,
          y,
          color: seriesColor({}, rows),
          strokeDash: {
            field: "run",
            type: "nominal",
            title: "run",
            sort: runs,
            scale: { domain: runs, range: [[1, 0], [6, 3]] },
            legend: { labelLimit: 320 },
          },
          detail: { field: "run", type: "nominal" },
          order: { field: "kl", type: "quantitative" },
          tooltip: [
            { field: "run", type: "nominal" },
            { field: "series", type: "nominal" },
            { field: "kl", type: "quantitative", format: ".4f" },
            { field: "reward", type: "quantitative", format: ".4f" },
          ],
        },
      },
    ],
  };
}

/**
 * The Pareto envelope of points by KL and `value` (higher is better): points no other beats on both
 * lower KL and higher value. The same rule as `bench/frontier.ts`'s `paretoEnvelope`, kept here so
 * that chart code depends on no bench module.
 */
function envelope<T extends { kl: number }>(points: readonly T[], value: (p: T) => number): T[] {
  const sorted = [...points].sort((a, b) => a.kl - b.kl || value(b) - value(a));
  const out: T[] = [];
  for (const p of sorted) if (out.length === 0 || value(p) > value(out[out.length - 1]!)) out.push(p);
  return out;
}

/** One row of a win-rate-vs-temperature chart. */
export interface TemperatureRow {
  /** An algorithm series, or "π_ref". */
  series: string;
  /** `series knob=value` (one line per knob value), or "π_ref". */
  line: string;
  /** "vs reference texts" or "vs π_ref". */
  comparator: string;
  temperature: number;
  winRate: number;
  winRateLo: number;
  winRateHi: number;
  n: number;
  seeds: number;
}

/** Long-form rows of a judged task's win rates per temperature (empty when it has none). */
export function temperatureRows(r: Results, task: string): TemperatureRow[] {
  const rows: TemperatureRow[] = [];
  for (const [series, rates] of Object.entries(r.temperatureWinRates?.[task] ?? {})) {
    for (const w of rates) {
      rows.push({
        series,
        line: w.knob === null
          ? series
          : `${series} ${r.cells.find((c) => c.series === series)?.knob ?? "knob"}=${w.knob}`,
        comparator: w.vs === "reference" ? "vs reference texts" : "vs π_ref",
        temperature: w.temperature,
        winRate: w.winRate,
        winRateLo: w.winRateCi[0],
        winRateHi: w.winRateCi[1],
        n: w.n,
        seeds: w.seeds,
      });
    }
  }
  return rows;
}

/**
 * Win rate against the reference texts and against π_ref by sampling temperature, per series and knob
 * value, with 95% intervals over seeds and prompts (the DPO paper's Figure 2, right), and ½.
 */
export function temperatureSpec(task: string, rows: readonly TemperatureRow[], o: SeriesOptions = {}): Spec {
  const x = {
    field: "temperature",
    type: "quantitative",
    title: "sampling temperature",
    scale: { domain: [0, 1] },
  };
  const y = { field: "winRate", type: "quantitative", title: "win rate", scale: { domain: [0, 1] } };
  const color = seriesColor(o, rows);
  const tooltip = [
    { field: "line", type: "nominal", title: "series" },
    { field: "comparator", type: "nominal" },
    { field: "temperature", type: "quantitative" },
    { field: "winRate", type: "quantitative", format: ".3f", title: "win rate" },
    { field: "winRateLo", type: "quantitative", format: ".3f", title: "95% lo" },
    { field: "winRateHi", type: "quantitative", format: ".3f", title: "95% hi" },
    { field: "n", type: "quantitative", title: "judgements" },
    { field: "seeds", type: "quantitative" },
  ];
  return {
    $schema: SCHEMA,
    title: {
      text: `${task}: win rate by temperature`,
      subtitle: "judged pairwise, ties ½; 95% intervals over seeds and prompts",
    },
    data: { values: rows },
    facet: {
      column: { field: "comparator", type: "nominal", title: null, sort: ["vs reference texts", "vs π_ref"] },
    },
    spec: {
      width: 300,
      height: 220,
      layer: [
        {
          data: { values: [{ half: 0.5 }] },
          mark: { type: "rule", color: "#888", strokeDash: [4, 4] },
          encoding: { y: { field: "half", type: "quantitative" } },
        },
        {
          mark: { type: "rule", opacity: 0.5 },
          encoding: {
            x,
            y: { ...y, field: "winRateLo" },
            y2: { field: "winRateHi" },
            color,
            detail: { field: "line" },
          },
        },
        {
          mark: { type: "line", point: true, strokeWidth: 1.5 },
          encoding: {
            x,
            y,
            color,
            detail: { field: "line", type: "nominal" },
            strokeDash: { condition: { test: "datum.series === 'π_ref'", value: [5, 3] }, value: [1, 0] },
            tooltip,
          },
        },
      ],
    },
    resolve: { scale: { y: "shared" } },
  };
}

/** One cell of a pairwise win-rate matrix: P(row series beats column series) at a matched KL. */
export interface PairwiseRow {
  kl: number;
  row: string;
  column: string;
  winRate: number;
  winRateLo: number;
  winRateHi: number;
  n: number;
  /** The compared checkpoints' KLs (mean over seeds). */
  klRow: number;
  klColumn: number;
}

/** Long-form rows of a judged task's pairwise matrix: both orders of every pair (b over a is 1 − a over b). */
export function pairwiseRows(r: Results, task: string): PairwiseRow[] {
  return (r.pairwise?.[task] ?? []).flatMap((p) => [
    {
      kl: p.kl,
      row: p.a,
      column: p.b,
      winRate: p.winRate,
      winRateLo: p.winRateCi[0],
      winRateHi: p.winRateCi[1],
      n: p.n,
      klRow: p.klA,
      klColumn: p.klB,
    },
    {
      kl: p.kl,
      row: p.b,
      column: p.a,
      winRate: 1 - p.winRate,
      winRateLo: 1 - p.winRateCi[1],
      winRateHi: 1 - p.winRateCi[0],
      n: p.n,
      klRow: p.klB,
      klColumn: p.klA,
    },
  ]);
}

/** The pairwise win-rate matrix at each matched KL budget: P(row beats column), with its value printed. */
export function pairwiseSpec(task: string, rows: readonly PairwiseRow[]): Spec {
  const order = [...new Set(rows.map((r) => r.row))];
  const axis = (field: string, title: string) => ({ field, type: "nominal", title, sort: order });
  return {
    $schema: SCHEMA,
    title: {
      text: `${task}: pairwise win rates at matched KL`,
      subtitle: "P(row beats column), judged prompt by prompt; each seed's checkpoint nearest the budget",
    },
    data: { values: rows },
    facet: { column: { field: "kl", type: "ordinal", title: "KL budget (nats)" } },
    spec: {
      width: { step: 44 },
      height: { step: 28 },
      layer: [
        {
          mark: { type: "rect" },
          encoding: {
            x: axis("column", "against"),
            y: axis("row", "series"),
            color: {
              field: "winRate",
              type: "quantitative",
              title: "win rate",
              scale: { domain: [0, 1], scheme: "redblue" },
            },
            tooltip: [
              { field: "row", type: "nominal", title: "series" },
              { field: "column", type: "nominal", title: "against" },
              { field: "winRate", type: "quantitative", format: ".3f", title: "win rate" },
              { field: "winRateLo", type: "quantitative", format: ".3f", title: "95% lo" },
              { field: "winRateHi", type: "quantitative", format: ".3f", title: "95% hi" },
              { field: "n", type: "quantitative", title: "judgements" },
              { field: "klRow", type: "quantitative", format: ".2f", title: "KL (series)" },
              { field: "klColumn", type: "quantitative", format: ".2f", title: "KL (against)" },
            ],
          },
        },
        {
          mark: { type: "text", fontSize: 10 },
          encoding: {
            x: axis("column", "against"),
            y: axis("row", "series"),
            text: { field: "winRate", type: "quantitative", format: ".2f" },
          },
        },
      ],
    },
  };
}
