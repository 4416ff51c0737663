/**
 * The schema of a suite's `text_tasks:` entries: text tasks over local data (a dataset file, a tokenizer,
 * an ONNX gold model), checked field by field into a {@link DataTaskConfig} before anything is read, and
 * tasks derived from another text task under another preference-data regime (`base:` and `pairs:`, a
 * {@link DerivedTaskConfig}).
 * It sits beside the data tasks it configures ({@link DATA_TASK_DEFAULTS}, {@link DATASET_PRESETS}), so
 * a new field is added to the config, its defaults and its parser in one folder; the suite parser only
 * hands it the mapping and says how to report a bad field.
 *
 * @module
 */
import { dirname, join } from "node:path";
import type { DataTaskConfig, DataTaskKind } from "./data_tasks.ts";
import { DATA_TASK_DEFAULTS, DATA_TASK_KINDS } from "./data_tasks.ts";
import { DATASET_FORMATS, DATASET_PRESETS, type DatasetRole } from "./datasets.ts";
import type { PairSpec } from "../envs/text.ts";
import { PAIR_IDENTICAL, PAIR_LABELS, PAIR_TIES } from "../envs/text.ts";
import type { DerivedTaskConfig, TextTaskSpec } from "./text_tasks.ts";
import { TEXT_TASKS } from "./text_tasks.ts";

/** A suite's `text_tasks:` entry: a task over local data, or one derived from another text task. */
export type SuiteTextTask = DataTaskConfig | DerivedTaskConfig;

/** True when a `text_tasks:` entry derives from another task (it has `base`). */
export function isDerivedTask(t: SuiteTextTask): t is DerivedTaskConfig {
  return "base" in t;
}

/** Reports a bad field (`field`: its dotted path) and never returns: it throws. */
export type SchemaFail = (field: string, why: string) => never;

/** Options of {@link parseTextTasks}. */
export interface TextTaskSchemaOptions {
  /** The suite file: relative paths resolve against its folder. */
  readonly file: string;
  /** Names of built-in tasks, which a suite's own text task may not take. */
  readonly knownTasks: readonly string[];
  /** Throws the error for a bad field (the bench's names the suite file). */
  readonly fail: SchemaFail;
  /**
   * The message for an unknown key among `known` (default: `unknown key "x" (known: a, b)`); the bench
   * passes its did-you-mean wording, so every unknown key of a suite reads the same.
   */
  readonly unknownKey?: (key: string, known: readonly string[]) => string;
  /**
   * The message for an unknown name among `known` (a `base:` task, a `label:` rule), `what` saying what
   * it names (default: `unknown text task "x" (known: a, b)`); the bench passes its did-you-mean wording.
   */
  readonly unknownName?: (what: string, name: string, known: readonly string[]) => string;
  /** The built-in text tasks a derived task may name as `base` (default: {@link TEXT_TASKS}). */
  readonly textTasks?: ReadonlyMap<string, Pick<TextTaskSpec, "pairs">>;
}

const TEXT_TASK_KEYS = [
  "kind",
  "description",
  "dataset",
  "tokenizer",
  "gold",
  "rows",
  "max_rows",
  "seed",
  "prompts",
  "reference",
  "max_new_tokens",
  "pairs",
];
const DERIVED_KEYS = ["base", "description", "pairs"];
const PAIR_KEYS = ["count", "scale", "prompts", "completions", "label", "ties", "identical"];
const DATASET_KEYS = ["path", "format", "preset", "columns"];
const GOLD_KEYS = ["path", "tokenizer", "label_index", "label", "inputs", "output", "max_length", "batch"];

/**
 * Parses a suite's `text_tasks:` mapping, `{ name: { kind, dataset, tokenizer, gold, ... } }`: every
 * field checked, defaults from {@link DATA_TASK_DEFAULTS}, relative paths resolved against the folder of
 * `opts.file`. Each problem goes to `opts.fail` with the field's dotted path (`text_tasks.mine.rows`).
 *
 * @example
 * ```ts
 * const fail = (field: string, why: string): never => {
 *   throw new Error(`${field}: ${why}`);
 * };
 * const mine = {
 *   kind: "sentiment",
 *   dataset: { path: "train.parquet", preset: "imdb" },
 *   tokenizer: "tokenizer.json",
 *   gold: { path: "gold.onnx" },
 * };
 * const tasks = parseTextTasks({ mine }, { file: "suites/x.yaml", knownTasks: ["sentiment.small"], fail });
 * tasks.mine!.dataset.path; // "suites/train.parquet"
 * ```
 */
