/**
 * Policies and scorers built from engine ops. Models know nothing of algorithms.
 *
 * @module
 */
export * from "./gpt.ts";
