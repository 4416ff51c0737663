/**
 * The graph IR: static shapes, a closed set of ops (see `ops.ts`), one builder.
 *
 * A {@link Graph} records nodes in creation order, so node ids are already a topological order.
 * A {@link Tensor} is a handle (graph, id). Every builder method checks shapes and dtypes when it is
 * called and throws a {@link GraphError} naming the op and the shapes, so a malformed graph never
 * reaches ONNX Runtime.
 *
 * @module
 */
import { OPS } from "./ops.ts";

/** Element types the engine knows. Floats are differentiable; int64 and bool are not. */
export type DType = "float32" | "float64" | "int64" | "bool";
/** A static shape; `[]` is a scalar. */
export type Shape = readonly number[];
/** Attribute values an op may carry (plain data, so nodes hash and serialize deterministically). */
export type AttrValue = number | string | boolean | readonly number[];
/** An op's attributes. */
export type Attrs = Readonly<Record<string, AttrValue>>;
/** A typed array that can hold a tensor of some {@link DType}. */
export type TensorData = Float32Array | Float64Array | BigInt64Array | Uint8Array;

/** Shape and dtype of a value. */
export interface TensorInfo {
  /** Static shape of the value. */
  readonly shape: Shape;
  /** Element type of the value. */
  readonly dtype: DType;
}

/** One node: an input, a parameter, a constant or an op application. */
export interface Node extends TensorInfo {
  /** Index in {@link Graph.nodes}: creation order, so inputs always have smaller ids. */
  readonly id: number;
  /** Op name, a key of {@link OPS} (`input`, `param` and `const` for leaves). */
  readonly op: string;
  /** Ids of the nodes this one reads, in the op's argument order (`[]` for leaves). */
  readonly inputs: readonly number[];
  /** The op's attributes (`{}` for leaves). */
  readonly attrs: Attrs;
  /** Feed name, for `input` and `param` nodes. */
  readonly name?: string;
  /** Values, for `const` nodes. */
  readonly data?: TensorData;
}

/** A graph construction error: the op, the shapes involved, what was expected. */
export class GraphError extends Error {
  /** Always "GraphError", so messages and stack traces name the kind. */
  override name = "GraphError";
}

/** A handle to one value of a graph. */
export class Tensor implements TensorInfo {
  /** The graph the value belongs to. */
  readonly graph: Graph;
  /** Id of the node that computes the value (its index in `graph.nodes`). */
  readonly id: number;
  /** Wraps node `id` of `graph`; the builder methods of {@link Graph} create handles. */
  constructor(graph: Graph, id: number) {
    this.graph = graph;
    this.id = id;
  }
  /** The node that computes the value. */
  get node(): Node {
    return this.graph.nodes[this.id]!;
  }
  /** Static shape, from the node. */
  get shape(): Shape {
    return this.node.shape;
  }
  /** Element type, from the node. */
  get dtype(): DType {
    return this.node.dtype;
  }
  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }
}

/** Number of elements of a shape. */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** `[2,3]` style, for error messages. */
export function fmtShape(shape: Shape): string {
  return `[${shape.join(",")}]`;
}

/** True for the differentiable element types. */
export function isFloat(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float64";
}

/** The typed array constructor that holds a dtype. */
export function arrayFor(dtype: DType, n: number): TensorData {
  switch (dtype) {
    case "float32":
      return new Float32Array(n);
    case "float64":
      return new Float64Array(n);
    case "int64":
      return new BigInt64Array(n);
    case "bool":
      return new Uint8Array(n);
  }
}

/** numpy broadcasting of two shapes, or null when they do not broadcast. */
export function broadcastShapes(a: Shape, b: Shape): number[] | null {
  const n = Math.max(a.length, b.length);
  const out: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Normalizes a possibly negative axis against a rank, or throws naming the op. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new GraphError(`${op}: axis ${axis} is out of range for rank ${rank}`);
  }
  return a;
}

/** An argument of a binary builder method: a tensor, or a number lifted to a scalar constant of the other side's dtype. */
export type Operand = Tensor | number;

/**
 * A graph under construction. Builder methods append one node each (the gradient walker and
 * composites call them too) and return its handle.
 *
 * @example
 * ```ts
 * const g = new Graph();
 * const x = g.input("x", [2, 3]);
 * const w = g.param("w", [3, 4]);
 * const y = g.tanh(g.matmul(x, w)); // [2, 4]
 * ```
 */
