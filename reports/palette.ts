/**
 * One colour per algorithm, the same in every report, compare page and published site: a series'
 * colour depends on its algorithm's name alone, never on which other series a run has. The built-in
 * algorithms have fixed colours from a qualitative palette (Tableau 10, chosen so that families that
 * are compared most often — DPO and IPO, GRPO and RLOO, PPO and its adaptive variant — are far apart);
 * any other name (a plugin's) gets a hue from a hash of the name. Variants of one algorithm (a series
 * `grpo loss_norm=token`, `best_of_n reward=proxy`) are lighter shades of their algorithm's colour, in
 * a fixed order of their variant text. π_ref is black and the oracle dark grey (drawn dashed).
 *
 * @module
 */

/** Fixed colours of the built-in algorithms (and of the two reference lines). */
export const ALGORITHM_COLOURS: Readonly<Record<string, string>> = {
  dpo: "#4e79a7", // blue
  ipo: "#f28e2b", // orange
  simpo: "#b07aa1", // purple
  kto: "#9c755f", // brown
  ppo: "#e15759", // red
  ppo_adaptive: "#ff9da7", // pink
  grpo: "#59a14f", // green
  rloo: "#76b7b2", // teal
  online_dpo: "#edc948", // yellow
  best_of_n: "#5f5f5f", // dark grey
  reward_model: "#bab0ac",
  "π_ref": "#000000",
  "oracle π*_β": "#444444",
};

/** The algorithm a series belongs to: its first word (`grpo loss_norm=token` → `grpo`). */
export function algorithmOf(series: string): string {
  return series.split(" ")[0]!;
}

/** The colour of an algorithm: its fixed one, else a hue hashed from its name. */
export function algorithmColour(name: string): string {
  const fixed = ALGORITHM_COLOURS[name];
  if (fixed) return fixed;
  let h = 2166136261; // FNV-1a: the same name, the same hue, on every machine
  for (const ch of name) h = Math.imul(h ^ ch.codePointAt(0)!, 16777619) >>> 0;
  return hsl(h % 360, 0.55, 0.42);
}

/**
 * The colours of `series` (in the order given): each its algorithm's colour, variants lightened by
 * their rank among that algorithm's variants in `series`, sorted by name (so the same set of variants
 * gets the same shades whatever order a run lists them in).
 */
export function seriesColours(series: readonly string[]): string[] {
  const variants = new Map<string, string[]>();
  for (const s of series) {
    const a = algorithmOf(s);
    if (s !== a && !(s in ALGORITHM_COLOURS)) variants.set(a, [...(variants.get(a) ?? []), s]);
  }
  for (const v of variants.values()) v.sort();
  return series.map((s) => {
    if (s in ALGORITHM_COLOURS) return ALGORITHM_COLOURS[s]!; // π_ref, the oracle, a built-in
    const base = algorithmColour(algorithmOf(s));
    if (s === algorithmOf(s)) return base;
    const rank = variants.get(algorithmOf(s))!.indexOf(s) + 1; // 1, 2, ...: the plain series is rank 0
    return lighten(base, Math.min(0.2 + 0.18 * (rank - 1), 0.65));
  });
}

/** `#rrggbb` mixed with white by `amount` ∈ [0, 1]. */
function lighten(hex: string, amount: number): string {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `#${c.map((v) => Math.round(v + (255 - v) * amount).toString(16).padStart(2, "0")).join("")}`;
}

function hsl(h: number, s: number, l: number): string {
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return `#${[f(0), f(8), f(4)].map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}
