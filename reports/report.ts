/**
 * `report.html`: one self-contained page built from `results.json` and the manifest alone. Every chart
 * is a pre-rendered SVG (the page reads with JavaScript off) with its vega-lite spec and data embedded
 * beside it, which the inlined vega-embed turns into a live chart; nothing loads from the network or
 * from disk. Every string that comes from data, configs or model output is escaped.
 *
 * Sections are data-driven: each appears when the results carry what it draws and is left out
 * otherwise (training curves need `cells[].curve`, sample completions `checkpoints[].samples`, win-rate
 * charts and the area and win-rate columns the 1.1 aggregates), so older results and tasks that do not
 * log something still make a complete page.
 *
 * @module
 */
import type { CellRecord, Manifest, Results, SampleRecord } from "../results/mod.ts";
import {
  curveRows,
  curveSpec,
  frontierRows,
  frontierSpec,
  lengthRows,
  lengthSpec,
  logRatioRows,
  logRatioSpec,
  pairwiseRows,
  pairwiseSpec,
  probRows,
  probSpec,
  temperatureRows,
  temperatureSpec,
  winRateRows,
  winRateSpec,
} from "./charts.ts";
import { Charts, escapeHtml, interval, page, slug } from "./_page.ts";
import { verdictSentences } from "./verdict.ts";

export { escapeHtml, scriptJson } from "./_page.ts";

/** What the report shows of a manifest: the first four are needed, the rest are shown when present. */
export type ReportManifest =
  & Pick<Manifest, "executionProvider" | "threads" | "gitCommit" | "harness">
  & Partial<Omit<Manifest, "executionProvider" | "threads" | "gitCommit" | "harness">>;

/** Options of {@link buildReport}. */
export interface ReportOptions {
  /** The run's id (its folder's name), shown in the title and the manifest. */
  readonly runId?: string;
  /** A link back to a run index (a published site's `../index.html`). */
  readonly indexHref?: string;
  /** Inline vega-embed for live charts (default true); without it the page is its pre-rendered SVGs. */
  readonly interactive?: boolean;
  /** Load the browser builds from this folder instead of inlining them (see `PageOptions.scriptBase`). */
  readonly scriptBase?: string;
}

/** Sample completions shown per task (the rest are in results.json). */
export const MAX_SAMPLE_ROWS = 60;
/** Distinct prompts whose completions are shown per task. */
export const MAX_SAMPLE_PROMPTS = 4;

/** Any value as escaped text: numbers too, since a hand-edited results.json can hold anything. */
function e(v: unknown): string {
  return escapeHtml(String(v));
}

