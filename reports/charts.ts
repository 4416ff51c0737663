/**
 * Vega-lite specs built from results, as pure functions of long-form rows (which vega-lite reads
 * natively). Each spec carries its data, so it renders the same to SVG here and in vega-embed later.
 * Every aggregate drawn carries its interval: IQM over seeds with 95% bootstrap bounds.
 *
 * @module
 */
import type { Results } from "../bench/results.ts";

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
export function frontierSpec(task: string, rows: readonly FrontierRow[]): Spec {
  const x = {
    field: "kl",
    type: "quantitative",
    title: "KL(π‖π_ref) (nats)",
    scale: { type: "symlog", constant: 0.01 },
  };
  const y = { field: "reward", type: "quantitative", title: "expected gold reward", scale: { zero: false } };
  const color = { field: "series", type: "nominal", title: "series", legend: { labelLimit: 320 } };
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
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: task,
      subtitle:
        "reward vs KL: oracle, checkpoints (IQM over seeds) and Pareto envelopes with 95% bootstrap intervals",
    },
    width: 520,
    height: 320,
    data: { values: rows },
    layer: [
      {
        transform: [{ filter: "datum.layer === 'oracle'" }],
        mark: { type: "line", color: "black", strokeDash: [6, 3], strokeWidth: 1.5 },
        encoding: { x, y, order: { field: "kl", type: "quantitative" } },
      },
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
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
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
