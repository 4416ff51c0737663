/**
 * Policies and scorers built from engine ops. Models know nothing of algorithms.
 *
 * @module
 */
export * from "./gpt.ts";
export * from "./tokenizer.ts";
export * from "./sequence_policy.ts";
export * from "./gpt_policy.ts";
export * from "./classifier.ts";
export * from "./weights.ts";
export * from "./judge.ts";
export * from "./judges.ts";
export * from "./imported_lm.ts";
export * from "./export.ts";
export * from "./hf_tokenizer.ts";
export * from "./external_scorer.ts";