/** Builds the page. */
export async function buildReport(r: Results, m: ReportManifest, opts: ReportOptions = {}): Promise<string> {
  const charts = new Charts();
  const tasks = Object.keys(r.tasks);
  const failed = r.cells.filter((c) => c.status !== "ok");
  const sections: { id: string; title: string; html: string }[] = [];
  const section = (id: string, title: string, html: string) => {
    if (html) sections.push({ id, title, html: `<section><h2 id="${id}">${title}</h2>\n${html}</section>` });
  };

  const said = verdictSentences(r);
  section(
    "verdict",
    "Verdict",
    said.length
      ? `<p class="meta">Per task, at its middle KL budget: the series with the highest IQM over seeds of its best
gold reward within the budget, with its ${
        pct(r)
      } interval; the series whose interval overlaps it cannot be told
apart from it; the others trail. Every budget's ranking, with P(best), is in results.json (<code>verdict</code>) and
in the Summary below.</p>
<ul class="verdict">${said.map((s) => `<li>${e(s.sentence)}</li>`).join("\n")}</ul>${aggregateTable(r)}`
      : "",
  );
  section("summary", "Summary", summarySection(r));
  // One colour per series across every chart: the oracle and π_ref first, then the series in plan order.
  const colours = { series: ["oracle π*_β", "π_ref", ...new Set(r.cells.map((c) => c.series))] };

  const frontiers: string[] = [];
  for (const task of tasks) {
    const info = r.tasks[task]!;
    const shape = (info.kind ?? "bandit") === "bandit" && info.contexts > 0
      ? `${e(info.contexts)} context(s) × ${e(info.actions)} actions, `
      : `${e(info.kind)} task, `;
    frontiers.push(
      `<h3 id="${e(slug("task", task))}">${e(task)}</h3>
<p>${e(info.description)}</p>
<p class="meta">${shape}${e(info.policy)} policy</p>
${await charts.figure(frontierSpec(task, frontierRows(r, task), colours))}`,
    );
  }
  section(
    "frontiers",
    "Frontiers",
    frontiers.length
      ? `<p>Reward against KL(π‖π_ref). Each point is one (knob value, checkpoint) of a series: the interquartile mean (IQM) of
its KL and reward over seeds; lines are each series' Pareto envelope, the best reward reached within each KL, with ${
        pct(r)
      } stratified-bootstrap intervals on both axes. On bandits the dashed curve is the oracle
π*<sub>β</sub> ∝ π_ref·exp(r/β) over β ∈ [10⁻³, 10³]: no policy lies above it.</p>
${frontiers.join("\n")}`
      : "",
  );

  const wins: string[] = [];
  for (const task of tasks) {
    const rows = winRateRows(r, task);
    if (rows.length > 0) wins.push(await charts.figure(winRateSpec(task, rows, colours)));
  }
  section(
    "win-rates",
    "Win rates",
    wins.length
      ? `<p>Win rate of each checkpoint's policy against π_ref by the gold reward (ties count ½), against its KL: above the
dotted ½ line a policy beats the reference more often than not.</p>\n${wins.join("\n")}`
      : "",
  );

  const judged: string[] = [];
  for (const task of tasks) {
    const temps = temperatureRows(r, task), pairs = pairwiseRows(r, task);
    if (temps.length === 0 && pairs.length === 0) continue;
    judged.push(`<h3>${e(task)}</h3>\n<p class="meta">judge: ${e(r.judges?.[task] ?? "unknown")}</p>`);
    if (temps.length > 0) judged.push(await charts.figure(temperatureSpec(task, temps, colours)));
    if (pairs.length > 0) judged.push(await charts.figure(pairwiseSpec(task, pairs)));
  }
  section(
    "judged",
    "Judged win rates",
    judged.length
      ? `<p>Tasks with a pairwise judge (summarization). First: each series' final policy sampled at temperatures 0 to 1,
one completion per held-out prompt, judged against the task's reference text and against π_ref's completion at the same
temperature (π_ref's own line: against the references); one line per knob value. Then: every pair of series at matched
KL, each seed's checkpoint nearest the budget, judged prompt by prompt: P(row beats column). Ties count ½; intervals
are ${pct(r)} two-level bootstraps over seeds and prompts, n the number of judgements (in the tooltips).</p>
${judged.join("\n")}`
      : "",
  );

  const probs: string[] = [];
  for (const task of tasks) {
    // Single-context bandits (the IPO and OOD examples) are read through their action probabilities.
    const rows = r.tasks[task]!.contexts === 1 ? probRows(r, task) : [];
    if (rows.length > 0) probs.push(await charts.figure(probSpec(task, rows)), collapseTable(r, task));
  }
  section(
    "action-probabilities",
    "Action probabilities",
    probs.length
      ? `<p>Single-context bandits: each series' final π(y) per knob value, IQM over seeds with ${
        pct(r)
      } intervals, beside π_ref.</p>\n${probs.join("\n")}`
      : "",
  );

  const curves: string[] = [];
  for (const task of tasks) {
    const rows = curveRows(r, task);
    if (rows.length > 0) curves.push(await charts.figure(curveSpec(task, rows, colours)));
  }
  section(
    "training-curves",
    "Training curves",
    curves.length
      ? `<p>Training metrics logged during optimization, against the step.</p>\n${curves.join("\n")}`
      : "",
  );

  const diagnostics: string[] = [];
  for (const task of tasks) {
    const ratios = logRatioRows(r, task), lengths = lengthRows(r, task);
    if (ratios.length > 0) diagnostics.push(await charts.figure(logRatioSpec(task, ratios, colours)));
    if (lengths.length > 0) diagnostics.push(await charts.figure(lengthSpec(task, lengths, colours)));
  }
  section(
    "diagnostics",
    "Text diagnostics",
    diagnostics.length
      ? `<p>What the methods do to their completions. The pairwise methods' mean log π/π_ref of the chosen and of the
rejected responses, over every training pair at each checkpoint (TRL's rewards/chosen and rewards/rejected
without the factor β): a method can widen the margin while lowering both. And the gold reward of every text
checkpoint against its completions' mean length: reward bought by writing longer (or shorter) shows as a
slope.</p>\n${diagnostics.join("\n")}`
      : "",
  );

  section("samples", "Sample completions", samplesSection(r, tasks));
  section("improvement", "Probability of improvement", improvementSection(r));
  section("failed", "Failed cells", failedSection(failed));
  section("manifest", "Manifest", manifestSection(r, m, opts.runId));

  const title = `prefbench — ${r.suite}${opts.runId ? ` (${opts.runId})` : ""}`;
  const nav = sections.map((s) => `<a href="#${s.id}">${s.title}</a>`).join(" · ");
  const taskNav = tasks.map((t) => `<a href="#${e(slug("task", t))}">${e(t)}</a>`).join(" · ");
  const body = `${opts.indexHref ? `<p><a href="${e(opts.indexHref)}">← all runs</a></p>` : ""}
<h1>${e(title)}</h1>
<p class="meta">${e(r.cells.length)} cells (${
    failed.length ? `<a href="#failed">${failed.length} failed</a>` : "0 failed"
  }) · config ${e(r.configHash.slice(0, 12))} · ${e(m.harness)}${
    m.gitCommit ? ` @ ${e(m.gitCommit.slice(0, 10))}${m.gitDirty ? " (dirty)" : ""}` : ""
  } · ${e(m.executionProvider)}, ${e(m.threads)} thread(s) · started ${e(r.startedAt)} · finished ${
    e(r.finishedAt)
  }</p>
<nav><p>${nav}</p><p>Tasks: ${taskNav}</p></nav>
<noscript><p class="meta">JavaScript is off: the charts below are pre-rendered; with it they become interactive
(tooltips).</p></noscript>
<p>Every checkpoint is evaluated by the same evaluator: on bandits exactly, KL(π‖π_ref) = Σ<sub>x</sub> p(x) Σ<sub>y</sub>
π log(π/π_ref) and expected gold reward Σ<sub>x</sub> p(x) Σ<sub>y</sub> π r. Aggregates over seeds are interquartile means
with ${pct(r)} stratified-bootstrap intervals (${
    e(r.stats.resamples)
  } resamples), written IQM [lo, hi]. With few seeds a
percentile bootstrap can only span the seeds' own values, so its intervals are narrow and cover less often than their
nominal level (Agarwal et al., 2021): read them as a lower bound on the uncertainty.</p>
${sections.map((s) => s.html).join("\n")}`;
  return page({
    title,
    body,
    ...(opts.interactive === undefined ? {} : { interactive: opts.interactive }),
    ...(opts.scriptBase === undefined ? {} : { scriptBase: opts.scriptBase }),
  });
}

