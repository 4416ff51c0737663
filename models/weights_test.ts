import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeWeights, encodeWeights, loadWeights, saveWeights, WEIGHTS_MAGIC } from "./weights.ts";

const tensors = new Map<string, Float32Array | Float64Array>([
  ["wte", Float32Array.from({ length: 15 }, (_, i) => i / 7)],
  ["b", Float32Array.of(-1)],
  ["x64", Float64Array.of(Math.PI, Math.E, 1e-300)],
]);
const shapes = new Map([["wte", [5, 3]], ["b", [1]], ["x64", [3]]]);

Deno.test("weights: a file round-trips every tensor bit for bit, with its meta", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "sub", "w.weights");
  await saveWeights(path, tensors, { shapes, meta: { config: { d: 3 }, note: "ünïcode" } });
  const w = await loadWeights(path);
  assert.deepEqual(w.meta, { config: { d: 3 }, note: "ünïcode" });
  assert.deepEqual([...w.tensors.keys()], ["wte", "b", "x64"]);
  for (const [k, v] of tensors) assert.deepEqual(w.tensors.get(k), v);
  assert.ok(w.tensors.get("x64") instanceof Float64Array);
  assert.deepEqual([...Deno.readDirSync(join(dir, "sub"))].map((e) => e.name), ["w.weights"]); // no temp left
  await Deno.remove(dir, { recursive: true });
});

Deno.test("weights: truncated, corrupted, foreign or future files are errors naming the file", () => {
  const bytes = encodeWeights(tensors, { shapes });
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), WEIGHTS_MAGIC);
  assert.throws(() => decodeWeights(bytes.subarray(0, bytes.length - 8), "cache/a.weights"), (e: Error) => {
    assert.match(
      e.message,
      /^Cannot read weights "cache\/a\.weights": \d+ bytes, but the header describes \d+/,
    );
    return true;
  });
  const flipped = bytes.slice();
  flipped[flipped.length - 3]! ^= 0x10;
  assert.throws(() => decodeWeights(flipped, "f"), /"f": the data does not match its checksum/);
  assert.throws(
    () => decodeWeights(new TextEncoder().encode('{"not": "weights"}'), "g"),
    /"g": not a prefbench weights file/,
  );
  const future = bytes.slice();
  new DataView(future.buffer).setUint32(8, 99, true);
  assert.throws(() => decodeWeights(future, "h"), /"h": format version 99 \(this code reads 1\)/);
  assert.throws(() => encodeWeights(tensors, { shapes: new Map([["wte", [4, 3]]]) }), /"wte" has 15 values/);
});

Deno.test("weights: a missing file is an error naming it", async () => {
  await assert.rejects(
    loadWeights("/nonexistent/x.weights"),
    /Cannot read weights "\/nonexistent\/x\.weights": no such file/,
  );
});
