/**
 * Environments. Bandits: contextual K-armed bandits with a known reward table, preference feedback
 * (Bradley–Terry or deterministic), exact KL / reward / win rate, and the oracle frontier π*_β.
 *
 * @module
 */
export * from "./bandit.ts";
