/**
 * The bench: suite parsing and planning, running cells, the evaluator, frontiers and the run store.
 *
 * @module
 */
export type { Cell, Suite, SuiteAlgorithm, SuiteOverrides } from "./suite.ts";
export { overrideSuite, parseSeeds, parseSuite, planCells } from "./suite.ts";
export type { Manifest, RunOptions, RunOutcome } from "./run.ts";
export { runSuite } from "./run.ts";
export { cellPairs, runCell } from "./cell.ts";
export type { Evaluation } from "./evaluate.ts";
export { evaluateBandit } from "./evaluate.ts";
export * from "./frontier.ts";
export * from "./results.ts";
export { DEFAULT_SUITE, main } from "./cli.ts";
