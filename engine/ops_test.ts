import assert from "node:assert/strict";
import { grad } from "./autodiff.ts";
import { type CheckInput, checkVjp } from "./gradcheck.ts";
import type { Graph, Tensor } from "./graph.ts";
import { Graph as G, GraphError } from "./graph.ts";
import { OPS } from "./ops.ts";
import { Runtime } from "./runtime.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
const p = (shape: number[]): CheckInput => ({ shape, domain: "positive" });
const n = (shape: number[]): CheckInput => ({ shape });
const i64 = (g: Graph, v: number[], shape: number[]) => g.const(v, shape, "int64");

type Case = { name: string; inputs: CheckInput[]; build: (g: Graph, x: readonly Tensor[]) => Tensor };

/** Every differentiable op, with broadcasting cases where the op broadcasts. */
const CASES: Record<string, Case[]> = {
  add: [
    { name: "[2,3]+[3]", inputs: [n([2, 3]), n([3])], build: (g, [a, b]) => g.add(a!, b!) },
    { name: "[2,1]+[1,3]", inputs: [n([2, 1]), n([1, 3])], build: (g, [a, b]) => g.add(a!, b!) },
    { name: "[]+[2,2]", inputs: [n([]), n([2, 2])], build: (g, [a, b]) => g.add(a!, b!) },
  ],
  sub: [{ name: "[3]-[2,3]", inputs: [n([3]), n([2, 3])], build: (g, [a, b]) => g.sub(a!, b!) }],
  mul: [{ name: "[2,3]*[2,1]", inputs: [n([2, 3]), n([2, 1])], build: (g, [a, b]) => g.mul(a!, b!) }],
  div: [{ name: "[2,3]/[3]", inputs: [n([2, 3]), p([3])], build: (g, [a, b]) => g.div(a!, b!) }],
  pow: [
    { name: "[2,3]^[3]", inputs: [p([2, 3]), n([3])], build: (g, [a, b]) => g.pow(a!, b!) },
    { name: "x^2.5 const", inputs: [p([4])], build: (g, [a]) => g.pow(a!, 2.5) },
  ],
  minimum: [{ name: "[2,3] min [3]", inputs: [n([2, 3]), n([3])], build: (g, [a, b]) => g.minimum(a!, b!) }],
  maximum: [{
    name: "[2,1] max [1,3]",
    inputs: [n([2, 1]), n([1, 3])],
    build: (g, [a, b]) => g.maximum(a!, b!),
  }],
  neg: [{ name: "[4]", inputs: [n([4])], build: (g, [x]) => g.neg(x!) }],
  exp: [{ name: "[2,3]", inputs: [n([2, 3])], build: (g, [x]) => g.exp(x!) }],
  log: [{ name: "[2,3]", inputs: [p([2, 3])], build: (g, [x]) => g.log(x!) }],
  sqrt: [{ name: "[5]", inputs: [p([5])], build: (g, [x]) => g.sqrt(x!) }],
  abs: [{ name: "[6]", inputs: [n([6])], build: (g, [x]) => g.abs(x!) }],
  tanh: [{ name: "[2,3]", inputs: [n([2, 3])], build: (g, [x]) => g.tanh(x!) }],
  sigmoid: [{ name: "[2,3]", inputs: [n([2, 3])], build: (g, [x]) => g.sigmoid(x!) }],
  relu: [{ name: "[8]", inputs: [n([8])], build: (g, [x]) => g.relu(x!) }],
  gelu: [{ name: "[8]", inputs: [n([8])], build: (g, [x]) => g.gelu(g.mul(x!, 2)) }],
  clip: [{ name: "[10] to [-0.5, 0.5]", inputs: [n([10])], build: (g, [x]) => g.clip(x!, -0.5, 0.5) }],
  where: [{
    name: "cond [2,3], a [3], b [2,1]",
    inputs: [n([3]), n([2, 1])],
    build: (g, [a, b]) => g.where(g.const([1, 0, 1, 0, 0, 1], [2, 3], "bool"), a!, b!),
  }],
  cast: [{
    name: "float64 → float64",
    inputs: [n([3])],
    build: (g, [x]) => g.cast(g.mul(x!, x!), "float64"),
  }],
  erf: [{ name: "[2,4]", inputs: [n([2, 4])], build: (g, [x]) => g.apply("erf", [g.mul(x!, 1.5)]) }],
  logSigmoid: [{ name: "[6]", inputs: [n([6])], build: (g, [x]) => g.logSigmoid(g.mul(x!, 3)) }],
  matmul: [
    { name: "[2,3]@[3,4]", inputs: [n([2, 3]), n([3, 4])], build: (g, [a, b]) => g.matmul(a!, b!) },
    { name: "[2,2,3]@[3,4]", inputs: [n([2, 2, 3]), n([3, 4])], build: (g, [a, b]) => g.matmul(a!, b!) },
    { name: "[1,3,2]@[2,2,5]", inputs: [n([1, 3, 2]), n([2, 2, 5])], build: (g, [a, b]) => g.matmul(a!, b!) },
  ],
  softmax: [
    { name: "[2,5] axis -1", inputs: [n([2, 5])], build: (g, [x]) => g.softmax(x!) },
    { name: "[3,2] axis 0", inputs: [n([3, 2])], build: (g, [x]) => g.softmax(x!, 0) },
  ],
  logSoftmax: [{ name: "[2,3,4]", inputs: [n([2, 3, 4])], build: (g, [x]) => g.logSoftmax(x!) }],
  layerNorm: [{
    name: "[2,3,4] with γ, β [4]",
    inputs: [n([2, 3, 4]), n([4]), n([4])],
    build: (g, [x, gm, bt]) => g.layerNorm(x!, gm!, bt!),
  }],
  reduceSum: [
    { name: "[2,3,4] axis 1", inputs: [n([2, 3, 4])], build: (g, [x]) => g.reduceSum(x!, [1]) },
    { name: "all", inputs: [n([2, 3])], build: (g, [x]) => g.reduceSum(x!) },
  ],
  reduceMean: [{
    name: "[2,3,4] axes 0,2 keepdims",
    inputs: [n([2, 3, 4])],
    build: (g, [x]) => g.reduceMean(x!, [0, 2], true),
  }],
  reduceMax: [{ name: "[3,4] axis -1", inputs: [n([3, 4])], build: (g, [x]) => g.reduceMax(x!, [-1]) }],
  reshape: [{
    name: "[2,6] → [3,-1]",
    inputs: [n([2, 6])],
    build: (g, [x]) => g.reshape(g.exp(x!), [3, -1]),
  }],
  transpose: [{
    name: "[2,3,4] perm 2,0,1",
    inputs: [n([2, 3, 4])],
    build: (g, [x]) => g.transpose(x!, [2, 0, 1]),
  }],
  slice: [{ name: "[2,5] axis 1 1:4", inputs: [n([2, 5])], build: (g, [x]) => g.slice(g.tanh(x!), 1, 1, 4) }],
  concat: [{
    name: "[2,1] ++ [2,3] axis 1",
    inputs: [n([2, 1]), n([2, 3])],
    build: (g, [a, b]) => g.concat([a!, g.exp(b!)], 1),
  }],
  expand: [{
    name: "[3] → [2,3]",
    inputs: [n([3])],
    build: (g, [x]) => g.mul(g.expand(x!, [2, 3]), g.const([1, 2, 3, 4, 5, 6], [2, 3], "float64")),
  }],
  pad: [{ name: "[2,2] pad", inputs: [n([2, 2])], build: (g, [x]) => g.exp(g.pad(x!, [[1, 0], [0, 2]])) }],
  gather: [{
    name: "rows of [5,3] at [[0,2],[2,4]] (row 2 twice)",
    inputs: [n([5, 3])],
    build: (g, [t]) => g.tanh(g.gather(t!, i64(g, [0, 2, 2, 4], [2, 2]))),
  }],
  gatherElements: [{
    name: "[2,3,5] at [2,3,1]",
    inputs: [n([2, 3, 5])],
    build: (g, [x]) => g.gatherElements(g.logSoftmax(x!), i64(g, [0, 4, 2, 1, 1, 3], [2, 3, 1])),
  }, {
    name: "[2,5] at [2,3] (repeated indices)",
    inputs: [n([2, 5])],
    build: (g, [x]) => g.gatherElements(g.tanh(x!), i64(g, [0, 4, 0, 2, 2, 3], [2, 3]), 1),
  }],
  logSoftmaxAt: [{
    name: "[2,3,5] at [2,3,1]",
    inputs: [n([2, 3, 5])],
    build: (g, [x]) => g.logSoftmaxAt(g.mul(x!, 2), i64(g, [0, 4, 2, 1, 1, 3], [2, 3, 1])),
  }, {
    name: "[4,3] along axis 0 at [1,3]",
    inputs: [n([4, 3])],
    build: (g, [x]) => g.logSoftmaxAt(x!, i64(g, [3, 0, 2], [1, 3]), 0),
  }],
  cumsum: [
    { name: "[2,4] axis 1", inputs: [n([2, 4])], build: (g, [x]) => g.cumsum(g.tanh(x!), 1) },
    { name: "[3,2] axis 0 reverse", inputs: [n([3, 2])], build: (g, [x]) => g.cumsum(x!, 0, true) },
  ],
  scatterAddRows: [{
    name: "zeros [4,2] += [3,2] at [1,1,3]",
    inputs: [n([4, 2]), n([3, 2])],
    build: (g, [d, u]) => g.apply("scatterAddRows", [d!, i64(g, [1, 1, 3], [3]), g.tanh(u!)]),
  }],
  scatterAddElements: [{
    name: "[2,4] += [2,2] at [[0,0],[3,1]]",
    inputs: [n([2, 4]), n([2, 2])],
    build: (g, [d, u]) => g.apply("scatterAddElements", [d!, i64(g, [0, 0, 3, 1], [2, 2]), u!], { axis: 1 }),
  }],
};

