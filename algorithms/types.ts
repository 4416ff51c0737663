/**
 * What an algorithm plugin is, and what it is given. An algorithm knows these interfaces — a policy
 * written in engine ops, an environment, a preference dataset, a reward — never a concrete task;
 * `bench/` builds the context for each cell.
 *
 * Two environments, two entry points. On a bandit ({@link TrainContext}) a policy is a table and
 * everything is exact: a checkpoint is the action distribution itself. On text
 * ({@link TextTrainContext}) a policy is a GPT read through {@link SequencePolicy}, rewards come from
 * a scorer of sampled texts, and a checkpoint is a sampler the evaluator draws completions from.
 * A bandit *is* a sequence of length one, but its exactness (closed-form KL, the oracle, whole-table
 * updates) is what the bandit tests check, and forcing tables through the sequence machinery would
 * blur each file; so every algorithm file keeps one `train` (bandit) and one `trainText` (text), each
 * reading top to bottom, sharing the loss functions between them. `textDefaults` are the
 * hyperparameters a text task starts from (learning rates for a GPT are not those of a table).
 *
 * @module
 */
import type { Rng } from "../engine/rng.ts";
import type { Runtime } from "../engine/runtime.ts";
import type { StepMetrics } from "../engine/trainer.ts";
import type { Bandit, PreferencePairs } from "../envs/bandit.ts";
import type { TextEnv, TextPairs } from "../envs/text.ts";
import type { TextScorer } from "../models/classifier.ts";
import type { Tokenizer } from "../models/tokenizer.ts";
import type {
  Completions,
  SampleOptions,
  SequencePolicy,
  TrainablePolicy,
} from "../models/sequence_policy.ts";
import type { TablePolicy, TableScorer } from "../models/tabular.ts";
import type { HParamSpecs, HParamValue } from "./_hparams.ts";

/** What data an algorithm consumes and how (the DESIGN's table). */
export type AlgorithmKind = "offline-pairwise" | "online-rl" | "inference-time" | "supervised";

/** Which reward an online method or best-of-n optimizes. */
export type RewardSource = "gold" | "proxy";
/** The reward sources, for validation. */
export const REWARD_SOURCES: readonly RewardSource[] = ["gold", "proxy"];

/** A hyperparameter record: snake_case names as in suite files, plain values. */
export type HParams = Record<string, HParamValue>;

/** Everything one cell's training may use. */
export interface TrainContext {
  readonly rt: Runtime;
  /** The environment: contexts, actions, π_ref and (for exact methods) the reward tables. */
  readonly env: Bandit;
  /** The policy to train, initialized at π_ref. */
  readonly policy: TablePolicy;
  /** The cell's preference dataset, drawn from π_ref and labelled by the task's feedback. */
  readonly pairs: PreferencePairs;
  /** The reward table `[X, K]` to optimize: the gold reward, or a reward model fit on `pairs`. */
  trainingReward(source: RewardSource): Promise<Float64Array>;
  /** The cell's random stream for a purpose ("sampling", "minibatch", "init"). */
  rng(purpose: string): Rng;
  /** How many checkpoints to yield over training (the last one at the final step). */
  readonly checkpoints: number;
  /** Called after every optimizer step with that step's metrics (computed before the update). */
  readonly onStep?: (step: number, metrics: StepMetrics) => void;
}

/** A policy at some point of training, as the evaluator needs it. */
export interface Checkpoint {
  /** Optimizer steps taken (0 for inference-time methods). */
  readonly step: number;
  /** π(y|x), `[X, K]` row-major: on bandits the evaluator needs nothing else. */
  readonly probs: Float64Array;
  /** The last step's training metrics (loss, grad_norm, ...). */
  readonly metrics: Readonly<Record<string, number>>;
}

/** Everything one text cell's training may use. */
export interface TextTrainContext {
  readonly rt: Runtime;
  /** Prompts, the gold scorer, π_ref and the completion length. */
  readonly env: TextEnv;
  /**
   * The policy to train (from `policy.params`): π_ref's GPT, or any trainable sequence model such as
   * an imported ONNX causal LM.
   */
  readonly policy: TrainablePolicy;
  /** The cell's preference pairs: two completions of π_ref per training prompt, labelled by the gold reward. */
  readonly pairs: TextPairs;
  /** The reward to optimize: the gold scorer, or a reward model fit on `pairs`. */
  trainingReward(source: RewardSource): Promise<TextScorer>;
  rng(purpose: string): Rng;
  readonly checkpoints: number;
  readonly onStep?: (step: number, metrics: StepMetrics) => void;
}

