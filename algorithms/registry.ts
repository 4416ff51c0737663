/**
 * The registry: the only list of algorithm names. A plain list — no registration as an import side
 * effect — so tests can loop over it and error messages can name every known algorithm.
 *
 * @module
 */
import { bestOfN } from "./best_of_n.ts";
import { dpo } from "./dpo.ts";
import { grpo } from "./grpo.ts";
import { ipo } from "./ipo.ts";
import { kto } from "./kto.ts";
import { onlineDpo } from "./online_dpo.ts";
import { ppo, ppoAdaptive } from "./ppo.ts";
import { rewardModel } from "./reward_model.ts";
import { rloo } from "./rloo.ts";
import { simpo } from "./simpo.ts";
import type { Algorithm, PolicyAlgorithm } from "./types.ts";

/** Every algorithm plugin, in the order reports list them. */
export const ALGORITHMS: readonly Algorithm[] = [
  dpo,
  ipo,
  simpo,
  kto,
  ppo,
  ppoAdaptive,
  grpo,
  rloo,
  onlineDpo,
  bestOfN,
  rewardModel,
] as const;

/** Checks that names are unique; returns a lookup by name. */
export function indexAlgorithms(list: readonly Algorithm[]): ReadonlyMap<string, Algorithm> {
  const byName = new Map<string, Algorithm>();
  for (const a of list) {
    if (byName.has(a.name)) throw new Error(`Duplicate algorithm name "${a.name}" in the registry`);
    byName.set(a.name, a);
  }
  return byName;
}

const BY_NAME = indexAlgorithms(ALGORITHMS);

/** The known names, for error messages: `dpo, ipo, ...`. */
export function knownAlgorithms(): string {
  return [...BY_NAME.keys()].join(", ");
}

/** The plugin called `name`, or an error listing the known names. */
export function getAlgorithm(name: string): Algorithm {
  const a = BY_NAME.get(name);
  if (!a) throw new RangeError(`unknown algorithm "${name}" (known: ${knownAlgorithms()})`);
  return a;
}

/** True for plugins that produce a policy (and so a frontier). */
export function isPolicyAlgorithm(a: Algorithm): a is PolicyAlgorithm {
  return a.kind !== "supervised";
}
