/**
 * The embedded review corpus of the sentiment task: movie reviews generated from a seed by a small
 * grammar, each labelled by the generator (1 positive, 0 negative).
 *
 * Sentiment is deliberately not a bag of words (the point of the DPO paper's IMDb task is a reward that
 * reads the text): a clause's polarity is its word's polarity flipped by negation ("not bad", "i did
 * not enjoy", "never disappoints"), intensifiers ("very", "truly") keep it, and in a contrast ("A , but
 * B", "although A , B") the second clause decides. Every sentiment-bearing clause of a review that is
 * not the first half of a contrast agrees with the label; neutral sentences ("i watched it last night")
 * add vocabulary but no signal.
 *
 * @module
 */
import { Rng } from "../engine/rng.ts";
import { splitWords } from "../models/tokenizer.ts";

/** A labelled review. */
export interface Review {
  /** Lower-case words and punctuation separated by single spaces. */
  readonly text: string;
  /** 1 positive, 0 negative. */
  readonly label: 0 | 1;
}

/** How much of the corpus to generate. */
export interface CorpusConfig {
  /** Seed of the generator's streams (train, held-out and probe draws are independent streams). */
  seed: number;
  /** Training reviews. */
  train: number;
  /** Held-out reviews (prompts are prefixes of these; classifier accuracy is measured on them). */
  heldOut: number;
  /** Held-out probe phrases, every one negated ("the plot was not bad ."). */
  probe: number;
}

/** A generated corpus. */
export interface Corpus {
  readonly config: CorpusConfig;
  readonly train: readonly Review[];
  readonly heldOut: readonly Review[];
  /** Short negated reviews that never appear in `train` (text-disjoint), for the classifier's probe. */
  readonly probe: readonly Review[];
}

/** Longest review, in tokens (so BOS + review + EOS fits a 32-token context). */
export const MAX_REVIEW_TOKENS = 30;

// --- the lexicon -------------------------------------------------------------------------------------

