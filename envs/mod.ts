/**
 * Environments. Bandits: contextual K-armed bandits with a known reward table, preference feedback
 * (Bradley–Terry or deterministic), exact KL / reward / win rate, and the oracle frontier π*_β.
 * Text: prompts, a gold text scorer, and KL(π‖π_ref) as the exact next-token KL summed along samples.
 *
 * @module
 */
export * from "./bandit.ts";
export * from "./text.ts";
export * from "./policy_env.ts";
export * from "./scorer_env.ts";
export * from "./bandit_policy.ts";
export * from "./text_policy.ts";
