/**
 * Win rates judged pairwise, on text tasks that have a judge (summarization), as in the DPO paper's
 * evaluation (Rafailov et al., 2023, §6.2 and Figure 2 right):
 *
 * - against the task's reference texts and against π_ref, at sampling temperatures
 *   {@link WIN_TEMPERATURES}, from each cell's final checkpoint: one completion per held-out prompt at
 *   each temperature, judged prompt by prompt (π_ref's completions at the same temperature are drawn
 *   once per task, so every cell is judged against the same ones);
 * - between algorithms at matched KL: for each KL budget and seed, each series' checkpoint whose KL is
 *   nearest the budget (any knob value), its temperature-1 completions of the held-out prompts (kept in
 *   the checkpoint's record) judged against the other series' prompt by prompt.
 *
 * A judgement is P(first better): ties count ½. Every rate has a two-level bootstrap interval over
 * seeds and prompts ({@link nestedBootstrapMean}) and its n (judgements).
 *
 * @module
 */
import type { TextPolicy } from "./evaluate.ts";
import { Rng } from "../engine/rng.ts";
import type { Runtime } from "../engine/runtime.ts";
import type { Judge } from "../models/judge.ts";
import { chatJudge, onnxRewardJudge } from "../models/judges.ts";
import type { TextTask } from "../tasks/text_tasks.ts";
import type {
  CellRecord,
  PairwiseWinRate,
  StatsSettings,
  TemperatureWinRate,
  TemperatureWins,
} from "../results/mod.ts";
import { nestedBootstrapMean } from "./stats.ts";
import type { JudgeSpec } from "./suite.ts";

/** Sampling temperatures of the win-rate sweep (the DPO paper's Figure 2 right). */
export const WIN_TEMPERATURES: readonly number[] = [0, 0.25, 0.5, 0.75, 1];

/**
 * The judge a suite asks for on a judged task: the task's own (default), a reward model from an ONNX
 * file (reading document and summary as the policy wrote them), or a chat model at an endpoint.
 */
export async function suiteJudge(spec: JudgeSpec | undefined, task: TextTask, rt: Runtime): Promise<Judge> {
  if (!task.judge) throw new Error("suiteJudge: the task has no judge of its own, so it is not judged");
  if (!spec || spec.kind === "task") return task.judge;
  if (spec.kind === "onnx") return await onnxRewardJudge(rt, spec.path, task.tokenizer);
  const apiKey = spec.apiKeyEnv === undefined ? undefined : Deno.env.get(spec.apiKeyEnv);
  return chatJudge({ url: spec.url, model: spec.model, ...(apiKey ? { apiKey } : {}) });
}

/** The name π_ref's own rows take in the temperature sweep. */
export const REFERENCE_SERIES = "π_ref";

type Policy = TextPolicy;

/** One completion (response text) per held-out prompt, at `temperature`. */
export async function completionsAt(
  env: TextTask,
  policy: Policy,
  temperature: number,
  rng: Rng,
): Promise<string[]> {
  const prompts = env.evalPrompts.map((p) => p.ids);
  const options = { rng, maxNewTokens: env.maxNewTokens, eos: env.tokenizer.special.eos, temperature };
  const comp = "model" in policy
    ? await policy.model.sample(prompts, options)
    : await policy.sampler.sample(prompts, options);
  return comp.responses.map((r) => env.tokenizer.decode([...r]));
}

/** π_ref's completions of the held-out prompts at every temperature of the sweep, drawn once per task. */
export async function referenceCompletions(env: TextTask, task: string): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for (const t of WIN_TEMPERATURES) {
    out.set(
      t,
      await completionsAt(
        env,
        { model: env.reference },
        t,
        Rng.stream(0, "eval", task, "reference", String(t)),
      ),
    );
  }
  return out;
}

