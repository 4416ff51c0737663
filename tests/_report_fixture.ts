/**
 * A small, hostile, deterministic run for the report tests: two bandit tasks (one single-context, one
 * whose name is a script tag), two series with two knob values and three seeds, checkpoints with exact
 * KL, reward and win rate, text samples and training curves (what text tasks will carry), and a
 * manifest whose config holds a script tag. `writeRun` lays it out as a run folder.
 */
import type { CellRecord, CheckpointRecord, Manifest, Results } from "../results/mod.ts";
import { aggregate } from "../bench/aggregate.ts";
import type { Suite } from "../bench/suite.ts";
import type { Bandit } from "../envs/bandit.ts";
import { exactKl, expectedReward, makeBandit, refProbs, softmaxRows, winRateVsRef } from "../envs/bandit.ts";
import type { BanditTask } from "../tasks/bandits.ts";

/** What every string from data, configs and model output is replaced by somewhere in the fixture. */
export const EVIL = "<script>alert(1)</script>";
/** An HTML payload that would also make a request if it were ever parsed as HTML. */
export const EVIL_IMG = `<img src="x-evil.png" onerror="alert(2)">`;

/** The single-context task's name, and the hostile one's. */
export const TINY = "bandit.tiny";
export const HOSTILE = `bandit.${EVIL}`;

function task(name: string, bandit: Bandit, description: string): BanditTask {
  return { name, description, bandit, policy: "tabular", features: null, pairs: { sample: 8 } };
}

/** The tasks, by name. */
export const TASKS: ReadonlyMap<string, BanditTask> = new Map([
  [
    TINY,
    task(
      TINY,
      makeBandit({
        actionNames: ["a", "b", EVIL],
        reward: [[1, 0, -1]],
        refProbs: [[1, 1, 1]],
        feedback: "deterministic",
      }),
      `One context, three actions; description with ${EVIL}`,
    ),
  ],
  [
    HOSTILE,
    task(
      HOSTILE,
      makeBandit({
        actionNames: ["x", "y", "z", "w"],
        reward: [[0.5, 0, 1, -0.5], [1, 0.2, 0, 0]],
        refProbs: [[1, 2, 1, 1], [1, 1, 1, 1]],
        feedback: "bradley_terry",
      }),
      `Two contexts ${EVIL_IMG}`,
    ),
  ],
]);

/**
 * A checkpoint of a policy that moves `strength` of the way towards the best action: logits
 * log π_ref + strength·r, evaluated exactly.
 */
function checkpoint(b: Bandit, step: number, strength: number, withText: boolean): CheckpointRecord {
  const ref = refProbs(b);
  const logits = ref.map((p, i) => Math.log(p) + strength * b.reward[i]!);
  const probs = softmaxRows(logits, b.actions);
  const rows = Array.from(
    { length: b.contexts },
    (_, x) => Array.from(probs.subarray(x * b.actions, (x + 1) * b.actions)),
  );
  const ck: CheckpointRecord = {
    step,
    kl: exactKl(b, probs),
    reward: expectedReward(b, probs),
    winRate: winRateVsRef(b, probs),
    wallSeconds: 0,
    metrics: { loss: 1 / step },
    probs: rows,
  };
  if (withText) {
    ck.samples = [
      { prompt: `prompt one ${EVIL}`, completion: `completion ${EVIL} ${EVIL_IMG}`, reward: 0.75, kl: 1.5 },
      { prompt: "prompt two", completion: "a plain completion", reward: 0.25, reference: `ref ${EVIL}` },
    ];
  }
  return ck;
}

/** What the fixture varies: text fields, a shift of dpo's policies, and series names by algorithm. */
export interface FixtureOptions {
  text?: boolean;
  shift?: number;
  /** The series name of each algorithm's cells (default: the algorithm's name). */
  series?: Readonly<Record<string, string>>;
}

/** The cells: per task, dpo (β) and ipo (τ), two knob values each, seeds 0–2, two checkpoints. */
export function fixtureCells(opts: FixtureOptions = {}): CellRecord[] {
  const cells: CellRecord[] = [];
  for (const [name, t] of TASKS) {
    for (const [algorithm, knob, values] of [["dpo", "beta", [0.1, 1]], ["ipo", "tau", [0.3, 3]]] as const) {
      for (const value of values) {
        for (const seed of [0, 1, 2]) {
          // Smaller knob values move further; seeds differ a little; `shift` moves dpo further still.
          const base = (1 / value) * (1 + 0.05 * seed) + (algorithm === "dpo" ? opts.shift ?? 0 : 0);
          const checkpoints = [
            checkpoint(t.bandit, 10, base / 2, false),
            checkpoint(t.bandit, 20, base, opts.text ?? true),
          ];
          const cell: CellRecord = {
            id: `${name}/${algorithm}/${knob}=${value}/seed=${seed}`,
            task: name,
            algorithm,
            series: opts.series?.[algorithm] ?? algorithm,
            knob,
            knobValue: value,
            hparams: { [knob]: value, note: EVIL },
            seed,
            status: "ok",
            checkpoints,
            wallSeconds: 0,
          };
          if (opts.text ?? true) {
            cell.curve = [1, 5, 10, 15, 20].map((step) => ({
              step,
              metrics: { "losses/policy": 1 / (step * value) + 0.01 * seed, [`charts/${EVIL}`]: step * 0.1 },
            }));
          }
          cells.push(cell);
        }
      }
    }
  }
  return cells;
}

