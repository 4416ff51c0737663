/**
 * The run store: `runs/<run-id>/` with `manifest.json`, `results.jsonl` (one line per finished cell),
 * `results.json` and `report.html`, written so that a process killed at any instant (SIGKILL, power
 * loss) leaves a folder a resume can finish:
 * - whole files go to a temporary sibling, are fsynced, then renamed over the target (and the folder
 *   is fsynced so the rename itself is durable): a reader sees the old file or the new one;
 * - a cell's record is one `O_APPEND` write of a whole line, then fsynced; a crash mid-write can only
 *   tear the last line, which a resume drops (the cell runs again);
 * - a run folder appears by renaming a temporary folder that already holds the manifest, so a folder
 *   with the run's name is always a resumable run.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { CellRecord } from "../results/mod.ts";

/** Writes a file atomically and durably: a temporary sibling, fsync, rename, fsync of the folder. */
export async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  const f = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    await writeAll(f, new TextEncoder().encode(data));
    await f.syncData();
  } finally {
    f.close();
  }
  await Deno.rename(tmp, path);
  await syncDir(dirOf(path));
}

/** Appends one cell's record to `results.jsonl` as a single whole-line write, then fsyncs it. */
export async function appendRecord(path: string, rec: CellRecord): Promise<void> {
  const f = await Deno.open(path, { append: true, create: true });
  try {
    await writeAll(f, new TextEncoder().encode(JSON.stringify(rec) + "\n"));
    await f.syncData();
  } finally {
    f.close();
  }
}

/** What a `results.jsonl` holds. */
export interface StoredRecords {
  readonly records: CellRecord[];
  /** True when the last line was cut short by a crash (it is not among `records`). */
  readonly torn: boolean;
}

/**
 * Records already in a `results.jsonl` (none if absent). Only the last line can be torn, and only
 * if it does not end in a newline; a bad line anywhere else means the file was damaged, and throws
 * naming the line.
 */
export async function readRecords(path: string): Promise<StoredRecords> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { records: [], torn: false };
    throw e;
  }
  const lines = text.split("\n");
  const last = lines.pop()!; // "" when the file ends with a newline, else a torn line
  const records = lines.map((line, i) => {
    try {
      const r = JSON.parse(line);
      if (typeof r?.id !== "string" || !Array.isArray(r?.checkpoints)) throw new Error("not a cell record");
      return r as CellRecord;
    } catch (e) {
      throw new Error(
        `"${path}" line ${i + 1} is not a cell record (${e instanceof Error ? e.message : e}); ` +
          `the file was damaged after it was written`,
      );
    }
  });
  return { records, torn: last !== "" };
}

/**
 * Creates `parent/name` holding `files`, atomically: the folder is assembled under a temporary name
 * and renamed into place. If `name` is taken, `name-2`, `name-3`, ... Returns the folder's path.
 */
export async function createDirAtomic(
  parent: string,
  name: string,
  files: Readonly<Record<string, string>>,
): Promise<string> {
  await Deno.mkdir(parent, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: parent, prefix: `.${name}.tmp-` });
  try {
    for (const [file, data] of Object.entries(files)) await writeAtomic(`${tmp}/${file}`, data);
    for (let i = 1;; i++) {
      const dir = `${parent}/${i === 1 ? name : `${name}-${i}`}`;
      if (await exists(dir)) continue;
      await Deno.rename(tmp, dir);
      await syncDir(parent);
      return dir;
    }
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** Removes temporary files a killed process left in a run folder (`*.tmp-<pid>`). */
export async function removeStaleTemporaries(dir: string): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && /\.tmp-\d+$/.test(e.name)) await Deno.remove(`${dir}/${e.name}`);
  }
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

/** The git state of a source tree: the commit checked out, and whether the tree differs from it. */
export interface GitState {
  /** `HEAD`'s hash, or null outside a git checkout (or without git). */
  readonly commit: string | null;
  /**
   * True when tracked files are modified or untracked, non-ignored files exist (either can change what
   * runs); null when unknown.
   */
  readonly dirty: boolean | null;
}

/**
 * The git state of the checkout holding `dir` (default: this harness's own source, so a run records
 * the code that produced it wherever it was started from).
 */
export async function gitState(dir: string | URL = new URL("..", import.meta.url)): Promise<GitState> {
  const cwd = dir instanceof URL ? (dir.protocol === "file:" ? dir : null) : dir;
  if (cwd === null) return { commit: null, dirty: null }; // imported from a registry: no checkout
  const git = async (...args: string[]): Promise<string | null> => {
    try {
      const out = await new Deno.Command("git", { args, cwd, stdout: "piped", stderr: "null" }).output();
      return out.success ? new TextDecoder().decode(out.stdout) : null;
    } catch {
      return null; // no git on this machine
    }
  };
  const commit = (await git("rev-parse", "HEAD"))?.trim() || null;
  if (commit === null) return { commit, dirty: null };
  const status = await git("status", "--porcelain");
  return { commit, dirty: status === null ? null : status.trim() !== "" };
}

async function writeAll(f: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
}

/** fsync a folder, so a rename in it survives a power loss (best effort where folders cannot be opened). */
async function syncDir(dir: string): Promise<void> {
  let d: Deno.FsFile | null = null;
  try {
    d = await Deno.open(dir, { read: true });
    await d.sync();
  } catch {
    // Not every platform lets a folder be opened for fsync (Windows); the rename is still atomic there.
  } finally {
    d?.close();
  }
}

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
