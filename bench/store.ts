/**
 * The run store: `runs/<run-id>/` with `manifest.json`, `results.jsonl` (one line per finished cell),
 * `results.json` and `report.html`. Whole files are written to a temporary name and renamed, so a
 * reader never sees half a file; a cell's line is appended with one write, and a torn last line (a
 * crash mid-write) is ignored when the run is resumed.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { CellRecord } from "./results.ts";

/** Writes a file atomically: a temporary sibling, then a rename. */
export async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, data);
  await Deno.rename(tmp, path);
}

/** Appends one cell's record as a line of `results.jsonl`. */
export async function appendRecord(path: string, rec: CellRecord): Promise<void> {
  await Deno.writeTextFile(path, JSON.stringify(rec) + "\n", { append: true });
}

/** Records already in a `results.jsonl` (none if absent); a torn last line is skipped. */
export async function readRecords(path: string): Promise<CellRecord[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const out: CellRecord[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // Only the last line can be torn; anything after it would be a second crash.
    }
  }
  return out;
}

/** JSON with object keys sorted at every level, so equal values hash equally. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) =>
      x && typeof x === "object" && !Array.isArray(x)
        ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : x,
  );
}

/** Hex SHA-256 of a string. */
export function sha256(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

/** A run id: UTC time to the second, then the first 8 hex digits of the config hash. */
export function runId(now: Date, configHash: string): string {
  const t = now.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${t}-${configHash.slice(0, 8)}`;
}
