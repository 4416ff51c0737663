/**
 * An example task plugin, written only against prefbench's public API: `bandit.two-arms`, one context,
 * two actions of gold reward 1 and 0, π_ref uniform, 32 preference pairs drawn from π_ref with
 * deterministic labels (the better arm always wins). Everything about it is exact: the oracle is
 * π*_β(good) = e^{1/β} / (e^{1/β} + 1), so every algorithm's frontier can be read against it.
 *
 *   deno task bench --plugin examples/two_arms.ts --tasks bandit.two-arms --algorithms dpo,ipo,ppo
 *
 * @module
 */
import { makeBandit } from "prefbench";
import type { BanditTask } from "prefbench";

/** The task: its bandit, a tabular policy, and pairs sampled from π_ref. */
export const twoArms: BanditTask = {
  name: "bandit.two-arms",
  description:
    "Example plugin: one context, two arms of gold reward 1 and 0, π_ref uniform, deterministic labels.",
  bandit: makeBandit({
    actionNames: ["good", "bad"],
    reward: [[1, 0]],
    refProbs: [[0.5, 0.5]],
    feedback: "deterministic",
  }),
  policy: "tabular",
  features: null,
  pairs: { sample: 32 },
};

/** What the harness loads from a plugin module. */
export const tasks = [twoArms];