// stopGradient is checked below: by design its rule disagrees with finite differences.
const NO_RULE_NEEDED = new Set([
  "input",
  "param",
  "const",
  "fill",
  "equal",
  "less",
  "lessOrEqual",
  "and",
  "argMax",
  "stopGradient",
]);

Deno.test("every differentiable op has a gradient check case", () => {
  const missing = Object.keys(OPS).filter((op) => !NO_RULE_NEEDED.has(op) && !(op in CASES));
  assert.deepEqual(missing, []);
  for (const op of NO_RULE_NEEDED) {
    if (!["input", "param", "const", "fill", "stopGradient"].includes(op)) assert.equal(OPS[op]!.vjp, null);
  }
});

for (const [op, cases] of Object.entries(CASES)) {
  Deno.test(`${op}: reverse-mode VJP matches central differences in float64`, async (t) => {
    for (const c of cases) {
      await t.step(c.name, async () => {
        for (const seed of [1, 2, 3]) {
          const r = await checkVjp(rt, c.inputs, c.build, { seed });
          assert.ok(
            r.relError < 1e-6,
            `${op} ${c.name} seed ${seed}: reverse ${r.reverse} vs numeric ${r.numeric} (rel ${r.relError})`,
          );
        }
      });
    }
  });
}

Deno.test("the gradient check catches a wrong rule", async () => {
  // exp with a deliberately wrong derivative (the rule of tanh): the check must fail.
  const g0 = OPS.exp!;
  const saved = g0.vjp;
  (g0 as { vjp: typeof saved }).vjp = OPS.tanh!.vjp;
  try {
    const r = await checkVjp(rt, [n([4])], (g, [x]) => g.exp(x!), { seed: 1 });
    assert.ok(r.relError > 1e-2, `a wrong rule passed with rel error ${r.relError}`);
  } finally {
    (g0 as { vjp: typeof saved }).vjp = saved;
  }
});

