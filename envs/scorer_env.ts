/**
 * What fitting a reward model sees of any environment: a scorer s(x, y) of (prompt, response) rows
 * built in a training graph, its feeds, and its initial parameters. On a bandit the scorer is a table
 * (or linear in the task's features) read at each row's (context, action); on text it is a small
 * transformer over the row's decoded text, read as the gold scorer reads it.
 *
 * @module
 */
import type { DType, Graph, Tensor, TensorData } from "../engine/graph.ts";
import { Graph as G } from "../engine/graph.ts";
import type { Rng } from "../engine/rng.ts";
import type { Runtime } from "../engine/runtime.ts";
import type { Reward, Rows } from "./policy_env.ts";

/** A trainable scorer of rows. */
export interface ScorerEnv {
  /** Float type of the scorer's parameters and of the scores it returns. */
  readonly dtype: DType;
  /** Fresh initial parameters by name (drawn from `rng` where the model is not initialized at zero). */
  initialParams(rng: Rng): Map<string, TensorData>;
  /** Declares the parameters and the row inputs of `rows` rows in `g`; returns the scores `[B]`. */
  nodes(g: Graph, rows: number): Tensor;
  /** The feeds of {@link ScorerEnv.nodes} for these rows. */
  feeds(rows: Rows): Record<string, TensorData>;
  /** Rows per scoring call of a fitted scorer (one compiled shape serves every call). */
  readonly scoreBatch: number;
  /**
   * Which parameters weight decay applies to: every entry of a table or linear model (what keeps its
   * scores finite on deterministic preferences); a network's weight matrices, not its biases and norms.
   */
  decays(name: string, rank: number): boolean;
}

/**
 * The scorer at fixed parameters as a {@link Reward}: one compiled graph of `scoreBatch` rows, run on
 * chunks of rows (the last one padded by repeating its first row).
 */
export async function scorerReward(
  rt: Runtime,
  env: ScorerEnv,
  params: ReadonlyMap<string, TensorData>,
): Promise<Reward> {
  const g = new G(), n = env.scoreBatch;
  const exe = await rt.compile(g, { score: env.nodes(g, n) });
  const weights = new Map(params);
  return async (rows) => {
    const out = new Float64Array(rows.prompts.length);
    for (let start = 0; start < out.length; start += n) {
      const idx = Array.from({ length: n }, (_, i) => start + i < out.length ? start + i : start);
      const feeds: Record<string, TensorData> = env.feeds({
        prompts: idx.map((i) => rows.prompts[i]!),
        responses: idx.map((i) => rows.responses[i]!),
      });
      for (const s of exe.inputs) if (!feeds[s.name]) feeds[s.name] = weights.get(s.name)!;
      const y = (await exe.run(feeds)).score!;
      for (let i = 0; i < n && start + i < out.length; i++) out[start + i] = Number(y[i]);
    }
    return out;
  };
}
