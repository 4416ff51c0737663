/**
 * The ONNX importer on hand-built models: each imported graph computes what ONNX Runtime computes on
 * the original file (an independent oracle for the forward), gradients through imported graphs pass the
 * float64 random-direction VJP check, shape arithmetic folds at import, and errors name the file, the
 * op and the node.
 */
import assert from "node:assert/strict";
import onnxProto from "npm:onnx-proto@8.0.1";
import * as ort from "npm:onnxruntime-node@1.30.0";
import { grad } from "./autodiff.ts";
import { checkVjp } from "./gradcheck.ts";
import { Graph, type Tensor, type TensorData } from "./graph.ts";
import { importOnnx, OnnxImportError, parseOnnx, SUPPORTED_OPS } from "./onnx_import.ts";
import { Rng } from "./rng.ts";
import { Runtime } from "./runtime.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
const { onnx } = onnxProto;
const FLOAT = 1, INT64 = 7, BOOL = 9;

// --- building models by hand ---------------------------------------------------------------------

type Attr = { i: number } | { f: number } | { ints: number[] } | { t: onnxProto.onnx.ITensorProto };

function node(
  op: string,
  inputs: string[],
  outputs: string[],
  attrs: Record<string, Attr> = {},
  name?: string,
) {
  return {
    opType: op,
    input: inputs,
    output: outputs,
    name: name ?? `${op}_${outputs[0]}`,
    attribute: Object.entries(attrs).map(([k, a]) =>
      "i" in a
        ? { name: k, type: 2, i: a.i }
        : "f" in a
        ? { name: k, type: 1, f: a.f }
        : "ints" in a
        ? { name: k, type: 7, ints: a.ints }
        : { name: k, type: 4, t: a.t }
    ),
  };
}

function f32(name: string, dims: number[], values: number[]): onnxProto.onnx.ITensorProto {
  return { name, dataType: FLOAT, dims, floatData: values };
}
function i64(name: string, dims: number[], values: number[]): onnxProto.onnx.ITensorProto {
  return { name, dataType: INT64, dims, int64Data: values };
}
function constant(out: string, t: onnxProto.onnx.ITensorProto) {
  return node("Constant", [], [out], { value: { t } });
}

function info(name: string, elemType: number, dims: (number | string)[]) {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function modelBytes(spec: {
  nodes: onnxProto.onnx.INodeProto[];
  inputs: ReturnType<typeof info>[];
  outputs: ReturnType<typeof info>[];
  inits?: onnxProto.onnx.ITensorProto[];
  opset?: number;
}): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: spec.opset ?? 17 }],
    graph: {
      name: "test",
      node: spec.nodes,
      input: spec.inputs,
      output: spec.outputs,
      initializer: spec.inits ?? [],
    },
  })).finish();
}

function randoms(n: number, seed: number): number[] {
  const r = Rng.stream(seed, "onnx-import-test");
  return Array.from({ length: n }, () => r.normal());
}

/** Runs the file in ONNX Runtime directly, and its import through the engine; returns both outputs. */
async function bothWays(bytes: Uint8Array, feeds: Record<string, { data: TensorData; dims: number[] }>) {
  const session = await ort.InferenceSession.create(bytes);
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) {
    ortFeeds[k] = new ort.Tensor(
      v.data instanceof BigInt64Array ? "int64" : "float32",
      v.data as never,
      v.dims,
    );
  }
  const theirs = await session.run(ortFeeds);
  await session.release();

  const model = parseOnnx(bytes, "test.onnx");
  const g = new Graph();
  const bound: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) {
    bound[k] = g.input(k, v.dims, v.data instanceof BigInt64Array ? "int64" : "float32");
  }
  const { outputs } = importOnnx(g, model, { feeds: bound, weights: "const" });
  const exe = await rt.compile(g, outputs);
  const f: Record<string, TensorData> = {};
  for (const s of exe.inputs) f[s.name] = feeds[s.name]!.data;
  const ours = await exe.run(f);
  return { theirs, ours, outputs };
}