export function parseTextTasks(raw: unknown, opts: TextTaskSchemaOptions): Record<string, SuiteTextTask> {
  const { knownTasks, fail } = opts;
  if (!isRecord(raw)) {
    return fail(
      "text_tasks",
      `text_tasks = ${
        JSON.stringify(raw)
      } is not allowed (allowed: a mapping from task names to task definitions)`,
    );
  }
  const out: Record<string, SuiteTextTask> = {};
  const derived = (entry: unknown): entry is Record<string, unknown> => isRecord(entry) && "base" in entry;
  for (const [name, entry] of Object.entries(raw)) {
    const at = `text_tasks.${name}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
      fail(at, `text task name "${name}" is not allowed (allowed: letters, digits, ".", "_", "-")`);
    }
    if (knownTasks.includes(name)) fail(at, `text task "${name}" is the name of a built-in task`);
    if (!derived(entry)) out[name] = parseTextTask(entry, at, opts);
  }
  // Derived tasks second, so that a base may be listed after the tasks deriving from it.
  for (const [name, entry] of Object.entries(raw)) {
    if (derived(entry)) out[name] = parseDerivedTask(entry, `text_tasks.${name}`, out, raw, opts);
  }
  // Back in the suite's order, so the parsed mapping (and the config hash) reads like the file.
  return Object.fromEntries(Object.keys(raw).map((name) => [name, out[name]!]));
}

/** `{ base, description?, pairs? }`: the base's pairs with the fields given replaced. */
function parseDerivedTask(
  raw: Record<string, unknown>,
  at: string,
  dataTasks: Readonly<Record<string, SuiteTextTask>>,
  entries: Readonly<Record<string, unknown>>,
  opts: TextTaskSchemaOptions,
): DerivedTaskConfig {
  const { fail } = opts;
  const doc = mapping(at, raw, DERIVED_KEYS, opts);
  const builtIn = opts.textTasks ?? TEXT_TASKS;
  const bases = [
    ...builtIn.keys(),
    ...Object.entries(dataTasks).filter(([, t]) => !isDerivedTask(t)).map(([n]) => n),
  ];
  const base = doc.base;
  if (typeof base !== "string" || !bases.includes(base)) {
    const why = typeof base === "string" && base in entries
      ? `${at}.base = "${base}" is not allowed: "${base}" is itself derived (derive from its base instead)`
      : `${at}.base: ${unknownNameOf(opts)("text task", String(base), bases)}`;
    return fail(`${at}.base`, why);
  }
  const basePairs = builtIn.get(base)?.pairs ?? (dataTasks[base] as DataTaskConfig).pairs;
  const description = doc.description;
  if (description !== undefined && (typeof description !== "string" || description.trim() === "")) {
    fail(
      `${at}.description`,
      `${at}.description = ${JSON.stringify(description)} is not allowed (allowed: a non-empty string)`,
    );
  }
  return {
    base,
    ...(description !== undefined ? { description: description as string } : {}),
    pairs: parsePairs(doc.pairs, `${at}.pairs`, basePairs, opts),
  };
}

/**
 * A `pairs:` mapping over `defaults` (a data task's defaults, or a derived task's base's pairs): the
 * fields given replace those of `defaults`; the optional ones are kept only where given or inherited,
 * so a suite that sets none hashes as before they existed.
 */
export function parsePairs(
  raw: unknown,
  at: string,
  defaults: PairSpec,
  opts: TextTaskSchemaOptions,
): PairSpec {
  const { fail } = opts;
  const p = mapping(at, raw, PAIR_KEYS, opts);
  const int = (k: string, min: number): number | undefined => {
    const v = p[k];
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
      return fail(
        `${at}.${k}`,
        `${at}.${k} = ${JSON.stringify(v)} is not allowed (allowed: an integer ≥ ${min})`,
      );
    }
    return v;
  };
  const choice = <T extends string>(k: string, known: readonly T[]): T | undefined => {
    const v = p[k];
    if (v === undefined) return undefined;
    if (typeof v !== "string" || !known.includes(v as T)) {
      return fail(
        `${at}.${k}`,
        typeof v === "string"
          ? `${at}.${k}: ${unknownNameOf(opts)(`${k} rule`, v, known)}`
          : `${at}.${k} = ${JSON.stringify(v)} is not allowed (allowed: one of ${known.join(", ")})`,
      );
    }
    return v as T;
  };
  let scale = defaults.scale;
  if (p.scale !== undefined) {
    if (typeof p.scale !== "number" || Number.isNaN(p.scale) || p.scale <= 0) {
      fail(`${at}.scale`, `${at}.scale = ${JSON.stringify(p.scale)} is not allowed (allowed: a number > 0)`);
    }
    scale = p.scale as number;
  }
  const label = choice("label", PAIR_LABELS);
  if (label === "deterministic" && p.scale !== undefined) {
    fail(
      `${at}.scale`,
      `${at}.scale = ${p.scale} is not allowed with ${at}.label = deterministic (scale is the Bradley–Terry labels' sharpness)`,
    );
  }
  const given = {
    prompts: int("prompts", 1),
    completions: int("completions", 2),
    label,
    ties: choice("ties", PAIR_TIES),
    identical: choice("identical", PAIR_IDENTICAL),
  };
  const out: Record<string, unknown> = { count: int("count", 1) ?? defaults.count, scale };
  for (const k of ["prompts", "completions", "label", "ties", "identical"] as const) {
    const v = given[k] ?? defaults[k];
    if (v !== undefined) out[k] = v;
  }
  return out as unknown as PairSpec;
}