/**
 * Per task, per series: the best reward within each KL budget, the area under the frontier up to the
 * largest budget, and the win rate against π_ref there; each IQM over seeds [interval].
 */
function summarySection(r: Results): string {
  const tables: string[] = [];
  for (const task of Object.keys(r.tasks)) {
    const budgets = r.budgets[task] ?? {};
    const series = Object.keys(budgets);
    if (series.length === 0) continue;
    const kls = budgets[series[0]!]!.map((b) => b.kl);
    const areas = r.areas?.[task];
    const winRates = r.winRates?.[task];
    const maxKl = kls.at(-1);
    const oracleOf = (s: (typeof budgets)[string][number] | undefined) =>
      s?.oracle === undefined ? "" : `<br><span class="meta">oracle ${f3(s.oracle)}</span>`;
    const firstArea = areas?.[series[0]!];
    const extra = (firstArea ? 1 : 0) + (winRates ? 1 : 0);
    const head =
      `<tr><th rowspan="2">series</th><th colspan="${kls.length}" class="group">best reward within KL ≤ b</th>${
        extra ? `<th colspan="${extra}" class="group">up to KL ≤ ${e(maxKl)}</th>` : ""
      }</tr><tr class="sub">${
        kls.map((kl, i) => `<th>${e(kl)}${oracleOf(budgets[series[0]!]![i])}</th>`).join("")
      }${
        firstArea
          ? `<th>area${
            firstArea.oracle === undefined
              ? ""
              : `<br><span class="meta">oracle ${f3(firstArea.oracle)}</span>`
          }</th>`
          : ""
      }${winRates ? `<th>win rate<br><span class="meta">vs π_ref</span></th>` : ""}</tr>`;
    const rows = series.map((s) => {
      const cells = budgets[s]!.map((b) =>
        `<td title="${b.gap === undefined ? "" : `gap to the oracle ${f3(b.gap)}, `}${e(b.seeds)} seed(s)">${
          interval(b.reward, b.rewardCi, 3, true)
        }</td>`
      );
      const a = areas?.[s];
      if (firstArea) cells.push(`<td>${a ? interval(a.area, a.areaCi, 3, true) : "—"}</td>`);
      const w = winRates?.[s]?.at(-1);
      if (winRates) cells.push(`<td>${w ? interval(w.winRate, w.winRateCi, 3, true) : "—"}</td>`);
      return `<tr><td>${e(s)}</td>${cells.join("")}</tr>`;
    });
    const kind = r.tasks[task]!.kind ?? "bandit";
    tables.push(
      `<table id="${e(slug("summary", task))}"><caption><b>${e(task)}</b> (${e(kind)}; budgets ${
        kls.map((k) => e(k)).join(", ")
      } nats)</caption>${head}${rows.join("")}</table>`,
    );
  }
  if (tables.length === 0) return "";
  return `<p><b>Reward, KL ≤ b</b>: the best gold reward a seed reached at any checkpoint with KL(π‖π_ref) ≤ b (π_ref's
own reward counts, at KL 0), IQM over seeds. KL budgets are per task: bandit tasks use 0.05 to 2 nats, because their exact
KLs stay below about 3 nats and a budget of 5 or 10 would not separate anything; text tasks use 1, 2, 5 and 10 nats
(KL summed over a completion's tokens). <b>Area</b>: the area under that best-reward staircase from 0 to the largest
budget, divided by the budget: the mean reward bought over all budgets up to it, in reward units. <b>Win rate</b>: the
gold win rate against π_ref (ties ½) of the checkpoint that gives the best reward within the largest budget. Hover a
reward for its gap to the oracle on bandits.</p>
${tables.join("\n")}`;
}