function assertClose(
  a: ArrayLike<number | bigint>,
  b: ArrayLike<number | bigint>,
  tol: number,
  what: string,
) {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    const x = Number(a[i]), y = Number(b[i]);
    assert.ok(Math.abs(x - y) <= tol * Math.max(1, Math.abs(y)), `${what}[${i}]: ${x} vs ${y}`);
  }
}

// --- models --------------------------------------------------------------------------------------

/**
 * x float [2,3,4] → shape arithmetic (Shape, Gather, Unsqueeze, Concat) → Reshape [2,12] → Transpose →
 * Gemm (αAB + βC) → Erf → LayerNormalization → Softmax / LogSoftmax over two axes.
 */
function denseModel(opset = 17): Uint8Array {
  return modelBytes({
    opset,
    inputs: [info("x", FLOAT, ["batch", 3, 4])],
    outputs: [info("y", FLOAT, ["batch", 12, 5]), info("z", FLOAT, [12, 5])],
    inits: [
      f32("W", [2, 5], randoms(10, 1)),
      f32("C", [5], randoms(5, 2)),
      f32("ln.g", [5], randoms(5, 3).map((v) => 1 + 0.1 * v)),
      f32("ln.b", [5], randoms(5, 4)),
    ],
    nodes: [
      node("Shape", ["x"], ["s"]),
      constant("zero", i64("", [], [0])),
      node("Gather", ["s", "zero"], ["b"], { axis: { i: 0 } }),
      constant("ax0", i64("", [1], [0])),
      node("Unsqueeze", ["b", "ax0"], ["b1"]),
      constant("minus1", i64("", [1], [-1])),
      node("Concat", ["b1", "minus1"], ["shape2"], { axis: { i: 0 } }),
      node("Reshape", ["x", "shape2"], ["x2"]), // [2, 12]
      node("Transpose", ["x2"], ["xt"], { perm: { ints: [1, 0] } }), // [12, 2]
      node("Gemm", ["xt", "W", "C"], ["h"], { alpha: { f: 0.5 }, beta: { f: 2 } }), // [12, 5]
      node("Erf", ["h"], ["e"]),
      node("LayerNormalization", ["e", "ln.g", "ln.b"], ["n"], { epsilon: { f: 1e-5 } }),
      node("Softmax", ["n"], ["p"], { axis: { i: -1 } }),
      node("LogSoftmax", ["n"], ["z"], { axis: { i: 0 } }),
      node("Unsqueeze", ["p", "ax0"], ["p1"]),
      node("Concat", ["p1", "p1"], ["y"], { axis: { i: 0 } }),
    ],
  });
}

/**
 * x float [2,6]: Split (sizes from an input), Slice to the end (INT64_MAX), Gather along axis 1 with a
 * negative index, ReduceMean (attribute axes, opset 17), Unsqueeze/Squeeze, Greater/Where/Neg, Pow,
 * Sqrt, Reciprocal, ReduceSum (axes input), MatMul with a 1-D operand, Max, Sub, Div, Mul, Exp, Log,
 * Tanh, Sigmoid, Relu, Abs, Identity, Cast.
 */
