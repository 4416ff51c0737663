/**
 * `summary.csv` and `checkpoints.csv`: a finished run's numbers as long-form tables for pandas, R or a
 * spreadsheet, written beside `results.json` and built from it alone (pure functions of the aggregate).
 *
 * - `summary.csv`: a row per (task, series, KL budget), the numbers of the report's Summary table: the
 *   best reward within the budget (IQM over seeds, with its interval), the win rate against π_ref of
 *   that checkpoint, and the area under the frontier up to the task's largest budget. The area is one
 *   value per task and series, repeated on each of its rows with the budget it runs to (`area_budget`),
 *   so every row stands alone (`df.pivot(index="series", columns="budget", values="iqm_reward")` needs no
 *   join) and `df[df.budget == df.area_budget]` keeps one row per series.
 * - `checkpoints.csv`: a row per checkpoint of every cell, failed cells included (with the checkpoints
 *   they kept), in the cells' plan order.
 *
 * Numbers are written as `results.json` writes them (the shortest text that reads back as the same
 * double), so nothing is rounded; a value a record lacks, and a non-finite one (which JSON writes as
 * null), is an empty field: NaN in pandas, NA in R. Strings are RFC 4180 fields (quoted where they hold
 * a comma, quote or line break, quotes doubled), written by csv-stringify and so read back intact by
 * any CSV reader, a leading `=`, `+`, `-` or `@` included: the files are data for tools, and prefixing
 * such a string with `'` (the spreadsheet formula guard) would change the name a tool reads. No
 * wall-clock field is written, so two runs of one config give byte-identical tables.
 *
 * @module
 */
import { stringify } from "npm:csv-stringify@6.9.0/sync";
import type { Results } from "../results/mod.ts";

/** A field: a number, a string, a boolean (written `true`/`false`), or absent (an empty field). */
type Field = number | string | boolean | null | undefined;

/** The columns of `summary.csv`, in order. */
export const SUMMARY_COLUMNS = [
  "task",
  "series",
  "budget",
  "iqm_reward",
  "reward_lo",
  "reward_hi",
  "oracle_reward",
  "win_rate",
  "win_rate_lo",
  "win_rate_hi",
  "area",
  "area_lo",
  "area_hi",
  "area_budget",
  "area_oracle",
  "seeds",
] as const;

/** The columns of `checkpoints.csv`, in order. */
export const CHECKPOINT_COLUMNS = [
  "task",
  "algorithm",
  "series",
  "knob",
  "knob_value",
  "seed",
  "status",
  "step",
  "kl",
  "reward",
  "win_rate",
  "proxy_reward",
  "response_length",
  "eos_rate",
] as const;

/** Rows as CSV text: a header, then one line per row (`\n` line ends). */
function csv(columns: readonly string[], rows: readonly Field[][]): string {
  return stringify([[...columns], ...rows.map((row) => row.map(field))], {
    // csv-stringify writes booleans as 1 and ""; a knob value reads better as the word.
    cast: { boolean: (v: boolean) => String(v) },
  });
}

/** Non-finite numbers are empty, as JSON's null is: the CSV says what results.json says. */
function field(v: Field): Field {
  return typeof v === "number" && !Number.isFinite(v) ? null : v;
}

/**
 * `summary.csv`: per task (in `results.tasks` order), per series with a summary (in the order the
 * Summary table lists them), per KL budget, the best reward within the budget, the win rate of that
 * checkpoint, the series' area, and on bandits the oracle's reward and area. These are the aggregate's
 * `budgets`, `winRates` and `areas` fields unrounded; the report's Summary table shows the same numbers
 * to three digits (its win-rate column is this table's row at the largest budget). Columns:
 * {@link SUMMARY_COLUMNS}.
 *
 * @example
 * ```ts
 * summaryCsv(results).split("\n")[0];
 * // "task,series,budget,iqm_reward,reward_lo,reward_hi,oracle_reward,win_rate,win_rate_lo,..."
 * ```
 */
export function summaryCsv(results: Results): string {
  const rows: Field[][] = [];
  for (const task of Object.keys(results.tasks)) {
    for (const [series, budgets] of Object.entries(results.budgets[task] ?? {})) {
      const area = results.areas?.[task]?.[series];
      const wins = results.winRates?.[task]?.[series] ?? [];
      for (const b of budgets) {
        const w = wins.find((x) => x.kl === b.kl);
        rows.push([
          task,
          series,
          b.kl,
          b.reward,
          b.rewardCi[0],
          b.rewardCi[1],
          b.oracle,
          w?.winRate,
          w?.winRateCi[0],
          w?.winRateCi[1],
          area?.area,
          area?.areaCi[0],
          area?.areaCi[1],
          area?.kl,
          area?.oracle,
          b.seeds,
        ]);
      }
    }
  }
  return csv(SUMMARY_COLUMNS, rows);
}

/**
 * `checkpoints.csv`: one row per checkpoint of every cell, in plan order: the cell's task, algorithm,
 * series, knob and its value, seed and status ("ok" or "failed"), then the checkpoint's step, KL, gold
 * reward, win rate against π_ref and proxy reward, and the text evaluator's `eval/response_length` and
 * `eval/eos_rate` (empty where the record lacks them: bandits, cells not trained on the proxy). A cell
 * that failed before its first checkpoint has no row. Columns: {@link CHECKPOINT_COLUMNS}.
 *
 * @example
 * ```ts
 * checkpointsCsv(results).split("\n")[0];
 * // "task,algorithm,series,knob,knob_value,seed,status,step,kl,reward,win_rate,proxy_reward,..."
 * ```
 */
export function checkpointsCsv(results: Results): string {
  const rows: Field[][] = [];
  for (const c of results.cells) {
    for (const k of c.checkpoints) {
      rows.push([
        c.task,
        c.algorithm,
        c.series,
        c.knob,
        c.knobValue,
        c.seed,
        c.status,
        k.step,
        k.kl,
        k.reward,
        k.winRate,
        k.proxyReward,
        k.metrics?.["eval/response_length"],
        k.metrics?.["eval/eos_rate"],
      ]);
    }
  }
  return csv(CHECKPOINT_COLUMNS, rows);
}
