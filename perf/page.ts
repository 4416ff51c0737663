/**
 * The page of `deno task bench:perf`: the harness against PyTorch on each workload, the training steps
 * against ONNX Runtime's own MatMul throughput (MFU), and scaling curves of the step time against model
 * size, batch and sequence length. As in `reports/charts.ts`, rows are picked out of the benchmark's
 * JSON and each spec is a pure function of its rows (snapshot-tested); the page is one self-contained
 * file, built with the reports' page shell.
 *
 * @module
 */
import type { Spec } from "../reports/mod.ts";
import { Charts, escapeHtml, page } from "../reports/mod.ts";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** One workload of the comparison table (times are medians in ms). */
export interface PerfWorkload {
  readonly name: string;
  readonly units: number;
  readonly unit: string;
  readonly engineMs: { readonly median: number };
  readonly torchMs: { readonly median: number } | null;
  readonly ratio: number | null;
}

/** One point of a scaling sweep: a training step of one GPT shape, the harness and PyTorch. */
export interface ScalingPoint {
  /** Which sweep, with the unit of `x`: one of {@link SWEEPS}, or "M at batch 256" on a GPU. */
  readonly sweep: string;
  /** The swept value (parameters for model size). */
  readonly x: number;
  /** The shape, for tooltips: `d 128, 2 layers, B 32, T 64`. */
  readonly label: string;
  readonly stepMs: number;
  readonly tokensPerS: number;
  /** Step GFLOP/s ÷ ONNX Runtime's MatMul GFLOP/s at the same shapes. */
  readonly mfu: number;
  readonly torchStepMs: number | null;
  /** Harness tokens/s ÷ PyTorch tokens/s. */
  readonly ratio: number | null;
}

/** What the page reads of a bench:perf JSON document. */
export interface PerfDoc {
  readonly date: string;
  readonly provider: string;
  readonly threads: number;
  readonly machine: { readonly cpu: string; readonly cpus: number };
  readonly versions: Readonly<Record<string, string>>;
  readonly torch: string | null;
  readonly workloads: readonly PerfWorkload[];
  /** bench:engine's configs (S, M), where it ran. */
  readonly training: readonly {
    readonly name: string;
    readonly batch: number;
    readonly seq: number;
    readonly stepMs: { readonly median: number };
    readonly tokensPerS: number;
    readonly mfuVsOrtMatmul: number;
    readonly matmul: { readonly gflops: number };
    readonly torchRatio: number | null;
  }[];
  readonly scaling: readonly ScalingPoint[];
}

/** One row of the scaling chart: a point of one side. */
export interface ScalingRow {
  sweep: string;
  x: number;
  label: string;
  side: "harness" | "PyTorch";
  ms: number;
}

/** Long-form rows of the step-time chart: the harness's points and PyTorch's where measured. */
export function scalingRows(points: readonly ScalingPoint[]): ScalingRow[] {
  return points.flatMap((p) => [
    { sweep: p.sweep, x: p.x, label: p.label, side: "harness" as const, ms: p.stepMs },
    ...(p.torchStepMs === null
      ? []
      : [{ sweep: p.sweep, x: p.x, label: p.label, side: "PyTorch" as const, ms: p.torchStepMs }]),
  ]);
}

/** Step time against each swept dimension, a panel per sweep, log-log, a line per side. */
export function scalingSpec(rows: readonly ScalingRow[]): Spec {
  return sweepPanels(rows, {
    text: "Training step time",
    subtitle: "median ms per step; log-log, each panel its own x",
  }, {
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "x", type: "quantitative", title: null, scale: { type: "log", nice: false } },
      y: { field: "ms", type: "quantitative", title: "ms per step", scale: { type: "log" } },
      color: { field: "side", type: "nominal", title: null, scale: { domain: ["harness", "PyTorch"] } },
      tooltip: [
        { field: "label", type: "nominal", title: "shape" },
        { field: "side", type: "nominal" },
        { field: "ms", type: "quantitative", format: ".1f", title: "ms" },
      ],
    },
  });
}

/** A panel per sweep, side by side, each with its own x scale, over `rows`. */
function sweepPanels(rows: readonly unknown[], title: Spec, panel: Spec): Spec {
  return {
    $schema: SCHEMA,
    title,
    data: { values: rows },
    facet: { column: { field: "sweep", type: "nominal", title: null, sort: SWEEPS } },
    resolve: { scale: { x: "independent" } },
    spec: { width: 240, height: 200, ...panel },
  };
}

/** One row of the efficiency chart: a ratio at a point. */
export interface EfficiencyRow {
  sweep: string;
  x: number;
  label: string;
  measure: "harness ÷ PyTorch tokens/s" | "MFU vs ORT MatMul";
  value: number;
}

