/**
 * What moved between two runs: per task and series, the best reward within each KL budget (and the
 * area under the frontier) in run A and run B with their intervals, and whether the intervals
 * overlap; the manifest fields that make the two runs incomparable (provider, versions, config); a
 * terminal table and an HTML page with both runs' frontiers overlaid.
 *
 * A change is called a move only when the two intervals do not overlap: with seeds resampled, two
 * overlapping intervals do not show that anything changed.
 *
 * @module
 */
import { relative } from "node:path";
import type { Manifest } from "../results/mod.ts";
import { compareRows, compareSpec } from "./charts.ts";
import { Charts, escapeHtml, page } from "./_page.ts";
import type { Run } from "./runs.ts";

/** One side of a change: an IQM over seeds with its interval. */
export interface Side {
  readonly value: number;
  readonly ci: readonly [number, number];
  readonly seeds: number;
}

/** How a number changed from run A to run B. */
export type Verdict =
  /** Equal (to 10⁻⁹). */
  | "same"
  /** Different, but the intervals overlap: not shown to have moved. */
  | "overlap"
  /** Moved: the intervals do not overlap. */
  | "up"
  | "down"
  /** The series or budget exists in one run only. */
  | "only in A"
  | "only in B";

/** One number compared: a series' reward within a KL budget, or its area under the frontier. */
export interface Change {
  readonly task: string;
  readonly series: string;
  /** "reward": best reward within KL ≤ `kl`; "area": area under the frontier up to `kl`, per nat. */
  readonly measure: "reward" | "area";
  readonly kl: number;
  readonly a: Side | null;
  readonly b: Side | null;
  /** b − a, when both exist. */
  readonly delta: number | null;
  /** Whether the intervals overlap, when both exist. */
  readonly overlap: boolean | null;
  readonly verdict: Verdict;
}

/** A manifest field that differs between the runs. */
export interface ManifestDifference {
  /** What differs, in words ("execution provider", "config", ...). */
  readonly what: string;
  readonly a: string;
  readonly b: string;
  /** "warning": the numbers may differ because of it (provider, versions, config); "note": context. */
  readonly severity: "warning" | "note";
}

/** The comparison of two runs. */
export interface Comparison {
  readonly a: Run;
  readonly b: Run;
  readonly changes: Change[];
  readonly differences: ManifestDifference[];
}

/** Compares two runs: B against A. */
export function compareRuns(a: Run, b: Run): Comparison {
  const changes: Change[] = [];
  const tasks = union(Object.keys(a.results.budgets), Object.keys(b.results.budgets));
  for (const task of tasks) {
    const ba = a.results.budgets[task] ?? {}, bb = b.results.budgets[task] ?? {};
    for (const series of union(Object.keys(ba), Object.keys(bb))) {
      const sa = ba[series] ?? [], sb = bb[series] ?? [];
      for (const kl of union(sa.map((x) => x.kl), sb.map((x) => x.kl))) {
        const x = sa.find((p) => p.kl === kl), y = sb.find((p) => p.kl === kl);
        changes.push(
          change(
            task,
            series,
            "reward",
            kl,
            x && side(x.reward, x.rewardCi, x.seeds),
            y && side(y.reward, y.rewardCi, y.seeds),
          ),
        );
      }
      const xa = a.results.areas?.[task]?.[series], xb = b.results.areas?.[task]?.[series];
      // Areas compare only when both runs have them, over the same budget.
      if (xa && xb && xa.kl === xb.kl) {
        changes.push(
          change(
            task,
            series,
            "area",
            xa.kl,
            side(xa.area, xa.areaCi, xa.seeds),
            side(xb.area, xb.areaCi, xb.seeds),
          ),
        );
      }
    }
  }
  return { a, b, changes, differences: manifestDifferences(a, b) };
}

/** The changes that count as moves: intervals apart, or a series or budget in one run only. */
export function moved(c: Comparison): Change[] {
  return c.changes.filter((x) => x.verdict !== "same" && x.verdict !== "overlap");
}