/** The fixture's aggregate. */
export function fixtureResults(opts: FixtureOptions = {}): Results {
  const r = aggregate(
    {
      suite: `suite ${EVIL}`,
      configHash: "c0ffee".padEnd(64, "0"),
      startedAt: "2026-01-02T03:04:05.000Z",
      finishedAt: "2026-01-02T03:05:06.000Z",
      environment: {
        executionProvider: "cpu",
        threads: 1,
        deno: "2.9.6",
        v8: "v8",
        typescript: "ts",
        onnxruntime: "1.30.0",
        os: "linux",
        arch: "x86_64",
      },
    },
    fixtureCells(opts),
    { bandits: TASKS, stats: { resamples: 200, confidence: 0.95, seed: 0 } },
  );
  if (opts.text ?? true) addJudged(r);
  return r;
}

/**
 * Judged win rates on the hostile task, as a summarization task would have them: per temperature
 * against references and π_ref (a line per knob value, and π_ref's), and dpo against ipo at two budgets.
 */
function addJudged(r: Results): void {
  const temps = [0, 0.25, 0.5, 0.75, 1];
  const rows = (knob: number | null, base: number) =>
    temps.flatMap((temperature) =>
      (["reference", "pi_ref"] as const).map((vs) => {
        const w = base - 0.2 * temperature + (vs === "pi_ref" ? 0.15 : 0);
        return {
          knob,
          vs,
          temperature,
          winRate: w,
          winRateCi: [w - 0.05, w + 0.05] as [number, number],
          n: 96,
          seeds: 3,
        };
      })
    );
  r.temperatureWinRates = {
    [HOSTILE]: {
      "π_ref": rows(null, 0.35).filter((x) => x.vs === "reference"),
      dpo: [...rows(0.1, 0.6), ...rows(1, 0.5)],
      ipo: rows(0.3, 0.55),
    },
  };
  r.pairwise = {
    [HOSTILE]: [0.5, 1].map((kl) => ({
      kl,
      a: "dpo",
      b: "ipo",
      winRate: 0.6,
      winRateCi: [0.5, 0.7] as [number, number],
      n: 96,
      seeds: 3,
      klA: kl * 0.9,
      klB: kl * 1.1,
    })),
  };
  r.judges = { [HOSTILE]: `facts ${EVIL}` };
}

/** A manifest whose resolved config carries a script tag. */
export function fixtureManifest(overrides: Partial<Manifest<Suite>> = {}): Manifest<Suite> {
  const suite = {
    name: `suite ${EVIL}`,
    file: "tasks/evil.yaml",
    seeds: [0, 1, 2],
    checkpoints: 2,
    tasks: [...TASKS.keys()],
    algorithms: [{ name: "dpo", fixed: { note: EVIL }, sweep: [["beta", [0.1, 1]]] }],
    rewardModel: {},
    divergence: { maxGradNorm: null, maxKl: null },
    stats: { resamples: 200, confidence: 0.95, seed: 0 },
  } as unknown as Suite;
  const environment = fixtureResults({ text: false }).environment!;
  return {
    harness: "prefbench 0.1.0",
    gitCommit: "0123456789abcdef0123456789abcdef01234567",
    gitDirty: true,
    suite,
    configHash: "c0ffee".padEnd(64, "0"),
    deno: "2.9.6",
    onnxruntime: "1.30.0",
    executionProvider: "cpu",
    threads: 1,
    environment,
    machine: { os: "linux", arch: "x86_64", cpu: `cpu ${EVIL}`, cores: 2, memoryGiB: 8, gpu: null },
    seeds: [0, 1, 2],
    cells: 24,
    startedAt: "2026-01-02T03:04:05.000Z",
    resumes: [],
    finishedAt: "2026-01-02T03:05:06.000Z",
    ...overrides,
  };
}

/** Writes a run folder `<root>/<id>/` with manifest.json and results.json; returns its path. */
export async function writeRun(
  root: string,
  id: string,
  results: Results | Record<string, unknown>,
  manifest: Manifest = fixtureManifest(),
): Promise<string> {
  const dir = `${root}/${id}`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify(manifest, null, 2));
  await Deno.writeTextFile(`${dir}/results.json`, JSON.stringify(results));
  return dir;
}
