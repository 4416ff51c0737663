/**
 * The embedded corpus of the summarization task: short news items generated from a seed around five
 * key facts — who (a name), what (a verb and an object: "opened a bakery"), where (a town), when (a
 * weekday) and a number ("12 workers") — with distracting sentences that name other people, towns,
 * days and numbers (a neighbour, the weather, an earlier event), so a summary must pick the right ones.
 *
 * Each document has a reference summary, the five facts in one fixed form
 * ("maria opened a bakery in lisbon on monday with 12 workers ."), and π_ref is fine-tuned on a mix of
 * imperfect summaries ({@link SUMMARY_KINDS}): some are the reference, others miss facts, are padded
 * with distractor words, take a fact from a distracting sentence, or repeat words; so π_ref is
 * mediocre but in distribution, and there is room to improve.
 *
 * @module
 */
import { Rng } from "../engine/rng.ts";
import { splitWords } from "../models/tokenizer.ts";

/** The five key facts of a document, as words. */
export interface Facts {
  /** A name. */
  readonly who: string;
  /** The verb and the object of what happened ("opened", "bakery"; the summary says "opened a bakery"). */
  readonly verb: string;
  readonly object: string;
  /** A town. */
  readonly where: string;
  /** A weekday. */
  readonly when: string;
  /** A number and its unit ("12", "workers"). */
  readonly count: string;
  readonly unit: string;
}

/** Values of a document's distracting sentences, by the fact they could be mistaken for. */
export interface Distractors {
  readonly who: readonly string[];
  readonly where: readonly string[];
  readonly when: readonly string[];
  readonly count: readonly string[];
  /** An earlier event's verb and object, where the document tells of one. */
  readonly what: readonly { readonly verb: string; readonly object: string }[];
}

/** A generated document. */
export interface SummarizeDocument {
  /** Lower-case words and "." / "," separated by single spaces (25–40 tokens). */
  readonly text: string;
  readonly facts: Facts;
  readonly distractors: Distractors;
  /** The reference summary: {@link referenceSummary} of the facts. */
  readonly reference: string;
}

/** How an SFT summary departs from the reference. */
export type SummaryKind = "reference" | "missing" | "padded" | "wrong" | "repeated";

/** The kinds of SFT summaries and their shares of the SFT data. */
export const SUMMARY_KINDS: Readonly<Record<SummaryKind, number>> = {
  reference: 0.2,
  missing: 0.25,
  padded: 0.2,
  wrong: 0.2,
  repeated: 0.15,
};

/** An SFT example: a document and an imperfect summary of it. */
export interface SftSummary {
  readonly document: SummarizeDocument;
  readonly summary: string;
  readonly kind: SummaryKind;
}

/** How much of the corpus to generate. */
export interface SummarizeCorpusConfig {
  /** Seed of the generator's streams (each split is its own stream). */
  seed: number;
  /** Documents (one imperfect summary each) π_ref is fine-tuned on. */
  sft: number;
  /** Held-out SFT examples (π_ref's held-out loss). */
  heldOut: number;
  /** Documents of the training prompts. */
  trainPrompts: number;
  /** Documents of the evaluation prompts. */
  evalPrompts: number;
}

/** A generated corpus: the splits' documents are pairwise distinct (text-disjoint). */
export interface SummarizeCorpus {
  readonly config: SummarizeCorpusConfig;
  readonly sft: readonly SftSummary[];
  readonly heldOut: readonly SftSummary[];
  readonly trainPrompts: readonly SummarizeDocument[];
  readonly evalPrompts: readonly SummarizeDocument[];
}

/** The token that ends a prompt: `<bos> document tldr` → summary `<eos>`. */
export const SEPARATOR = "tldr";
/** Document length bounds, in tokens. */
export const MIN_DOCUMENT_TOKENS = 25;
export const MAX_DOCUMENT_TOKENS = 40;

// --- the lexicon -------------------------------------------------------------------------------------

