/**
 * What an algorithm plugin is, and what it is given. An algorithm knows these interfaces — a policy
 * environment ({@link PolicyEnv}: the policy's graph nodes over rows of prompts and responses, its
 * rollouts, π_ref), a preference dataset, a reward of rows — never a concrete task; `bench/` builds the
 * context for each cell. A bandit is the environment whose prompts and responses are one token each,
 * so every algorithm has one `train` that runs on bandits and on text alike.
 *
 * `defaults` are the hyperparameters a bandit starts from and `textDefaults` those of a text task
 * (learning rates for a GPT are not those of a table); a suite's values override either.
 *
 * @module
 */
import type { TensorData } from "../engine/graph.ts";
import type { Rng } from "../engine/rng.ts";
import type { Runtime } from "../engine/runtime.ts";
import type { StepMetrics } from "../engine/trainer.ts";
import type { PairData, PolicyEnv, Reward } from "../envs/policy_env.ts";
import type { ScorerEnv } from "../envs/scorer_env.ts";
import type { Completions, SampleOptions } from "../models/sequence_policy.ts";
import type { HParamSpecs, HParamValue } from "./_hparams.ts";

/** What data an algorithm consumes and how. */
export type AlgorithmKind = "offline-pairwise" | "online-rl" | "inference-time" | "supervised";

/** Which reward an online method or best-of-n optimizes. */
export type RewardSource = "gold" | "proxy";
/** The reward sources, for validation. */
export const REWARD_SOURCES: readonly RewardSource[] = ["gold", "proxy"];

/** A hyperparameter record: snake_case names as in suite files, plain values. */
export type HParams = Record<string, HParamValue>;

/** Everything one cell's training may use. */
export interface TrainContext {
  /** The cell's ONNX Runtime: compiles and runs every graph the training builds. */
  readonly rt: Runtime;
  /** The policy to train (initialized at π_ref) in its environment. */
  readonly env: PolicyEnv;
  /** The cell's preference pairs, drawn from π_ref and labelled by the task's feedback. */
  readonly pairs: PairData;
  /** The reward to optimize: the gold reward, or a reward model fit on `pairs`. */
  trainingReward(source: RewardSource): Promise<Reward>;
  /** The cell's random stream for a purpose ("sampling", "minibatch", "init"). */
  rng(purpose: string): Rng;
  /** How many checkpoints to yield over training (the last one at the final step). */
  readonly checkpoints: number;
  /** Called after every optimizer step with that step's metrics (computed before the update). */
  readonly onStep?: (step: number, metrics: StepMetrics) => void;
}

/** What the evaluator samples from at an inference-time checkpoint. */
export interface Sampler {
  /** One response per prompt, at the options' temperature. */
  sample(prompts: readonly (readonly number[])[], options: SampleOptions): Promise<Completions>;
}

/**
 * A policy at a checkpoint, in one of three forms: trained parameters (the environment's model at
 * those values); an inference-time sampler with the KL it reports itself (best-of-n: the analytic
 * bound); or, on an enumerable response space ({@link PolicyEnv.support}), the exact distribution.
 */
export type CheckpointPolicy =
  | { readonly params: ReadonlyMap<string, TensorData> }
  | { readonly sampler: Sampler; readonly kl: number }
  | {
    /** π(y|x) `[prompts, responses]` row-major, in the order of the support. */
    readonly distribution: Float64Array;
  };

/** A policy at some point of training, as the evaluator needs it. */
export interface Checkpoint {
  /** Optimizer steps taken (0 for inference-time methods). */
  readonly step: number;
  /** The policy in one of its three forms (parameters, sampler, exact distribution). */
  readonly policy: CheckpointPolicy;
  /** Training metrics (loss, grad_norm, ...). */
  readonly metrics: Readonly<Record<string, number>>;
}

/** Fields every plugin has: the common base of {@link PolicyAlgorithm} and {@link ScorerAlgorithm}. */
export interface PluginBase<C extends HParams> {
  /** The name suite files and the CLI use. */
  readonly name: string;
  /** What data the algorithm consumes, which decides how the bench runs it. */
  readonly kind: AlgorithmKind;
  /** One line for `--help`. */
  readonly summary: string;
  /** Default hyperparameters on bandits. */
  readonly defaults: Readonly<C>;
  /** Default hyperparameters on text tasks. */
  readonly textDefaults: Readonly<C>;
  /** Type and allowed range of every hyperparameter (validation and `--help`). */
  readonly hparams: HParamSpecs<C>;
}

/** An algorithm that produces a policy and traces a frontier with its knob. */
export interface PolicyAlgorithm<C extends HParams = HParams> extends PluginBase<C> {
  /** A policy algorithm's kind: anything but `supervised`. */
  readonly kind: "offline-pairwise" | "online-rl" | "inference-time";
  /** The hyperparameter whose sweep traces the reward-vs-KL frontier (β, τ, KL coefficient, n). */
  readonly knob: keyof C & string;
  /** Trains (or, for inference-time methods, computes) the policy, yielding checkpoints. */
  train(ctx: TrainContext, config: C): AsyncGenerator<Checkpoint>;
}

/** What fitting a scorer is given. */
export interface FitContext {
  /** The ONNX Runtime that compiles and runs the fit's graphs. */
  readonly rt: Runtime;
  /** The scorer model of the task (a table, linear in features, a small text classifier). */
  readonly scorer: ScorerEnv;
  /** The preference pairs to fit the scorer on (chosen and rejected responses per prompt). */
  readonly pairs: PairData;
  /** The random stream for a purpose ("init", "minibatch"). */
  rng(purpose: string): Rng;
  /** Called after every optimizer step with that step's metrics (computed before the update). */
  readonly onStep?: (step: number, metrics: StepMetrics) => void;
}

/** A fitted scorer: the reward it gives rows, and the fit's final metrics. */
export interface FittedScorer {
  /** The fitted scorer as a reward of rows. */
  readonly reward: Reward;
  /** Metrics of the fit at its end (e.g. the reward model's loss and accuracy over all pairs). */
  readonly metrics: Readonly<Record<string, number>>;
}

/** An algorithm that fits a scorer (a proxy reward) rather than a policy. */
export interface ScorerAlgorithm<C extends HParams = HParams> extends PluginBase<C> {
  /** A scorer algorithm's kind: always `supervised`. */
  readonly kind: "supervised";
  /** Fits the task's scorer to `ctx.pairs` with hyperparameters `config`. */
  fit(ctx: FitContext, config: C): Promise<FittedScorer>;
}

/** Any plugin in the registry. */
export type Algorithm = PolicyAlgorithm | ScorerAlgorithm;
