/**
 * A contextual bandit as a sequence task of length one: a row's prompt is the context id `[x]`, its
 * response one action `[y]`, and the policy's network is its table (or log-linear) model. Every
 * per-token tensor is `[B, 1]` with the mask all ones, so a loop's token means, sequence sums and GAE
 * reduce to the per-sample quantities of the bandit literature; π_ref's log-probabilities and the
 * reward are table look-ups, and the whole response space is enumerable ({@link PolicyEnv.support}),
 * which is what lets the evaluator and best-of-n be exact.
 *
 * Rollouts draw x ~ p(x), then the group's actions y ~ π(·|x), from one stream in that order.
 *
 * @module
 */
import type { Graph, TensorData } from "../engine/graph.ts";
import { arrayFor } from "../engine/graph.ts";
import type { Rng } from "../engine/rng.ts";
import type { Runtime } from "../engine/runtime.ts";
import type { Completions, SampleOptions } from "../models/sequence_policy.ts";
import { TokenSampler } from "../models/sequence_policy.ts";
import type { PolicyReader, TablePolicy, TableScorer } from "../models/tabular.ts";
import { compileLogProbs } from "../models/tabular.ts";
import type { Bandit, PreferencePairs } from "./bandit.ts";
import type { PairData, PolicyEnv, Reward, Rows, SequenceNodes, Support } from "./policy_env.ts";
import { entropyOf } from "./policy_env.ts";
import type { ScorerEnv } from "./scorer_env.ts";

/** Parameter name of the bandit value head V(x) (one value per context). */
export const VALUE_HEAD = "value.table";

/** Graph inputs of bandit rows. */
const ROW = { index: "seq.index", context: "seq.context" } as const;

/** A bandit policy environment: the {@link PolicyEnv} of a table policy, and its forward pass. */
export interface BanditPolicyEnv extends PolicyEnv {
  readonly bandit: Bandit;
  /** π(y|x) `[X, K]` of the policy at `params`. */
  probs(params: ReadonlyMap<string, TensorData>): Promise<Float64Array>;
}

/** The bandit's policy environment over `policy` (compiles its forward pass once). */
export async function banditPolicyEnv(
  rt: Runtime,
  bandit: Bandit,
  policy: TablePolicy,
): Promise<BanditPolicyEnv> {
  const { contexts: x, actions: k } = bandit;
  const dtype = policy.dtype;
  const readLogp: PolicyReader = await compileLogProbs(rt, policy);
  const support = banditSupport(bandit);
  const flat = (rows: Rows) => rows.prompts.map((p, i) => p[0]! * k + rows.responses[i]![0]!);
  const oneToken = (rows: Rows, table: ArrayLike<number>) => {
    const f = flat(rows), values = new Float64Array(f.length);
    for (let i = 0; i < f.length; i++) values[i] = table[f[i]!]!;
    return singletons(values);
  };
  return {
    bandit,
    dtype,
    context: 2,
    maxNewTokens: 1,
    eos: null,
    foldSteps: 1,
    prompts: support.prompts,
    support,
    initialParams(options = {}) {
      const init = policy.init();
      if (options.valueHead) init.set(VALUE_HEAD, arrayFor(dtype, x));
      return init;
    },
    nodes(g: Graph, rows: number, options = {}): SequenceNodes {
      const logpAll = policy.logProbs(g); // [X, K]
      const index = g.input(ROW.index, [rows], "int64"); // x·K + y
      const seqLogp = g.gather(g.reshape(logpAll, [x * k]), index); // [B]
      const nodes: { -readonly [K in keyof SequenceNodes]: SequenceNodes[K] } = {
        tokenLogp: g.reshape(seqLogp, [rows, 1]),
        seqLogp,
        mask: g.fill([rows, 1], 1, dtype),
      };
      if (options.valueHead || options.entropy) {
        const context = g.input(ROW.context, [rows], "int64");
        if (options.valueHead) {
          nodes.values = g.reshape(g.gather(g.param(VALUE_HEAD, [x], dtype), context), [rows, 1]);
        }
        if (options.entropy) nodes.entropy = g.reshape(entropyOf(g, g.gather(logpAll, context)), [rows, 1]);
      }
      return nodes;
    },
    feeds: (rows) => ({
      [ROW.index]: indices(flat(rows)),
      [ROW.context]: indices(rows.prompts.map((p) => p[0]!)),
    }),
    tokenFeed: (_rows, perToken) => {
      const out = arrayFor(dtype, perToken.length) as Float32Array | Float64Array;
      perToken.forEach((v, i) => (out[i] = v[0]!));
      return out;
    },
    perToken: (rows, values) =>
      singletons(Float64Array.from({ length: rows.prompts.length }, (_, i) => Number(values[i]!))),
    async rollout(params, o) {
      const logp = await readLogp(params);
      const rows = sampleGroups(bandit, logp.map(Math.exp), o.prompts, o.group, o.rng);
      return { ...rows, old: oneToken(rows, logp), ref: oneToken(rows, bandit.refLogProbs) };
    },
    sampleReference: (prompts, options) =>
      Promise.resolve(sampleTable(bandit.refLogProbs, k, prompts, options)),
    referenceLogProbs: (rows) => Promise.resolve(oneToken(rows, bandit.refLogProbs)),
    probs: async (params) => (await readLogp(params)).map(Math.exp),
  };
}

