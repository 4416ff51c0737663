/**
 * The op table. Each entry holds, side by side, an op's shape/dtype inference, its ONNX emission and
 * its vector-Jacobian rule (micrograd/tinygrad style). Rules are written with graph builder calls and
 * may return a gradient of the *output's* broadcast shape: the walker in `autodiff.ts` sums it back to
 * the input's shape. Rules never emit ONNX; lowering is one pass in `onnx.ts`.
 *
 * @module
 */
import type { Attrs, DType, Graph, Shape, Tensor, TensorInfo } from "./graph.ts";
import { broadcastShapes, fmtShape, GraphError, isFloat, sizeOf } from "./graph.ts";
import type { Emitter } from "./onnx.ts";

/** What a vector-Jacobian rule sees. */
export interface VjpContext {
  /** The graph being differentiated; rules build the gradient with its builder methods. */
  readonly g: Graph;
  /** The node's inputs. */
  readonly x: readonly Tensor[];
  /** The node's output. */
  readonly out: Tensor;
  /** The gradient flowing into the output (same shape as `out`). */
  readonly grad: Tensor;
  /** The node's attributes. */
  readonly attrs: Attrs;
}

/** One op: inference, lowering, derivative. */
export interface OpDef {
  /** Output shape and dtype; throws a GraphError naming the op and shapes when inputs do not fit. */
  infer(x: readonly TensorInfo[], attrs: Attrs): TensorInfo;
  /** Emits ONNX nodes computing the op; returns the name of the output value. */
  onnx(
    e: Emitter,
    x: readonly string[],
    attrs: Attrs,
    info: { x: readonly TensorInfo[]; out: TensorInfo },
  ): string;
  /** One gradient per input (null where none flows), or null for ops with no derivative. */
  vjp: ((c: VjpContext) => (Tensor | null)[]) | null;
}

// --- inference helpers -------------------------------------------------------------------------

function fail(op: string, x: readonly TensorInfo[], why: string): never {
  const shapes = x.map((t) => `${fmtShape(t.shape)} ${t.dtype}`).join(", ");
  throw new GraphError(`${op}: ${why} (inputs: ${shapes})`);
}

function arity(op: string, x: readonly TensorInfo[], n: number): void {
  if (x.length !== n) fail(op, x, `expects ${n} input(s), got ${x.length}`);
}

function floatUnary(op: string) {
  return (x: readonly TensorInfo[]): TensorInfo => {
    arity(op, x, 1);
    if (!isFloat(x[0]!.dtype)) fail(op, x, "needs a float input");
    return x[0]!;
  };
}

function broadcastBinary(op: string, out?: DType, needFloat = true) {
  return (x: readonly TensorInfo[]): TensorInfo => {
    arity(op, x, 2);
    const [a, b] = x as [TensorInfo, TensorInfo];
    if (a.dtype !== b.dtype) fail(op, x, `dtypes differ (${a.dtype} vs ${b.dtype})`);
    if (needFloat && !isFloat(a.dtype)) fail(op, x, "needs float inputs");
    const shape = broadcastShapes(a.shape, b.shape);
    if (!shape) fail(op, x, `shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} do not broadcast`);
    return { shape, dtype: out ?? a.dtype };
  };
}

function num(a: Attrs, k: string): number {
  return a[k] as number;
}
function nums(a: Attrs, k: string): readonly number[] {
  return a[k] as readonly number[];
}

function unary(onnxOp: string) {
  return (e: Emitter, [x]: readonly string[]) => e.node(onnxOp, [x!]);
}
function binary(onnxOp: string) {
  return (e: Emitter, [a, b]: readonly string[]) => e.node(onnxOp, [a!, b!]);
}

// --- the table ---------------------------------------------------------------------------------

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;