/**
 * One paragraph saying what moved, naming each (task, series) and its numbers, or that nothing did.
 *
 * @example
 * ```ts
 * summarize(compareRuns(run, run)); // "No change: all 216 numbers are identical in both runs."
 * ```
 */
export function summarize(c: Comparison): string {
  const m = moved(c);
  if (m.length === 0) {
    const same = c.changes.filter((x) => x.verdict === "same").length;
    return same === c.changes.length
      ? `No change: all ${c.changes.length} numbers are identical in both runs.`
      : `No change: ${
        c.changes.length - same
      } of ${c.changes.length} numbers differ, all within overlapping intervals.`;
  }
  const groups = new Map<string, Change[]>();
  for (const x of m) {
    const key = `${x.task} / ${x.series}`;
    groups.set(key, [...(groups.get(key) ?? []), x]);
  }
  const lines = [...groups].map(([key, xs]) =>
    `  ${key}: ${
      xs.map((x) =>
        x.verdict === "only in A" || x.verdict === "only in B"
          ? `${label(x)} ${x.verdict}`
          : `${label(x)} ${f3(x.a!.value)} → ${f3(x.b!.value)} (${signed(x.delta!)}, ${x.verdict})`
      ).join("; ")
    }`
  );
  return `Moved (intervals do not overlap) in ${groups.size} series:\n${lines.join("\n")}`;
}

/**
 * The comparison for a terminal: warnings, a table of every number that differs (identical ones are
 * counted, not listed; the HTML page lists all), and the summary.
 */
export function compareText(c: Comparison, opts: { readonly warnings?: boolean } = {}): string {
  const head = ["task", "series", "measure", "A", "B", "Δ", "intervals", "verdict"];
  const differ = c.changes.filter((x) => x.verdict !== "same");
  const rows = differ.map((x) => [
    x.task,
    x.series,
    label(x),
    x.a ? withCi(x.a) : "—",
    x.b ? withCi(x.b) : "—",
    x.delta === null ? "—" : signed(x.delta),
    x.overlap === null ? "—" : x.overlap ? "overlap" : "apart",
    x.verdict === "overlap"
      ? "within intervals"
      : x.verdict === "up" || x.verdict === "down"
      ? `MOVED ${x.verdict}`
      : x.verdict,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => [...r[i]!].length)));
  const line = (r: readonly string[]) =>
    r.map((v, i) => v + " ".repeat(widths[i]! - [...v].length)).join("  ").trimEnd();
  const same = c.changes.length - differ.length;
  return [
    `A: ${c.a.dir} (${c.a.results.suite}, ${c.a.manifest.startedAt ?? "?"})`,
    `B: ${c.b.dir} (${c.b.results.suite}, ${c.b.manifest.startedAt ?? "?"})`,
    ...c.differences.filter((d) => opts.warnings !== false || d.severity !== "warning").map((d) =>
      `${d.severity}: ${d.what} differs: ${d.a} (A) vs ${d.b} (B)`
    ),
    "",
    ...(rows.length ? [line(head), ...rows.map(line), ""] : []),
    ...(same && rows.length
      ? [`${same} of ${c.changes.length} numbers are identical in both runs (not listed).`]
      : []),
    summarize(c),
  ].join("\n");
}

