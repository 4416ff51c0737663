/**
 * A run shared by several processes: its plan (the cells, in a fixed order with stable ids, as JSON
 * lines) and its records, wherever they were written.
 *
 * Where records go. The process that runs a whole suite appends each record to `results.jsonl` (one
 * fsynced `O_APPEND` write). Worker processes — `run-cell`, the `--jobs` pool, Slurm array tasks — do
 * not share that file: Linux keeps one `write()` to a local file whole, but a long line can take several
 * writes, and on NFS (where cluster run folders live) `O_APPEND` is not atomic across machines at all.
 * Each worker instead writes `cells/<index>.json` atomically (a temporary sibling renamed into place;
 * rename is atomic on NFS too), so no two processes ever write the same file's bytes. The records of a
 * run are `results.jsonl` ∪ `cells/*.json`, each cell counted once (by id); finishing the run gathers
 * them into `results.jsonl` in plan order and removes `cells/`.
 *
 * @module
 */
import type { CellRecord } from "../results/mod.ts";
import { readRecords, writeAtomic } from "./store.ts";
import type { Cell } from "./suite.ts";

/** The folder of a run that holds one record file per cell written by worker processes. */
export const CELLS_DIR = "cells";

/** One line of `bench plan`: a cell as JSON, keys in a fixed order. */
export function planLine(cell: Cell): string {
  return JSON.stringify({
    index: cell.index,
    id: cell.id,
    task: cell.task,
    algorithm: cell.algorithm,
    series: cell.series,
    knob: cell.knob,
    knobValue: cell.knobValue,
    seed: cell.seed,
    hparams: cell.hparams,
  });
}

/** Writes a worker's record of `cell` to `<dir>/cells/<index>.json`, atomically and durably. */
export async function writeCellRecord(dir: string, cell: Cell, rec: CellRecord): Promise<void> {
  await Deno.mkdir(`${dir}/${CELLS_DIR}`, { recursive: true });
  await writeAtomic(cellFile(dir, cell.index), JSON.stringify(rec) + "\n");
}

/** Where a worker's record of the cell at `index` goes. */
export function cellFile(dir: string, index: number): string {
  return `${dir}/${CELLS_DIR}/${index}.json`;
}

/** The records of a run folder, from both places. */
export interface RunRecords {
  /** Every cell on record, by id, each once (`results.jsonl` first, then `cells/`). */
  readonly records: Map<string, CellRecord>;
  /** The whole lines of `results.jsonl`, in file order. */
  readonly jsonl: CellRecord[];
  /** True when the last line of `results.jsonl` was cut short by a crash (it is not on record). */
  readonly torn: boolean;
}

/**
 * Reads the records of the run folder `dir` planned as `cells`: `results.jsonl` and `cells/<index>.json`.
 * A cell recorded twice (a worker orphaned by a killed parent that finished its cell while a resume ran
 * it again) counts once. Throws naming the file when a record is not a cell of the plan.
 */
export async function readRunRecords(dir: string, cells: readonly Cell[]): Promise<RunRecords> {
  const planned = new Map(cells.map((c) => [c.id, c]));
  const { records: jsonl, torn } = await readRecords(`${dir}/results.jsonl`);
  const records = new Map<string, CellRecord>();
  for (const r of jsonl) {
    if (!planned.has(r.id)) {
      throw new Error(`results.jsonl holds cell "${r.id}", which its config does not plan`);
    }
    if (!records.has(r.id)) records.set(r.id, r);
  }
  for (const index of await cellFileIndices(dir)) {
    const path = cellFile(dir, index);
    let r: CellRecord;
    try {
      r = JSON.parse(await Deno.readTextFile(path));
      if (typeof r?.id !== "string" || !Array.isArray(r?.checkpoints)) throw new Error("not a cell record");
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue; // gathered by a finishing process meanwhile
      throw new Error(`"${path}" is not a cell record (${(e as Error).message}); it was damaged`);
    }
    if (cells[index]?.id !== r.id) {
      throw new Error(
        `"${path}" holds cell "${r.id}", but the run's plan puts ${
          cells[index] ? `"${cells[index].id}"` : "no cell"
        } at index ${index}`,
      );
    }
    if (!records.has(r.id)) records.set(r.id, r);
  }
  return { records, jsonl, torn };
}

/** The indices of the record files in `<dir>/cells/`, ascending (temporaries and strays ignored). */
async function cellFileIndices(dir: string): Promise<number[]> {
  const out: number[] = [];
  try {
    for await (const e of Deno.readDir(`${dir}/${CELLS_DIR}`)) {
      const m = e.isFile ? /^(\d+)\.json$/.exec(e.name) : null;
      if (m) out.push(Number(m[1]));
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort((a, b) => a - b);
}

/**
 * Gathers a finished run's records into `results.jsonl` (plan order, replaced atomically) and removes
 * `cells/`; does nothing when no worker wrote there. A crash in between leaves every record in
 * `results.jsonl`, and the leftover files count once on the next read.
 */
export async function gatherCellFiles(dir: string, records: readonly CellRecord[]): Promise<void> {
  try {
    await Deno.stat(`${dir}/${CELLS_DIR}`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  await writeAtomic(`${dir}/results.jsonl`, records.map((r) => JSON.stringify(r) + "\n").join(""));
  await Deno.remove(`${dir}/${CELLS_DIR}`, { recursive: true });
}

/** The cells of `cells` not in `done`, in plan order. */
export function missingCells(cells: readonly Cell[], done: ReadonlyMap<string, unknown>): Cell[] {
  return cells.filter((c) => !done.has(c.id));
}

/** Indices as Slurm writes array ranges: `0-3,7,9-10`. */
export function indexRanges(indices: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < indices.length;) {
    let j = i;
    while (j + 1 < indices.length && indices[j + 1] === indices[j]! + 1) j++;
    parts.push(i === j ? `${indices[i]}` : `${indices[i]}-${indices[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}