/** The op table: every op a {@link Node} may name, with its inference, lowering and derivative. */
export const OPS: Readonly<Record<string, OpDef>> = {
  // Leaves: never lowered through the table, listed so every node op has an entry.
  input: leaf(),
  param: leaf(),
  const: leaf(),

  fill: {
    infer: (x, a) => {
      arity("fill", x, 0);
      return { shape: nums(a, "shape"), dtype: a.dtype as DType };
    },
    onnx: (e, _x, a) =>
      e.node("ConstantOfShape", [e.ints(nums(a, "shape"))], {
        value: { tensor: { dtype: a.dtype as DType, value: num(a, "value") } },
      }),
    vjp: () => [],
  },

  add: {
    infer: broadcastBinary("add", undefined, false),
    onnx: binary("Add"),
    vjp: ({ grad }) => [grad, grad],
  },
  sub: {
    infer: broadcastBinary("sub", undefined, false),
    onnx: binary("Sub"),
    vjp: ({ g, grad }) => [grad, g.neg(grad)],
  },
  mul: {
    infer: broadcastBinary("mul", undefined, false),
    onnx: binary("Mul"),
    vjp: ({ g, grad, x: [a, b] }) => [g.mul(grad, b!), g.mul(grad, a!)],
  },
  div: {
    infer: broadcastBinary("div"),
    onnx: binary("Div"),
    // d(a/b) = da/b − a·db/b² = da/b − out·db/b
    vjp: ({ g, grad, x: [, b], out }) => [g.div(grad, b!), g.neg(g.div(g.mul(grad, out), b!))],
  },
  pow: {
    infer: broadcastBinary("pow"),
    onnx: binary("Pow"),
    // d(aᵇ) = b·aᵇ⁻¹·da + aᵇ·ln(a)·db; the exponent's rule needs a > 0 and is built only when
    // the exponent depends on something differentiable (constants get no gradient anyway).
    vjp: ({ g, grad, x: [a, b], out }) => [
      g.mul(grad, g.mul(b!, g.pow(a!, g.sub(b!, 1)))),
      b!.node.op === "const" ? null : g.mul(grad, g.mul(out, g.log(a!))),
    ],
  },
  minimum: {
    infer: broadcastBinary("minimum"),
    onnx: binary("Min"),
    // Ties send the gradient to the first input.
    vjp: ({ g, grad, x: [a, b] }) => {
      const first = g.lessOrEqual(a!, b!);
      return [g.where(first, grad, 0), g.where(first, 0, grad)];
    },
  },
  maximum: {
    infer: broadcastBinary("maximum"),
    onnx: binary("Max"),
    vjp: ({ g, grad, x: [a, b] }) => {
      const first = g.lessOrEqual(b!, a!);
      return [g.where(first, grad, 0), g.where(first, 0, grad)];
    },
  },
  equal: { infer: broadcastBinary("equal", "bool", false), onnx: binary("Equal"), vjp: null },
  less: { infer: broadcastBinary("less", "bool", false), onnx: binary("Less"), vjp: null },
  lessOrEqual: {
    infer: broadcastBinary("lessOrEqual", "bool", false),
    onnx: binary("LessOrEqual"),
    vjp: null,
  },
  and: {
    infer: (x) => {
      arity("and", x, 2);
      if (x[0]!.dtype !== "bool" || x[1]!.dtype !== "bool") fail("and", x, "needs bool inputs");
      return broadcastBinary("and", "bool", false)(x);
    },
    onnx: binary("And"),
    vjp: null,
  },

  neg: {
    infer: (x) => {
      arity("neg", x, 1);
      if (x[0]!.dtype === "bool") fail("neg", x, "needs a numeric input");
      return x[0]!;
    },
    onnx: unary("Neg"),
    vjp: ({ g, grad }) => [g.neg(grad)],
  },
  exp: {
    infer: floatUnary("exp"),
    onnx: unary("Exp"),
    vjp: ({ g, grad, out }) => [g.mul(grad, out)], // d exp = exp · dx: reuse the forward output
  },
  log: {
    infer: floatUnary("log"),
    onnx: unary("Log"),
    vjp: ({ g, grad, x: [x] }) => [g.div(grad, x!)],
  },
  sqrt: {
    infer: floatUnary("sqrt"),
    onnx: unary("Sqrt"),
    vjp: ({ g, grad, out }) => [g.div(grad, g.mul(out, 2))],
  },
  abs: {
    infer: floatUnary("abs"),
    onnx: unary("Abs"),
    // sign(x)·g, with sign(0) taken as +1 (a subgradient)
    vjp: ({ g, grad, x: [x] }) => [g.where(g.less(x!, 0), g.neg(grad), grad)],
  },
  tanh: {
    infer: floatUnary("tanh"),
    onnx: unary("Tanh"),
    vjp: ({ g, grad, out }) => [g.mul(grad, g.sub(1, g.mul(out, out)))],
  },
  sigmoid: {
    infer: floatUnary("sigmoid"),
    onnx: unary("Sigmoid"),
    vjp: ({ g, grad, out }) => [g.mul(grad, g.mul(out, g.sub(1, out)))],
  },
  relu: {
    infer: floatUnary("relu"),
    onnx: unary("Relu"),
    vjp: ({ g, grad, x: [x] }) => [g.where(g.less(0, x!), grad, 0)],
  },
  gelu: {
    infer: floatUnary("gelu"),
    // 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))); ONNX has Gelu only from opset 20. Emitted node
    // for node in the first form ONNX Runtime's FastGeluFusion matches (core/optimizer/fast_gelu_fusion.cc:
    // x·0.044715 → ·x → +1 → ·(x·√(2/π)) → Tanh → +1 → ·(x·0.5)), so on float32 the nine nodes run as one
    // FastGelu kernel while the file stays standard ONNX.
    onnx: (e, [x], _a, { out }) => {
      const s = (v: number) => e.scalar(v, out.dtype);
      const poly = e.node("Add", [e.node("Mul", [e.node("Mul", [x!, s(GELU_K)]), x!]), s(1)]);
      const t = e.node("Tanh", [e.node("Mul", [poly, e.node("Mul", [x!, s(SQRT_2_OVER_PI)])])]);
      return e.node("Mul", [e.node("Mul", [x!, s(0.5)]), e.node("Add", [t, s(1)])]);
    },
    // With u = √(2/π)·(x + 0.044715·x³), gelu = x·σ(2u) (as ½(1 + tanh u) = σ(2u)), so
    // d/dx = s + x·s·(1 − s)·2u′ with s = σ(2u): 13 passes over x's size where the tanh form takes 17.
    vjp: ({ g, grad, x: [x] }) => {
      const x2 = g.mul(x!, x!);
      const s = g.sigmoid(g.mul(x!, g.add(g.mul(x2, 2 * SQRT_2_OVER_PI * GELU_K), 2 * SQRT_2_OVER_PI)));
      const du2 = g.add(g.mul(x2, 6 * SQRT_2_OVER_PI * GELU_K), 2 * SQRT_2_OVER_PI); // 2u′
      const d = g.mul(s, g.add(g.mul(g.mul(x!, g.sub(1, s)), du2), 1));
      return [g.mul(grad, d)];
    },
  },
  // Added for imported graphs (PyTorch exports the exact GELU as x·(1 + erf(x/√2))/2).
  erf: {
    infer: floatUnary("erf"),
    onnx: (e, [x], _a, { out }) => (out.dtype === "float64" ? erf64(e, x!) : e.node("Erf", [x!])),
    // d erf(x) = 2/√π · e^{−x²} dx
    vjp: ({ g, grad, x: [x] }) => [g.mul(grad, g.mul(g.exp(g.neg(g.mul(x!, x!))), 2 / Math.sqrt(Math.PI)))],
  },
  logSigmoid: {
    infer: floatUnary("logSigmoid"),
    // log σ(x) = min(x, 0) − log(1 + e^{−|x|}): never exponentiates a large positive number. It is an
    // op of its own (not a composite) so its derivative σ(−x) is exact at the kink x = 0.
    onnx: (e, [x], _a, { out }) => {
      const s = (v: number) => e.scalar(v, out.dtype);
      const soft = e.node("Log", [
        e.node("Add", [e.node("Exp", [e.node("Neg", [e.node("Abs", [x!])])]), s(1)]),
      ]);
      return e.node("Sub", [e.node("Min", [x!, s(0)]), soft]);
    },
    vjp: ({ g, grad, x: [x] }) => [g.mul(grad, g.sigmoid(g.neg(x!)))],
  },
  clip: {
    infer: floatUnary("clip"),
    onnx: (e, [x], a, { out }) =>
      e.node("Clip", [x!, e.scalar(num(a, "lo"), out.dtype), e.scalar(num(a, "hi"), out.dtype)]),
    vjp: ({ g, grad, x: [x], attrs }) => {
      const inside = g.and(g.lessOrEqual(num(attrs, "lo"), x!), g.lessOrEqual(x!, num(attrs, "hi")));
      return [g.where(inside, grad, 0)];
    },
  },
  where: {
    infer: (x) => {
      arity("where", x, 3);
      const [c, a, b] = x as [TensorInfo, TensorInfo, TensorInfo];
      if (c.dtype !== "bool") fail("where", x, "the condition must be bool");
      if (a.dtype !== b.dtype) fail("where", x, `branch dtypes differ (${a.dtype} vs ${b.dtype})`);
      const ab = broadcastShapes(a.shape, b.shape);
      const shape = ab && broadcastShapes(c.shape, ab);
      if (!shape) fail("where", x, "shapes do not broadcast");
      return { shape, dtype: a.dtype };
    },
    onnx: (e, [c, a, b]) => e.node("Where", [c!, a!, b!]),
    vjp: ({ g, grad, x: [c] }) => [null, g.where(c!, grad, 0), g.where(c!, 0, grad)],
  },
  cast: {
    infer: (x, a) => {
      arity("cast", x, 1);
      return { shape: x[0]!.shape, dtype: a.to as DType };
    },
    onnx: (e, [x], a) => e.node("Cast", [x!], { to: { dtype: a.to as DType } }),
    vjp: ({ g, grad, x: [x] }) => [isFloat(x!.dtype) && isFloat(grad.dtype) ? g.cast(grad, x!.dtype) : null],
  },
  stopGradient: {
    infer: (x) => {
      arity("stopGradient", x, 1);
      return x[0]!;
    },
    onnx: unary("Identity"),
    vjp: () => [null],
  },

  matmul: {
    infer: (x) => {
      arity("matmul", x, 2);
      const [a, b] = x as [TensorInfo, TensorInfo];
      if (a.dtype !== b.dtype || !isFloat(a.dtype)) fail("matmul", x, "needs two float inputs of one dtype");
      if (a.shape.length < 2 || b.shape.length < 2) fail("matmul", x, "needs inputs of rank ≥ 2");
      const m = a.shape[a.shape.length - 2]!, k = a.shape[a.shape.length - 1]!;
      const k2 = b.shape[b.shape.length - 2]!, n = b.shape[b.shape.length - 1]!;
      if (k !== k2) fail("matmul", x, `inner dimensions differ (${k} ≠ ${k2})`);
      const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
      if (!batch) fail("matmul", x, "batch dimensions do not broadcast");
      return { shape: [...batch, m, n], dtype: a.dtype };
    },
    onnx: binary("MatMul"),
    // dA = G·Bᵀ, dB = Aᵀ·G (broadcast batch dims summed back by the walker). A shared 2-D weight
    // times a batched input (every linear layer) folds the batch into the rows instead: one
    // [K, B·M]·[B·M, N] product, not B small products and a reduction over B (25% of a GPT step).
    vjp: ({ g, grad, x: [a, b] }) => {
      const da = g.matmul(grad, swapLast(g, b!));
      if (b!.shape.length === 2 && a!.shape.length > 2) {
        const k = a!.shape[a!.shape.length - 1]!, n = b!.shape[1]!;
        return [da, g.matmul(swapLast(g, g.reshape(a!, [-1, k])), g.reshape(grad, [-1, n]))];
      }
      return [da, g.matmul(swapLast(g, a!), grad)];
    },
  },
  softmax: {
    infer: floatUnary("softmax"),
    onnx: (e, [x], a) => e.node("Softmax", [x!], { axis: { int: num(a, "axis") } }),
    // dx = y ⊙ (g − Σ g⊙y)
    vjp: ({ g, grad, out, attrs }) => {
      const s = g.reduceSum(g.mul(grad, out), [num(attrs, "axis")], true);
      return [g.mul(out, g.sub(grad, s))];
    },
  },
  logSoftmax: {
    infer: floatUnary("logSoftmax"),
    onnx: (e, [x], a) => e.node("LogSoftmax", [x!], { axis: { int: num(a, "axis") } }),
    // dx = g − softmax(x)·Σ g
    vjp: ({ g, grad, out, attrs }) => {
      const s = g.reduceSum(grad, [num(attrs, "axis")], true);
      return [g.sub(grad, g.mul(g.exp(out), s))];
    },
  },
  cumsum: {
    infer: floatUnary("cumsum"),
    onnx: (e, [x], a) =>
      e.node("CumSum", [x!, e.ints([num(a, "axis")])], { reverse: { int: a.reverse ? 1 : 0 } }),
    // y_i = Σ_{j≤i} x_j, so dx_j = Σ_{i≥j} g_i: the cumulative sum in the other direction.
    vjp: (
      { g, grad, attrs },
    ) => [g.apply("cumsum", [grad], { axis: num(attrs, "axis"), reverse: !attrs.reverse })],
  },
  argMax: {
    infer: (x, a) => {
      arity("argMax", x, 1);
      if (!isFloat(x[0]!.dtype)) fail("argMax", x, "needs a float input");
      return { shape: x[0]!.shape.filter((_, i) => i !== num(a, "axis")), dtype: "int64" };
    },
    // The first maximal index on ties (select_last_index = 0), as a host argmax scanning upwards.
    onnx: (e, [x], a) =>
      e.node("ArgMax", [x!], {
        axis: { int: num(a, "axis") },
        keepdims: { int: 0 },
        select_last_index: { int: 0 },
      }),
    vjp: null,
  },
  // log softmax(x) at one index per row along `axis` (a token's log-probability): its own op so that
  // its gradient is three passes over x's size, p·(−g) plus g scattered at the index, instead of the
  // one-hot, the sum over the axis and the softmax that the two ops' rules would spend.
  logSoftmaxAt: {
    infer: (x, a) => {
      arity("logSoftmaxAt", x, 2);
      const [v, i] = x as [TensorInfo, TensorInfo];
      const ax = num(a, "axis");
      const ok = isFloat(v.dtype) && i.dtype === "int64" && i.shape.length === v.shape.length &&
        i.shape.every((d, k) => (k === ax ? d === 1 : d === v.shape[k]));
      if (!ok) fail("logSoftmaxAt", x, `indices must be int64 of the data's shape with 1 on axis ${ax}`);
      return { shape: i.shape, dtype: v.dtype };
    },
    onnx: (e, [v, i], a) => {
      const axis = { int: num(a, "axis") };
      return e.node("GatherElements", [e.node("LogSoftmax", [v!], { axis }), i!], { axis });
    },
    // d/dx_j log p_i = [j = i] − p_j
    vjp: ({ g, grad, x: [v, i], attrs }) => {
      const axis = num(attrs, "axis");
      const spread = g.mul(g.softmax(v!, axis), g.neg(grad));
      return [g.apply("scatterAddElements", [spread, i!, grad], { axis }), null];
    },
  },
  layerNorm: {
    infer: (x) => {
      arity("layerNorm", x, 3);
      const [v, gm, bt] = x as [TensorInfo, TensorInfo, TensorInfo];
      const d = v.shape[v.shape.length - 1];
      if (!isFloat(v.dtype) || gm.dtype !== v.dtype || bt.dtype !== v.dtype) {
        fail("layerNorm", x, "needs float inputs of one dtype");
      }
      if (gm.shape.length !== 1 || gm.shape[0] !== d || bt.shape.length !== 1 || bt.shape[0] !== d) {
        fail("layerNorm", x, `scale and shift must be [${d}]`);
      }
      return v;
    },
    onnx: (e, [x, gm, bt], a) =>
      e.node("LayerNormalization", [x!, gm!, bt!], { axis: { int: -1 }, epsilon: { float: num(a, "eps") } }),
    // With x̂ = (x − μ)·r, r = 1/√(σ² + ε), ĝ = g·γ:  dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)),
    // dγ = Σ g·x̂, dβ = Σ g (over all leading axes; the walker sums the broadcast).
    vjp: ({ g, grad, x: [x, gamma], attrs }) => {
      const centered = g.sub(x!, g.reduceMean(x!, [-1], true));
      const r = g.div(
        1,
        g.sqrt(g.add(g.reduceMean(g.mul(centered, centered), [-1], true), num(attrs, "eps"))),
      );
      const xhat = g.mul(centered, r);
      const gh = g.mul(grad, gamma!);
      const dx = g.mul(
        r,
        g.sub(
          g.sub(gh, g.reduceMean(gh, [-1], true)),
          g.mul(xhat, g.reduceMean(g.mul(gh, xhat), [-1], true)),
        ),
      );
      return [dx, g.mul(grad, xhat), grad];
    },
  },

  reduceSum: {
    infer: reduceInfer("reduceSum"),
    onnx: (e, [x], a) =>
      e.node("ReduceSum", [x!, e.ints(nums(a, "axes"))], { keepdims: { int: a.keepdims ? 1 : 0 } }),
    vjp: ({ g, grad, x: [x], attrs }) => [g.expand(keepDims(g, grad, x!.shape, attrs), x!.shape)],
  },
  reduceMean: {
    infer: reduceInfer("reduceMean"),
    // opset 17 still takes ReduceMean's axes as an attribute (an input from opset 18)
    onnx: (e, [x], a) =>
      e.node("ReduceMean", [x!], { axes: { ints: nums(a, "axes") }, keepdims: { int: a.keepdims ? 1 : 0 } }),
    vjp: ({ g, grad, x: [x], attrs }) => {
      const count = nums(attrs, "axes").reduce((p, ax) => p * x!.shape[ax]!, 1);
      return [g.expand(g.div(keepDims(g, grad, x!.shape, attrs), count), x!.shape)];
    },
  },
  reduceMax: {
    infer: reduceInfer("reduceMax"),
    onnx: (e, [x], a) =>
      e.node("ReduceMax", [x!], { axes: { ints: nums(a, "axes") }, keepdims: { int: a.keepdims ? 1 : 0 } }),
    // Ties share the gradient equally.
    vjp: ({ g, grad, x: [x], out, attrs }) => {
      const axes = nums(attrs, "axes");
      const mask = g.cast(g.equal(x!, keepDims(g, out, x!.shape, attrs)), x!.dtype);
      const count = g.reduceSum(mask, axes, true);
      return [g.mul(mask, g.div(keepDims(g, grad, x!.shape, attrs), count))];
    },
  },

  reshape: {
    infer: (x, a) => {
      arity("reshape", x, 1);
      const shape = nums(a, "shape");
      if (sizeOf(shape) !== sizeOf(x[0]!.shape)) fail("reshape", x, `cannot reshape to ${fmtShape(shape)}`);
      return { shape, dtype: x[0]!.dtype };
    },
    onnx: (e, [x], a) => e.node("Reshape", [x!, e.ints(nums(a, "shape"))]),
    vjp: ({ g, grad, x: [x] }) => [g.reshape(grad, [...x!.shape])],
  },
  transpose: {
    infer: (x, a) => {
      arity("transpose", x, 1);
      const perm = nums(a, "perm");
      const s = x[0]!.shape;
      const ok = perm.length === s.length && [...perm].sort((p, q) => p - q).every((v, i) => v === i);
      if (!ok) fail("transpose", x, `perm ${fmtShape(perm)} is not a permutation of ${s.length} axes`);
      return { shape: perm.map((p) => s[p]!), dtype: x[0]!.dtype };
    },
    onnx: (e, [x], a) => e.node("Transpose", [x!], { perm: { ints: nums(a, "perm") } }),
    vjp: ({ g, grad, attrs }) => {
      const perm = nums(attrs, "perm");
      const inv = new Array<number>(perm.length);
      perm.forEach((p, i) => (inv[p] = i));
      return [g.transpose(grad, inv)];
    },
  },
  slice: {
    infer: (x, a) => {
      arity("slice", x, 1);
      const s = x[0]!.shape;
      const ax = num(a, "axis"), start = num(a, "start"), end = num(a, "end");
      if (!(start >= 0 && end > start && end <= s[ax]!)) {
        fail("slice", x, `range ${start}:${end} is empty or outside axis ${ax} of size ${s[ax]}`);
      }
      return { shape: s.map((d, i) => (i === ax ? end - start : d)), dtype: x[0]!.dtype };
    },
    onnx: (e, [x], a) =>
      e.node("Slice", [x!, e.ints([num(a, "start")]), e.ints([num(a, "end")]), e.ints([num(a, "axis")])]),
    vjp: ({ g, grad, x: [x], attrs }) => {
      const ax = num(attrs, "axis");
      const pads = x!.shape.map((d, i): [number, number] =>
        i === ax ? [num(attrs, "start"), d - num(attrs, "end")] : [0, 0]
      );
      return [g.pad(grad, pads)];
    },
  },
  concat: {
    infer: (x, a) => {
      if (x.length < 1) fail("concat", x, "needs at least one input");
      const ax = num(a, "axis");
      const first = x[0]!;
      let total = 0;
      for (const t of x) {
        const same = t.dtype === first.dtype && t.shape.length === first.shape.length &&
          t.shape.every((d, i) => i === ax || d === first.shape[i]);
        if (!same) fail("concat", x, `inputs must match except along axis ${ax}`);
        total += t.shape[ax]!;
      }
      return { shape: first.shape.map((d, i) => (i === ax ? total : d)), dtype: first.dtype };
    },
    onnx: (e, x, a) => e.node("Concat", x, { axis: { int: num(a, "axis") } }),
    vjp: ({ g, grad, x, attrs }) => {
      const ax = num(attrs, "axis");
      let at = 0;
      return x.map((t) => {
        const d = t.shape[ax]!;
        const s = g.slice(grad, ax, at, at + d);
        at += d;
        return s;
      });
    },
  },
  expand: {
    infer: (x, a) => {
      arity("expand", x, 1);
      const shape = nums(a, "shape");
      const b = broadcastShapes(x[0]!.shape, shape);
      if (!b || b.length !== shape.length || b.some((d, i) => d !== shape[i])) {
        fail("expand", x, `cannot broadcast to ${fmtShape(shape)}`);
      }
      return { shape, dtype: x[0]!.dtype };
    },
    onnx: (e, [x], a) => e.node("Expand", [x!, e.ints(nums(a, "shape"))]),
    vjp: ({ grad }) => [grad], // summed back to the input shape by the walker
  },
  pad: {
    infer: (x, a) => {
      arity("pad", x, 1);
      const p = nums(a, "pads");
      const s = x[0]!.shape;
      if (p.length !== 2 * s.length || p.some((v) => !Number.isInteger(v) || v < 0)) {
        fail("pad", x, `pads ${fmtShape(p)} must be ${s.length} non-negative [before, after] pairs`);
      }
      return { shape: s.map((d, i) => d + p[2 * i]! + p[2 * i + 1]!), dtype: x[0]!.dtype };
    },
    onnx: (e, [x], a) => {
      const p = nums(a, "pads");
      const n = p.length / 2;
      // ONNX orders pads as all begins, then all ends.
      const onnxPads = [...Array(n).keys()].map((i) => p[2 * i]!).concat(
        [...Array(n).keys()].map((i) => p[2 * i + 1]!),
      );
      return e.node("Pad", [x!, e.ints(onnxPads)]);
    },
    vjp: ({ g, grad, x: [x], attrs }) => {
      const p = nums(attrs, "pads");
      let r = grad;
      x!.shape.forEach((d, i) => {
        if (p[2 * i]! > 0 || p[2 * i + 1]! > 0) r = g.slice(r, i, p[2 * i]!, p[2 * i]! + d);
      });
      return [r];
    },
  },

  gather: {
    infer: (x) => {
      arity("gather", x, 2);
      const [t, i] = x as [TensorInfo, TensorInfo];
      if (i.dtype !== "int64") fail("gather", x, "indices must be int64");
      if (t.shape.length < 1) fail("gather", x, "the table must have rank ≥ 1");
      return { shape: [...i.shape, ...t.shape.slice(1)], dtype: t.dtype };
    },
    onnx: (e, [t, i]) => e.node("Gather", [t!, i!], { axis: { int: 0 } }),
    // Rows that were read receive the sum of their gradients (repeated indices add up).
    vjp: (
      { g, grad, x: [t, i] },
    ) => [g.apply("scatterAddRows", [g.zeros(t!.shape, t!.dtype), i!, grad]), null],
  },
  scatterAddRows: {
    infer: (x) => {
      arity("scatterAddRows", x, 3);
      const [d, i, u] = x as [TensorInfo, TensorInfo, TensorInfo];
      const want = [...i.shape, ...d.shape.slice(1)];
      if (i.dtype !== "int64" || u.dtype !== d.dtype || fmtShape(u.shape) !== fmtShape(want)) {
        fail("scatterAddRows", x, `updates must be ${fmtShape(want)} ${d.dtype} with int64 indices`);
      }
      return d;
    },
    onnx: (e, [d, i, u], _a, { x }) => {
      const idx = e.node("Reshape", [i!, e.ints([...x[1]!.shape, 1])]);
      return e.node("ScatterND", [d!, idx, u!], { reduction: { str: "add" } });
    },
    vjp: ({ g, grad, x: [, i] }) => [grad, null, g.gather(grad, i!)],
  },
  gatherElements: {
    infer: (x, a) => {
      arity("gatherElements", x, 2);
      const [v, i] = x as [TensorInfo, TensorInfo];
      const ax = num(a, "axis");
      const ok = i.dtype === "int64" && i.shape.length === v.shape.length &&
        i.shape.every((d, k) => k === ax || d === v.shape[k]);
      if (!ok) {
        fail("gatherElements", x, `indices must be int64 of the data's rank, matching except on axis ${ax}`);
      }
      return { shape: i.shape, dtype: v.dtype };
    },
    onnx: (e, [v, i], a) => e.node("GatherElements", [v!, i!], { axis: { int: num(a, "axis") } }),
    vjp: ({ g, grad, x: [v, i], attrs }) => {
      const ax = num(attrs, "axis"), rank = v!.shape.length, k = ax < 0 ? ax + rank : ax;
      if (i!.shape[k] === 1) {
        // One index per row (a token's log-prob): the gradient is grad times the one-hot of the row's
        // index, a broadcast compare and multiply (ONNX Runtime's broadcasting Mul is far faster than its
        // broadcasting Where). It is the scatter's result (0 + g = g) but for the sign of zeros, without a
        // zero tensor of the data's size or ScatterElements' single-threaded kernel (4% of a GPT step).
        const n = v!.shape[k]!;
        const iota = g.const([...Array(n).keys()], v!.shape.map((d, j) => (j === k ? d : 1)), "int64");
        return [g.mul(g.cast(g.equal(iota, i!), grad.dtype), grad), null];
      }
      return [g.apply("scatterAddElements", [g.zeros(v!.shape, v!.dtype), i!, grad], { axis: ax }), null];
    },
  },
  scatterAddElements: {
    infer: (x) => {
      arity("scatterAddElements", x, 3);
      const [d, i, u] = x as [TensorInfo, TensorInfo, TensorInfo];
      if (i.dtype !== "int64" || u.dtype !== d.dtype || fmtShape(u.shape) !== fmtShape(i.shape)) {
        fail("scatterAddElements", x, "updates must match the indices' shape and the data's dtype");
      }
      return d;
    },
    onnx: (e, [d, i, u], a) =>
      e.node("ScatterElements", [d!, i!, u!], { axis: { int: num(a, "axis") }, reduction: { str: "add" } }),
    vjp: ({ g, grad, x: [, i], attrs }) => [grad, null, g.gatherElements(grad, i!, num(attrs, "axis"))],
  },
};