/**
 * The completions of each series' final checkpoint, for the first prompts of each task: one
 * (series, knob value) row per prompt, from its lowest seed.
 */
/** Below this final probability an action counts as dropped: the policy is close to deterministic. */
export const COLLAPSED_BELOW = 1e-2;

/**
 * Whether each series keeps every action of a single-context task: the smallest final π(y) (IQM over
 * seeds) at each knob value, and at how many of its knob values it fell below {@link COLLAPSED_BELOW}.
 * A loss with a finite minimizer (IPO, and the oracle's π*_β) keeps every action at moderate knob
 * values; one without (DPO on deterministic preferences) drives some action to 0 at every value.
 */
function collapseTable(r: Results, task: string): string {
  const bySeries = Object.entries(r.actionProbs[task] ?? {});
  if (bySeries.length === 0) return "";
  const knobName = (series: string) =>
    r.cells.find((c) => c.task === task && c.series === series)?.knob ?? "knob";
  const rows = bySeries.map(([series, finals]) => {
    const mins = finals.map((f) => ({ knob: f.knob, min: Math.min(...f.prob) }));
    const collapsed = mins.filter((m) => m.min < COLLAPSED_BELOW).length;
    const verdict = collapsed === mins.length
      ? "deterministic at every value"
      : collapsed === 0
      ? "keeps every action"
      : `deterministic at ${collapsed} of ${mins.length}`;
    const values = mins.map((m) =>
      `<span${m.min < COLLAPSED_BELOW ? ' class="down"' : ""}>${e(knobName(series))}=${e(m.knob)}: ${
        e(m.min.toPrecision(2))
      }</span>`
    ).join(" · ");
    return `<tr><td>${e(series)}</td><td class="l">${verdict}</td><td class="text">${values}</td></tr>`;
  });
  return `<table><caption>${
    e(task)
  }: does the final policy keep every action? The smallest final π(y) per knob value
(IQM over seeds); below ${COLLAPSED_BELOW} (red) the policy is close to deterministic.</caption>
<tr><th>series</th><th class="l">measured</th><th class="text">min<sub>y</sub> π(y) per knob value</th></tr>
${rows.join("\n")}</table>`;
}

