/**
 * The registry: the list of algorithm names a run knows. The built-in list is a plain array — no
 * registration as an import side effect — and a {@link Registry} is a value built from it explicitly:
 * a suite's plugins give a new registry with their algorithms added, so the lookup is never a table
 * frozen at import time, and tests can loop over whatever a registry holds. Every entry remembers
 * where it came from (`built-in` or a plugin's file), so a name collision names both places.
 *
 * @module
 */
import { didYouMean } from "./_hparams.ts";
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

/** Every built-in algorithm plugin, in the order reports list them. */
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

/** Where built-in algorithms come from, in {@link Registry.source}. */
export const BUILT_IN = "built-in";

/** A set of algorithms by name, each with where it came from. Immutable: `with` returns a new one. */
export class Registry {
  readonly #byName: ReadonlyMap<string, { readonly algorithm: Algorithm; readonly source: string }>;

  private constructor(byName: ReadonlyMap<string, { algorithm: Algorithm; source: string }>) {
    this.#byName = byName;
  }

  /** The built-in algorithms. */
  static builtIn(): Registry {
    return new Registry(new Map()).with(ALGORITHMS, BUILT_IN);
  }

  /**
   * This registry plus `algorithms` from `source` (a plugin's path). A name already known, or given
   * twice, is an error naming both sources.
   */
  with(algorithms: readonly Algorithm[], source: string): Registry {
    const byName = new Map(this.#byName);
    for (const algorithm of algorithms) {
      const had = byName.get(algorithm.name);
      if (had) {
        throw new RangeError(
          `algorithm "${algorithm.name}" of ${describe(source)} collides with the one of ${
            describe(had.source)
          }`,
        );
      }
      byName.set(algorithm.name, { algorithm, source });
    }
    return new Registry(byName);
  }

  /** Every algorithm, built-in ones first, then each plugin's in the order they were added. */
  list(): readonly Algorithm[] {
    return [...this.#byName.values()].map((e) => e.algorithm);
  }

  /** The algorithms that produce a policy (and so a frontier). */
  policies(): readonly PolicyAlgorithm[] {
    return this.list().filter(isPolicyAlgorithm);
  }

  /** True when `name` is known. */
  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /** `built-in`, or the path of the plugin that added `name`. */
  source(name: string): string {
    return this.#entry(name).source;
  }

  /** The known names, for error messages: `dpo, ipo, ...`. */
  known(): string {
    return [...this.#byName.keys()].join(", ");
  }

  /** The algorithm called `name`, or an error with a did-you-mean and the known names. */
  get(name: string): Algorithm {
    return this.#entry(name).algorithm;
  }

  #entry(name: string) {
    const e = this.#byName.get(name);
    if (e) return e;
    const near = didYouMean(name, [...this.#byName.keys()]);
    const hint = near ? `did you mean "${near}"? ` : "";
    throw new RangeError(`unknown algorithm "${name}" (${hint}known: ${this.known()})`);
  }
}

function describe(source: string): string {
  return source === BUILT_IN ? "the built-in registry" : `plugin "${source}"`;
}

/** The registry of the built-in algorithms. */
export const BUILT_INS: Registry = Registry.builtIn();

/** The known built-in names, for error messages: `dpo, ipo, ...`. */
export function knownAlgorithms(): string {
  return BUILT_INS.known();
}

/** The built-in plugin called `name`, or an error listing the known names. */
export function getAlgorithm(name: string): Algorithm {
  return BUILT_INS.get(name);
}

/** True for plugins that produce a policy (and so a frontier). */
export function isPolicyAlgorithm(a: Algorithm): a is PolicyAlgorithm {
  return a.kind !== "supervised";
}