/** The comparison as a page: warnings, what moved, the full table, and both runs' frontiers per task. */
export async function compareHtml(c: Comparison, opts: { readonly out?: string } = {}): Promise<string> {
  const e = (v: unknown) => escapeHtml(String(v));
  const link = (run: Run) => {
    const href = opts.out ? relative(dirname(opts.out), `${run.dir}/report.html`) : `${run.dir}/report.html`;
    return `<a href="${e(href)}">${e(run.id)}</a>`;
  };
  const charts = new Charts();
  const figures: string[] = [];
  for (const task of union(Object.keys(c.a.results.frontiers), Object.keys(c.b.results.frontiers))) {
    figures.push(
      await charts.figure(compareSpec(task, compareRows(c.a.results, c.b.results, task, ["A", "B"]))),
    );
  }
  const warnings = c.differences.map((d) =>
    `<li class="${d.severity === "warning" ? "" : "meta"}">${d.severity}: ${e(d.what)} differs: <code>${
      e(d.a)
    }</code> (A)
vs <code>${e(d.b)}</code> (B)</li>`
  );
  const row = (x: Change) => {
    const cls = x.verdict === "up" || x.verdict === "down" || x.verdict.startsWith("only")
      ? ` class="moved"`
      : "";
    return `<tr${cls}><td>${e(x.task)}</td><td class="text">${e(x.series)}</td><td class="text">${
      e(label(x))
    }</td><td>${x.a ? sideHtml(x.a) : "—"}</td><td>${x.b ? sideHtml(x.b) : "—"}</td><td class="${
      x.verdict === "up" ? "up" : x.verdict === "down" ? "down" : ""
    }">${x.delta === null ? "—" : e(signed(x.delta))}</td><td>${
      x.overlap === null ? "—" : x.overlap ? "overlap" : "apart"
    }</td><td>${e(x.verdict === "overlap" ? "within intervals" : x.verdict)}</td></tr>`;
  };
  const table = (xs: readonly Change[]) =>
    `<table><tr><th>task</th><th class="text">series</th><th class="text">measure</th><th>A</th><th>B</th><th>Δ (B − A)</th><th>intervals</th><th>verdict</th></tr>${
      xs.map(row).join("")
    }</table>`;
  const differ = c.changes.filter((x) => x.verdict !== "same");
  const body = `<h1>prefbench — compare</h1>
<p>A: ${link(c.a)} (${e(c.a.results.suite)}, ${e(c.a.manifest.startedAt ?? "")}, ${
    e(c.a.manifest.executionProvider)
  })<br>
B: ${link(c.b)} (${e(c.b.results.suite)}, ${e(c.b.manifest.startedAt ?? "")}, ${
    e(c.b.manifest.executionProvider)
  })</p>
${
    warnings.length
      ? `<div class="warn"><p>The two runs differ in how they were made; a difference below may come from that:</p><ul>${
        warnings.join("\n")
      }</ul></div>`
      : ""
  }
<h2 id="moved">What moved</h2>
<pre>${e(summarize(c))}</pre>
<p>Per task and series: the best reward within each KL budget and the area under the frontier, IQM over seeds [interval],
in A and in B. A change counts as a move only when the two intervals are apart.</p>
${differ.length ? table(differ) : ""}
<h2 id="frontiers">Frontiers</h2>
<p>Each series' Pareto envelope in both runs: solid A, dashed B; the oracle (bandits) in black.</p>
${figures.join("\n")}
<h2 id="all">All numbers</h2>
<details><summary>${c.changes.length} numbers (${c.changes.length - differ.length} identical)</summary>
${table(c.changes)}</details>`;
  return page({ title: `prefbench — compare ${c.a.id} and ${c.b.id}`, body });
}

function change(
  task: string,
  series: string,
  measure: "reward" | "area",
  kl: number,
  a: Side | undefined,
  b: Side | undefined,
): Change {
  if (!a || !b) {
    return {
      task,
      series,
      measure,
      kl,
      a: a ?? null,
      b: b ?? null,
      delta: null,
      overlap: null,
      verdict: a ? "only in A" : "only in B",
    };
  }
  const delta = b.value - a.value;
  const overlap = a.ci[0] <= b.ci[1] && b.ci[0] <= a.ci[1];
  const verdict: Verdict = Math.abs(delta) <= 1e-9 ? "same" : overlap ? "overlap" : delta > 0 ? "up" : "down";
  return { task, series, measure, kl, a, b, delta, overlap, verdict };
}

function side(value: number, ci: readonly [number, number], seeds: number): Side {
  return { value, ci: [ci[0], ci[1]], seeds };
}