/** Every context and action of a bandit, with π_ref. */
export function banditSupport(b: Bandit): Support {
  return {
    prompts: tokens(b.contexts),
    responses: tokens(b.actions),
    refLogProbs: b.refLogProbs,
  };
}

/** Every (context, action) row of a bandit, context-major: row x·K + y. */
export function allRows(b: Bandit): Rows {
  const s = banditSupport(b);
  return {
    prompts: s.prompts.flatMap((p) => s.responses.map(() => p)),
    responses: s.prompts.flatMap(() => s.responses),
  };
}

/** A reward table `[X, K]` as a {@link Reward} of rows. */
export function tableReward(b: Bandit, table: ArrayLike<number>): Reward {
  return (rows) =>
    Promise.resolve(
      Float64Array.from(rows.prompts, (p, i) => table[p[0]! * b.actions + rows.responses[i]![0]!]!),
    );
}

/** A bandit's preference dataset as rows: prompt `[x]`, chosen `[y_w]`, rejected `[y_l]`. */
export function pairRows(p: PreferencePairs): PairData {
  return {
    prompts: Array.from(p.x, (x) => Int32Array.of(x)),
    chosen: Array.from(p.chosen, (y) => Int32Array.of(y)),
    rejected: Array.from(p.rejected, (y) => Int32Array.of(y)),
  };
}

/** `prompts` contexts x ~ p(x), each with `group` actions y ~ π(·|x); sample i is in group ⌊i / group⌋. */
export function sampleGroups(b: Bandit, probs: Float64Array, prompts: number, group: number, rng: Rng): Rows {
  const out: { prompts: Int32Array[]; responses: Int32Array[] } = { prompts: [], responses: [] };
  const k = b.actions;
  // One array per context and action, shared by the rows that hold it (rows are read, never written).
  const xs = tokens(b.contexts), ys = tokens(k);
  for (let p = 0; p < prompts; p++) {
    const c = rng.categorical(b.contextProbs);
    const row = probs.subarray(c * k, (c + 1) * k);
    for (let j = 0; j < group; j++) {
      out.prompts.push(xs[c]!);
      out.responses.push(ys[rng.categorical(row)]!);
    }
  }
  return out;
}

/** One action per prompt from a log-probability table, drawn as a GPT's tokens are ({@link TokenSampler}). */
function sampleTable(
  logp: Float64Array,
  k: number,
  prompts: readonly (readonly number[])[],
  options: SampleOptions,
): Completions {
  const sampler = new TokenSampler(k, options);
  const draws = prompts.map((p) => sampler.draw(logp.subarray(p[0]! * k, (p[0]! + 1) * k), options.rng));
  return {
    prompts: prompts.map((p) => Int32Array.from(p)),
    responses: draws.map((d) => Int32Array.of(d.token)),
    logProbs: draws.map((d) => Float64Array.of(d.logProb)),
    sampleLogProbs: draws.map((d) => Float64Array.of(d.sampleLogProb)),
    finished: new Uint8Array(prompts.length),
  };
}

/** A bandit's reward-model environment: a table (or linear) scorer of (context, action) rows. */
export function banditScorerEnv(b: Bandit, scorer: TableScorer): ScorerEnv {
  const k = b.actions;
  return {
    dtype: scorer.dtype,
    initialParams: () => scorer.init(),
    nodes: (g, rows) =>
      g.gather(g.reshape(scorer.scores(g), [scorer.contexts * k]), g.input(ROW.index, [rows], "int64")),
    feeds: (rows) => ({
      [ROW.index]: indices(rows.prompts.map((p, i) => p[0]! * k + rows.responses[i]![0]!)),
    }),
    // Score tables are whole: one forward of every row at once.
    scoreBatch: b.contexts * k,
    decays: () => true,
  };
}

/** `[0], [1], ..., [n − 1]`: one-token sequences, as views of one buffer. */
function tokens(n: number): Int32Array[] {
  const ids = Int32Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: n }, (_, i) => ids.subarray(i, i + 1));
}

/** One-element views of `values`: a per-token array per row, without an allocation of its own each. */
function singletons(values: Float64Array): Float64Array[] {
  return Array.from({ length: values.length }, (_, i) => values.subarray(i, i + 1));
}

function indices(v: readonly number[]): BigInt64Array {
  const out = new BigInt64Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = BigInt(v[i]!);
  return out;
}
