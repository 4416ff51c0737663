/**
 * The build cache for trained artifacts (the sentiment classifier, π_ref): a folder, default
 * `.cache/prefbench/` under the working directory (ignored by git), or `$PREFBENCH_CACHE`. Files are
 * keyed by a hash of everything that determines their contents, so a changed config or corpus builds
 * a new file and never reads a stale one.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";

/** The cache folder: `explicit`, else `$PREFBENCH_CACHE`, else `.cache/prefbench` in the working directory. */
export function cacheDir(explicit?: string): string {
  if (explicit) return explicit;
  let env: string | undefined;
  try {
    env = Deno.env.get("PREFBENCH_CACHE");
  } catch {
    env = undefined; // no --allow-env: the default folder
  }
  return env || join(Deno.cwd(), ".cache", "prefbench");
}

/** 16 hex digits of SHA-256 over a canonical JSON (keys sorted) of `value`. */
export function configHash(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, 16);
}

/** JSON with object keys sorted at every level, so equal configs hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
        : v,
  );
}

/** Whether a file exists (false for any error reading its metadata). */
export async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}