/** Judges `a[i]` against `b[i]` on held-out prompt i, for every prompt. */
async function judgeAll(
  judge: Judge,
  env: TextTask,
  a: readonly string[],
  b: readonly string[],
  rng: Rng,
): Promise<{ wins: number[]; swapped?: boolean[] }> {
  const items = env.evalPrompts.map((p, i) => ({ document: p.text, a: a[i]!, b: b[i]! }));
  const verdicts = await judge.compare(items, rng);
  const wins = verdicts.map((v) => v.probability);
  const swapped = verdicts.map((v) => v.swapped);
  return swapped.every((s) => s === undefined) ? { wins } : { wins, swapped: swapped.map((s) => s ?? false) };
}

/** The reference texts of the held-out prompts (a judged task must give every prompt one). */
function referenceTexts(env: TextTask): string[] {
  return env.evalPrompts.map((p, i) => {
    if (p.reference === undefined) {
      throw new Error(`Judged win rates: held-out prompt ${i} has no reference text`);
    }
    return p.reference;
  });
}

/**
 * A policy's sweep: at each temperature, its completions judged against the reference texts and
 * against π_ref's completions at the same temperature (`refs`, from {@link referenceCompletions}).
 */
export async function temperatureSweep(
  env: TextTask,
  judge: Judge,
  policy: Policy,
  refs: ReadonlyMap<number, readonly string[]>,
  rng: (purpose: string) => Rng,
): Promise<TemperatureWins[]> {
  const references = referenceTexts(env);
  const out: TemperatureWins[] = [];
  for (const temperature of WIN_TEMPERATURES) {
    const mine = await completionsAt(env, policy, temperature, rng(`sample-t${temperature}`));
    const vsRef = await judgeAll(judge, env, mine, references, rng(`judge-reference-t${temperature}`));
    const vsPi = await judgeAll(
      judge,
      env,
      mine,
      refs.get(temperature)!,
      rng(`judge-pi_ref-t${temperature}`),
    );
    out.push({ temperature, vs: "reference", ...vsRef }, { temperature, vs: "pi_ref", ...vsPi });
  }
  return out;
}

/** π_ref's own sweep against the reference texts (the baseline of the chart; against itself it is ½). */
export async function referenceSweep(
  env: TextTask,
  judge: Judge,
  refs: ReadonlyMap<number, readonly string[]>,
  task: string,
): Promise<TemperatureWins[]> {
  const references = referenceTexts(env);
  const out: TemperatureWins[] = [];
  for (const temperature of WIN_TEMPERATURES) {
    const rng = Rng.stream(0, "eval", task, "reference", "judge", String(temperature));
    out.push({
      temperature,
      vs: "reference",
      ...await judgeAll(judge, env, refs.get(temperature)!, references, rng),
    });
  }
  return out;
}

/**
 * Per task and series, the win rate at each temperature against each comparator, per knob value, over
 * the seeds' cells (ok cells with a sweep), plus π_ref's rows from the cells' `referenceTemperatureWins`.
 */
export function temperatureWinRates(
  cells: readonly CellRecord[],
  stats: StatsSettings,
): Record<string, Record<string, TemperatureWinRate[]>> {
  const out: Record<string, Record<string, TemperatureWinRate[]>> = {};
  const opts = { resamples: stats.resamples, confidence: stats.confidence };
  const swept = cells.filter((c) => c.status === "ok" && c.temperatureWins);
  for (const task of [...new Set(swept.map((c) => c.task))]) {
    const mine = swept.filter((c) => c.task === task);
    out[task] = {};
    const baseline = mine.find((c) => c.referenceTemperatureWins)?.referenceTemperatureWins;
    if (baseline) {
      out[task]![REFERENCE_SERIES] = baseline.map((w) => {
        const ci = nestedBootstrapMean(
          [w.wins],
          Rng.stream(stats.seed, "bootstrap", "temperature", task, REFERENCE_SERIES, w.vs, w.temperature),
          opts,
        );
        return rate(null, w, ci, 1);
      });
    }
    for (const series of [...new Set(mine.map((c) => c.series))]) {
      const runs = mine.filter((c) => c.series === series);
      const rows: TemperatureWinRate[] = [];
      for (const knob of [...new Set(runs.map((c) => c.knobValue))]) {
        const byKnob = runs.filter((c) => c.knobValue === knob);
        for (const w of byKnob[0]!.temperatureWins!) {
          const groups = byKnob.map((c) =>
            c.temperatureWins!.find((x) => x.vs === w.vs && x.temperature === w.temperature)!.wins
          );
          const ci = nestedBootstrapMean(
            groups,
            Rng.stream(
              stats.seed,
              "bootstrap",
              "temperature",
              task,
              series,
              String(knob),
              w.vs,
              w.temperature,
            ),
            opts,
          );
          rows.push(rate(knob, w, ci, groups.length));
        }
      }
      out[task]![series] = rows;
    }
  }
  return out;
}