/** Long-form rows of the efficiency chart. */
export function efficiencyRows(points: readonly ScalingPoint[]): EfficiencyRow[] {
  return points.flatMap((p) => [
    ...(p.ratio === null ? [] : [{
      sweep: p.sweep,
      x: p.x,
      label: p.label,
      measure: "harness ÷ PyTorch tokens/s" as const,
      value: p.ratio,
    }]),
    { sweep: p.sweep, x: p.x, label: p.label, measure: "MFU vs ORT MatMul" as const, value: p.mfu },
  ]);
}

/** The speed-up over PyTorch and the MFU against each swept dimension, with the line at 1. */
export function efficiencySpec(rows: readonly EfficiencyRow[]): Spec {
  return sweepPanels(rows, {
    text: "Against PyTorch and against the machine",
    subtitle: "harness tokens/s ÷ PyTorch's; step GFLOP/s ÷ ONNX Runtime's MatMul GFLOP/s at the same shapes",
  }, {
    layer: [
      {
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "x", type: "quantitative", title: null, scale: { type: "log", nice: false } },
          y: { field: "value", type: "quantitative", title: "ratio" },
          color: { field: "measure", type: "nominal", title: null },
          tooltip: [
            { field: "label", type: "nominal", title: "shape" },
            { field: "measure", type: "nominal" },
            { field: "value", type: "quantitative", format: ".2f" },
          ],
        },
      },
      { mark: { type: "rule", strokeDash: [4, 4], color: "#888" }, encoding: { y: { datum: 1 } } },
    ],
  });
}

/** The order of the panels. */
export const SWEEPS = ["model size (parameters)", "batch (rows)", "sequence length (tokens)"];

/** The whole page. */
export async function perfReportHtml(doc: PerfDoc): Promise<string> {
  const e = (v: unknown) => escapeHtml(String(v));
  const f = (x: number, d = 1) => x.toFixed(d);
  const ratio = (r: number | null) => (r === null ? "—" : `${f(r, 2)}×`);
  const charts = new Charts();
  const workloads = doc.workloads.map((w) =>
    `<tr><td>${e(w.name)}</td><td>${f(w.engineMs.median)}</td><td>${
      f(w.units / (w.engineMs.median / 1e3), 0)
    } ${e(w.unit)}</td><td>${w.torchMs ? f(w.torchMs.median) : "—"}</td><td>${
      w.torchMs ? f(w.units / (w.torchMs.median / 1e3), 0) : "—"
    }</td><td>${ratio(w.ratio)}</td></tr>`
  ).join("");
  const training = doc.training.map((t) =>
    `<tr><td>${e(t.name)} (B ${t.batch}, T ${t.seq})</td><td>${f(t.stepMs.median)}</td><td>${
      f(t.tokensPerS, 0)
    }</td><td>${f(t.matmul.gflops)}</td><td>${f(100 * t.mfuVsOrtMatmul)}%</td><td>${
      ratio(t.torchRatio)
    }</td></tr>`
  ).join("");
  const scaling = doc.scaling.length
    ? `<h2>Scaling</h2>
${await charts.figure(scalingSpec(scalingRows(doc.scaling)))}
${await charts.figure(
      efficiencySpec(efficiencyRows(doc.scaling)),
      "Each point is a few interleaved rounds: its MFU divides by a MatMul reference timed in a few dozen short " +
        "runs, which a busy moment on a shared machine can slow, so single points scatter; the training-step " +
        "table above has more runs.",
    )}
<table><tr><th>sweep</th><th class="text">shape</th><th>ms</th><th>tokens/s</th><th>MFU</th><th>PyTorch ms</th><th>ratio</th></tr>${
      doc.scaling.map((p) =>
        `<tr><td>${e(p.sweep)}</td><td class="text">${e(p.label)}</td><td>${f(p.stepMs)}</td><td>${
          f(p.tokensPerS, 0)
        }</td><td>${f(100 * p.mfu)}%</td><td>${p.torchStepMs === null ? "—" : f(p.torchStepMs)}</td><td>${
          ratio(p.ratio)
        }</td></tr>`
      ).join("")
    }</table>`
    : "";
  const body = `<h1>prefbench — performance</h1>
<p class="meta">${e(doc.date)} · ${e(doc.machine.cpu)}, ${doc.machine.cpus} cores · provider ${
    e(doc.provider)
  }, ${doc.threads} threads · ${
    Object.entries(doc.versions).map(([k, v]) => `${e(k)} ${e(v)}`).join(", ")
  } · PyTorch ${e(doc.torch ?? "not measured")}</p>
<p>Medians of interleaved rounds: the harness and its PyTorch peer take turns, so both see the same load.</p>
<h2>Workloads</h2>
<table><tr><th>workload</th><th>harness ms</th><th>harness units/s</th><th>PyTorch ms</th><th>PyTorch units/s</th><th>ratio</th></tr>${workloads}</table>
${
    training
      ? `<h2>Training steps</h2>
<table><tr><th>config</th><th>step ms</th><th>tokens/s</th><th>ORT MatMul GFLOP/s</th><th>MFU vs ORT MatMul</th><th>ratio to PyTorch</th></tr>${training}</table>`
      : ""
  }
${scaling}`;
  return await page({ title: "prefbench — performance", body });
}
