/**
 * The schema of a suite's `text_tasks:` entries: text tasks over local data (a dataset file, a tokenizer,
 * an ONNX gold model), checked field by field into a {@link DataTaskConfig} before anything is read.
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
export function parseTextTasks(raw: unknown, opts: TextTaskSchemaOptions): Record<string, DataTaskConfig> {
  const { knownTasks, fail } = opts;
  if (!isRecord(raw)) {
    return fail(
      "text_tasks",
      `text_tasks = ${
        JSON.stringify(raw)
      } is not allowed (allowed: a mapping from task names to task definitions)`,
    );
  }
  const out: Record<string, DataTaskConfig> = {};
  for (const [name, entry] of Object.entries(raw)) {
    const at = `text_tasks.${name}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
      fail(at, `text task name "${name}" is not allowed (allowed: letters, digits, ".", "_", "-")`);
    }
    if (knownTasks.includes(name)) fail(at, `text task "${name}" is the name of a built-in task`);
    out[name] = parseTextTask(entry, at, opts);
  }
  return out;
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
      })`,
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
  const pr = settings(`${at}.pairs`, doc.pairs, ["count", "scale"]);
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
    pairs: {
      count: int(`${at}.pairs.count`, pr.count, d.pairs.count, 1),
      scale: positive(`${at}.pairs.scale`, pr.scale, d.pairs.scale),
    },
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