/** Provider, versions and config (warnings), and commit and machine (notes). */
function manifestDifferences(a: Run, b: Run): ManifestDifference[] {
  const out: ManifestDifference[] = [];
  const ma = a.manifest, mb = b.manifest;
  const ea = a.results.environment, eb = b.results.environment;
  const check = (what: string, x: unknown, y: unknown, severity: "warning" | "note") => {
    const sx = show(x), sy = show(y);
    if (sx !== sy) out.push({ what, a: sx, b: sy, severity });
  };
  check("execution provider", ma.executionProvider, mb.executionProvider, "warning");
  check("threads", ma.threads, mb.threads, "warning");
  check("harness version", ma.harness, mb.harness, "warning");
  check("Deno version", ma.deno ?? ea?.deno, mb.deno ?? eb?.deno, "warning");
  check(
    "ONNX Runtime version",
    ma.onnxruntime ?? ea?.onnxruntime,
    mb.onnxruntime ?? eb?.onnxruntime,
    "warning",
  );
  if (ma.configHash !== mb.configHash) {
    out.push({
      what: "config",
      a: `hash ${ma.configHash.slice(0, 12)}`,
      b: `hash ${mb.configHash.slice(0, 12)}${configDiff(ma, mb)}`,
      severity: "warning",
    });
  }
  check("results schema", a.results.schema, b.results.schema, "note");
  check("git commit", gitLabel(ma), gitLabel(mb), "note");
  check("CPU", ma.machine?.cpu, mb.machine?.cpu, "note");
  check("GPU", ma.machine?.gpu, mb.machine?.gpu, "note");
  return out;
}

/** The config fields that differ, as `; path: a → b`, at most five. */
function configDiff(a: Manifest, b: Manifest): string {
  const diffs: string[] = [];
  const walk = (x: unknown, y: unknown, path: string) => {
    if (diffs.length > 5) return;
    if (
      typeof x === "object" && x !== null && typeof y === "object" && y !== null &&
      Array.isArray(x) === Array.isArray(y)
    ) {
      const keys = union(Object.keys(x), Object.keys(y));
      if (
        Array.isArray(x) && JSON.stringify(x) !== JSON.stringify(y) && x.every((v) => typeof v !== "object")
      ) {
        diffs.push(`${path}: ${short(x)} → ${short(y)}`);
        return;
      }
      for (const k of keys) {
        walk((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      }
    } else if (JSON.stringify(x) !== JSON.stringify(y)) {
      diffs.push(`${path}: ${short(x)} → ${short(y)}`);
    }
  };
  walk(a.suite, b.suite, "");
  return diffs.length ? ` (${diffs.slice(0, 5).join("; ")}${diffs.length > 5 ? "; ..." : ""})` : "";
}

/** A config value as JSON, cut to 60 characters. */
function short(v: unknown): string {
  const s = JSON.stringify(v) ?? "undefined";
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function gitLabel(m: Manifest): string {
  return m.gitCommit ? `${m.gitCommit.slice(0, 10)}${m.gitDirty ? " (dirty)" : ""}` : "unknown";
}

function show(v: unknown): string {
  return v === undefined || v === null ? "unknown" : String(v);
}

function label(x: Change): string {
  return x.measure === "reward" ? `reward at KL ≤ ${x.kl}` : `area to KL ${x.kl}`;
}

function withCi(s: Side): string {
  return `${f3(s.value)} [${f3(s.ci[0])}, ${f3(s.ci[1])}]`;
}

function sideHtml(s: Side): string {
  return `${f3(s.value)} <span class="ci">[${f3(s.ci[0])}, ${f3(s.ci[1])}]</span>`;
}

function signed(v: number): string {
  return `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(3)}`;
}

function f3(v: number): string {
  return v.toFixed(3);
}

function union<T>(a: readonly T[], b: readonly T[]): T[] {
  return [...new Set([...a, ...b])];
}

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}