const NOUNS_SINGULAR = [
  "movie",
  "film",
  "story",
  "plot",
  "acting",
  "script",
  "dialogue",
  "ending",
  "soundtrack",
  "music",
  "score",
  "direction",
  "cinematography",
  "pacing",
  "humor",
  "premise",
  "climax",
  "finale",
  "cast",
  "villain",
  "hero",
  "editing",
  "screenplay",
  "animation",
  "atmosphere",
  "narrative",
  "opening",
  "romance",
];
const NOUNS_PLURAL = [
  "characters",
  "performances",
  "visuals",
  "effects",
  "jokes",
  "songs",
  "scenes",
  "actors",
  "costumes",
  "sets",
  "twists",
];
/** Nouns for "it was a good <noun>". */
const FILM_NOUNS = [
  "film",
  "movie",
  "story",
  "ride",
  "watch",
  "experience",
  "effort",
  "debut",
  "thriller",
  "comedy",
  "drama",
  "sequel",
  "adaptation",
  "western",
  "musical",
];
const POSITIVE = [
  "good",
  "great",
  "excellent",
  "wonderful",
  "brilliant",
  "superb",
  "fantastic",
  "amazing",
  "delightful",
  "charming",
  "beautiful",
  "moving",
  "clever",
  "funny",
  "engaging",
  "gripping",
  "enjoyable",
  "fresh",
  "solid",
  "strong",
  "memorable",
  "stunning",
  "touching",
  "thoughtful",
  "powerful",
  "smart",
  "witty",
  "lovely",
  "impressive",
  "compelling",
  "entertaining",
  "heartfelt",
  "remarkable",
  "satisfying",
  "perfect",
  "fun",
  "outstanding",
  "captivating",
  "refreshing",
  "elegant",
  "thrilling",
];
const NEGATIVE = [
  "bad",
  "awful",
  "terrible",
  "boring",
  "dull",
  "weak",
  "poor",
  "horrible",
  "dreadful",
  "tedious",
  "bland",
  "clumsy",
  "silly",
  "stupid",
  "lazy",
  "messy",
  "forgettable",
  "predictable",
  "painful",
  "annoying",
  "disappointing",
  "flat",
  "lifeless",
  "shallow",
  "pointless",
  "confusing",
  "sloppy",
  "cheap",
  "tiresome",
  "awkward",
  "mediocre",
  "lame",
  "pathetic",
  "unfunny",
  "overlong",
  "stale",
  "hollow",
  "generic",
  "wooden",
  "incoherent",
  "dreary",
];
const INTENSIFIERS = [
  "very",
  "really",
  "extremely",
  "incredibly",
  "truly",
  "quite",
  "so",
  "remarkably",
  "genuinely",
  "absolutely",
  "pretty",
];
/** [past tense, base form] of verbs with an object: "i loved the plot", "i did not love the plot". */
const VERBS_POSITIVE: readonly (readonly [string, string])[] = [
  ["loved", "love"],
  ["enjoyed", "enjoy"],
  ["liked", "like"],
  ["adored", "adore"],
  ["admired", "admire"],
  ["appreciated", "appreciate"],
];
const VERBS_NEGATIVE: readonly (readonly [string, string])[] = [
  ["hated", "hate"],
  ["disliked", "dislike"],
  ["loathed", "loathe"],
  ["detested", "detest"],
  ["resented", "resent"],
];
/** [third person singular, plural] of verbs without an object: "the ending works". */
const ACTS_POSITIVE: readonly (readonly [string, string])[] = [
  ["works", "work"],
  ["shines", "shine"],
  ["delivers", "deliver"],
  ["succeeds", "succeed"],
  ["soars", "soar"],
  ["impresses", "impress"],
  ["excels", "excel"],
];
const ACTS_NEGATIVE: readonly (readonly [string, string])[] = [
  ["fails", "fail"],
  ["drags", "drag"],
  ["disappoints", "disappoint"],
  ["stumbles", "stumble"],
  ["sags", "sag"],
  ["flops", "flop"],
  ["bores", "bore"],
];
const OPENERS = ["overall", "honestly", "frankly", "in short", "all in all", "to be honest", "in the end"];
const NEUTRAL = [
  "i watched it {when} .",
  "i saw it {when} {where} .",
  "we watched it {when} {with} .",
  "it runs about {num} hours .",
  "the film is based on a {source} .",
  "i went in with no expectations .",
  "my {person} recommended it to me .",
  "it came out {ago} .",
  "i have seen it {times} now .",
  "it was filmed in {place} .",
];
const FILL: Readonly<Record<string, readonly string[]>> = {
  when: ["last night", "on sunday", "yesterday", "last week", "this morning", "on friday"],
  where: ["at the cinema", "at home", "on a plane", "at a festival", "on television"],
  with: ["with my family", "with friends", "with my wife", "with my husband", "with the kids"],
  num: ["two", "three"],
  source: ["novel", "book", "true story", "comic", "play"],
  person: ["friend", "brother", "sister", "mother", "father", "teacher"],
  ago: ["last year", "this year", "years ago", "a decade ago"],
  times: ["twice", "three times", "once"],
  place: ["london", "paris", "new york", "canada", "spain"],
};

/** Every word the generator can emit, in a fixed order (the tokenizer's vocabulary). */
export const SENTIMENT_VOCABULARY: readonly string[] = (() => {
  const seen = new Set<string>();
  const add = (s: string) => splitWords(s).forEach((w) => seen.add(w));
  [".", ",", "the", "this", "these", "it", "i", "we", "a", "an", "was", "is", "were", "are", "not"].forEach(
    add,
  );
  ["never", "hardly", "did", "but", "although", "and", "at", "all", "though"].forEach(add);
  [
    ...NOUNS_SINGULAR,
    ...NOUNS_PLURAL,
    ...FILM_NOUNS,
    ...POSITIVE,
    ...NEGATIVE,
    ...INTENSIFIERS,
    ...VERBS_POSITIVE.flat(),
    ...VERBS_NEGATIVE.flat(),
    ...ACTS_POSITIVE.flat(),
    ...ACTS_NEGATIVE.flat(),
    ...OPENERS,
    ...NEUTRAL.map((s) => s.replace(/\{\w+\}/g, "")),
    ...Object.values(FILL).flat(),
  ].forEach(add);
  return [...seen];
})();

// --- the grammar ---------------------------------------------------------------------------------------

