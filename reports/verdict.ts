/**
 * The report's first words: one sentence per task saying who leads at the task's headline KL budget, by
 * how much, and how sure — read from `results.verdict` (schema 1.3), so the page states the same
 * verdict the terminal printed.
 *
 * @module
 */
import type { Results, VerdictEntry } from "../results/mod.ts";

/**
 * The budget a task's sentence speaks of: the middle one of its budgets (the upper middle of an even
 * count) — 0.5 nats of a bandit's 0.05…2, 5 nats of a text task's 1, 2, 5, 10 — where methods have
 * room to differ and the largest budgets have not yet saturated them.
 */
export function headlineBudget(entries: readonly VerdictEntry[]): VerdictEntry | null {
  return entries[Math.floor(entries.length / 2)] ?? null;
}

/**
 * One plain-text sentence per task with a verdict, e.g. `sentiment.small, KL ≤ 5 nats: ppo leads with
 * 0.853 [0.847, 0.861]; grpo is within its interval; dpo trails by 0.183.`
 */
export function verdictSentences(r: Results): { task: string; sentence: string }[] {
  const out: { task: string; sentence: string }[] = [];
  for (const [task, entries] of Object.entries(r.verdict ?? {})) {
    const v = headlineBudget(entries);
    const top = v?.ranking[0];
    if (!v || !top) continue;
    const f = (x: number) => x.toFixed(3);
    const value = (row: typeof top) =>
      row.atReference
        ? `${f(row.reward)} (π_ref's own)`
        : row.ci
        ? `${f(row.reward)} [${f(row.ci[0])}, ${f(row.ci[1])}]`
        : f(row.reward);
    const others = v.leaders.filter((s) => s !== top.series);
    const next = v.ranking.find((x) => !v.leaders.includes(x.series));
    const parts = [`${task}, KL ≤ ${v.kl} nats: ${top.series} leads with ${value(top)}`];
    if (others.length > 0) {
      parts.push(`${list(others)} ${others.length === 1 ? "is" : "are"} within its interval`);
    }
    if (next) {
      const rest = v.ranking.length - v.leaders.length - 1;
      const by = next.behind < 5e-4 ? "less than 0.001 (but its interval is apart)" : f(next.behind);
      parts.push(`${next.series} trails by ${by}${rest > 0 ? `, and ${rest} more further` : ""}`);
    }
    const sentence = parts.join("; ") + (v.note ? ` (${v.note})` : "") + ".";
    out.push({ task, sentence });
  }
  return out;
}

function list(names: readonly string[]): string {
  return names.length <= 1 ? names.join("") : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}