const NAMES = [
  "maria",
  "john",
  "anna",
  "peter",
  "lucas",
  "sofia",
  "omar",
  "lena",
  "david",
  "nora",
  "ivan",
  "clara",
  "hugo",
  "elena",
  "samir",
  "julia",
  "tomas",
  "ines",
  "karl",
  "mila",
  "felix",
  "rosa",
  "amir",
  "greta",
  "paulo",
  "hana",
  "viktor",
  "alice",
];
const TOWNS = [
  "lisbon",
  "porto",
  "madrid",
  "berlin",
  "paris",
  "rome",
  "vienna",
  "oslo",
  "dublin",
  "prague",
  "warsaw",
  "athens",
  "zurich",
  "lyon",
  "milan",
  "bergen",
  "malmo",
  "ghent",
  "seville",
  "krakow",
  "turin",
  "leeds",
];
const DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const COUNTS = ["3", "5", "6", "8", "10", "12", "15", "20", "25", "30", "40", "50", "60", "80", "100", "200"];
/** What happened: verb, object, and the unit its number counts. */
const EVENTS: readonly (readonly [string, string, string])[] = [
  ["opened", "bakery", "workers"],
  ["hosted", "party", "guests"],
  ["won", "race", "runners"],
  ["started", "school", "students"],
  ["planted", "garden", "volunteers"],
  ["organized", "concert", "musicians"],
  ["painted", "mural", "artists"],
  ["built", "bridge", "workers"],
  ["led", "tour", "visitors"],
  ["held", "meeting", "members"],
  ["cooked", "dinner", "guests"],
  ["cleaned", "park", "volunteers"],
  ["launched", "shop", "customers"],
  ["played", "match", "fans"],
  ["taught", "class", "students"],
  ["fixed", "boat", "helpers"],
];
const WEATHER = ["sunny", "rainy", "cold", "warm", "windy", "grey"];
const FILLERS = [
  "the street was busy .",
  "everyone talked about it for days .",
  "the local paper wrote about it .",
  "it was a long day .",
  "people seemed happy .",
];
/** Words of the sentence templates below (kept in one list so the vocabulary is complete by construction). */
const TEMPLATE_WORDS = [
  ".",
  ",",
  "a",
  "in",
  "on",
  "with",
  "there",
  "were",
  "came",
  "it",
  "was",
  "the",
  "event",
  "took",
  "place",
  "last",
  "year",
  "earlier",
  "week",
  "before",
  "that",
  "their",
  "neighbour",
  "from",
  "lives",
  "weather",
  "and",
  "stayed",
  "away",
  "visited",
  "had",
  "near",
  "after",
  "as",
  "watched",
  "said",
  "street",
  "busy",
  "everyone",
  "talked",
  "about",
  "for",
  "days",
  "local",
  "paper",
  "wrote",
  "long",
  "day",
  "people",
  "seemed",
  "happy",
];

/** Every word of the corpus, in a fixed order (the word-level tokenizer's vocabulary). */
export const SUMMARIZE_VOCABULARY: readonly string[] = [
  ...new Set([
    ...TEMPLATE_WORDS,
    SEPARATOR,
    ...NAMES,
    ...TOWNS,
    ...DAYS,
    ...COUNTS,
    ...EVENTS.flat(),
    ...WEATHER,
  ]),
];

// --- documents ---------------------------------------------------------------------------------------

/** The reference summary: the five facts in one fixed form (12 tokens). */
export function referenceSummary(f: Facts): string {
  return `${f.who} ${f.verb} a ${f.object} in ${f.where} on ${f.when} with ${f.count} ${f.unit} .`;
}

/** Draws one element of `xs` other than those in `not`. */
function pickOther<T>(rng: Rng, xs: readonly T[], not: readonly T[]): T {
  for (;;) {
    const x = xs[rng.int(xs.length)]!;
    if (!not.includes(x)) return x;
  }
}

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)]!;
}

