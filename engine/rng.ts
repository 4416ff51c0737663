/**
 * A seeded PRNG with independent named streams.
 *
 * Every random draw in prefbench comes from a stream derived from (seed, purpose...): the purpose
 * path (e.g. `["cell", 3, "sampling"]`) is hashed with the seed into a 128-bit state, so adding a new
 * stream never shifts the draws of another. The generator is xoshiro128** (Blackman & Vigna), whose
 * 32-bit arithmetic is exact in JavaScript, so the same seed gives the same numbers everywhere.
 *
 * @module
 */

/** A deterministic random stream. */
export class Rng {
  #s: Uint32Array;

  private constructor(state: Uint32Array) {
    this.#s = state;
  }

  /**
   * The stream for a seed and a purpose path.
   *
   * @example
   * ```ts
   * const init = Rng.stream(0, "cell", 3, "init");
   * const u = init.float(); // in [0, 1)
   * ```
   */
  static stream(seed: number, ...purpose: readonly (string | number)[]): Rng {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Rng seed must be a safe integer, got ${seed}`);
    const s = hash128(`${seed}\u0000${purpose.join("\u0000")}`);
    if (s[0]! === 0 && s[1]! === 0 && s[2]! === 0 && s[3]! === 0) s[0] = 1; // the all-zero state is a fixed point
    const r = new Rng(s);
    for (let i = 0; i < 8; i++) r.uint32(); // let the hashed state diffuse
    return r;
  }

  /** A child stream, independent of this one's future draws. */
  fork(...purpose: readonly (string | number)[]): Rng {
    const words = [this.uint32(), this.uint32()];
    return Rng.stream(words[0]! * 0x200000 + (words[1]! >>> 11), ...purpose);
  }

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  float(): number {
    const a = this.uint32() >>> 5, b = this.uint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** A uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x100000000) {
      throw new RangeError(`Rng.int: n must be in [1, 2^32], got ${n}`);
    }
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.uint32();
      if (x < limit) return x % n;
    }
  }

  /** A standard normal draw (Box–Muller; one draw per call, so streams stay aligned). */
  normal(): number {
    const u1 = 1 - this.float(); // (0, 1]: log never sees 0
    const u2 = this.float();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** An index drawn with probability proportional to `weights` (non-negative, not all zero). */
  categorical(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i]!;
    if (!(total > 0)) {
      throw new RangeError("Rng.categorical: weights must be non-negative with a positive sum");
    }
    let u = this.float() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i]!;
      if (u < 0) return i;
    }
    // Rounding can leave u ≥ 0 after the last weight: return the last index with positive weight.
    for (let i = weights.length - 1; i >= 0; i--) if (weights[i]! > 0) return i;
    return weights.length - 1;
  }

  /** Fisher–Yates shuffle in place; returns the array. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  }

  /** `n` normal draws scaled by `std`, as float32 (parameter initialization). */
  normalArray(n: number, std: number): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.normal() * std;
    return a;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A 128-bit hash of a string: four multiply-xorshift lanes over its UTF-16 code units. */
function hash128(str: string): Uint32Array {
  let h1 = 0x6a09e667, h2 = 0xbb67ae85, h3 = 0x3c6ef372, h4 = 0xa54ff53a;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return Uint32Array.from([h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0]);
}