/** What the evaluator samples from at a text checkpoint. */
export interface TextSampler {
  /** One completion per prompt, at the options' temperature. */
  sample(prompts: readonly (readonly number[])[], options: SampleOptions): Promise<Completions>;
}

/** A text policy at some point of training. */
export interface TextCheckpoint {
  readonly step: number;
  /**
   * A model with exact next-token distributions (the evaluator measures KL along its samples), or an
   * inference-time sampler with the KL it reports itself (best-of-n: the analytic bound).
   */
  readonly policy: { readonly model: SequencePolicy } | {
    readonly sampler: TextSampler;
    readonly kl: number;
  };
  readonly metrics: Readonly<Record<string, number>>;
}

/** Fields every plugin has. */
interface PluginBase<C extends HParams> {
  /** The name suite files and the CLI use. */
  readonly name: string;
  readonly kind: AlgorithmKind;
  /** One line for `--help`. */
  readonly summary: string;
  /** Default hyperparameters. */
  readonly defaults: Readonly<C>;
  /** Type and allowed range of every hyperparameter (validation and `--help`). */
  readonly hparams: HParamSpecs<C>;
}

/** An algorithm that produces a policy and traces a frontier with its knob. */
export interface PolicyAlgorithm<C extends HParams = HParams> extends PluginBase<C> {
  readonly kind: "offline-pairwise" | "online-rl" | "inference-time";
  /** The hyperparameter whose sweep traces the reward-vs-KL frontier (β, τ, KL coefficient, n). */
  readonly knob: keyof C & string;
  /** Trains (or, for inference-time methods, computes) the policy, yielding checkpoints. */
  train(ctx: TrainContext, config: C): AsyncGenerator<Checkpoint>;
  /** Hyperparameters a text task starts from (a suite's values override them). */
  readonly textDefaults: Readonly<C>;
  /** The same on a text environment: a GPT policy, sampled completions, a text scorer. */
  trainText(ctx: TextTrainContext, config: C): AsyncGenerator<TextCheckpoint>;
}

/** What fitting a scorer is given. */
export interface FitContext {
  readonly rt: Runtime;
  /** The scorer model (a table, or linear in the task's features). */
  readonly scorer: TableScorer;
  readonly pairs: PreferencePairs;
  readonly onStep?: (step: number, metrics: StepMetrics) => void;
}

/** A fitted scorer: its scores for every (context, action) and final metrics. */
export interface FittedScorer {
  /** s(x, y), `[X, K]`. */
  readonly scores: Float64Array;
  readonly metrics: Readonly<Record<string, number>>;
}

/** What fitting a scorer on text is given. */
export interface TextFitContext {
  readonly rt: Runtime;
  /** The task's tokenizer: the scorer reads texts as the gold scorer does. */
  readonly tokenizer: Tokenizer;
  readonly pairs: TextPairs;
  /** The random stream for a purpose ("init", "minibatch"). */
  rng(purpose: string): Rng;
  readonly onStep?: (step: number, metrics: StepMetrics) => void;
}

/** A fitted text scorer and its final metrics. */
export interface FittedTextScorer {
  readonly scorer: TextScorer;
  readonly metrics: Readonly<Record<string, number>>;
}

/** An algorithm that fits a scorer (a proxy reward) rather than a policy. */
export interface ScorerAlgorithm<C extends HParams = HParams> extends PluginBase<C> {
  readonly kind: "supervised";
  fit(ctx: FitContext, config: C): Promise<FittedScorer>;
  /** Hyperparameters on text tasks. */
  readonly textDefaults: Readonly<C>;
  /** The same on text: a scorer of whole texts, fit on pairs of completions. */
  fitText(ctx: TextFitContext, config: C): Promise<FittedTextScorer>;
}

/** Any plugin in the registry. */
export type Algorithm = PolicyAlgorithm | ScorerAlgorithm;