type Polarity = 1 | -1;

/** `words(s)`: a clause whose sentiment is s. */
type Clause = (r: Rng, s: Polarity) => string;

function pick<T>(r: Rng, xs: readonly T[]): T {
  return xs[r.int(xs.length)]!;
}

function adjective(r: Rng, s: Polarity): string {
  return pick(r, s > 0 ? POSITIVE : NEGATIVE);
}

/** An optional intensifier (with a trailing space) — it never changes the polarity. */
function intens(r: Rng, p = 0.35): string {
  return r.float() < p ? `${pick(r, INTENSIFIERS)} ` : "";
}

/** A noun phrase with its number: ["the plot", false], ["these jokes", true]. */
function nounPhrase(r: Rng): [string, boolean] {
  const plural = r.float() < 0.3;
  const noun = pick(r, plural ? NOUNS_PLURAL : NOUNS_SINGULAR);
  const det = r.float() < 0.75 ? "the" : plural ? "these" : "this";
  return [`${det} ${noun}`, plural];
}

function be(r: Rng, plural: boolean): string {
  const past = r.float() < 0.7;
  return plural ? (past ? "were" : "are") : (past ? "was" : "is");
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? "an" : "a";
}

/** Clause templates, each with its weight. Negated forms use the opposite word polarity. */
const CLAUSES: readonly (readonly [number, Clause])[] = [
  [3, (r, s) => { // the plot was very good
    const [np, pl] = nounPhrase(r);
    return `${np} ${be(r, pl)} ${intens(r)}${adjective(r, s)}`;
  }],
  [2.5, (r, s) => { // the plot was not (very) bad / hardly good
    const [np, pl] = nounPhrase(r);
    const neg = r.float() < 0.8 ? `not ${intens(r, 0.25)}` : "hardly ";
    return `${np} ${be(r, pl)} ${neg}${adjective(r, -s as Polarity)}`;
  }],
  [1.5, (r, s) => { // i really loved the plot
    const [np] = nounPhrase(r);
    return `i ${r.float() < 0.25 ? "really " : ""}${
      pick(r, s > 0 ? VERBS_POSITIVE : VERBS_NEGATIVE)[0]
    } ${np}`;
  }],
  [1.5, (r, s) => { // i did not (really) like the plot
    const [np] = nounPhrase(r);
    const v = pick(r, s > 0 ? VERBS_NEGATIVE : VERBS_POSITIVE)[1];
    return `i did not ${r.float() < 0.25 ? "really " : ""}${v} ${np}`;
  }],
  [1, (r, s) => { // the ending works
    const [np, pl] = nounPhrase(r);
    return `${np} ${pick(r, s > 0 ? ACTS_POSITIVE : ACTS_NEGATIVE)[pl ? 1 : 0]}`;
  }],
  [1, (r, s) => { // the ending never disappoints
    const [np, pl] = nounPhrase(r);
    return `${np} never ${pick(r, s > 0 ? ACTS_NEGATIVE : ACTS_POSITIVE)[pl ? 1 : 0]}`;
  }],
  [1.5, (r, s) => { // it was a very good film / it was not a good film
    const neg = r.float() < 0.4;
    const adj = adjective(r, (neg ? -s : s) as Polarity);
    const mod = neg ? "" : intens(r, 0.3);
    const first = mod === "" ? adj : mod;
    return `it ${r.float() < 0.7 ? "was" : "is"} ${neg ? "not " : ""}${article(first)} ${mod}${adj} ${
      pick(r, FILM_NOUNS)
    }`;
  }],
];
const CLAUSE_TOTAL = CLAUSES.reduce((a, [w]) => a + w, 0);

function clause(r: Rng, s: Polarity): string {
  let u = r.float() * CLAUSE_TOTAL;
  for (const [w, c] of CLAUSES) {
    u -= w;
    if (u < 0) return c(r, s);
  }
  return CLAUSES[0]![1](r, s);
}

