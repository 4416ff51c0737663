import assert from "node:assert/strict";
import { Rng } from "./rng.ts";

Deno.test("streams are reproducible and independent by purpose", () => {
  const a = Rng.stream(5, "cell", 1, "init"), b = Rng.stream(5, "cell", 1, "init");
  const xa = Array.from({ length: 100 }, () => a.uint32()),
    xb = Array.from({ length: 100 }, () => b.uint32());
  assert.deepEqual(xa, xb);
  const c = Rng.stream(5, "cell", 1, "sampling"), d = Rng.stream(6, "cell", 1, "init");
  assert.notDeepEqual(Array.from({ length: 100 }, () => c.uint32()), xa);
  assert.notDeepEqual(Array.from({ length: 100 }, () => d.uint32()), xa);
});

Deno.test("a pinned stream gives pinned values (the generator never changes silently)", () => {
  const r = Rng.stream(0, "golden");
  const first = Array.from({ length: 4 }, () => r.uint32());
  // Recorded once from this implementation; a change here changes every run's results.
  assert.deepEqual(first, GOLDEN);
});
const GOLDEN = [779459960, 14203114, 3137291371, 724322758];

Deno.test("uniform, integer, normal and categorical draws have the right moments", () => {
  const r = Rng.stream(1, "moments");
  const n = 200_000;
  let s = 0, s2 = 0;
  for (let i = 0; i < n; i++) {
    const u = r.float();
    assert.ok(u >= 0 && u < 1);
    s += u;
    s2 += u * u;
  }
  assert.ok(Math.abs(s / n - 0.5) < 0.005 && Math.abs(s2 / n - 1 / 3) < 0.005);
  let m = 0, v = 0;
  for (let i = 0; i < n; i++) {
    const z = r.normal();
    m += z;
    v += z * z;
  }
  assert.ok(Math.abs(m / n) < 0.01 && Math.abs(v / n - 1) < 0.02, `normal mean ${m / n}, var ${v / n}`);
  const counts = [0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 70_000; i++) counts[r.int(7)]!++;
  for (const c of counts) assert.ok(Math.abs(c / 70_000 - 1 / 7) < 0.01);
  const w = [0.1, 0, 0.6, 0.3];
  const cat = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) cat[r.categorical(w)]!++;
  assert.equal(cat[1], 0);
  w.forEach((p, i) => assert.ok(Math.abs(cat[i]! / n - p) < 0.005));
  assert.throws(() => r.categorical([0, 0]), /positive sum/);
});

Deno.test("shuffle is a permutation", () => {
  const xs = Rng.stream(2, "shuffle").shuffle([...Array(50).keys()]);
  assert.deepEqual([...xs].sort((a, b) => a - b), [...Array(50).keys()]);
  assert.notDeepEqual(xs, [...Array(50).keys()]);
});