/** One document: the main event's sentences and 2–3 distracting ones, 25–40 tokens. */
export function generateDocument(rng: Rng): SummarizeDocument {
  for (;;) {
    const [verb, object, unit] = pick(rng, EVENTS);
    const f: Facts = {
      who: pick(rng, NAMES),
      verb,
      object,
      where: pick(rng, TOWNS),
      when: pick(rng, DAYS),
      count: pick(rng, COUNTS),
      unit,
    };
    const main = [
      `${f.who} ${verb} a ${object} in ${f.where} on ${f.when} . there were ${f.count} ${unit} .`,
      `on ${f.when} , ${f.who} ${verb} a ${object} in ${f.where} with ${f.count} ${unit} .`,
      `in ${f.where} , ${f.who} ${verb} a ${object} on ${f.when} . ${f.count} ${unit} came .`,
      `${f.who} ${verb} a ${object} on ${f.when} with ${f.count} ${unit} . the event took place in ${f.where} .`,
    ][rng.int(4)]!;
    const d = { who: [] as string[], where: [] as string[], when: [] as string[], count: [] as string[] };
    const what: { verb: string; object: string }[] = [];
    const name = () => push(d.who, pickOther(rng, NAMES, [f.who, ...d.who]));
    const town = () => push(d.where, pickOther(rng, TOWNS, [f.where, ...d.where]));
    const day = () => push(d.when, pickOther(rng, DAYS, [f.when, ...d.when]));
    const count = () => push(d.count, pickOther(rng, COUNTS, [f.count, ...d.count]));
    const distracting = [
      () => {
        const [v, o, u] = pickOther(rng, EVENTS.filter((e) => e[0] !== verb), []);
        what.push({ verb: v, object: o });
        return rng.int(2) === 0
          ? `last year , ${name()} ${v} a ${o} in ${town()} with ${count()} ${u} .`
          : `a week before , ${name()} ${v} a ${o} in ${town()} on ${day()} .`;
      },
      () =>
        rng.int(2) === 0
          ? `their neighbour ${name()} lives in ${town()} .`
          : `${name()} , a neighbour from ${town()} , visited on ${day()} .`,
      () =>
        rng.int(2) === 0
          ? `it was ${pick(rng, WEATHER)} in ${town()} that week .`
          : `the weather was ${pick(rng, WEATHER)} and ${count()} people stayed away .`,
      () => `earlier , ${name()} had ${count()} ${pick(rng, EVENTS)[2]} in ${town()} .`,
      () => pick(rng, FILLERS),
    ];
    const chosen = rng.shuffle([...distracting.keys()]).slice(0, 2 + rng.int(2)).map((k) =>
      distracting[k]!()
    );
    // The main event comes first or second, so its position alone does not give it away entirely.
    const at = rng.float() < 0.6 ? 0 : 1;
    chosen.splice(at, 0, main);
    const text = chosen.join(" ");
    const n = splitWords(text).length;
    if (n < MIN_DOCUMENT_TOKENS || n > MAX_DOCUMENT_TOKENS) continue;
    return { text, facts: f, distractors: { ...d, what }, reference: referenceSummary(f) };
  }
}

function push(xs: string[], x: string): string {
  xs.push(x);
  return x;
}

// --- imperfect summaries -----------------------------------------------------------------------------

/** The reference summary's phrases, in order; a summary of another kind edits them. */
function phrases(f: Facts): string[][] {
  return [[f.who], [f.verb, "a", f.object], ["in", f.where], ["on", f.when], ["with", f.count, f.unit]];
}

/**
 * A summary of `doc` of the given kind:
 * - `reference`: the reference summary;
 * - `missing`: one or two of who / where / when / the number left out;
 * - `padded`: distractor words added ("and omar", "near porto", "after the rainy weather");
 * - `wrong`: one fact replaced by a distracting sentence's value of the same type;
 * - `repeated`: a word or two-word span said twice.
 */