function elementwiseModel(): Uint8Array {
  return modelBytes({
    inputs: [info("x", FLOAT, [2, 6])],
    outputs: [info("y", FLOAT, [2, 1]), info("v", FLOAT, [2]), info("w", FLOAT, [2, 2])],
    inits: [f32("u", [3], randoms(3, 5)), i64("sizes", [2], [2, 4])],
    nodes: [
      node("Split", ["x", "sizes"], ["a", "b"], { axis: { i: 1 } }), // [2,2], [2,4]
      constant("st", i64("", [1], [1])),
      constant("en", i64("", [1], [2 ** 62])),
      constant("axes1", i64("", [1], [1])),
      node("Slice", ["b", "st", "en", "axes1"], ["c"]), // [2,3]
      constant("idx", i64("", [2, 2], [0, -1, 3, 3])),
      node("Gather", ["x", "idx"], ["gx"], { axis: { i: 1 } }), // [2,2,2]
      node("ReduceMean", ["gx"], ["m"], { axes: { ints: [2] }, keepdims: { i: 0 } }), // [2,2]
      node("Unsqueeze", ["m", "axes1"], ["mu"]), // [2,1,2]
      node("Squeeze", ["mu", "axes1"], ["ms"]), // [2,2]
      constant("zerof", f32("", [], [0])),
      node("Greater", ["a", "zerof"], ["pos"]),
      node("Neg", ["a"], ["na"]),
      node("Where", ["pos", "a", "na"], ["absa"]),
      constant("two", f32("", [], [2])),
      node("Pow", ["absa", "two"], ["sq"]),
      node("Sqrt", ["sq"], ["r"]),
      constant("onef", f32("", [], [1])),
      node("Add", ["r", "onef"], ["r1"]),
      node("Reciprocal", ["r1"], ["inv"]),
      node("Mul", ["inv", "ms"], ["w0"]),
      node("Identity", ["w0"], ["w1"]),
      node("Max", ["w1", "ms"], ["w"]),
      node("MatMul", ["c", "u"], ["v0"]), // [2,3] @ [3] → [2]
      node("Tanh", ["v0"], ["v1"]),
      node("Sigmoid", ["v1"], ["v2"]),
      node("Exp", ["v2"], ["v3"]),
      node("Log", ["v3"], ["v4"]),
      node("Relu", ["v0"], ["v5"]),
      node("Abs", ["v0"], ["v6"]),
      node("Sub", ["v4", "v5"], ["v7"]),
      node("Div", ["v7", "r1"], ["v8"]), // [2] / [2,2] → [2,2]
      node("ReduceMean", ["v8"], ["v9"], { axes: { ints: [0] }, keepdims: { i: 0 } }),
      node("Add", ["v9", "v6"], ["v"]),
      constant("sumaxes", i64("", [1], [1])),
      node("ReduceSum", ["c", "sumaxes"], ["y"], { keepdims: { i: 1 } }),
    ],
  });
}

/** A causal mask from the sequence length: Shape, Range, ConstantOfShape, Trilu, Not, Cast, Equal, Expand, Where. */
function maskModel(): Uint8Array {
  return modelBytes({
    inputs: [info("scores", FLOAT, ["batch", "t", "t"]), info("ids", INT64, ["batch", "t"])],
    outputs: [info("att", FLOAT, ["batch", "t", "t"]), info("pos", INT64, ["batch", "t"])],
    nodes: [
      node("Shape", ["ids"], ["s"]),
      constant("one", i64("", [], [1])),
      node("Gather", ["s", "one"], ["t"], { axis: { i: 0 } }),
      constant("ax0", i64("", [1], [0])),
      node("Unsqueeze", ["t", "ax0"], ["t1"]),
      node("Concat", ["t1", "t1"], ["tt"], { axis: { i: 0 } }),
      node("ConstantOfShape", ["tt"], ["ones"], {
        value: { t: { dataType: BOOL, dims: [1], int32Data: [1] } },
      }),
      node("Trilu", ["ones"], ["tril"], { upper: { i: 0 } }),
      node("Not", ["tril"], ["above"]),
      node("Cast", ["above"], ["above_b"], { to: { i: BOOL } }),
      constant("ninf", f32("", [], [-Infinity])),
      node("Where", ["above_b", "ninf", "scores"], ["masked"]),
      node("Softmax", ["masked"], ["att"], { axis: { i: -1 } }),
      constant("zero", i64("", [], [0])),
      node("Range", ["zero", "t", "one"], ["r"]),
      node("Unsqueeze", ["r", "ax0"], ["r1"]),
      node("Expand", ["r1", "s"], ["pos0"]),
      node("Equal", ["ids", "ids"], ["same"]),
      node("Cast", ["same"], ["same_i"], { to: { i: INT64 } }),
      node("Mul", ["pos0", "same_i"], ["pos"]),
    ],
  });
}

// --- tests ---------------------------------------------------------------------------------------

