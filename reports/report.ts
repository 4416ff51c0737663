/**
 * `report.html`: one self-contained page built from `results.json` (and the manifest) alone. Every
 * chart is inlined as pre-rendered SVG, and its vega-lite spec is embedded beside it in a
 * `<script type="application/json">` for a later interactive layer. No external resource is loaded;
 * every string that comes from data is escaped.
 *
 * @module
 */
import type { Manifest } from "../bench/run.ts";
import type { CellRecord, Results } from "../bench/results.ts";
import type { Spec } from "./charts.ts";
import { frontierRows, frontierSpec, probRows, probSpec } from "./charts.ts";
import { renderSvg } from "./render.ts";

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** JSON safe inside `<script>`: no `</script>`, no `<!--`, no U+2028/2029 surprises. */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** Builds the page. */
export async function buildReport(
  r: Results,
  m: Pick<Manifest, "executionProvider" | "threads" | "gitCommit" | "harness">,
) {
  const failed = r.cells.filter((c) => c.status !== "ok");
  const sections: string[] = [];
  let n = 0;
  const chart = async (spec: Spec) => {
    const id = `chart-${n++}`;
    return `<figure id="${id}">${await renderSvg(
      spec,
    )}<script type="application/json" class="vega-lite-spec" ` +
      `data-for="${id}">${scriptJson(spec)}</script></figure>`;
  };
  for (const [task, info] of Object.entries(r.tasks)) {
    const parts = [
      `<h2 id="${escapeHtml(slug(task))}">${escapeHtml(task)}</h2>`,
      `<p>${escapeHtml(info.description)}</p>`,
      `<p class="meta">${info.contexts} context(s) × ${info.actions} actions, ${
        escapeHtml(info.policy)
      } policy</p>`,
      await chart(frontierSpec(task, frontierRows(r, task))),
      budgetTable(r, task),
    ];
    // Single-context tasks (the IPO and OOD examples) are read through their action probabilities.
    const probs = info.contexts === 1 ? probRows(r, task) : [];
    if (probs.length > 0) parts.push(await chart(probSpec(task, probs)));
    sections.push(`<section>${parts.join("\n")}</section>`);
  }
  const failures = failedTable(failed);
  const improvement = improvementTable(r);
  const nav = Object.keys(r.tasks).map((t) => `<a href="#${escapeHtml(slug(t))}">${escapeHtml(t)}</a>`).join(
    " · ",
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>prefbench: ${escapeHtml(r.suite)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
.meta { color: #666; } figure { margin: 1em 0; overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; display: block; overflow-x: auto; }
th, td { padding: 2px 8px; white-space: nowrap; text-align: right; border-bottom: 1px solid #eee; } th:first-child, td:first-child { text-align: left; }
code { font-size: 90%; } .ci { color: #777; font-size: 90%; } td.reason, th.reason { text-align: left; white-space: normal; }
caption { text-align: left; color: #444; padding: 4px 0; }
</style>
</head>
<body>
<h1>prefbench — ${escapeHtml(r.suite)}</h1>
<p class="meta">${r.cells.length} cells (${
    failed.length ? `<a href="#failed">${failed.length} failed</a>` : "0 failed"
  }) · config ${escapeHtml(r.configHash.slice(0, 12))} ·
${escapeHtml(m.harness)}${m.gitCommit ? ` @ ${escapeHtml(m.gitCommit.slice(0, 10))}` : ""} ·
${escapeHtml(m.executionProvider)}, ${m.threads} thread(s)${environment(r)} · started ${
    escapeHtml(r.startedAt)
  } · finished ${escapeHtml(r.finishedAt)}</p>
<p>${nav}${improvement ? ` · <a href="#improvement">probability of improvement</a>` : ""}${
    failed.length ? ` · <a href="#failed">failed cells</a>` : ""
  }</p>
<p>Every checkpoint is evaluated exactly: KL(π‖π_ref) = Σ<sub>x</sub> p(x) Σ<sub>y</sub> π log(π/π_ref) and expected gold
reward Σ<sub>x</sub> p(x) Σ<sub>y</sub> π r. The dashed curve is the oracle π*<sub>β</sub> ∝ π_ref·exp(r/β) over β ∈ [10⁻³, 10³]:
no policy lies above it. Each point is one (knob value, checkpoint) of a series: the interquartile mean (IQM) of its KL and
reward over seeds; lines are each series' Pareto envelope, with ${
    pct(r)
  } stratified-bootstrap intervals on both axes
(${r.stats.resamples} resamples). Tables give the IQM with its interval in brackets. With few seeds a percentile bootstrap
can only span the seeds' own values, so its intervals are narrow and cover less often than their nominal level
(Agarwal et al., 2021): read them as a lower bound on the uncertainty.</p>
${sections.join("\n")}
${improvement}
${failures}
</body>
</html>
`;
}

/** Best reward within each KL budget per series: IQM over seeds [interval], and the oracle's. */
function budgetTable(r: Results, task: string): string {
  const budgets = r.budgets[task] ?? {};
  const series = Object.keys(budgets);
  if (series.length === 0) return "";
  const first = budgets[series[0]!]!;
  const head = `<tr><th>series</th>${
    first.map((b) =>
      `<th>KL ≤ ${b.kl}${
        b.oracle === undefined ? "" : `<br><span class="meta">oracle ${f3(b.oracle)}</span>`
      }</th>`
    )
      .join("")
  }</tr>`;
  const rows = series.map((s) =>
    `<tr><td>${escapeHtml(s)}</td>${
      budgets[s]!.map((b) =>
        `<td title="gap to the oracle ${b.gap === undefined ? "—" : f3(b.gap)}, ${b.seeds} seed(s)">${
          interval(b.reward, b.rewardCi)
        }</td>`
      ).join("")
    }</tr>`
  );
  return `<table><caption>Best gold reward within a KL budget: IQM over seeds of each seed's best checkpoint
with KL ≤ budget (π_ref's reward counts, at KL 0) [${pct(r)} interval]</caption>${head}${
    rows.join("")
  }</table>`;
}

/** P(a > b) at each KL budget, across tasks, with intervals. */
function improvementTable(r: Results): string {
  if (r.improvement.length === 0) return "";
  const budgets = [...new Set(r.improvement.map((i) => i.kl))];
  const pairs = new Map<string, Results["improvement"]>();
  for (const i of r.improvement) {
    const key = JSON.stringify([i.a, i.b]);
    pairs.set(key, [...(pairs.get(key) ?? []), i]);
  }
  const head = `<tr><th>P(a &gt; b)</th><th>tasks</th>${
    budgets.map((b) => `<th>KL ≤ ${b}</th>`).join("")
  }</tr>`;
  const rows = [...pairs.values()].map((row) => {
    const cells = budgets.map((b) => {
      const i = row.find((x) => x.kl === b);
      return `<td>${i ? interval(i.probability, i.ci, 2) : "—"}</td>`;
    });
    return `<tr><td>${escapeHtml(row[0]!.a)} &gt; ${escapeHtml(row[0]!.b)}</td><td>${
      row[0]!.tasks.length
    }</td>${cells.join("")}</tr>`;
  });
  return `<section><h2 id="improvement">Probability of improvement</h2>
<p>P(a &gt; b): the probability that a seed of series a reaches a higher best reward within the KL budget than a seed of
series b (ties ½), averaged over the tasks both ran on, with ${
    pct(r)
  } stratified-bootstrap intervals (seeds resampled
within each task). Above 0.5 favours a.</p>
<table>${head}${rows.join("")}</table></section>`;
}

/** The cells that diverged or threw: why, where, and the last checkpoint kept. */
function failedTable(failed: readonly CellRecord[]): string {
  if (failed.length === 0) return "";
  const rows = failed.map((c) =>
    `<tr><td><code>${escapeHtml(c.id)}</code></td><td>${escapeHtml(c.failure?.kind ?? "error")}</td><td>${
      c.failure?.step ?? "—"
    }</td><td>${c.failure?.lastGoodCheckpoint ?? "none"}</td><td class="reason">${
      escapeHtml(c.error ?? "")
    }</td></tr>`
  );
  return `<section><h2 id="failed">Failed cells</h2>
<p>These cells stopped early; the run went on without them, and they are left out of every aggregate above. Their
checkpoints before the failure are in <code>results.json</code>.</p>
<table><tr><th>cell</th><th>kind</th><th>step</th><th>last good checkpoint</th><th class="reason">reason</th></tr>${
    rows.join("")
  }</table></section>`;
}

function interval(value: number, ci: readonly [number, number], digits = 3): string {
  return `${value.toFixed(digits)} <span class="ci">[${ci[0].toFixed(digits)}, ${
    ci[1].toFixed(digits)
  }]</span>`;
}

function f3(v: number): string {
  return v.toFixed(3);
}

function pct(r: Results): string {
  return `${Math.round(r.stats.confidence * 1000) / 10}%`;
}

function environment(r: Results): string {
  const e = r.environment;
  return e
    ? ` · Deno ${escapeHtml(e.deno)}, ONNX Runtime ${escapeHtml(e.onnxruntime)}, ${escapeHtml(e.os)}/${
      escapeHtml(e.arch)
    }`
    : "";
}

function slug(s: string): string {
  return `task-${s.replace(/[^A-Za-z0-9_-]+/g, "-")}`;
}
