/**
 * `report.html`: one self-contained page built from `results.json` (and the manifest) alone. Every
 * chart is inlined as pre-rendered SVG, and its vega-lite spec is embedded beside it in a
 * `<script type="application/json">` for a later interactive layer. No external resource is loaded;
 * every string that comes from data is escaped.
 *
 * @module
 */
import type { Manifest } from "../bench/run.ts";
import type { Results } from "../bench/results.ts";
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
      gapTable(r, task),
    ];
    // Single-context tasks (the IPO and OOD examples) are read through their action probabilities.
    if (info.contexts === 1) parts.push(await chart(probSpec(task, probRows(r, task))));
    sections.push(`<section>${parts.join("\n")}</section>`);
  }
  const failures = failed.length
    ? `<section><h2>Failed cells</h2><ul>${
      failed.map((c) => `<li><code>${escapeHtml(c.id)}</code>: ${escapeHtml(c.error ?? "")}</li>`).join("")
    }</ul></section>`
    : "";
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
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 2px 8px; text-align: right; border-bottom: 1px solid #eee; } th:first-child, td:first-child { text-align: left; }
code { font-size: 90%; }
</style>
</head>
<body>
<h1>prefbench — ${escapeHtml(r.suite)}</h1>
<p class="meta">${r.cells.length} cells (${failed.length} failed) · config ${
    escapeHtml(r.configHash.slice(0, 12))
  } ·
${escapeHtml(m.harness)}${m.gitCommit ? ` @ ${escapeHtml(m.gitCommit.slice(0, 10))}` : ""} ·
${escapeHtml(m.executionProvider)}, ${m.threads} thread(s) · started ${escapeHtml(r.startedAt)} · finished ${
    escapeHtml(r.finishedAt)
  }</p>
<p>${nav}</p>
<p>Every checkpoint is evaluated exactly: KL(π‖π_ref) = Σ<sub>x</sub> p(x) Σ<sub>y</sub> π log(π/π_ref) and expected gold
reward Σ<sub>x</sub> p(x) Σ<sub>y</sub> π r. The dashed curve is the oracle π*<sub>β</sub> ∝ π_ref·exp(r/β) over β ∈ [10⁻³, 10³]:
no policy lies above it. Points are means over seeds per (knob value, checkpoint); lines are each series' Pareto envelope.
Gaps are the oracle's reward minus the envelope's best reward within a KL budget.</p>
${sections.join("\n")}
${failures}
</body>
</html>
`;
}

function gapTable(r: Results, task: string): string {
  const gaps = r.gaps[task] ?? {};
  const series = Object.keys(gaps);
  if (series.length === 0) return "";
  const budgets = gaps[series[0]!]!.budgets.map((b) => b.kl);
  const fmt = (v: number | null) => (v === null ? "—" : v.toFixed(4));
  const head = `<tr><th>series</th><th>mean gap on envelope</th>${
    budgets.map((b) => `<th>gap @ KL ≤ ${b}</th>`).join("")
  }</tr>`;
  const rows = series.map((s) => {
    const g = gaps[s]!;
    return `<tr><td>${escapeHtml(s)}</td><td>${fmt(g.meanGap)}</td>${
      g.budgets.map((b) => `<td>${fmt(b.gap)}</td>`).join("")
    }</tr>`;
  });
  return `<table><caption>Reward gap to the oracle at matched KL (lower is better)</caption>${head}${
    rows.join("")
  }</table>`;
}

function slug(s: string): string {
  return `task-${s.replace(/[^A-Za-z0-9_-]+/g, "-")}`;
}