export function imperfectSummary(doc: SummarizeDocument, kind: SummaryKind, rng: Rng): string {
  const f = doc.facts, ds = doc.distractors;
  const p = phrases(f);
  switch (kind) {
    case "reference":
      break;
    case "missing": {
      const drop = rng.shuffle([0, 2, 3, 4]).slice(0, 1 + rng.int(2));
      for (const i of drop) p[i] = [];
      break;
    }
    case "padded": {
      const options = [
        () => p[0]!.push("and", ds.who[0] ?? pick(rng, NAMES.filter((n) => n !== f.who))),
        () => p[2]!.push("near", ds.where[0] ?? pick(rng, TOWNS.filter((t) => t !== f.where))),
        () => p[4]!.push("after", "the", pick(rng, WEATHER), "weather"),
        () => p[4]!.push("as", ds.who.at(-1) ?? pick(rng, NAMES.filter((n) => n !== f.who)), "watched"),
      ];
      for (const k of rng.shuffle([...options.keys()]).slice(0, 1 + rng.int(2))) options[k]!();
      break;
    }
    case "wrong": {
      const swaps: (() => void)[] = [];
      if (ds.who.length) swaps.push(() => (p[0] = [pick(rng, ds.who)]));
      if (ds.where.length) swaps.push(() => (p[2] = ["in", pick(rng, ds.where)]));
      if (ds.when.length) swaps.push(() => (p[3] = ["on", pick(rng, ds.when)]));
      if (ds.count.length) swaps.push(() => (p[4] = ["with", pick(rng, ds.count), f.unit]));
      if (ds.what.length) {
        swaps.push(() => {
          const w = pick(rng, ds.what);
          p[1] = [w.verb, "a", w.object];
        });
      }
      // Every document has a distracting name, town, day or number unless it drew only fillers and weather
      // without one; then a fact is taken from the lexicon instead.
      if (swaps.length) pick(rng, swaps)();
      else p[3] = ["on", pickOther(rng, DAYS, [f.when])];
      break;
    }
    case "repeated": {
      const words = p.flat();
      const at = rng.int(words.length);
      const span = words.slice(at, at + 1 + rng.int(2));
      words.splice(at, 0, ...span);
      return [...words, "."].join(" ");
    }
  }
  return [...p.flat(), "."].join(" ");
}

/** Draws a summary kind by {@link SUMMARY_KINDS}. */
function drawKind(rng: Rng): SummaryKind {
  const kinds = Object.keys(SUMMARY_KINDS) as SummaryKind[];
  return kinds[rng.categorical(kinds.map((k) => SUMMARY_KINDS[k]))]!;
}

/**
 * The corpus. Splits are drawn in a fixed order (evaluation prompts, training prompts, held-out, SFT),
 * each from its own stream, and a document already drawn by an earlier split is skipped, so the splits
 * are text-disjoint and the evaluation documents do not depend on the other splits' sizes.
 */
export function generateSummarizeCorpus(config: SummarizeCorpusConfig): SummarizeCorpus {
  for (const k of ["sft", "heldOut", "trainPrompts", "evalPrompts"] as const) {
    if (!(Number.isInteger(config[k]) && config[k] >= 1)) {
      throw new RangeError(`Invalid summarize corpus config: ${k} = ${config[k]} (must be an integer ≥ 1)`);
    }
  }
  const seen = new Set<string>();
  const documents = (n: number, split: string): SummarizeDocument[] => {
    const rng = Rng.stream(config.seed, "summarize", "documents", split);
    const out: SummarizeDocument[] = [];
    while (out.length < n) {
      const doc = generateDocument(rng);
      if (seen.has(doc.text)) continue;
      seen.add(doc.text);
      out.push(doc);
    }
    return out;
  };
  const summaries = (docs: SummarizeDocument[], split: string): SftSummary[] => {
    const rng = Rng.stream(config.seed, "summarize", "summaries", split);
    return docs.map((document) => {
      const kind = drawKind(rng);
      return { document, kind, summary: imperfectSummary(document, kind, rng) };
    });
  };
  const evalPrompts = documents(config.evalPrompts, "eval");
  const trainPrompts = documents(config.trainPrompts, "train");
  const heldOut = summaries(documents(config.heldOut, "heldOut"), "heldOut");
  const sft = summaries(documents(config.sft, "sft"), "sft");
  return { config, sft, heldOut, trainPrompts, evalPrompts };
}
