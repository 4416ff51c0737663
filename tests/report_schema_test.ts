/**
 * The results reader: a results.json of an unknown major version is refused with a message naming the
 * file and the version (through the library and through `deno task report`), older minors are read
 * and brought up to date, and later minors of the same major are read.
 */
import assert from "node:assert/strict";
import { ConfigError, parseResults, readResults, RESULTS_SCHEMA, schemaVersion } from "../results/mod.ts";
import { main } from "../reports/cli.ts";
import { fixtureResults, writeRun } from "./_report_fixture.ts";

const current = fixtureResults({ text: false });

Deno.test("schemaVersion reads major and minor; a bare major is minor 0", () => {
  assert.deepEqual(schemaVersion("prefbench.results/1"), { major: 1, minor: 0 });
  assert.deepEqual(schemaVersion("prefbench.results/1.1"), { major: 1, minor: 1 });
  assert.deepEqual(schemaVersion("prefbench.results/99.3"), { major: 99, minor: 3 });
  assert.equal(schemaVersion("prefbench.engine_bench/1"), null);
  assert.equal(schemaVersion(1), null);
  assert.equal(RESULTS_SCHEMA, "prefbench.results/1.3");
  assert.equal(current.schema, RESULTS_SCHEMA, "aggregate writes the current version");
});

Deno.test("a results.json with schema major version 99 is refused, naming the file and the version", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "prefbench-schema-" });
  try {
    const run = await writeRun(dir, "future", { ...current, schema: "prefbench.results/99.0" });
    const path = `${run}/results.json`;
    await t.step("readResults", async () => {
      await assert.rejects(() => readResults(path), (e: Error) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(
          e.message,
          `Cannot read "${path}": its schema "prefbench.results/99.0" is major version 99, and this prefbench reads ` +
            `major version 1 only (prefbench.results/1.0 to 1.3, and later 1.x); it was written by a newer ` +
            `prefbench, which is needed to read it`,
        );
        return true;
      });
    });
    await t.step("deno task report compare exits 2 with the same message", async () => {
      const ok = await writeRun(dir, "now", current);
      const err: string[] = [];
      const code = await main(["compare", ok, run], { print: () => {}, warn: (s) => err.push(s) });
      assert.equal(code, 2);
      assert.match(
        err.join("\n"),
        new RegExp(
          `Cannot read ".*future/results\\.json": its schema "prefbench\\.results/99\\.0" is major version 99`,
        ),
      );
    });
    await t.step("deno task report index lists it as not readable, with the reason", async () => {
      const out: string[] = [], err: string[] = [];
      const code = await main(["index", "--runs", dir], {
        print: (s) => out.push(s),
        warn: (s) => err.push(s),
      });
      assert.equal(code, 0);
      assert.match(err.join("\n"), /skipped future: Cannot read .* major version 99/);
      const index = await Deno.readTextFile(`${dir}/index.html`);
      assert.match(index, /<li><code>future<\/code>: Cannot read .*major version 99/);
      assert.match(index, /<a href="now\/report\.html">now<\/a>/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test('an older minor (1.0) is read: its "error" status becomes "failed" with failure kind "error"', () => {
  const old = structuredClone(current) as unknown as Record<string, unknown>;
  old.schema = "prefbench.results/1";
  delete old.areas;
  delete old.winRates;
  delete old.winPoints;
  const cells = old.cells as Record<string, unknown>[];
  cells[0]!.status = "error";
  cells[0]!.error = "the algorithm threw";
  delete cells[0]!.failure;
  const r = parseResults(JSON.stringify(old), "old/results.json");
  assert.equal(r.schema, "prefbench.results/1", "the file's own tag is kept");
  assert.equal(r.cells[0]!.status, "failed");
  assert.deepEqual(r.cells[0]!.failure, { kind: "error", step: null, lastGoodCheckpoint: null });
  assert.equal(r.areas, undefined);
});

Deno.test("a later minor of the same major is read, its unknown fields ignored", () => {
  const r = parseResults(
    JSON.stringify({ ...current, schema: "prefbench.results/1.7", somethingNew: { x: 1 } }),
    "later/results.json",
  );
  assert.equal(r.cells.length, current.cells.length);
});

Deno.test("a file that is not a results.json is refused, naming the file and what is wrong", () => {
  const cases: [string, RegExp][] = [
    ["{", /^Cannot read "f\.json": it is not valid JSON/],
    ["[1]", /^Cannot read "f\.json": it is not a prefbench results object$/],
    ['{"schema": "x/1"}', /^Cannot read "f\.json": schema = "x\/1" is not a prefbench results schema/],
    ["{}", /^Cannot read "f\.json": schema = \(missing\) is not a prefbench results schema/],
    ['{"schema": "prefbench.results/1.1"}', /^Cannot read "f\.json": "cells" is missing or not a list/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseResults(text, "f.json"),
      (e: Error) => e instanceof ConfigError && message.test(e.message),
    );
  }
});