/**
 * erf in float64 from ONNX arithmetic: ONNX Runtime's CPU provider has an Erf kernel for float32 only.
 * erf(x) = 2/√π · e^{−x²} · x · Σₙ (2x²)ⁿ / (3·5···(2n+1)), a series of positive terms (no
 * cancellation, relative error ~1e-15), summed by Horner over x clipped to [−6, 6] where erf is ±1 to
 * double precision beyond; 110 terms reach 1e-17 at |x| = 6.
 */
function erf64(e: Emitter, x: string): string {
  const s = (v: number) => e.scalar(v, "float64");
  const xc = e.node("Clip", [x, s(-6), s(6)]);
  const y = e.node("Mul", [e.node("Mul", [xc, xc]), s(2)]);
  let acc = s(1);
  for (let n = 110; n >= 1; n--) {
    acc = e.node("Add", [e.node("Mul", [e.node("Mul", [acc, y]), s(1 / (2 * n + 1))]), s(1)]);
  }
  const gauss = e.node("Exp", [e.node("Neg", [e.node("Mul", [xc, xc])])]);
  return e.node("Mul", [e.node("Mul", [e.node("Mul", [xc, acc]), gauss]), s(2 / Math.sqrt(Math.PI))]);
}

function leaf(): OpDef {
  return {
    infer: () => {
      throw new GraphError("leaf nodes are created by Graph.input/param/const");
    },
    onnx: () => {
      throw new GraphError("leaf nodes are not lowered through the op table");
    },
    vjp: () => [],
  };
}

function reduceInfer(op: string) {
  return (x: readonly TensorInfo[], a: Attrs): TensorInfo => {
    arity(op, x, 1);
    if (!isFloat(x[0]!.dtype)) fail(op, x, "needs a float input");
    const axes = nums(a, "axes");
    const s = x[0]!.shape;
    const shape = a.keepdims
      ? s.map((d, i) => (axes.includes(i) ? 1 : d))
      : s.filter((_, i) => !axes.includes(i));
    return { shape, dtype: x[0]!.dtype };
  };
}

/** Reshapes a reduced tensor to the keepdims form of `shape` (size-1 reduced axes). */
function keepDims(g: Graph, t: Tensor, shape: Shape, attrs: Attrs): Tensor {
  if (attrs.keepdims) return t;
  const axes = nums(attrs, "axes");
  return g.reshape(t, shape.map((d, i) => (axes.includes(i) ? 1 : d)));
}

function swapLast(g: Graph, t: Tensor): Tensor {
  const r = t.shape.length;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return g.transpose(t, perm);
}
