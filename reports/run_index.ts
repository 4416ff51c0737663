/**
 * The index of runs: one page listing every run under a folder (suite, date, commit, provider and the
 * headline numbers), newest first, each linking to its report.
 *
 * @module
 */
import type { Results } from "../results/mod.ts";
import { escapeHtml, page } from "./_page.ts";
import type { Run, SkippedRun } from "./runs.ts";

/** Options of {@link indexPage}. */
export interface IndexOptions {
  /** The link to a run's report, relative to the index (default `<id>/report.html`). */
  readonly href?: (run: Run) => string;
  /** A heading (default "prefbench runs"). */
  readonly title?: string;
}

/**
 * A run's headline on one task: the series with the largest area under its frontier (the mean best
 * reward over KL budgets up to the task's largest), or, for results without areas (1.0), the best
 * reward within the largest budget.
 */
export interface Headline {
  readonly task: string;
  readonly series: string;
  /** What `value` is: "area" up to KL `kl`, or best "reward" within KL ≤ `kl`. */
  readonly measure: "area" | "reward";
  readonly kl: number;
  readonly value: number;
  readonly ci: readonly [number, number];
  /** The oracle's value (bandits). */
  readonly oracle?: number;
}

/** Per task, the best series (ties: the first in suite order). */
export function headlines(r: Results): Headline[] {
  const out: Headline[] = [];
  for (const [task, bySeries] of Object.entries(r.budgets)) {
    const candidates: Headline[] = Object.entries(bySeries).flatMap<Headline>(([series, budgets]) => {
      const a = r.areas?.[task]?.[series];
      if (a) {
        return [{
          task,
          series,
          measure: "area" as const,
          kl: a.kl,
          value: a.area,
          ci: [a.areaCi[0], a.areaCi[1]] as const,
          ...(a.oracle === undefined ? {} : { oracle: a.oracle }),
        }];
      }
      const b = budgets.at(-1);
      return b
        ? [{
          task,
          series,
          measure: "reward" as const,
          kl: b.kl,
          value: b.reward,
          ci: [b.rewardCi[0], b.rewardCi[1]] as const,
          ...(b.oracle === undefined ? {} : { oracle: b.oracle }),
        }]
        : [];
    });
    const best = candidates.reduce<Headline | null>((m, h) => (m && m.value >= h.value ? m : h), null);
    if (best) out.push(best);
  }
  return out;
}

/** The index page of `runs` (newest first, as given), with the folders that could not be read. */
export function indexPage(
  runs: readonly Run[],
  skipped: readonly SkippedRun[] = [],
  opts: IndexOptions = {},
) {
  const e = (v: unknown) => escapeHtml(String(v));
  const href = opts.href ?? ((run: Run) => `${run.id}/report.html`);
  const rows = runs.map((run) => {
    const m = run.manifest, r = run.results;
    const failed = r.cells.filter((c) => c.status !== "ok").length;
    const heads = headlines(r).map((h) =>
      `<div><b>${e(h.task)}</b>: ${e(h.series)}, ${h.measure === "area" ? "area to KL" : "reward at KL ≤"} ${
        e(h.kl)
      }: ${h.value.toFixed(3)} <span class="ci">[${h.ci[0].toFixed(3)}, ${h.ci[1].toFixed(3)}]</span>${
        h.oracle === undefined ? "" : ` <span class="meta">(oracle ${h.oracle.toFixed(3)})</span>`
      }</div>`
    ).join("");
    const commit = m.gitCommit
      ? `<code>${e(m.gitCommit.slice(0, 10))}</code>${m.gitDirty ? " (dirty)" : ""}`
      : "—";
    return `<tr><td><a href="${e(href(run))}">${e(run.id)}</a></td><td class="l">${
      e(r.suite)
    }</td><td class="l">${
      e((m.startedAt ?? r.startedAt).replace("T", " ").replace(/\.\d+Z$/, "Z"))
    }</td><td class="l">${commit}</td><td class="l">${e(m.executionProvider)}, ${e(m.threads)} thread(s)${
      m.machine?.gpu ? `<br><span class="meta">${e(m.machine.gpu)}</span>` : ""
    }</td><td>${e(r.cells.length)}${
      failed ? ` <span class="down">(${failed} failed)</span>` : ""
    }</td><td class="text">${heads}</td></tr>`;
  });
  const skippedList = skipped.length
    ? `<h2>Not listed</h2><ul>${
      skipped.map((s) => `<li><code>${e(s.id)}</code>: ${e(s.reason)}</li>`).join("")
    }</ul>`
    : "";
  const title = opts.title ?? "prefbench runs";
  const body = `<h1>${e(title)}</h1>
<p class="meta">${runs.length} run(s), newest first. Headline: per task, the series with the largest area under its
frontier (its mean best gold reward over KL budgets up to the task's largest), IQM over seeds [95% interval]; for older
results without areas, the best reward within the largest budget.</p>
<table><tr><th>run</th><th class="l">suite</th><th class="l">started (UTC)</th><th class="l">commit</th><th class="l">provider</th><th>cells</th><th class="text">headline</th></tr>${
    rows.join("")
  }</table>
${skippedList}`;
  return page({ title, body, interactive: false });
}
