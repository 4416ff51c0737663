/**
 * Hyperparameter specs and validation shared by every plugin: one spec per field gives its type and
 * allowed range, so suite parsing, `--help` and errors all come from the same place.
 *
 * @module
 */

/** A hyperparameter value as it appears in a suite file. */
export type HParamValue = number | string | boolean;

/** Type and allowed range of one hyperparameter. */
export type HParamSpec =
  | {
    readonly type: "number";
    /** Lower bound, inclusive unless `minExclusive`. */
    readonly min?: number;
    readonly minExclusive?: boolean;
    /** Upper bound, inclusive unless `maxExclusive`. */
    readonly max?: number;
    readonly maxExclusive?: boolean;
  }
  | { readonly type: "integer"; readonly min: number; readonly max?: number }
  | { readonly type: "enum"; readonly values: readonly string[] }
  | { readonly type: "boolean" };

/** One spec per field of a config. */
export type HParamSpecs<C> = { readonly [K in keyof C]: HParamSpec };

/**
 * An invalid hyperparameter: names the algorithm, the parameter, the value and what is allowed. The
 * parts are kept apart so a suite parser can say where in its file the value was
 * (`algorithms.dpo.beta = -1 is not allowed ...`).
 */
export class HParamError extends RangeError {
  /** Always "HParamError", so messages and stack traces name the kind. */
  override name = "HParamError";
  /** The plugin's name. */
  readonly algorithm: string;
  /** The hyperparameter at fault. */
  readonly key: string;
  /** What is wrong, without the algorithm: `beta = -1 is not allowed (allowed: a number in (0, ∞))`. */
  readonly detail: string;

  /** The message is `${algorithm}: ${detail}`. */
  constructor(algorithm: string, key: string, detail: string) {
    super(`${algorithm}: ${detail}`);
    this.algorithm = algorithm;
    this.key = key;
    this.detail = detail;
  }
}

/**
 * The known name closest to an unknown one, if it is close enough to be a typo: within a Damerau–
 * Levenshtein distance of 1 for short names, up to a third of the name's length for long ones.
 *
 * @example
 * ```ts
 * didYouMean("taux", ["tau", "steps"]); // "tau"
 * didYouMean("bogus", ["tau", "steps"]); // null
 * ```
 */
export function didYouMean(name: string, known: readonly string[]): string | null {
  let best: string | null = null, bestD = Math.max(1, Math.floor(name.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

/** `unknown hyperparameter "taux" (did you mean "tau"? known: tau, steps)`: the message for an unknown key. */
export function unknownName(what: string, name: string, known: readonly string[]): string {
  const guess = didYouMean(name, known);
  return `unknown ${what} "${name}" (${guess ? `did you mean "${guess}"? ` : ""}known: ${known.join(", ")})`;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The allowed range of a spec, in words: `(0, ∞)`, `integer in [1, 1024]`, `one of gold, proxy`. */
export function allowed(s: HParamSpec): string {
  switch (s.type) {
    case "number": {
      const lo = s.min === undefined ? "(-∞" : `${s.minExclusive ? "(" : "["}${s.min}`;
      const hi = s.max === undefined ? "∞)" : `${s.max}${s.maxExclusive ? ")" : "]"}`;
      return `a number in ${lo}, ${hi}`;
    }
    case "integer":
      return `an integer in [${s.min}, ${s.max === undefined ? "∞)" : `${s.max}]`}`;
    case "enum":
      return `one of ${s.values.join(", ")}`;
    case "boolean":
      return "true or false";
  }
}

/** Checks one value against its spec; throws an {@link HParamError} naming everything. */
export function checkValue(algorithm: string, key: string, spec: HParamSpec, v: unknown): HParamValue {
  const bad = () =>
    new HParamError(
      algorithm,
      key,
      `${key} = ${JSON.stringify(v)} is not allowed (allowed: ${allowed(spec)})`,
    );
  switch (spec.type) {
    case "number":
      if (typeof v !== "number" || !Number.isFinite(v)) throw bad();
      if (spec.min !== undefined && (spec.minExclusive ? v <= spec.min : v < spec.min)) throw bad();
      if (spec.max !== undefined && (spec.maxExclusive ? v >= spec.max : v > spec.max)) throw bad();
      return v;
    case "integer":
      if (typeof v !== "number" || !Number.isInteger(v) || v < spec.min) throw bad();
      if (spec.max !== undefined && v > spec.max) throw bad();
      return v;
    case "enum":
      if (typeof v !== "string" || !spec.values.includes(v)) throw bad();
      return v;
    case "boolean":
      if (typeof v !== "boolean") throw bad();
      return v;
  }
}

/**
 * A complete config from defaults and overrides: unknown keys and out-of-range values throw.
 *
 * @example
 * ```ts
 * parseHParams("dpo", DPO_HPARAMS, DPO_DEFAULTS, { beta: 0.1 }); // { beta: 0.1, ... }
 * parseHParams("dpo", DPO_HPARAMS, DPO_DEFAULTS, { beta: -1 });
 * // HParamError: dpo: beta = -1 is not allowed (allowed: a number in (0, ∞))
 * ```
 */
export function parseHParams<C extends Record<string, HParamValue>>(
  algorithm: string,
  specs: HParamSpecs<C>,
  defaults: Readonly<C>,
  overrides: Readonly<Record<string, unknown>>,
): C {
  const out: Record<string, HParamValue> = { ...defaults };
  for (const [k, v] of Object.entries(overrides)) {
    const spec = (specs as Record<string, HParamSpec>)[k];
    if (!spec) throw new HParamError(algorithm, k, unknownName("hyperparameter", k, Object.keys(specs)));
    out[k] = checkValue(algorithm, k, spec, v);
  }
  return out as C;
}
