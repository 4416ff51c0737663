/**
 * The results format (`prefbench.results/1`): one record per cell in `results.jsonl`, and the
 * aggregate `results.json` the report is built from. Wall-clock values appear only in fields named
 * `wallSeconds`, `startedAt` and `finishedAt`, so two runs of one config compare byte for byte once
 * those are stripped.
 *
 * @module
 */
import type { HParams } from "../algorithms/types.ts";
import type { OraclePoint } from "../envs/bandit.ts";
import type { BanditTask } from "../tasks/bandits.ts";
import type { FrontierPoint, GapSummary } from "./frontier.ts";
import { gapToOracle, meanPoints, oracleFrontier, paretoEnvelope } from "./frontier.ts";

/** The schema tag of `results.json`. */
export const RESULTS_SCHEMA = "prefbench.results/1";

/** One evaluated checkpoint. */
export interface CheckpointRecord {
  step: number;
  /** Exact KL(π‖π_ref) on bandits (nats). */
  kl: number;
  /** Expected gold reward. */
  reward: number;
  /** Gold win rate against π_ref, ties ½. */
  winRate: number;
  /** Expected proxy reward, for cells trained on the proxy. */
  proxyReward?: number;
  /** Seconds since the cell started. */
  wallSeconds: number;
  /** The training metrics of the last step (loss, grad_norm, ...). */
  metrics: Record<string, number>;
  /** π(y|x), `[context][action]`, 6 significant digits. */
  probs?: number[][];
}

/** One cell's outcome (a line of `results.jsonl`). */
export interface CellRecord {
  id: string;
  task: string;
  algorithm: string;
  series: string;
  knob: string;
  knobValue: number | string | boolean;
  hparams: HParams;
  seed: number;
  status: "ok" | "error";
  error?: string;
  checkpoints: CheckpointRecord[];
  /** The proxy reward model's fit, for cells trained on the proxy. */
  rewardModel?: Record<string, number>;
  wallSeconds: number;
}

/** What the report needs to know about a task. */
export interface TaskInfo {
  description: string;
  contexts: number;
  actions: number;
  actionNames: string[];
  policy: string;
  /** π_ref(y|x), `[context][action]`. */
  reference: number[][];
  /** Gold reward, `[context][action]`. */
  reward: number[][];
}

/** `results.json`. */
export interface Results {
  schema: typeof RESULTS_SCHEMA;
  suite: string;
  configHash: string;
  startedAt: string;
  finishedAt: string;
  tasks: Record<string, TaskInfo>;
  cells: CellRecord[];
  /** Every series' seed-averaged points, per task. */
  points: Record<string, Record<string, FrontierPoint[]>>;
  /** Pareto envelopes of `points`: the frontiers. */
  frontiers: Record<string, Record<string, FrontierPoint[]>>;
  /** The oracle frontier π*_β on bandits. */
  oracle: Record<string, OraclePoint[]>;
  /** Each frontier's reward gap to the oracle at matched KL. */
  gaps: Record<string, Record<string, GapSummary>>;
}

/** Builds the aggregate from finished cells (in plan order) and the tasks they ran on. */
export function aggregate(
  meta: { suite: string; configHash: string; startedAt: string; finishedAt: string },
  tasks: ReadonlyMap<string, BanditTask>,
  cells: readonly CellRecord[],
): Results {
  const r: Results = {
    schema: RESULTS_SCHEMA,
    ...meta,
    tasks: {},
    cells: [...cells],
    points: {},
    frontiers: {},
    oracle: {},
    gaps: {},
  };
  const taskNames = [...new Set(cells.map((c) => c.task))];
  for (const name of taskNames) {
    const task = tasks.get(name)!;
    const b = task.bandit;
    const rows = (t: Float64Array) =>
      Array.from(
        { length: b.contexts },
        (_, x) => Array.from(t.subarray(x * b.actions, (x + 1) * b.actions)),
      );
    r.tasks[name] = {
      description: task.description,
      contexts: b.contexts,
      actions: b.actions,
      actionNames: [...b.actionNames],
      policy: task.policy,
      reference: rows(b.refLogProbs.map(Math.exp)),
      reward: rows(b.reward),
    };
    r.oracle[name] = oracleFrontier(b);
    r.points[name] = {};
    r.frontiers[name] = {};
    r.gaps[name] = {};
    const ok = cells.filter((c) => c.task === name && c.status === "ok");
    for (const series of [...new Set(ok.map((c) => c.series))]) {
      const pts = meanPoints(
        ok.filter((c) => c.series === series).flatMap((c) =>
          c.checkpoints.map((k) => ({ knob: c.knobValue, step: k.step, kl: k.kl, reward: k.reward }))
        ),
      );
      const envelope = paretoEnvelope(pts);
      r.points[name]![series] = pts;
      r.frontiers[name]![series] = envelope;
      r.gaps[name]![series] = gapToOracle(b, envelope);
    }
  }
  return r;
}

/** Rounds to 6 significant digits (probabilities in records: enough to read, small to store). */
export function round6(v: number): number {
  return v === 0 ? 0 : Number(v.toPrecision(6));
}
