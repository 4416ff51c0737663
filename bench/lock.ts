/**
 * The run folder lock: one process at a time runs a run folder's cells (`--resume`, `--jobs`'s parent,
 * `merge`), so two resumes of one folder cannot compute its cells twice. The lock is a file
 * `<run>/.lock` created with O_EXCL, holding the holder's PID, host and process start time; it is
 * removed when the holder ends. A lock left by a holder that died (kill -9, a crash) is stale: on the
 * same host its PID no longer runs (or runs another process, told apart by its start time), and it is
 * taken over with a message. A lock from another host cannot be checked from here and is never taken
 * over: the error names the holder and the file to remove once it is known to be gone.
 *
 * `run-cell` processes (Slurm array tasks, `--jobs` workers) take no lock: they run concurrently by
 * design, each writing its own `cells/<index>.json`, and a cell on record is never run again.
 *
 * @module
 */
import { hostname } from "node:os";
import { ConfigError } from "../results/mod.ts";

/** What a lock file holds. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** The process's start time in clock ticks since boot (Linux `/proc/<pid>/stat`), null elsewhere. */
  readonly started: number | null;
  /** When the lock was taken (ISO 8601). */
  readonly at: string;
}

/** A held lock: release it when done (idempotent). */
export interface RunLock {
  release(): Promise<void>;
}

/** The lock file of a run folder. */
export function lockPath(dir: string): string {
  return `${dir}/.lock`;
}

/**
 * Takes the lock of run folder `dir` for this process, or throws a {@link ConfigError} at `flag` naming
 * the holder. A stale lock (its holder gone) is replaced; `log` says so.
 */
export async function acquireRunLock(
  dir: string,
  opts: { readonly flag: string; readonly log?: ((line: string) => void) | null },
): Promise<RunLock> {
  const path = lockPath(dir);
  const me: LockHolder = {
    pid: Deno.pid,
    host: hostname(),
    started: await startTime(Deno.pid),
    at: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const f = await Deno.open(path, { write: true, createNew: true });
      try {
        await f.write(new TextEncoder().encode(JSON.stringify(me) + "\n"));
        await f.syncData();
      } finally {
        f.close();
      }
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          await Deno.remove(path).catch(() => {});
        },
      };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    const holder = await readHolder(path);
    if (holder && !(await isStale(holder))) {
      throw new ConfigError(
        `Cannot use "${dir}" (${opts.flag}): it is in use by process ${holder.pid} on ${holder.host} ` +
          `(since ${holder.at}); wait for it to finish${
            holder.host === me.host ? "" : `, or remove ${path} once that process is known to be gone`
          }`,
        opts.flag,
      );
    }
    opts.log?.(
      holder
        ? `note: "${dir}" had a stale lock of process ${holder.pid} on ${holder.host} (since ${holder.at}), which is gone: taking it over`
        : `note: "${dir}" had an unreadable lock file: replacing it`,
    );
    await Deno.remove(path).catch(() => {});
  }
  throw new ConfigError(
    `Cannot use "${dir}" (${opts.flag}): its lock file ${path} keeps reappearing`,
    opts.flag,
  );
}

async function readHolder(path: string): Promise<LockHolder | null> {
  try {
    const v = JSON.parse(await Deno.readTextFile(path));
    return typeof v?.pid === "number" && typeof v?.host === "string" ? v as LockHolder : null;
  } catch {
    return null;
  }
}

/** True when the holder is known to be gone: same host, and its PID is not running (the same process). */
async function isStale(h: LockHolder): Promise<boolean> {
  if (h.host !== hostname()) return false;
  if (h.pid === Deno.pid) return false;
  const started = await startTime(h.pid);
  if (started === null) return !(await procExists(h.pid));
  return h.started !== null && started !== h.started;
}

/** A process's start time (field 22 of `/proc/<pid>/stat`), or null where it cannot be read. */
async function startTime(pid: number): Promise<number | null> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its end.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const v = Number(fields[19]);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

/** Whether a PID runs, where `/proc` says; elsewhere assumed running (never taken over). */
async function procExists(pid: number): Promise<boolean> {
  try {
    await Deno.stat("/proc/self");
  } catch {
    return true; // no /proc: cannot tell, so the lock is kept
  }
  try {
    await Deno.stat(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}