/** One sentence carrying polarity s: a clause, two agreeing clauses, or a contrast ending in s. */
function sentimentSentence(r: Rng, s: Polarity): string {
  const u = r.float();
  const opener = r.float() < 0.15 ? `${pick(r, OPENERS)} , ` : "";
  if (u < 0.3) {
    const first = clause(r, -s as Polarity), second = clause(r, s);
    if (r.float() < 0.7) return `${opener}${first} , but ${second} .`;
    return `${opener}although ${first} , ${second} .`;
  }
  if (u < 0.45) return `${opener}${clause(r, s)} and ${clause(r, s)} .`;
  return `${opener}${clause(r, s)} .`;
}

function neutralSentence(r: Rng): string {
  return pick(r, NEUTRAL).replace(/\{(\w+)\}/g, (_, k: string) => {
    return pick(r, FILL[k]!);
  });
}

/** A short fragment review: "very good .", "not bad .", "not bad at all .". */
function fragment(r: Rng, s: Polarity): string {
  if (r.float() < 0.5) return `${intens(r, 0.5)}${adjective(r, s)} .`;
  return `not ${intens(r, 0.2)}${adjective(r, -s as Polarity)}${r.float() < 0.3 ? " at all" : ""} .`;
}

/** One review with its label. */
export function generateReview(r: Rng): Review {
  for (;;) {
    const label: 0 | 1 = r.float() < 0.5 ? 1 : 0;
    const s: Polarity = label === 1 ? 1 : -1;
    let text: string;
    if (r.float() < 0.08) text = fragment(r, s);
    else {
      const n = 1 + r.int(3);
      const at = r.int(n); // at least one sentence carries the sentiment
      const parts: string[] = [];
      for (let i = 0; i < n; i++) {
        parts.push(i !== at && r.float() < 0.3 ? neutralSentence(r) : sentimentSentence(r, s));
      }
      text = parts.join(" ");
    }
    if (splitWords(text).length <= MAX_REVIEW_TOKENS) return { text, label };
  }
}

/** One probe review: a single negated clause, or a negated fragment. */
function probeReview(r: Rng): Review {
  const label: 0 | 1 = r.float() < 0.5 ? 1 : 0;
  const s: Polarity = label === 1 ? 1 : -1;
  const forms: ((r: Rng) => string)[] = [
    (r) => `${CLAUSES[1]![1](r, s)} .`,
    (r) => `${CLAUSES[3]![1](r, s)} .`,
    (r) => `${CLAUSES[5]![1](r, s)} .`,
    (r) => `not ${adjective(r, -s as Polarity)} .`,
    (r) => {
      const adj = adjective(r, -s as Polarity);
      return `it was not ${article(adj)} ${adj} ${pick(r, FILM_NOUNS)} .`;
    },
  ];
  return { text: pick(r, forms)(r), label };
}

/**
 * Generates the corpus: train, held-out and probe reviews from independent streams of `seed`.
 * Probe texts are removed from the training set, so the probe measures generalization of negation.
 *
 * @example
 * ```ts
 * const corpus = generateCorpus({ seed: 0, train: 1000, heldOut: 200, probe: 100 });
 * corpus.train[0]; // { text: "the plot was not bad .", label: 1 } (for example)
 * ```
 */
export function generateCorpus(config: CorpusConfig): Corpus {
  for (const k of ["train", "heldOut", "probe"] as const) {
    if (!Number.isInteger(config[k]) || config[k] < 0) {
      throw new RangeError(`Invalid corpus config: ${k} = ${config[k]} (must be an integer ≥ 0)`);
    }
  }
  const probeRng = Rng.stream(config.seed, "sentiment", "probe");
  const probe: Review[] = [];
  const probeTexts = new Set<string>();
  while (probe.length < config.probe) {
    const p = probeReview(probeRng);
    if (probeTexts.has(p.text)) continue;
    probeTexts.add(p.text);
    probe.push(p);
  }
  const draw = (purpose: string, n: number, exclude: ReadonlySet<string>) => {
    const r = Rng.stream(config.seed, "sentiment", purpose);
    const out: Review[] = [];
    while (out.length < n) {
      const review = generateReview(r);
      if (!exclude.has(review.text)) out.push(review);
    }
    return out;
  };
  const train = draw("train", config.train, probeTexts);
  const heldOut = draw("held-out", config.heldOut, new Set());
  return { config: { ...config }, train, heldOut, probe };
}