function rate(
  knob: TemperatureWinRate["knob"],
  w: TemperatureWins,
  ci: { value: number; lo: number; hi: number; n: number },
  seeds: number,
): TemperatureWinRate {
  return {
    knob,
    vs: w.vs,
    temperature: w.temperature,
    winRate: ci.value,
    winRateCi: [ci.lo, ci.hi],
    n: ci.n,
    seeds,
  };
}

/**
 * Every pair of series of a judged task, at every budget: for each seed both ran, each one's
 * checkpoint (with kept completions) nearest the budget, judged prompt by prompt; a before b in the
 * order the series first appear (b against a is 1 − the rate).
 */
export async function pairwiseAtMatchedKl(
  task: string,
  cells: readonly CellRecord[],
  judged: { env: TextTask; judge: Judge; budgets: readonly number[] },
  stats: StatsSettings,
): Promise<PairwiseWinRate[]> {
  const { env, judge, budgets } = judged;
  const opts = { resamples: stats.resamples, confidence: stats.confidence };
  const ok = cells.filter((c) => c.task === task && c.status === "ok");
  const series = [...new Set(ok.map((c) => c.series))];
  /** The checkpoint of `s` on `seed` nearest `kl` among those with completions (ties: the lower KL). */
  const nearest = (s: string, seed: number, kl: number) => {
    let best: { kl: number; completions: string[] } | null = null;
    for (const c of ok) {
      if (c.series !== s || c.seed !== seed) continue;
      for (const k of c.checkpoints) {
        if (!k.completions) continue;
        const d = Math.abs(k.kl - kl), bd = best ? Math.abs(best.kl - kl) : Infinity;
        if (d < bd || (d === bd && best && k.kl < best.kl)) best = { kl: k.kl, completions: k.completions };
      }
    }
    return best;
  };
  const out: PairwiseWinRate[] = [];
  for (const kl of budgets) {
    for (const [i, a] of series.entries()) {
      for (const b of series.slice(i + 1)) {
        const groups: number[][] = [], kls: [number, number][] = [];
        const seeds = [...new Set(ok.filter((c) => c.series === a).map((c) => c.seed))].sort((x, y) => x - y);
        for (const seed of seeds) {
          const ca = nearest(a, seed, kl), cb = nearest(b, seed, kl);
          if (!ca || !cb) continue;
          const rng = Rng.stream(seed, "judge", task, a, b, String(kl));
          groups.push((await judgeAll(judge, env, ca.completions, cb.completions, rng)).wins);
          kls.push([ca.kl, cb.kl]);
        }
        if (groups.length === 0) continue;
        const ci = nestedBootstrapMean(
          groups,
          Rng.stream(stats.seed, "bootstrap", "pairwise", task, a, b, kl),
          opts,
        );
        out.push({
          kl,
          a,
          b,
          winRate: ci.value,
          winRateCi: [ci.lo, ci.hi],
          n: ci.n,
          seeds: groups.length,
          klA: kls.reduce((s, k) => s + k[0], 0) / kls.length,
          klB: kls.reduce((s, k) => s + k[1], 0) / kls.length,
        });
      }
    }
  }
  return out;
}