Deno.test("stopGradient: d/dx [x · sg(eˣ)] = eˣ, and cast to int64 passes no gradient", async () => {
  const g = new G();
  const x = g.input("x", [3], "float64");
  const y = g.add(g.sum(g.mul(x, g.stopGradient(g.exp(x)))), g.sum(g.cast(g.cast(x, "int64"), "float64")));
  const [dx] = grad(y, [x]);
  const out = await (await rt.compile(g, { dx: dx! })).run({ x: Float64Array.from([-1, 0, 2]) });
  [-1, 0, 2].forEach((v, i) => assert.ok(Math.abs((out.dx as Float64Array)[i]! - Math.exp(v)) < 1e-14));
});

/** Fixed points, zero and negatives included (tinygrad's one-line op tests). */
const POINTS = [-2, -0.5, 0, 0.5, 2];
const UNARY: Record<string, [(g: Graph, x: Tensor) => Tensor, (v: number) => number, (v: number) => number]> =
  {
    neg: [(g, x) => g.neg(x), (v) => -v, () => -1],
    exp: [(g, x) => g.exp(x), Math.exp, Math.exp],
    tanh: [(g, x) => g.tanh(x), Math.tanh, (v) => 1 - Math.tanh(v) ** 2],
    sigmoid: [(g, x) => g.sigmoid(x), sig, (v) => sig(v) * (1 - sig(v))],
    relu: [(g, x) => g.relu(x), (v) => Math.max(v, 0), (v) => (v > 0 ? 1 : 0)],
    abs: [(g, x) => g.abs(x), Math.abs, (v) => (v < 0 ? -1 : 1)],
    clip: [
      (g, x) => g.clip(x, -1, 1),
      (v) => Math.min(1, Math.max(-1, v)),
      (v) => (Math.abs(v) <= 1 ? 1 : 0),
    ],
    gelu: [(g, x) => g.gelu(x), gelu, (v) => (gelu(v + 1e-6) - gelu(v - 1e-6)) / 2e-6],
    logSigmoid: [(g, x) => g.logSigmoid(x), (v) => Math.log(sig(v)), (v) => 1 - sig(v)],
    softplus: [(g, x) => g.softplus(x), (v) => Math.log1p(Math.exp(v)), sig],
  };