function samplesSection(r: Results, tasks: readonly string[]): string {
  const out: string[] = [];
  for (const task of tasks) {
    // The lowest seed of each (series, knob value) that has samples at its last checkpoint.
    const chosen = new Map<string, { cell: CellRecord; samples: SampleRecord[] }>();
    for (const c of r.cells) {
      const samples = c.checkpoints.at(-1)?.samples;
      if (c.task !== task || c.status !== "ok" || !samples?.length) continue;
      const key = JSON.stringify([c.series, c.knobValue]);
      const prev = chosen.get(key);
      if (!prev || c.seed < prev.cell.seed) chosen.set(key, { cell: c, samples });
    }
    if (chosen.size === 0) continue;
    const prompts = [...new Set([...chosen.values()].flatMap((x) => x.samples.map((s) => s.prompt)))]
      .slice(0, MAX_SAMPLE_PROMPTS);
    const rows: string[] = [];
    let total = 0;
    for (const prompt of prompts) {
      const reference = [...chosen.values()].flatMap((x) => x.samples).find((s) =>
        s.prompt === prompt && s.reference !== undefined
      )?.reference;
      const mine = [...chosen.values()].flatMap(({ cell, samples }) =>
        samples.filter((s) => s.prompt === prompt).slice(0, 1).map((s) => ({ cell, s }))
      );
      total += mine.length;
      const shown = mine.slice(0, Math.max(0, MAX_SAMPLE_ROWS - rows.length));
      shown.forEach(({ cell, s }, i) => {
        const promptCell = i === 0
          ? `<td class="text" rowspan="${shown.length}">${e(prompt)}${
            reference === undefined ? "" : `<br><span class="meta">reference: ${e(reference)}</span>`
          }</td>`
          : "";
        rows.push(
          `<tr>${promptCell}<td class="l">${e(cell.series)}</td><td class="l">${e(cell.knob)} = ${
            e(cell.knobValue)
          }</td><td>${e(cell.seed)}</td><td class="text">${e(s.completion)}</td><td>${
            num(s.reward)
          }</td><td>${s.kl === undefined ? "—" : num(s.kl)}</td></tr>`,
        );
      });
    }
    const more = total - rows.length;
    out.push(`<h3>${e(task)}</h3>
<table class="samples"><tr><th class="text">prompt</th><th class="l">series</th><th class="l">knob</th><th>seed</th><th class="text">completion</th><th>gold reward</th><th>KL (nats)</th></tr>${
      rows.join("")
    }</table>${
      more > 0 ? `<p class="meta">${more} more completions of these prompts are in results.json.</p>` : ""
    }`);
  }
  if (out.length === 0) return "";
  return `<p>Completions sampled from each series' final checkpoint on held-out prompts (the first ${MAX_SAMPLE_PROMPTS}
prompts; one completion per series and knob value, from its lowest seed), with their gold reward and the KL(π‖π_ref)
summed along them. Model output is shown as text.</p>\n${out.join("\n")}`;
}

/** P(a > b) at each KL budget, across tasks, with intervals. */
function improvementSection(r: Results): string {
  if (r.improvement.length === 0) return "";
  const budgets = [...new Set(r.improvement.map((i) => i.kl))];
  const pairs = new Map<string, Results["improvement"]>();
  for (const i of r.improvement) {
    const key = JSON.stringify([i.a, i.b]);
    pairs.set(key, [...(pairs.get(key) ?? []), i]);
  }
  const head = `<tr><th>P(a &gt; b)</th><th>tasks</th>${
    budgets.map((b) => `<th>KL ≤ ${e(b)}</th>`).join("")
  }</tr>`;
  const rows = [...pairs.values()].map((row) => {
    const cells = budgets.map((b) => {
      const i = row.find((x) => x.kl === b);
      return `<td>${i ? interval(i.probability, i.ci, 2) : "—"}</td>`;
    });
    return `<tr><td>${e(row[0]!.a)} &gt; ${e(row[0]!.b)}</td><td title="${e(row[0]!.tasks.join(", "))}">${
      e(row[0]!.tasks.length)
    }</td>${cells.join("")}</tr>`;
  });
  return `<p>P(a &gt; b): the probability that a seed of series a reaches a higher best reward within the KL budget than a
seed of series b (ties ½), averaged over the tasks both ran on, with ${
    pct(r)
  } stratified-bootstrap intervals (seeds resampled within each task). Above 0.5 favours a.</p>
<table>${head}${rows.join("")}</table>`;
}

/** The cells that diverged or threw: why, where, and the last checkpoint kept. */
function failedSection(failed: readonly CellRecord[]): string {
  if (failed.length === 0) return "";
  const rows = failed.map((c) =>
    `<tr><td><code>${e(c.id)}</code></td><td>${e(c.failure?.kind ?? "error")}</td><td>${
      e(c.failure?.step ?? "—")
    }</td><td>${e(c.failure?.lastGoodCheckpoint ?? "none")}</td><td class="reason">${
      e(c.error ?? "")
    }</td></tr>`
  );
  return `<p>These cells stopped early; the run went on without them, and they are left out of every aggregate above.
Their checkpoints before the failure are in <code>results.json</code>.</p>
<table><tr><th>cell</th><th>kind</th><th>step</th><th>last good checkpoint</th><th class="reason">reason</th></tr>${
    rows.join("")
  }</table>`;
}