Deno.test("imported graphs compute what ONNX Runtime computes on the original file", async (t) => {
  await t.step(
    "shape arithmetic, Reshape, Transpose, Gemm, Erf, LayerNormalization, Softmax, LogSoftmax",
    async () => {
      const x = Float32Array.from(randoms(24, 7));
      const { theirs, ours, outputs } = await bothWays(denseModel(), { x: { data: x, dims: [2, 3, 4] } });
      assert.deepEqual(outputs.y!.shape, [2, 12, 5]);
      assertClose(ours.y!, theirs.y!.data as Float32Array, 1e-5, "y");
      assertClose(ours.z!, theirs.z!.data as Float32Array, 1e-5, "z");
    },
  );
  await t.step(
    "Split, Slice, Gather (axis 1, negative index), reductions, Where, Pow, MatMul 1-D, unary ops",
    async () => {
      const x = Float32Array.from(randoms(12, 8));
      const { theirs, ours } = await bothWays(elementwiseModel(), { x: { data: x, dims: [2, 6] } });
      for (const k of ["y", "v", "w"]) assertClose(ours[k]!, theirs[k]!.data as Float32Array, 1e-5, k);
    },
  );
  await t.step(
    "a causal mask folded from the sequence length (Trilu, Range, ConstantOfShape, Expand)",
    async () => {
      const scores = Float32Array.from(randoms(2 * 4 * 4, 9));
      const ids = BigInt64Array.from([3n, 1n, 4n, 1n, 5n, 9n, 2n, 6n]);
      const { theirs, ours } = await bothWays(maskModel(), {
        scores: { data: scores, dims: [2, 4, 4] },
        ids: { data: ids, dims: [2, 4] },
      });
      assertClose(ours.att!, theirs.att!.data as Float32Array, 1e-6, "att");
      assertClose(ours.pos!, theirs.pos!.data as BigInt64Array, 0, "pos");
      // The mask and positions were folded: the engine graph holds constants, not shape ops.
      const g = new Graph();
      const { outputs } = importOnnx(g, parseOnnx(maskModel(), "mask.onnx"), {
        feeds: { scores: g.input("scores", [2, 4, 4]), ids: g.input("ids", [2, 4], "int64") },
      });
      assert.equal(outputs.pos!.node.op, "mul"); // ids == ids is data, the positions a constant
      assert.equal(g.nodes[outputs.pos!.node.inputs[0]!]!.op, "const");
    },
  );
});

Deno.test("erf: float32 and float64 values match reference values", async () => {
  const points = [-3, -1, -0.5, 0, 0.25, 1, 2.5, 7];
  const ref = [
    -0.9999779095030014,
    -0.8427007929497149,
    -0.5204998778130465,
    0,
    0.2763263901682369,
    0.8427007929497149,
    0.9995930479825550,
    1,
  ];
  for (const dtype of ["float32", "float64"] as const) {
    const g = new Graph();
    const x = g.input("x", [points.length], dtype);
    const out = await (await rt.compile(g, { y: g.apply("erf", [x]) })).run({
      x: dtype === "float32" ? Float32Array.from(points) : Float64Array.from(points),
    });
    assertClose(out.y!, ref, dtype === "float32" ? 1e-6 : 1e-14, `erf ${dtype}`);
  }
});

Deno.test("gradients through imported graphs pass the float64 random-direction VJP check", async () => {
  for (
    const [name, bytes, shape] of [["dense", denseModel(), [2, 3, 4]], ["elementwise", elementwiseModel(), [
      2,
      6,
    ]]] as const
  ) {
    const model = parseOnnx(bytes, `${name}.onnx`);
    for (const seed of [1, 2]) {
      const r = await checkVjp(rt, [{ shape }], (g, [x]) => {
        const { outputs } = importOnnx(g, model, { feeds: { x: x! }, dtype: "float64", weights: "const" });
        const outs = Object.values(outputs);
        return outs.slice(1).reduce((acc, o) => g.add(acc, g.sum(o)), g.sum(outs[0]!));
      }, { seed });
      assert.ok(r.relError < 1e-6, `${name} seed ${seed}: ${r.reverse} vs ${r.numeric}`);
    }
  }
});