export class Graph {
  /** Every node, in creation order (already a topological order); a node's id is its index. */
  readonly nodes: Node[] = [];
  #names = new Map<string, number>();
  #scalars = new Map<string, Tensor>();

  /** A named graph input (a feed), e.g. a batch. */
  input(name: string, shape: Shape, dtype: DType = "float32"): Tensor {
    return this.#named("input", name, shape, dtype);
  }

  /** A named trainable parameter; fed like an input, updated by the optimizer. */
  param(name: string, shape: Shape, dtype: DType = "float32"): Tensor {
    if (!isFloat(dtype)) throw new GraphError(`param "${name}": dtype ${dtype} is not a float type`);
    return this.#named("param", name, shape, dtype);
  }

  /** Inputs and parameters, in creation order. */
  feeds(): Node[] {
    return this.nodes.filter((n) => n.op === "input" || n.op === "param");
  }

  /** Parameter nodes, in creation order. */
  params(): Tensor[] {
    return this.nodes.filter((n) => n.op === "param").map((n) => new Tensor(this, n.id));
  }

  /** A constant tensor. Data is copied. */
  const(data: ArrayLike<number> | TensorData, shape: Shape, dtype: DType = "float32"): Tensor {
    checkShape("const", shape);
    const n = sizeOf(shape);
    if (data.length !== n) {
      throw new GraphError(`const: ${data.length} values do not fill shape ${fmtShape(shape)} (${n})`);
    }
    const arr = arrayFor(dtype, n);
    for (let i = 0; i < n; i++) {
      const v = data[i]!;
      (arr as unknown as Array<number | bigint>)[i] = dtype === "int64" ? BigInt(v) : Number(v);
    }
    return this.#push({ op: "const", inputs: [], attrs: {}, shape: [...shape], dtype, data: arr });
  }

  /** A scalar constant, shared between uses of the same value and dtype. */
  scalar(value: number, dtype: DType = "float32"): Tensor {
    const key = `${dtype}:${Object.is(value, -0) ? "-0" : value}`;
    let t = this.#scalars.get(key);
    if (!t) {
      t = this.const([value], [], dtype);
      this.#scalars.set(key, t);
    }
    return t;
  }

  /** A tensor of zeros (materialized by the runtime, not stored in the model). */
  zeros(shape: Shape, dtype: DType = "float32"): Tensor {
    return this.apply("fill", [], { shape: [...shape], dtype, value: 0 });
  }

  /** A tensor filled with one value. */
  fill(shape: Shape, value: number, dtype: DType = "float32"): Tensor {
    return this.apply("fill", [], { shape: [...shape], dtype, value });
  }

  /** A causal mask `[T, T]`: true where key position ≤ query position. */
  causalMask(t: number): Tensor {
    const m = new Uint8Array(t * t);
    for (let i = 0; i < t; i++) for (let j = 0; j <= i; j++) m[i * t + j] = 1;
    return this.const(m, [t, t], "bool");
  }

  /** Applies an op from the table by name; shape and dtype are inferred and checked here. */
  apply(op: string, inputs: readonly Tensor[], attrs: Attrs = {}): Tensor {
    const def = OPS[op];
    if (!def) throw new GraphError(`unknown op "${op}"`);
    for (const t of inputs) {
      if (t.graph !== this) throw new GraphError(`${op}: an input belongs to another graph`);
    }
    const info = def.infer(inputs, attrs);
    checkShape(op, info.shape);
    return this.#push({ op, inputs: inputs.map((t) => t.id), attrs, shape: info.shape, dtype: info.dtype });
  }