/**
 * The cross-task aggregate under the verdict: each series' IQM normalized score with its interval and
 * the tasks it ran on, best first (absent with fewer than two series).
 */
function aggregateTable(r: Results): string {
  const a = r.aggregate;
  if (!a || a.series.length < 2) return "";
  const rows = a.series.map((s) =>
    `<tr><td>${e(s.series)}</td><td class="num">${e(s.iqm.toFixed(3))}</td><td class="num">[${
      e(s.ci[0].toFixed(3))
    }, ${e(s.ci[1].toFixed(3))}]</td><td class="num">${e(s.tasks.length)}</td><td class="num">${
      e(s.runs)
    }</td></tr>`
  ).join("\n");
  return `<p><strong>Across tasks</strong> (Agarwal et al., 2021): each seed's best reward, normalized as ${
    e(a.normalization)
  }; the IQM over every (task, seed) run of a series, with a stratified-bootstrap interval (seeds resampled within
tasks). Scores over different sets of tasks do not compare: rows are grouped by how many tasks a series ran on, most
first. The performance profiles are in results.json (<code>aggregate</code>).</p>
<table class="aggregate"><tr><th>series</th><th>IQM normalized score</th><th>${
    pct(r)
  } interval</th><th>tasks</th><th>runs</th></tr>
${rows}</table>`;
}

/** Where the numbers came from: the manifest's fields, and the resolved config in full. */
function manifestSection(r: Results, m: ReportManifest, runId: string | undefined): string {
  const env = r.environment;
  const machine = m.machine;
  const fields: [string, unknown][] = [
    ["run", runId],
    ["harness", m.harness],
    ["git commit", m.gitCommit === null ? "unknown (not a git checkout)" : m.gitCommit],
    ["tree dirty", m.gitDirty === undefined || m.gitDirty === null ? undefined : m.gitDirty ? "yes" : "no"],
    ["suite", m.suite ? `${m.suite.name} (${m.suite.file})` : r.suite],
    ["config hash", m.configHash ?? r.configHash],
    [
      "plugins",
      m.suite?.plugins?.length
        ? m.suite.plugins.map((p) =>
          `${p.path} (sha256 ${p.sha256.slice(0, 12)}: ${[...p.algorithms, ...p.tasks].join(", ")})`
        ).join("; ")
        : undefined,
    ],
    ["results schema", r.schema],
    ["execution provider", m.executionProvider],
    ["threads", m.threads],
    ["Deno", m.deno ?? env?.deno],
    ["V8 / TypeScript", env ? `${env.v8} / ${env.typescript}` : undefined],
    ["ONNX Runtime", m.onnxruntime ?? env?.onnxruntime],
    [
      "machine",
      machine
        ? `${machine.os}/${machine.arch}, ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB`
        : env
        ? `${env.os}/${env.arch}`
        : undefined,
    ],
    ["GPU", machine ? machine.gpu ?? "none" : undefined],
    ["seeds", m.seeds?.join(", ")],
    ["cells", m.cells],
    ["started", m.startedAt ?? r.startedAt],
    ["finished", m.finishedAt ?? r.finishedAt],
    [
      "resumed",
      m.resumes?.length
        ? m.resumes.map((x) =>
          `${x.at} (${x.environment.executionProvider}, Deno ${x.environment.deno}${
            x.gitCommit === undefined
              ? ""
              : `, commit ${x.gitCommit ?? "none"}${x.gitDirty ? " (dirty)" : ""}`
          })`
        )
          .join("; ")
        : undefined,
    ],
  ];
  const dl = fields.filter(([, v]) => v !== undefined && v !== null).map(([k, v]) =>
    `<dt>${e(k)}</dt><dd>${e(v)}</dd>`
  ).join("");
  const config = m.suite
    ? `<details><summary>The resolved config</summary><pre>${
      e(JSON.stringify(m.suite, null, 2))
    }</pre></details>`
    : "";
  return `<dl class="manifest">${dl}</dl>\n${config}`;
}

function num(v: unknown): string {
  return typeof v === "number" ? v.toFixed(3) : e(v);
}

function f3(v: number): string {
  return v.toFixed(3);
}

function pct(r: Results): string {
  return `${Math.round(r.stats.confidence * 1000) / 10}%`;
}