Deno.test("float initializers become parameters named after them, trainable by gradient", () => {
  const g = new Graph();
  const x = g.input("x", [2, 3, 4]);
  const { outputs, params } = importOnnx(g, parseOnnx(denseModel(), "dense.onnx"), { feeds: { x } });
  assert.deepEqual([...params.keys()].sort(), ["C", "W", "ln.b", "ln.g"]);
  assert.deepEqual(g.params().map((p) => p.node.name).sort(), ["C", "W", "ln.b", "ln.g"]);
  const [dW] = grad(g.sum(g.mul(outputs.z!, outputs.z!)), [params.get("W")!]);
  assert.deepEqual(dW!.shape, [2, 5]);
});

Deno.test("import errors name the file, the op and the node", async (t) => {
  const x = () => {
    const g = new Graph();
    return { g, x: g.input("x", [2, 2]) };
  };
  await t.step("an unsupported op: the first one, its node, and the supported list", () => {
    const bytes = modelBytes({
      inputs: [info("x", FLOAT, [2, 2])],
      outputs: [info("y", FLOAT, [2, 2])],
      nodes: [node("Exp", ["x"], ["e"]), node("Sin", ["e"], ["s"], {}, "my_sin"), node("Cos", ["s"], ["y"])],
    });
    const { g, x: xt } = x();
    assert.throws(
      () => importOnnx(g, parseOnnx(bytes, "models/odd.onnx"), { feeds: { x: xt } }),
      (e: Error) => {
        assert.ok(e instanceof OnnxImportError);
        assert.match(
          e.message,
          /^models\/odd\.onnx: unsupported op Sin \(node "my_sin"\); the importer supports /,
        );
        assert.ok(e.message.includes(SUPPORTED_OPS.join(", ")));
        return true;
      },
    );
  });
  await t.step("an op of another domain", () => {
    const bytes = modelBytes({
      inputs: [info("x", FLOAT, [2, 2])],
      outputs: [info("y", FLOAT, [2, 2])],
      nodes: [{ ...node("FusedMatMul", ["x", "x"], ["y"], {}, "fm"), domain: "com.microsoft" }],
    });
    const { g, x: xt } = x();
    assert.throws(
      () => importOnnx(g, parseOnnx(bytes, "f.onnx"), { feeds: { x: xt } }),
      /^OnnxImportError: f\.onnx: unsupported op com\.microsoft\.FusedMatMul \(node "fm"\)/,
    );
  });
  await t.step("a shape that depends on the data", () => {
    const bytes = modelBytes({
      inputs: [info("x", FLOAT, [2, 2]), info("shape", INT64, [2])],
      outputs: [info("y", FLOAT, [4, 1])],
      nodes: [node("Reshape", ["x", "shape"], ["y"], {}, "dyn")],
    });
    const { g, x: xt } = x();
    assert.throws(
      () =>
        importOnnx(g, parseOnnx(bytes, "d.onnx"), {
          feeds: { x: xt, shape: g.input("shape", [2], "int64") },
        }),
      /d\.onnx: node 0 "dyn" \(Reshape\): input 1 must be known at import time \(a constant or a shape\), but it depends on the model's inputs/,
    );
  });
  await t.step("a bound tensor of the wrong shape, a missing feed, an old opset, not a model", () => {
    const bytes = denseModel();
    const g = new Graph();
    assert.throws(
      () => importOnnx(g, parseOnnx(bytes, "m.onnx"), { feeds: { x: g.input("x", [2, 4, 3]) } }),
      /m\.onnx: graph input "x" is float32 \[batch,3,4\], but the tensor bound to it is float32 \[2,4,3\]/,
    );
    assert.throws(
      () => importOnnx(g, parseOnnx(bytes, "m.onnx"), { feeds: {} }),
      /m\.onnx: no tensor bound to graph input "x" \(inputs: x\)/,
    );
    assert.throws(
      () => parseOnnx(denseModel(11), "old.onnx"),
      /old\.onnx: default-domain opset 11 \(the importer reads 13–18\)/,
    );
    assert.throws(
      () => parseOnnx(new Uint8Array([1, 2, 3, 255]), "junk.onnx"),
      /^OnnxImportError: junk\.onnx: not an ONNX model/,
    );
  });
});
