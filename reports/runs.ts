/**
 * Reading run folders for reports: a run is `<root>/<run-id>/` holding `manifest.json` and, once it
 * finished, `results.json` (read with {@link readResults}, which checks its schema version).
 *
 * @module
 */
import type { Manifest, Results } from "../results/mod.ts";
import { ConfigError, readResults } from "../results/mod.ts";

/** A finished run, read. */
export interface Run {
  /** The folder's name: UTC start time and the config hash's first 8 hex digits. */
  readonly id: string;
  readonly dir: string;
  readonly manifest: Manifest;
  readonly results: Results;
}

/** A folder under the runs root that is not a readable finished run, and why. */
export interface SkippedRun {
  readonly id: string;
  readonly dir: string;
  readonly reason: string;
}

/** Reads a finished run; throws a {@link ConfigError} naming the folder and what is wrong. */
export async function readRun(dir: string): Promise<Run> {
  const clean = dir.replace(/\/+$/, "") || "/";
  const id = clean.slice(clean.lastIndexOf("/") + 1);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await Deno.readTextFile(`${clean}/manifest.json`));
  } catch (e) {
    throw new ConfigError(
      `Cannot read run "${clean}": ${
        e instanceof Deno.errors.NotFound
          ? "it has no manifest.json, so it is not a prefbench run folder"
          : `manifest.json cannot be read (${(e as Error).message.split("\n")[0]})`
      }`,
      "run",
    );
  }
  if (typeof manifest !== "object" || manifest === null || typeof manifest.configHash !== "string") {
    throw new ConfigError(
      `Cannot read run "${clean}": manifest.json lacks configHash; it was not written by prefbench`,
      "run",
    );
  }
  try {
    await Deno.stat(`${clean}/results.json`);
  } catch {
    throw new ConfigError(
      `Cannot read run "${clean}": it has no results.json, so it has not finished (resume it with ` +
        `deno task bench --resume ${clean})`,
      "run",
    );
  }
  return { id, dir: clean, manifest, results: await readResults(`${clean}/results.json`) };
}

/** Every run folder under `root` (a folder holding a manifest.json), read; newest first. */
export async function listRuns(root: string): Promise<{ runs: Run[]; skipped: SkippedRun[] }> {
  const runs: Run[] = [], skipped: SkippedRun[] = [];
  const names: string[] = [];
  for await (const entry of Deno.readDir(root)) {
    if (entry.isDirectory && !entry.name.startsWith(".")) names.push(entry.name);
  }
  for (const name of names.sort()) {
    const dir = `${root.replace(/\/+$/, "")}/${name}`;
    try {
      await Deno.stat(`${dir}/manifest.json`);
    } catch {
      continue; // not a run folder (a compare/ folder, a published site, ...)
    }
    try {
      runs.push(await readRun(dir));
    } catch (e) {
      skipped.push({ id: name, dir, reason: (e as Error).message });
    }
  }
  runs.sort((a, b) =>
    (b.manifest.startedAt ?? "").localeCompare(a.manifest.startedAt ?? "") || b.id.localeCompare(a.id)
  );
  return { runs, skipped };
}
