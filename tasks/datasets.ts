/**
 * Local datasets for the text tasks: JSON-lines and Parquet files read as a stream of rows, with the
 * columns a task needs mapped from the file's own names, so files larger than memory are read only as
 * far as a task asks (`maxRows`).
 *
 * - JSONL: the file is read in chunks from a stream and cut at newlines; one JSON object per line
 *   (blank lines skipped). Reading stops, and the file is closed, once `maxRows` rows are out.
 * - Parquet (npm `hyparquet`): the footer is read first and the schema checked; then row group by row
 *   group, only the mapped columns' chunks are fetched through a file-backed `AsyncBuffer` (positioned
 *   reads), so row groups past `maxRows` and unmapped columns are never read. Codecs: what hyparquet
 *   reads natively (uncompressed, Snappy, which is what Hugging Face's Parquet exports use).
 *
 * A task reads roles: `text` and `label` (sentiment), `prompt` and `completion` (summarization). Presets
 * name the columns of common schemas ({@link DATASET_PRESETS}); `columns` overrides them one by one.
 * Every error names the file, and where it applies the column and the line (JSONL, from 1) or row
 * (Parquet, from 0) with the bad value.
 *
 * @module
 */
import { open } from "node:fs/promises";
import type { AsyncBuffer, FileMetaData, SchemaElement } from "npm:hyparquet@1.31.5";
import { parquetMetadataAsync, parquetReadObjects } from "npm:hyparquet@1.31.5";

/** What a task reads from a row. */
export type DatasetRole = "text" | "label" | "prompt" | "completion";

/** A row: the roles asked for, typed (`label` an integer, the others strings). */
export interface DataRow {
  readonly text?: string;
  readonly label?: number;
  readonly prompt?: string;
  readonly completion?: string;
}

/** Column names of well-known schemas. */
export const DATASET_PRESETS = {
  /** IMDb (`stanfordnlp/imdb`): `text`, `label` (0 negative, 1 positive). */
  imdb: { text: "text", label: "label" },
  /** TL;DR as `trl-lib/tldr` writes it: `prompt` (the post, ending in "TL;DR:"), `completion`. */
  tldr: { prompt: "prompt", completion: "completion" },
  /** TL;DR with a post and its summary: `post`, `summary`. */
  "tldr-post": { prompt: "post", completion: "summary" },
} as const satisfies Record<string, Partial<Record<DatasetRole, string>>>;

/** A preset's name. */
export type DatasetPreset = keyof typeof DATASET_PRESETS;

/** The file formats read. */
export const DATASET_FORMATS = ["jsonl", "parquet"] as const;
/** A dataset file format. */
export type DatasetFormat = typeof DATASET_FORMATS[number];

/** Where a dataset is and how its columns map to roles. */
export interface DatasetSpec {
  /** Path of the dataset file (a suite resolves it against the suite file's folder). */
  readonly path: string;
  /** Default: from the extension (`.jsonl`, `.ndjson`, `.json` → jsonl; `.parquet` → parquet). */
  readonly format?: DatasetFormat;
  /** A schema whose column names to use (see {@link DATASET_PRESETS}). */
  readonly preset?: DatasetPreset;
  /** Column of each role, over the preset's. */
  readonly columns?: Partial<Record<DatasetRole, string>>;
}

/** Counters a reader updates as it goes (what tests check to see that a read streamed). */
export interface ReadStats {
  /** Bytes read from the file. */
  bytesRead: number;
  /** Parquet row groups whose column chunks were read. */
  rowGroupsRead: number;
  /** Rows yielded. */
  rows: number;
}

/** Options of {@link readDataset}. */
export interface ReadDatasetOptions {
  /** The roles to read; each must map to a column. */
  readonly roles: readonly DatasetRole[];
  /** Stop after this many rows (default: every row). */
  readonly maxRows?: number;
  /** Updated while reading. */
  readonly stats?: ReadStats;
}

/** A dataset that cannot be read: names the file, and the column and row where one is at fault. */
export class DatasetError extends Error {
  override name = "DatasetError";
  readonly file: string;
  constructor(file: string, why: string) {
    super(`Cannot read dataset "${file}": ${why}`);
    this.file = file;
  }
}

const ROLE_KIND: Readonly<Record<DatasetRole, "string" | "integer">> = {
  text: "string",
  label: "integer",
  prompt: "string",
  completion: "string",
};

/** The format of a dataset: as given, or from the file's extension. */
export function datasetFormat(spec: DatasetSpec): DatasetFormat {
  if (spec.format !== undefined) {
    if (!DATASET_FORMATS.includes(spec.format)) {
      throw new DatasetError(
        spec.path,
        `format = ${JSON.stringify(spec.format)} (allowed: ${DATASET_FORMATS.join(", ")})`,
      );
    }
    return spec.format;
  }
  if (/\.(jsonl|ndjson|json)$/i.test(spec.path)) return "jsonl";
  if (/\.parquet$/i.test(spec.path)) return "parquet";
  throw new DatasetError(
    spec.path,
    `cannot tell its format from the extension (name it: format: ${DATASET_FORMATS.join(" | ")})`,
  );
}