function unknownNameOf(opts: TextTaskSchemaOptions) {
  return opts.unknownName ??
    ((what: string, name: string, known: readonly string[]) =>
      `unknown ${what} "${name}" (known: ${known.join(", ")})`);
}

function parseTextTask(raw: unknown, at: string, opts: TextTaskSchemaOptions): DataTaskConfig {
  const { file, fail } = opts;
  const settings = (where: string, v: unknown, known: readonly string[]) => mapping(where, v, known, opts);
  const kindValue = isRecord(raw) ? raw.kind : undefined;
  if (typeof kindValue !== "string" || !DATA_TASK_KINDS.includes(kindValue as DataTaskKind)) {
    return fail(
      `${at}.kind`,
      `${at}.kind = ${JSON.stringify(kindValue) ?? "(missing)"} is not allowed (allowed: one of ${
        DATA_TASK_KINDS.join(", ")
      }; or no kind and base: a text task to derive from)`,
    );
  }
  const kind = kindValue as DataTaskKind;
  const doc = settings(at, raw, TEXT_TASK_KEYS);
  const d = DATA_TASK_DEFAULTS[kind];
  const path = (field: string, v: unknown): string => {
    if (typeof v !== "string" || v.trim() === "") {
      return fail(
        field,
        `${field} = ${JSON.stringify(v) ?? "(missing)"} is not allowed (allowed: a file path)`,
      );
    }
    return v.startsWith("/") ? v : join(dirname(file), v);
  };
  const text = (field: string, v: unknown): string => {
    if (typeof v !== "string" || v.trim() === "") {
      return fail(field, `${field} = ${JSON.stringify(v)} is not allowed (allowed: a non-empty string)`);
    }
    return v;
  };
  const int = (field: string, v: unknown, fallback: number, min: number): number => {
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
      return fail(field, `${field} = ${JSON.stringify(v)} is not allowed (allowed: an integer ≥ ${min})`);
    }
    return v;
  };
  const positive = (field: string, v: unknown, fallback: number, zero = false): number => {
    if (v === undefined) return fallback;
    if (typeof v !== "number" || Number.isNaN(v) || (zero ? v < 0 : v <= 0)) {
      return fail(
        field,
        `${field} = ${JSON.stringify(v)} is not allowed (allowed: a number ${zero ? "≥" : ">"} 0)`,
      );
    }
    return v;
  };

  // dataset
  const ds = doc.dataset === undefined
    ? fail(`${at}.dataset`, `${at}.dataset is missing (allowed: a mapping of ${DATASET_KEYS.join(", ")})`)
    : settings(`${at}.dataset`, doc.dataset, DATASET_KEYS);
  const roles: readonly DatasetRole[] = kind === "sentiment" ? ["text"] : ["prompt", "completion"];
  const format = ds.format;
  if (format !== undefined && !DATASET_FORMATS.includes(format as never)) {
    fail(
      `${at}.dataset.format`,
      `${at}.dataset.format = ${JSON.stringify(format)} is not allowed (allowed: one of ${
        DATASET_FORMATS.join(", ")
      })`,
    );
  }
  const preset = ds.preset;
  if (preset !== undefined && !(typeof preset === "string" && preset in DATASET_PRESETS)) {
    fail(
      `${at}.dataset.preset`,
      `${at}.dataset.preset = ${JSON.stringify(preset)} is not allowed (allowed: one of ${
        Object.keys(DATASET_PRESETS).join(", ")
      })`,
    );
  }
  const columnsDoc = settings(`${at}.dataset.columns`, ds.columns, roles);
  const columns: Partial<Record<DatasetRole, string>> = {};
  for (const [k, v] of Object.entries(columnsDoc)) {
    columns[k as DatasetRole] = text(`${at}.dataset.columns.${k}`, v);
  }
  const presetColumns: Partial<Record<DatasetRole, string>> = preset
    ? DATASET_PRESETS[preset as keyof typeof DATASET_PRESETS]
    : {};
  for (const role of roles) {
    if (!columns[role] && !presetColumns[role]) {
      fail(
        `${at}.dataset.columns.${role}`,
        `${at}.dataset names no column for "${role}" (set dataset.columns.${role}, or dataset.preset: one of ${
          Object.keys(DATASET_PRESETS).filter((p) =>
            role in DATASET_PRESETS[p as keyof typeof DATASET_PRESETS]
          ).join(", ")
        })`,
      );
    }
  }
  const dataset = {
    path: path(`${at}.dataset.path`, ds.path),
    ...(format !== undefined ? { format: format as typeof DATASET_FORMATS[number] } : {}),
    ...(preset !== undefined ? { preset: preset as keyof typeof DATASET_PRESETS } : {}),
    ...(Object.keys(columns).length ? { columns } : {}),
  };

  // gold
  const g = doc.gold === undefined
    ? fail(`${at}.gold`, `${at}.gold is missing (allowed: a mapping of ${GOLD_KEYS.join(", ")})`)
    : settings(`${at}.gold`, doc.gold, GOLD_KEYS);
  if (kind === "summarize" && (g.label_index !== undefined || g.label !== undefined)) {
    fail(
      `${at}.gold`,
      `${at}.gold: label_index and label are for sentiment classifiers (a reward model has one output)`,
    );
  }
  const inputsDoc = settings(`${at}.gold.inputs`, g.inputs, ["ids", "mask", "token_type_ids"]);
  const inputName = (k: string, v: unknown, nullable: boolean): string | null => {
    if (v === null && nullable) return null;
    return text(`${at}.gold.inputs.${k}`, v);
  };
  const inputs = {
    ...(inputsDoc.ids !== undefined ? { ids: inputName("ids", inputsDoc.ids, false)! } : {}),
    ...(inputsDoc.mask !== undefined ? { mask: inputName("mask", inputsDoc.mask, true) } : {}),
    ...(inputsDoc.token_type_ids !== undefined
      ? { tokenTypes: inputName("token_type_ids", inputsDoc.token_type_ids, true) }
      : {}),
  };
  const gold = {
    path: path(`${at}.gold.path`, g.path),
    ...(g.tokenizer !== undefined ? { tokenizer: path(`${at}.gold.tokenizer`, g.tokenizer) } : {}),
    ...(g.label_index !== undefined
      ? { labelIndex: int(`${at}.gold.label_index`, g.label_index, 1, 0) }
      : {}),
    ...(g.label !== undefined ? { label: text(`${at}.gold.label`, g.label) } : {}),
    ...(Object.keys(inputs).length ? { inputs } : {}),
    ...(g.output !== undefined ? { output: text(`${at}.gold.output`, g.output) } : {}),
    ...(g.max_length !== undefined ? { maxLength: int(`${at}.gold.max_length`, g.max_length, 128, 2) } : {}),
    ...(g.batch !== undefined ? { batch: int(`${at}.gold.batch`, g.batch, 32, 1) } : {}),
  };

  // sizes and budgets
  const p = settings(`${at}.prompts`, doc.prompts, ["train", "eval", "min_tokens", "max_tokens"]);
  const prompts = {
    train: int(`${at}.prompts.train`, p.train, d.prompts.train, 1),
    eval: int(`${at}.prompts.eval`, p.eval, d.prompts.eval, 1),
    minTokens: int(`${at}.prompts.min_tokens`, p.min_tokens, d.prompts.minTokens, 1),
    maxTokens: int(`${at}.prompts.max_tokens`, p.max_tokens, d.prompts.maxTokens, 1),
  };
  if (prompts.maxTokens < prompts.minTokens) {
    fail(
      `${at}.prompts.max_tokens`,
      `${at}.prompts.max_tokens = ${prompts.maxTokens} is not allowed (allowed: ≥ prompts.min_tokens = ${prompts.minTokens})`,
    );
  }
  const r = settings(
    `${at}.reference`,
    doc.reference,
    ["d_model", "layers", "heads", "context", "steps", "batch", "lr", "weight_decay"],
  );
  const reference = {
    dModel: int(`${at}.reference.d_model`, r.d_model, d.reference.dModel, 1),
    layers: int(`${at}.reference.layers`, r.layers, d.reference.layers, 1),
    heads: int(`${at}.reference.heads`, r.heads, d.reference.heads, 1),
    context: int(`${at}.reference.context`, r.context, d.reference.context, 2),
    steps: int(`${at}.reference.steps`, r.steps, d.reference.steps, 1),
    batch: int(`${at}.reference.batch`, r.batch, d.reference.batch, 1),
    lr: positive(`${at}.reference.lr`, r.lr, d.reference.lr),
    weightDecay: positive(`${at}.reference.weight_decay`, r.weight_decay, d.reference.weightDecay, true),
  };
  if (reference.dModel % reference.heads !== 0) {
    fail(
      `${at}.reference.heads`,
      `${at}.reference.heads = ${reference.heads} is not allowed (allowed: a divisor of d_model = ${reference.dModel})`,
    );
  }
  const pairs = parsePairs(doc.pairs, `${at}.pairs`, d.pairs, opts);
  if (pairs.prompts !== undefined && pairs.prompts > prompts.train) {
    fail(
      `${at}.pairs.prompts`,
      `${at}.pairs.prompts = ${pairs.prompts} is not allowed (allowed: at most prompts.train = ${prompts.train})`,
    );
  }
  return {
    kind,
    ...(doc.description !== undefined ? { description: text(`${at}.description`, doc.description) } : {}),
    dataset,
    tokenizer: path(`${at}.tokenizer`, doc.tokenizer),
    gold,
    rows: int(`${at}.rows`, doc.rows, d.rows, 1),
    ...(doc.max_rows !== undefined ? { maxRows: int(`${at}.max_rows`, doc.max_rows, 0, 1) } : {}),
    seed: int(`${at}.seed`, doc.seed, d.seed, 0),
    prompts,
    reference,
    maxNewTokens: int(`${at}.max_new_tokens`, doc.max_new_tokens, d.maxNewTokens, 1),
    pairs,
  };
}

/** A mapping (absent: empty) whose keys are all known; else `opts.fail` at the first bad one. */
function mapping(
  at: string,
  raw: unknown,
  known: readonly string[],
  opts: TextTaskSchemaOptions,
): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (!isRecord(raw)) {
    return opts.fail(
      at,
      `${at} = ${JSON.stringify(raw)} is not allowed (allowed: a mapping of ${known.join(", ")})`,
    );
  }
  const unknownKey = opts.unknownKey ??
    ((key: string, names: readonly string[]) => `unknown key "${key}" (known: ${names.join(", ")})`);
  for (const k of Object.keys(raw)) {
    if (!known.includes(k)) opts.fail(`${at}.${k}`, `${at}: ${unknownKey(k, known)}`);
  }
  return raw;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