  // --- elementwise ---------------------------------------------------------------------------
  /** `a + b` elementwise, broadcasting (numpy rules); a number becomes a scalar of the other side's dtype. */
  add(a: Operand, b: Operand): Tensor {
    return this.#binary("add", a, b);
  }
  /** `a − b` elementwise, broadcasting; a number becomes a scalar of the other side's dtype. */
  sub(a: Operand, b: Operand): Tensor {
    return this.#binary("sub", a, b);
  }
  /** `a · b` elementwise, broadcasting; a number becomes a scalar of the other side's dtype. */
  mul(a: Operand, b: Operand): Tensor {
    return this.#binary("mul", a, b);
  }
  /** `a / b` elementwise, broadcasting (floats only). */
  div(a: Operand, b: Operand): Tensor {
    return this.#binary("div", a, b);
  }
  /** `aᵇ` elementwise, broadcasting (floats only); the gradient in `b` needs a > 0. */
  pow(a: Operand, b: Operand): Tensor {
    return this.#binary("pow", a, b);
  }
  /** Elementwise minimum, broadcasting (floats only); on ties the gradient goes to `a`. */
  minimum(a: Operand, b: Operand): Tensor {
    return this.#binary("minimum", a, b);
  }
  /** Elementwise maximum, broadcasting (floats only); on ties the gradient goes to `a`. */
  maximum(a: Operand, b: Operand): Tensor {
    return this.#binary("maximum", a, b);
  }
  /** `a == b` elementwise, broadcasting: bool, no gradient. */
  equal(a: Operand, b: Operand): Tensor {
    return this.#binary("equal", a, b);
  }
  /** `a < b` elementwise, broadcasting: bool, no gradient. */
  less(a: Operand, b: Operand): Tensor {
    return this.#binary("less", a, b);
  }
  /** `a ≤ b` elementwise, broadcasting: bool, no gradient. */
  lessOrEqual(a: Operand, b: Operand): Tensor {
    return this.#binary("lessOrEqual", a, b);
  }
  /** Logical and of two bool tensors, broadcasting. */
  and(a: Tensor, b: Tensor): Tensor {
    return this.apply("and", [a, b]);
  }
  /** `−x` elementwise (any numeric dtype). */
  neg(x: Tensor): Tensor {
    return this.apply("neg", [x]);
  }
  /** `eˣ` elementwise (floats only). */
  exp(x: Tensor): Tensor {
    return this.apply("exp", [x]);
  }
  /** Natural logarithm elementwise (floats only). */
  log(x: Tensor): Tensor {
    return this.apply("log", [x]);
  }
  /** Square root elementwise (floats only). */
  sqrt(x: Tensor): Tensor {
    return this.apply("sqrt", [x]);
  }
  /** `|x|` elementwise; the gradient takes sign(0) as +1. */
  abs(x: Tensor): Tensor {
    return this.apply("abs", [x]);
  }
  /** tanh elementwise (floats only). */
  tanh(x: Tensor): Tensor {
    return this.apply("tanh", [x]);
  }
  /** σ(x) = 1 / (1 + e⁻ˣ) elementwise (floats only). */
  sigmoid(x: Tensor): Tensor {
    return this.apply("sigmoid", [x]);
  }
  /** max(x, 0) elementwise; the gradient at 0 is 0. */
  relu(x: Tensor): Tensor {
    return this.apply("relu", [x]);
  }
  /** GELU, tanh approximation (GPT-2's). */
  gelu(x: Tensor): Tensor {
    return this.apply("gelu", [x]);
  }
  /** log σ(x), computed stably for large |x|. */
  logSigmoid(x: Tensor): Tensor {
    return this.apply("logSigmoid", [x]);
  }
  /** Clamps to [lo, hi]; the gradient passes where lo ≤ x ≤ hi. */
  clip(x: Tensor, lo: number, hi: number): Tensor {
    return this.apply("clip", [x], { lo, hi });
  }
  /** `cond ? a : b`, broadcasting all three. */
  where(cond: Tensor, a: Operand, b: Operand): Tensor {
    const ref = a instanceof Tensor ? a : b instanceof Tensor ? b : null;
    const dtype = ref?.dtype ?? "float32";
    return this.apply("where", [cond, this.#lift(a, dtype), this.#lift(b, dtype)]);
  }
  /** Converts to `dtype`; a gradient flows back only from a float to a float. */
  cast(x: Tensor, dtype: DType): Tensor {
    return this.apply("cast", [x], { to: dtype });
  }
  /** Identity whose gradient is zero: the value is treated as a constant by `grad`. */
  stopGradient(x: Tensor): Tensor {
    return this.apply("stopGradient", [x]);
  }

  // --- linear algebra, normalization -----------------------------------------------------------
  /** Batched matrix product `[..., M, K] @ [..., K, N]`, batch dims broadcast. */
  matmul(a: Tensor, b: Tensor): Tensor {
    return this.apply("matmul", [a, b]);
  }
  /** Softmax along `axis` (default the last; negative counts from the end). */
  softmax(x: Tensor, axis = -1): Tensor {
    return this.apply("softmax", [x], { axis: normAxis("softmax", axis, x.shape.length) });
  }
  /** log softmax(x) along `axis` (default the last; negative counts from the end). */
  logSoftmax(x: Tensor, axis = -1): Tensor {
    return this.apply("logSoftmax", [x], { axis: normAxis("logSoftmax", axis, x.shape.length) });
  }
  /** Running sum along `axis` (`reverse`: from the end). */
  cumsum(x: Tensor, axis = -1, reverse = false): Tensor {
    return this.apply("cumsum", [x], { axis: normAxis("cumsum", axis, x.shape.length), reverse });
  }
  /** Index of the largest entry along `axis` (removed), lowest index on ties: int64. */
  argMax(x: Tensor, axis = -1): Tensor {
    return this.apply("argMax", [x], { axis: normAxis("argMax", axis, x.shape.length) });
  }
  /** log softmax(x) along `axis` at index `idx` (int64, x's shape with 1 on `axis`), e.g. a token's log-prob. */
  logSoftmaxAt(x: Tensor, idx: Tensor, axis = -1): Tensor {
    return this.apply("logSoftmaxAt", [x, idx], { axis: normAxis("logSoftmaxAt", axis, x.shape.length) });
  }
  /** Layer normalization over the last axis with scale γ and shift β (both `[D]`). */
  layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
    return this.apply("layerNorm", [x, gamma, beta], { eps });
  }

  // --- reductions ------------------------------------------------------------------------------
  /** Sum over `axes` (default all; negative count from the end); `keepdims` keeps them with size 1. */
  reduceSum(x: Tensor, axes?: readonly number[], keepdims = false): Tensor {
    return this.#reduce("reduceSum", x, axes, keepdims);
  }
  /** Mean over `axes` (default all; negative count from the end); `keepdims` keeps them with size 1. */
  reduceMean(x: Tensor, axes?: readonly number[], keepdims = false): Tensor {
    return this.#reduce("reduceMean", x, axes, keepdims);
  }
  /** Maximum over `axes` (default all); `keepdims` keeps them with size 1; ties share the gradient equally. */
  reduceMax(x: Tensor, axes?: readonly number[], keepdims = false): Tensor {
    return this.#reduce("reduceMax", x, axes, keepdims);
  }

  // --- shape -----------------------------------------------------------------------------------
  /** Reshape; one dimension may be -1 and is inferred. */
  reshape(x: Tensor, shape: readonly number[]): Tensor {
    return this.apply("reshape", [x], { shape: resolveReshape(x.shape, shape) });
  }
  /** Permutes axes: output axis `i` is input axis `perm[i]`. */
  transpose(x: Tensor, perm: readonly number[]): Tensor {
    return this.apply("transpose", [x], { perm: [...perm] });
  }
  /** `x[..., start:end, ...]` along one axis (negative indices count from the end). */
  slice(x: Tensor, axis: number, start: number, end: number): Tensor {
    const ax = normAxis("slice", axis, x.shape.length);
    const d = x.shape[ax]!;
    const s = start < 0 ? start + d : start;
    const e = end < 0 ? end + d : Math.min(end, d);
    return this.apply("slice", [x], { axis: ax, start: s, end: e });
  }
  /** Joins tensors along `axis`; they must agree in dtype and every other dimension. */
  concat(xs: readonly Tensor[], axis: number): Tensor {
    const rank = xs[0]?.shape.length ?? 0;
    return this.apply("concat", xs, { axis: normAxis("concat", axis, rank) });
  }
  /** Broadcasts to a shape (numpy rules). */
  expand(x: Tensor, shape: Shape): Tensor {
    return this.apply("expand", [x], { shape: [...shape] });
  }
  /** Zero padding: `pads[i] = [before, after]` for each axis. */
  pad(x: Tensor, pads: readonly (readonly [number, number])[]): Tensor {
    return this.apply("pad", [x], { pads: pads.flat() });
  }

  // --- indexing --------------------------------------------------------------------------------
  /** Rows of a table: `table[idx]`, `[V, ...] × int64 [...] → [..., ...]` (embeddings). */
  gather(table: Tensor, idx: Tensor): Tensor {
    return this.apply("gather", [table, idx]);
  }
  /** `out[i][j] = x[i][idx[i][j]]` along an axis (e.g. the log-prob of each target token). */
  gatherElements(x: Tensor, idx: Tensor, axis = -1): Tensor {
    return this.apply("gatherElements", [x, idx], { axis: normAxis("gatherElements", axis, x.shape.length) });
  }

  // --- composites (no rule of their own) -------------------------------------------------------
  /** softplus(x) = log(1 + eˣ) = −log σ(−x), in the stable form. */
  softplus(x: Tensor): Tensor {
    return this.neg(this.logSigmoid(this.neg(x)));
  }
  /** x², as `x · x` (a composite). */
  square(x: Tensor): Tensor {
    return this.mul(x, x);
  }
  /** Mean over all elements, a scalar. */
  mean(x: Tensor): Tensor {
    return this.reduceMean(x);
  }
  /** Sum over all elements, a scalar. */
  sum(x: Tensor): Tensor {
    return this.reduceSum(x);
  }

  #named(op: "input" | "param", name: string, shape: Shape, dtype: DType): Tensor {
    checkShape(`${op} "${name}"`, shape);
    if (this.#names.has(name)) throw new GraphError(`${op}: the name "${name}" is already used`);
    // "%" starts the names the ONNX lowering gives internal values, so feeds never collide with them.
    if (name === "" || name.startsWith("%")) {
      throw new GraphError(`${op}: invalid name "${name}" (empty, or starting with "%")`);
    }
    const t = this.#push({ op, inputs: [], attrs: {}, shape: [...shape], dtype, name });
    this.#names.set(name, t.id);
    return t;
  }

  #lift(v: Operand, dtype: DType): Tensor {
    return v instanceof Tensor ? v : this.scalar(v, dtype);
  }

