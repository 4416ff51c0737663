/**
 * Vega-lite specs built from results, as pure functions of long-form rows (which vega-lite reads
 * natively). Each spec carries its data, so it renders the same to SVG here and in vega-embed later.
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
  /** "oracle" curve, a seed-averaged "point", or a point of the "envelope". */
  layer: "oracle" | "point" | "envelope";
  kl: number;
  reward: number;
  /** The knob's value and checkpoint step (points and envelope). */
  knob?: number | string | boolean;
  step?: number;
}

/** Long-form rows of one task's frontier chart. */
export function frontierRows(r: Results, task: string): FrontierRow[] {
  const rows: FrontierRow[] = (r.oracle[task] ?? []).map((p) => ({
    series: "oracle π*_β",
    layer: "oracle",
    kl: p.kl,
    reward: p.reward,
  }));
  for (const [series, pts] of Object.entries(r.points[task] ?? {})) {
    for (const p of pts) {
      rows.push({ series, layer: "point", kl: p.kl, reward: p.reward, knob: p.knob, step: p.step });
    }
  }
  for (const [series, pts] of Object.entries(r.frontiers[task] ?? {})) {
    for (const p of pts) {
      rows.push({ series, layer: "envelope", kl: p.kl, reward: p.reward, knob: p.knob, step: p.step });
    }
  }
  return rows;
}

/**
 * Reward against KL(π‖π_ref): the oracle curve (black), every seed-averaged checkpoint of each series
 * (faint points) and its Pareto envelope (line). KL is on a symlog axis: bandit KLs span 10⁻⁴ to a few nats.
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
    { field: "kl", type: "quantitative", format: ".4f" },
    { field: "reward", type: "quantitative", format: ".4f" },
  ];
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: task, subtitle: "reward vs KL: oracle, seed-averaged checkpoints and Pareto envelopes" },
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
        transform: [{ filter: "datum.layer === 'envelope'" }],
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
  /** The action's position, so stacks keep the task's action order. */
  actionIndex: number;
  prob: number;
}

/**
 * The final action probabilities of a single-context task per series and knob value, averaged over
 * seeds, with π_ref as a first bar.
 */
export function probRows(r: Results, task: string): ProbRow[] {
  const info = r.tasks[task];
  if (!info) return [];
  const rows: ProbRow[] = [];
  const cells = r.cells.filter((c) => c.task === task && c.status === "ok");
  for (const series of [...new Set(cells.map((c) => c.series))]) {
    const bySeries = cells.filter((c) => c.series === series);
    const panel = `${series} (${bySeries[0]!.knob})`;
    info.actionNames.forEach((action, a) => {
      rows.push({ panel, knob: "π_ref", action, actionIndex: a, prob: info.reference[0]![a]! });
    });
    for (const knob of [...new Set(bySeries.map((c) => c.knobValue))]) {
      const finals = bySeries.filter((c) => c.knobValue === knob).map((c) => c.checkpoints.at(-1)!.probs!);
      info.actionNames.forEach((action, a) => {
        const mean = finals.reduce((s, p) => s + p[0]![a]!, 0) / finals.length;
        rows.push({ panel, knob: String(knob), action, actionIndex: a, prob: mean });
      });
    }
  }
  return rows;
}

/** Stacked bars of π(y) per knob value, one panel per series. */
export function probSpec(task: string, rows: readonly ProbRow[]): Spec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: `${task}: final action probabilities`, subtitle: "mean over seeds; π_ref first" },
    data: { values: rows },
    facet: { field: "panel", type: "nominal", title: null, sort: null },
    columns: 3,
    spec: {
      width: { step: 26 },
      height: 200,
      mark: { type: "bar" },
      encoding: {
        x: { field: "knob", type: "ordinal", title: null, sort: null, axis: { labelAngle: 0 } },
        y: { field: "prob", type: "quantitative", title: "π(y)", scale: { domain: [0, 1] }, stack: "zero" },
        color: {
          field: "action",
          type: "nominal",
          title: "action",
          sort: [...new Set(rows.map((r) => r.action))],
        },
        order: { field: "actionIndex", type: "quantitative", sort: "ascending" },
        tooltip: [
          { field: "knob", type: "nominal" },
          { field: "action", type: "nominal" },
          { field: "prob", type: "quantitative", format: ".4f" },
        ],
      },
    },
    resolve: { scale: { x: "independent" } },
  };
}
