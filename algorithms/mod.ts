/**
 * Algorithm plugins and their registry: dpo (with its cDPO, robust, hinge and length-normalized
 * losses), ipo, simpo, kto, ppo, ppo_adaptive (PPO with the adaptive KL controller, knob target_kl),
 * grpo (with its loss normalizations), rloo, online_dpo, best_of_n, and the reward_model behind proxy
 * rewards. Each plugin declares its hyperparameters (bandit `defaults` and `textDefaults`, allowed
 * ranges), its frontier knob, and one `train` that yields checkpoints on bandits and text alike.
 *
 * @module
 */
export type {
  Algorithm,
  AlgorithmKind,
  Checkpoint,
  CheckpointPolicy,
  FitContext,
  FittedScorer,
  HParams,
  PluginBase,
  PolicyAlgorithm,
  RewardSource,
  Sampler,
  ScorerAlgorithm,
  TrainContext,
} from "./types.ts";
export {
  ALGORITHMS,
  BUILT_IN,
  BUILT_INS,
  getAlgorithm,
  isPolicyAlgorithm,
  knownAlgorithms,
  Registry,
} from "./registry.ts";
export { allowed, HParamError, parseHParams } from "./_hparams.ts";
export type { HParamSpec, HParamSpecs, HParamValue } from "./_hparams.ts";
export { dpo, dpoLoss, hingeDpoLoss, robustDpoLoss } from "./dpo.ts";
export { simpo, simpoLoss } from "./simpo.ts";
export { kto, ktoLoss, ktoReferencePoint } from "./kto.ts";
export { looAdvantages, rloo, rlooLoss } from "./rloo.ts";
export { labelByReward, onlineDpo, onlineDpoLoss } from "./online_dpo.ts";
export { ipo, ipoLoss } from "./ipo.ts";
export { adaptiveKlCoef, clippedSurrogate, gae, ppo, ppoAdaptive, valueLoss } from "./ppo.ts";
export { groupAdvantages, grpo, grpoLoss, k3 } from "./grpo.ts";
export { bestOfN, bestOfNKlBound, bestOfNPolicy, empiricalBestOfNKl } from "./best_of_n.ts";
export { bradleyTerryLoss, rewardModel } from "./reward_model.ts";
// What the bench needs to read a suite's hyperparameters and name unknown keys, without reaching into
// `_hparams.ts`.
export { checkValue, didYouMean, unknownName } from "./_hparams.ts";
export { REWARD_MODEL_DEFAULTS } from "./reward_model.ts";
export type { RewardModelConfig } from "./reward_model.ts";