  #binary(op: string, a: Operand, b: Operand): Tensor {
    const dtype = a instanceof Tensor ? a.dtype : b instanceof Tensor ? b.dtype : "float32";
    return this.apply(op, [this.#lift(a, dtype), this.#lift(b, dtype)]);
  }

  #reduce(op: string, x: Tensor, axes: readonly number[] | undefined, keepdims: boolean): Tensor {
    const rank = x.shape.length;
    const ax = axes === undefined ? [...Array(rank).keys()] : axes.map((a) => normAxis(op, a, rank));
    const sorted = [...new Set(ax)].sort((p, q) => p - q);
    return this.apply(op, [x], { axes: sorted, keepdims });
  }

  #push(n: Omit<Node, "id">): Tensor {
    const id = this.nodes.length;
    this.nodes.push({ ...n, id } as Node);
    return new Tensor(this, id);
  }
}

function checkShape(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 1) {
      throw new GraphError(
        `${op}: invalid shape ${fmtShape(shape)} (every dimension must be an integer ≥ 1)`,
      );
    }
  }
}

function resolveReshape(from: Shape, to: readonly number[]): number[] {
  const n = sizeOf(from);
  const free = to.filter((d) => d === -1).length;
  if (free > 1) throw new GraphError(`reshape: more than one -1 in ${fmtShape(to)}`);
  const known = to.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const out = to.map((d) => (d === -1 ? n / known : d));
  if (sizeOf(out) !== n || out.some((d) => !Number.isInteger(d))) {
    throw new GraphError(`reshape: cannot reshape ${fmtShape(from)} (${n} elements) to ${fmtShape(to)}`);
  }
  return out;
}

