/**
 * Snapshot assertions without a library (JSR's @std/testing is out of reach here): every test file
 * keeps its snapshots in one JSON file, `__snapshots__/<file>.json` beside it, keyed by name. A missing
 * or different snapshot fails with a diff hint; `PREFBENCH_UPDATE_SNAPSHOTS=1 deno test -A <file>`
 * rewrites them (review the diff before committing).
 */
import assert from "node:assert/strict";

const files = new Map<string, Record<string, unknown>>();

/** Compares `value` (as JSON) with the snapshot `name` of the test file at `testUrl`. */
export async function assertSnapshot(testUrl: string, name: string, value: unknown): Promise<void> {
  const url = new URL(
    `__snapshots__/${testUrl.slice(testUrl.lastIndexOf("/") + 1).replace(/\.ts$/, "")}.json`,
    testUrl,
  );
  const update = Deno.env.get("PREFBENCH_UPDATE_SNAPSHOTS") === "1";
  let snaps = files.get(url.href);
  if (!snaps) {
    try {
      snaps = JSON.parse(await Deno.readTextFile(url)) as Record<string, unknown>;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      snaps = {};
    }
    files.set(url.href, snaps);
  }
  const actual = JSON.parse(JSON.stringify(value));
  if (update) {
    snaps[name] = actual;
    const sorted = Object.fromEntries(Object.entries(snaps).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    await Deno.mkdir(new URL(".", url), { recursive: true });
    await Deno.writeTextFile(url, JSON.stringify(sorted, null, 2) + "\n");
    return;
  }
  assert.ok(
    name in snaps,
    `No snapshot "${name}" in ${url.pathname}; record it with PREFBENCH_UPDATE_SNAPSHOTS=1 deno test -A <this file>`,
  );
  assert.deepEqual(
    actual,
    snaps[name],
    `Snapshot "${name}" (${url.pathname}) changed; if intended, rerun with PREFBENCH_UPDATE_SNAPSHOTS=1`,
  );
}
