/**
 * Task definitions: the bandit tasks of `tasks/bandits.yaml`, their policy family, reward-model family
 * and preference data. Suite files (`tasks/quick.yaml`) live beside them.
 *
 * @module
 */
export * from "./bandits.ts";