/**
 * Rebuilds into `dst` the part of `src` that `outputs` need, node for node: `bind` may give a tensor of
 * `dst` for any `input` or `param` node (by its name), and the others are declared in `dst` under
 * `rename(name)`; constants are copied. Returns each output's counterpart. With `bind` mapping
 * parameters to a previous step's updated values, one graph chains several steps of the same model.
 */
export function replay(
  src: Graph,
  dst: Graph,
  outputs: readonly Tensor[],
  o: { bind?: (name: string) => Tensor | undefined; rename?: (name: string) => string },
): Tensor[] {
  const need = new Set<number>(), stack = outputs.map((t) => t.id);
  while (stack.length) {
    const id = stack.pop()!;
    if (need.has(id)) continue;
    need.add(id);
    stack.push(...src.nodes[id]!.inputs);
  }
  const map = new Map<number, Tensor>();
  for (const n of src.nodes) {
    if (!need.has(n.id)) continue;
    let t: Tensor;
    if (n.op === "input" || n.op === "param") {
      t = o.bind?.(n.name!) ??
        (n.op === "input" ? dst.input : dst.param).call(
          dst,
          o.rename?.(n.name!) ?? n.name!,
          n.shape,
          n.dtype,
        );
    } else if (n.op === "const") t = dst.const(n.data!, n.shape, n.dtype);
    else t = dst.apply(n.op, n.inputs.map((i) => map.get(i)!), n.attrs);
    map.set(n.id, t);
  }
  return outputs.map((t) => map.get(t.id)!);
}