function sig(v: number): number {
  return 1 / (1 + Math.exp(-v));
}
function gelu(v: number): number {
  return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
}

Deno.test("unary ops: values and derivatives at fixed points including 0 and negatives", async (t) => {
  for (const [name, [f, ref, dref]] of Object.entries(UNARY)) {
    await t.step(name, async () => {
      const g = new G();
      const x = g.input("x", [POINTS.length], "float64");
      const y = f(g, x);
      const [dx] = grad(g.sum(y), [x]);
      const out = await (await rt.compile(g, { y, dx: dx! })).run({ x: Float64Array.from(POINTS) });
      POINTS.forEach((v, i) => {
        assert.ok(Math.abs((out.y as Float64Array)[i]! - ref(v)) < 1e-12, `${name}(${v})`);
        assert.ok(Math.abs((out.dx as Float64Array)[i]! - dref(v)) < 1e-8, `${name}'(${v})`);
      });
    });
  }
});

Deno.test("logSigmoid stays finite where the naive form overflows", async () => {
  const g = new G();
  const x = g.input("x", [3]);
  const out = await (await rt.compile(g, { y: g.logSigmoid(x) })).run({
    x: Float32Array.from([-200, 0, 200]),
  });
  const y = out.y as Float32Array;
  assert.ok(
    Math.abs(y[0]! + 200) < 1e-3 && Math.abs(y[1]! - Math.log(0.5)) < 1e-6 && Math.abs(y[2]!) < 1e-6,
    `${y}`,
  );
});

Deno.test("a shape mismatch is rejected when the graph is built, naming the op and shapes", () => {
  const g = new G();
  const a = g.input("a", [2, 3]);
  const b = g.input("b", [4, 5]);
  assert.throws(() => g.matmul(a, b), (e: Error) => {
    assert.ok(e instanceof GraphError);
    assert.match(
      e.message,
      /^matmul: inner dimensions differ \(3 ≠ 4\) \(inputs: \[2,3\] float32, \[4,5\] float32\)/,
    );
    return true;
  });
  assert.throws(() => g.add(a, g.input("c", [4])), /add: shapes \[2,3\] and \[4\] do not broadcast/);
  assert.throws(() => g.reshape(a, [4, 2]), /reshape: cannot reshape \[2,3\] \(6 elements\) to \[4,2\]/);
  assert.throws(() => g.slice(a, 1, 2, 2), /slice: range 2:2 is empty/);
  assert.throws(() => g.gather(a, g.input("i", [2])), /gather: indices must be int64/);
  assert.throws(
    () => g.layerNorm(a, g.input("s", [2]), g.input("t", [3])),
    /layerNorm: scale and shift must be \[3\]/,
  );
  assert.throws(() => g.input("a", [1]), /the name "a" is already used/);
  assert.throws(() => g.input("z", [0, 2]), /invalid shape \[0,2\]/);
});