/** The column of each role asked for: the preset's, overridden by `columns`; a role without one is an error. */
export function datasetColumns(
  spec: DatasetSpec,
  roles: readonly DatasetRole[],
): Record<DatasetRole, string> {
  if (spec.preset !== undefined && !(spec.preset in DATASET_PRESETS)) {
    throw new DatasetError(
      spec.path,
      `preset = ${JSON.stringify(spec.preset)} (allowed: ${Object.keys(DATASET_PRESETS).join(", ")})`,
    );
  }
  const preset: Partial<Record<DatasetRole, string>> = spec.preset ? DATASET_PRESETS[spec.preset] : {};
  const merged = { ...preset, ...spec.columns };
  const out = {} as Record<DatasetRole, string>;
  for (const role of roles) {
    const column = merged[role];
    if (typeof column !== "string" || column === "") {
      throw new DatasetError(
        spec.path,
        `no column is mapped to "${role}" (set columns.${role}, or a preset: ${
          Object.keys(DATASET_PRESETS).join(", ")
        })`,
      );
    }
    out[role] = column;
  }
  return out;
}

/**
 * The rows of a dataset, streamed: each row holds the asked roles, typed and checked.
 *
 * @example
 * ```ts
 * for await (const row of readDataset({ path: "data/imdb/train.parquet", preset: "imdb" }, {
 *   roles: ["text", "label"],
 *   maxRows: 1000,
 * })) console.log(row.label, row.text);
 * ```
 */
export async function* readDataset(
  spec: DatasetSpec,
  options: ReadDatasetOptions,
): AsyncGenerator<DataRow> {
  const format = datasetFormat(spec);
  const columns = datasetColumns(spec, options.roles);
  const stats = options.stats ?? { bytesRead: 0, rowGroupsRead: 0, rows: 0 };
  const maxRows = options.maxRows ?? Infinity;
  if (!(maxRows >= 0)) throw new DatasetError(spec.path, `maxRows = ${maxRows} (must be ≥ 0)`);
  if (maxRows === 0) return;
  const rows = format === "jsonl"
    ? jsonlRows(spec.path, columns, options.roles, stats)
    : parquetRows(spec.path, columns, options.roles, stats, maxRows);
  for await (const row of rows) {
    stats.rows++;
    yield row;
    if (stats.rows >= maxRows) return; // leaving the loop closes the reader, and so the file
  }
}

/** Reads rows until `maxRows` (or the end) into an array. */
export async function readDatasetRows(
  spec: DatasetSpec,
  options: ReadDatasetOptions,
): Promise<DataRow[]> {
  const out: DataRow[] = [];
  for await (const row of readDataset(spec, options)) out.push(row);
  return out;
}

/** One record's roles, typed; `where` is "line 3" or "row 17". */
function toRow(
  file: string,
  record: Record<string, unknown>,
  columns: Record<DatasetRole, string>,
  roles: readonly DatasetRole[],
  where: string,
): DataRow {
  const row: Record<string, string | number> = {};
  for (const role of roles) {
    const column = columns[role];
    if (!(column in record)) {
      const has = Object.keys(record);
      throw new DatasetError(
        file,
        `${where} has no column "${column}" (for ${role}; it has ${
          has.length ? has.map((k) => `"${k}"`).join(", ") : "no columns"
        })`,
      );
    }
    const v = record[column];
    const kind = ROLE_KIND[role];
    if (kind === "string" && typeof v === "string") row[role] = v;
    else if (kind === "integer" && typeof v === "number" && Number.isSafeInteger(v)) row[role] = v;
    else if (
      kind === "integer" && typeof v === "bigint" && v >= BigInt(Number.MIN_SAFE_INTEGER) &&
      v <= BigInt(Number.MAX_SAFE_INTEGER)
    ) row[role] = Number(v);
    else {
      const shown = typeof v === "bigint" ? `${v}` : JSON.stringify(v);
      const clipped = shown !== undefined && shown.length > 40 ? `${shown.slice(0, 40)}…` : shown;
      throw new DatasetError(
        file,
        `${where}: column "${column}" (${role}) = ${clipped} is ${describe(v)} (expected ${
          kind === "string" ? "a string" : "an integer"
        })`,
      );
    }
  }
  return row as DataRow;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "number") return Number.isInteger(v) ? "an integer out of range" : "a fractional number";
  return `a ${typeof v === "object" ? "mapping" : typeof v}`;
}

// --- JSON lines ----------------------------------------------------------------------------------------

