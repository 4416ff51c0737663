/**
 * The verdict: for each task and KL budget, who leads. Every series is ranked by the IQM over seeds of
 * its best reward within the budget (the Summary's number), with its stratified-bootstrap interval; its
 * P(best) is the fraction of joint bootstrap resamples — every series' seeds resampled within that
 * series, as the intervals are — in which its IQM is the highest (ties share the win); and the leaders
 * are the series that cannot be told apart from the top one: those whose interval overlaps the top
 * series' interval (the rule is stated in the results). With one seed there is no interval: the verdict
 * says so, and no series is called a leader by overlap.
 *
 * @module
 */
import { Rng } from "../engine/rng.ts";
import type { BudgetSummary, CrossTaskAggregate, StatsSettings, VerdictEntry } from "../results/mod.ts";
import { iqm } from "./stats.ts";

/** How leaders are told apart from the rest, as the results state it. */
export const LEADER_RULE =
  "leaders: the top series and every series whose 95% interval overlaps the top series' interval";

/** The note of a budget whose series have fewer than two seeds each. */
export const ONE_SEED = "1 seed: no interval";

/**
 * The verdict of one task at one budget. `perSeed` holds each series' per-seed best rewards within the
 * budget, `summaries` each series' IQM and interval (the aggregate's `budgets`), in the run's order.
 */
export function budgetVerdict(
  kl: number,
  series: readonly {
    readonly name: string;
    readonly perSeed: readonly number[];
    readonly summary: BudgetSummary;
  }[],
  o: { readonly stats: StatsSettings; readonly key: readonly string[]; readonly reference?: number },
): VerdictEntry {
  const ranked = [...series].sort((a, b) => b.summary.reward - a.summary.reward);
  const withIntervals = series.some((s) => s.perSeed.length >= 2);
  const pBest = withIntervals ? probabilityOfBest(series.map((s) => s.perSeed), o) : null;
  const top = ranked[0];
  const leaders = !top ? [] : ranked
    .filter((s) =>
      s === top || s.summary.reward === top.summary.reward ||
      (withIntervals && s.perSeed.length >= 2 && top.perSeed.length >= 2 &&
        s.summary.rewardCi[1] >= top.summary.rewardCi[0])
    )
    .map((s) => s.name);
  return {
    kl,
    rule: LEADER_RULE,
    ...(withIntervals ? {} : { note: ONE_SEED }),
    ranking: ranked.map((s) => ({
      series: s.name,
      reward: s.summary.reward,
      ci: s.perSeed.length >= 2 ? [s.summary.rewardCi[0], s.summary.rewardCi[1]] : null,
      pBest: pBest ? pBest[series.indexOf(s)]! : null,
      seeds: s.perSeed.length,
      behind: top ? top.summary.reward - s.summary.reward : 0,
      ...(o.reference !== undefined && s.perSeed.every((v) => v === o.reference)
        ? { atReference: true }
        : {}),
    })),
    leaders,
  };
}

/**
 * P(best) of each series: over `resamples` joint resamples (each series' seeds drawn with replacement
 * from its own), the fraction in which its IQM is the highest, ties sharing the win equally.
 */
export function probabilityOfBest(
  perSeed: readonly (readonly number[])[],
  o: { readonly stats: StatsSettings; readonly key: readonly string[] },
): number[] {
  const rng = Rng.stream(o.stats.seed, "bootstrap", "verdict", ...o.key);
  const wins = new Array<number>(perSeed.length).fill(0);
  const buffers = perSeed.map((s) => new Array<number>(s.length));
  const values = new Array<number>(perSeed.length);
  for (let r = 0; r < o.stats.resamples; r++) {
    perSeed.forEach((s, k) => {
      const b = buffers[k]!;
      for (let i = 0; i < s.length; i++) b[i] = s[rng.int(s.length)]!;
      values[k] = iqm(b);
    });
    const best = Math.max(...values);
    const top = values.flatMap((v, k) => (v === best ? [k] : []));
    for (const k of top) wins[k]! += 1 / top.length;
  }
  return wins.map((w) => w / o.stats.resamples);
}

/** The cross-task aggregate as one line: each series' IQM normalized score and interval, best first. */
export function aggregateLine(aggregate: CrossTaskAggregate | undefined): string | null {
  if (!aggregate || aggregate.series.length < 2) return null;
  const tasks = Object.keys(aggregate.budgets).length;
  return `across ${tasks} task${
    tasks === 1 ? "" : "s"
  } (normalized score at each task's middle budget, IQM [95% interval]): ` +
    aggregate.series.map((s) =>
      `${s.series} ${s.iqm.toFixed(2)} [${s.ci[0].toFixed(2)}, ${s.ci[1].toFixed(2)}]`
    )
      .join(", ");
}

/**
 * The verdict as the terminal prints it at the end of a run: per task, a row per series (best at the
 * largest budget first) with its IQM reward within each budget and interval, `*` on the leaders, and
 * `(π_ref)` where no seed got past π_ref within the budget.
 */
export function verdictLines(verdict: Readonly<Record<string, readonly VerdictEntry[]>>): string[] {
  const lines: string[] = [];
  for (const [task, entries] of Object.entries(verdict)) {
    if (entries.length === 0 || entries[0]!.ranking.length === 0) continue;
    const last = entries.at(-1)!;
    const order = last.ranking.map((r) => r.series);
    const width = Math.max(6, ...order.map((s) => s.length));
    const text = (e: VerdictEntry, series: string) => {
      const r = e.ranking.find((x) => x.series === series);
      if (!r) return " —";
      const lead = e.leaders.includes(series) ? "*" : " ";
      if (r.atReference) return `${lead}${r.reward.toFixed(3)} (π_ref)`;
      return `${lead}${r.reward.toFixed(3)}${r.ci ? ` [${r.ci[0].toFixed(2)}, ${r.ci[1].toFixed(2)}]` : ""}`;
    };
    const w = 2 +
      Math.max(...entries.flatMap((e) => [` KL ≤ ${e.kl}`.length, ...order.map((s) => text(e, s).length)]));
    const seeds = Math.max(...last.ranking.map((r) => r.seeds));
    lines.push(
      `${task}: best reward within KL (IQM over ${seeds} seed${seeds === 1 ? "" : "s"}${
        last.note ? `; ${last.note}` : ", [95% interval]"
      }; * leads)`,
    );
    lines.push(
      `  ${"series".padEnd(width)}  ${entries.map((e) => ` KL ≤ ${e.kl}`.padEnd(w)).join("")}`.trimEnd(),
    );
    for (const s of order) {
      lines.push(`  ${s.padEnd(width)}  ${entries.map((e) => text(e, s).padEnd(w)).join("")}`.trimEnd());
    }
  }
  return lines;
}
