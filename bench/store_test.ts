import assert from "node:assert/strict";
import { Graph } from "../engine/graph.ts";
import { toOnnx } from "../engine/onnx.ts";
import type { CellRecord } from "../results/mod.ts";
import { appendRecord, createDirAtomic, readRecords, removeStaleTemporaries, writeAtomic } from "./store.ts";
import { checkInput, checkOutputDir } from "./validate.ts";

const rec = (id: string) => ({ id, checkpoints: [] }) as unknown as CellRecord;

async function withTmp(f: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "prefbench-store-" });
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("results.jsonl: whole lines appended; a torn last line is dropped, a damaged middle line is an error", () =>
  withTmp(async (dir) => {
    const path = `${dir}/results.jsonl`;
    assert.deepEqual(await readRecords(path), { records: [], torn: false });
    await appendRecord(path, rec("a"));
    await appendRecord(path, rec("b"));
    assert.deepEqual(await readRecords(path), { records: [rec("a"), rec("b")], torn: false });
    // A crash mid-write: the third line has no newline yet (even if what is there happens to parse).
    await Deno.writeTextFile(path, JSON.stringify(rec("c")), { append: true });
    assert.deepEqual(await readRecords(path), { records: [rec("a"), rec("b")], torn: true });
    await Deno.writeTextFile(
      path,
      `${JSON.stringify(rec("a"))}\n{"id": "b", "che\n${JSON.stringify(rec("c"))}\n`,
    );
    await assert.rejects(readRecords(path), /line 2 is not a cell record .*damaged after it was written/);
    await Deno.writeTextFile(path, `[1, 2]\n`);
    await assert.rejects(readRecords(path), /line 1 is not a cell record \(not a cell record\)/);
  }));

Deno.test("writeAtomic replaces a file whole and leaves no temporary behind", () =>
  withTmp(async (dir) => {
    await writeAtomic(`${dir}/f.json`, "one");
    await writeAtomic(`${dir}/f.json`, "two");
    assert.equal(await Deno.readTextFile(`${dir}/f.json`), "two");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["f.json"]);
    // What a killed writer leaves is cleaned up on resume.
    await Deno.writeTextFile(`${dir}/results.jsonl.tmp-12345`, "partial");
    await removeStaleTemporaries(dir);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["f.json"]);
  }));

Deno.test("a run folder appears with its files already inside, and never reuses a taken name", () =>
  withTmp(async (dir) => {
    const a = await createDirAtomic(`${dir}/runs`, "run-1", { "manifest.json": "{}" });
    const b = await createDirAtomic(`${dir}/runs`, "run-1", { "manifest.json": "[]" });
    assert.equal(a, `${dir}/runs/run-1`);
    assert.equal(b, `${dir}/runs/run-1-2`);
    assert.equal(await Deno.readTextFile(`${b}/manifest.json`), "[]");
    assert.deepEqual([...Deno.readDirSync(`${dir}/runs`)].map((e) => e.name).sort(), ["run-1", "run-1-2"]);
  }));

Deno.test("checkInput accepts what it should: a real ONNX model, JSON lines, YAML", () =>
  withTmp(async (dir) => {
    const g = new Graph();
    const x = g.input("x", [2]);
    await Deno.writeFile(`${dir}/m.onnx`, toOnnx(g, { y: g.exp(x) }).bytes);
    await checkInput(`${dir}/m.onnx`, "onnx", { field: "model" });
    await Deno.writeTextFile(`${dir}/d.jsonl`, '{"a": 1}\n\n{"a": 2}\n');
    assert.deepEqual((await checkInput(`${dir}/d.jsonl`, "jsonl", { field: "data" })).value, [{ a: 1 }, {
      a: 2,
    }]);
    await Deno.writeTextFile(`${dir}/s.yaml`, "a: [1, 2]\n");
    assert.deepEqual((await checkInput(`${dir}/s.yaml`, "yaml", { field: "suite" })).value, { a: [1, 2] });
    await Deno.writeTextFile(`${dir}/bad.yaml`, "a: [1, 2\nb: 3\n");
    await assert.rejects(
      checkInput(`${dir}/bad.yaml`, "yaml", { field: "suite" }),
      /Cannot read ".*bad\.yaml" \(suite\): it is not valid YAML \(line 2, column 1: Flow sequence/,
    );
  }));

Deno.test("checkOutputDir passes a writable folder, or one that mkdir -p can create, and creates nothing", () =>
  withTmp(async (dir) => {
    await checkOutputDir(dir);
    await checkOutputDir(`${dir}/not/yet/there`);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    await Deno.writeTextFile(`${dir}/file`, "");
    await assert.rejects(checkOutputDir(`${dir}/file`), /\(--out\): it is not a folder$/);
  }));