async function* jsonlRows(
  path: string,
  columns: Record<DatasetRole, string>,
  roles: readonly DatasetRole[],
  stats: ReadStats,
): AsyncGenerator<DataRow> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new DatasetError(path, e instanceof Deno.errors.NotFound ? "no such file" : String(e));
  }
  const reader = file.readable.getReader();
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let pending = "", lineNo = 0, done = false;
  const parse = (line: string): DataRow | null => {
    lineNo++;
    if (line.trim() === "") return null;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (e) {
      throw new DatasetError(
        path,
        `line ${lineNo} is not valid JSON (${e instanceof Error ? e.message.split("\n")[0] : e})`,
      );
    }
    if (typeof record !== "object" || record === null || Array.isArray(record)) {
      throw new DatasetError(path, `line ${lineNo} is not a JSON object (got ${describe(record)})`);
    }
    return toRow(path, record as Record<string, unknown>, columns, roles, `line ${lineNo}`);
  };
  try {
    while (!done) {
      const chunk = await reader.read();
      let text: string;
      try {
        text = chunk.done ? decoder.decode() : decoder.decode(chunk.value, { stream: true });
      } catch {
        throw new DatasetError(path, `line ${lineNo + 1} is not UTF-8 text`);
      }
      if (chunk.done) done = true;
      else stats.bytesRead += chunk.value.byteLength;
      pending += text;
      let at: number;
      while ((at = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, at).replace(/\r$/, "");
        pending = pending.slice(at + 1);
        const row = parse(line);
        if (row) yield row;
      }
    }
    const row = pending === "" ? null : parse(pending);
    if (row) yield row;
  } finally {
    await reader.cancel().catch(() => {}); // closes the file, also when the consumer stops early
  }
}

// --- Parquet -------------------------------------------------------------------------------------------

/** A Parquet file on disk as hyparquet's `AsyncBuffer`: each slice one positioned read, counted. */
async function fileBuffer(path: string, stats: ReadStats) {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
  } catch (e) {
    throw new DatasetError(
      path,
      (e as { code?: string }).code === "ENOENT" ? "no such file" : String(e),
    );
  }
  const { size } = await handle.stat();
  const buffer: AsyncBuffer = {
    byteLength: size,
    async slice(start: number, end = size) {
      const out = new Uint8Array(Math.max(0, end - start));
      let at = 0;
      while (at < out.length) {
        const { bytesRead } = await handle.read(out, at, out.length - at, start + at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      stats.bytesRead += at;
      return out.buffer;
    },
  };
  return { buffer, close: () => handle.close() };
}

/** Bytes of the footer read up front (hyparquet reads more if the footer is larger). */
const FOOTER_FETCH = 1 << 16;

async function* parquetRows(
  path: string,
  columns: Record<DatasetRole, string>,
  roles: readonly DatasetRole[],
  stats: ReadStats,
  maxRows: number,
): AsyncGenerator<DataRow> {
  const { buffer, close } = await fileBuffer(path, stats);
  try {
    let metadata: FileMetaData;
    try {
      metadata = await parquetMetadataAsync(buffer, { initialFetchSize: FOOTER_FETCH });
    } catch (e) {
      throw new DatasetError(path, `not a readable Parquet file (${e instanceof Error ? e.message : e})`);
    }
    checkParquetSchema(path, metadata.schema, columns, roles);
    const wanted = [...new Set(roles.map((r) => columns[r]))];
    let start = 0, yielded = 0;
    for (const group of metadata.row_groups) {
      if (yielded >= maxRows) break;
      const n = Number(group.num_rows);
      const end = Math.min(start + n, start + (maxRows - yielded));
      let records: Record<string, unknown>[];
      try {
        records = await parquetReadObjects({
          file: buffer,
          metadata,
          columns: wanted,
          rowStart: start,
          rowEnd: end,
        });
      } catch (e) {
        throw new DatasetError(
          path,
          `rows ${start}..${end - 1}: ${e instanceof Error ? e.message : e}`,
        );
      }
      stats.rowGroupsRead++;
      for (let i = 0; i < records.length; i++) {
        yield toRow(path, records[i]!, columns, roles, `row ${start + i}`);
        yielded++;
      }
      start += n;
    }
  } finally {
    await close();
  }
}

/** Checks up front that every mapped column exists at the top level and holds the role's type. */
function checkParquetSchema(
  path: string,
  schema: readonly SchemaElement[],
  columns: Record<DatasetRole, string>,
  roles: readonly DatasetRole[],
): void {
  // The schema is a flattened tree, root first: the root's children are the top-level columns.
  const top: SchemaElement[] = [];
  let i = 1;
  const skip = (): void => {
    const el = schema[i++]!;
    for (let c = 0; c < (el.num_children ?? 0); c++) skip();
  };
  for (let c = 0; c < (schema[0]?.num_children ?? 0); c++) {
    top.push(schema[i]!);
    skip();
  }
  for (const role of roles) {
    const column = columns[role];
    const el = top.find((e) => e.name === column);
    if (!el) {
      throw new DatasetError(
        path,
        `no column "${column}" (for ${role}; the file has ${top.map((e) => `"${e.name}"`).join(", ")})`,
      );
    }
    const type = el.num_children ? "a group" : el.type ?? "untyped";
    const ok = ROLE_KIND[role] === "string"
      ? el.type === "BYTE_ARRAY"
      : el.type === "INT32" || el.type === "INT64";
    if (!ok) {
      throw new DatasetError(
        path,
        `column "${column}" (${role}) is ${type}${el.type === "BYTE_ARRAY" ? " (strings)" : ""} (expected ${
          ROLE_KIND[role] === "string" ? "strings (BYTE_ARRAY)" : "integers (INT32 or INT64)"
        })`,
      );
    }
  }
}
