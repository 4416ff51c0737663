/**
 * Importing an ONNX inference graph (e.g. `torch.onnx.export` of a causal LM) into the graph IR, so it
 * can be differentiated and trained like a graph written by hand.
 *
 * The IR has static shapes, so a model is imported at fixed input shapes the caller chooses (the
 * tensors bound to its inputs). Everything that depends only on shapes and constants — `Shape`,
 * `Gather` of a shape, `Unsqueeze`/`Concat` of sizes, `Range`, `ConstantOfShape`, `Trilu` of a mask —
 * is folded on the host at import time; the rest maps node by node onto engine ops. Float initializers
 * of rank ≥ 1 ({@link isWeight}) become trainable parameters named after the initializer (or constants,
 * for an inference model); scalars, integer and bool initializers are constants.
 *
 * Errors name the file, and for an op outside the supported set the first such op's type and node
 * name, with the supported list.
 *
 * @module
 */
import onnxProto from "npm:onnx-proto@8.0.1";
import type { DType, Graph, Shape, Tensor, TensorData } from "./graph.ts";
import { broadcastShapes, fmtShape, isFloat, sizeOf } from "./graph.ts";

/** A node of the file's graph, as `onnx-proto` decodes it (not yet mapped onto engine ops). */
export type INode = onnxProto.onnx.INodeProto;
type IAttr = onnxProto.onnx.IAttributeProto;
type ITensor = onnxProto.onnx.ITensorProto;

/** An import error: names the file, and the node where there is one. */
export class OnnxImportError extends Error {
  /** Always "OnnxImportError", so messages and stack traces name the kind. */
  override name = "OnnxImportError";
}

/** A tensor stored in the file (an initializer), decoded. */
export interface OnnxTensor {
  /** Initializer name in the file. */
  readonly name: string;
  /** Element type, as the engine reads it. */
  readonly dtype: DType;
  /** Dimensions, from the file. */
  readonly shape: Shape;
  /** Values, in the typed array of `dtype`. */
  readonly data: TensorData;
}

/** A graph input or output as the file declares it: dims are numbers, or names where dynamic. */
export interface OnnxValueInfo {
  /** Value name in the file. */
  readonly name: string;
  /** Element type (int32 read as int64), or null where the file declares none or one the engine lacks. */
  readonly dtype: DType | null;
  /** Dimensions: a number where static, the dimension's name (or "?") where dynamic. */
  readonly dims: readonly (number | string)[];
}

/** A decoded model file, ready to import (any number of times, at any shapes). */
export interface OnnxModelFile {
  /** Where it came from, for error messages. */
  readonly source: string;
  /** The default-domain opset. */
  readonly opset: number;
  /** The graph inputs to feed, initializers excluded. */
  readonly inputs: readonly OnnxValueInfo[];
  /** The graph outputs, in file order. */
  readonly outputs: readonly OnnxValueInfo[];
  /** Initializers by name, in file order. */
  readonly initializers: ReadonlyMap<string, OnnxTensor>;
  /** The graph's nodes, in file order, as decoded. */
  readonly nodes: readonly INode[];
}

/** Default-domain opsets the importer reads (the semantics it implements differ before 13). */
export const SUPPORTED_OPSETS = { min: 13, max: 18 } as const;

/** Options of {@link importOnnx}. */
export interface ImportOptions {
  /** A tensor for every graph input (initializers aside), by name; their shapes fix the import. */
  feeds: Readonly<Record<string, Tensor>>;
  /**
   * How float initializers enter the graph: `param` (default) declares each as a trainable parameter
   * named after it; `const` bakes the values in (an inference model).
   */
  weights?: "param" | "const";
  /** Values to use instead of the file's for float initializers, by name (`const` mode). */
  values?: ReadonlyMap<string, TensorData>;
  /** The float type of the imported graph (default float32); float64 casts every float. */
  dtype?: "float32" | "float64";
  /** Intermediate values to return beside the graph outputs, by their names in the file. */
  fetch?: readonly string[];
}

/** What {@link importOnnx} built. */
export interface ImportedGraph {
  /** The graph outputs (and the fetched values), by name. */
  readonly outputs: Record<string, Tensor>;
  /** The parameters declared for float initializers (`param` mode), by initializer name. */
  readonly params: Map<string, Tensor>;
}

/** Decodes a ModelProto; `source` names it in errors. */
export function parseOnnx(bytes: Uint8Array, source: string): OnnxModelFile {
  const fail = (why: string): never => {
    throw new OnnxImportError(`${source}: ${why}`);
  };
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnxProto.onnx.ModelProto.decode(bytes);
  } catch (e) {
    return fail(`not an ONNX model (${e instanceof Error ? e.message : e})`);
  }
  const graph = model.graph ?? fail("the file holds no graph");
  const opset = num((model.opsetImport ?? []).find((o) => !o.domain)?.version ?? 0);
  if (opset < SUPPORTED_OPSETS.min || opset > SUPPORTED_OPSETS.max) {
    fail(
      `default-domain opset ${opset} (the importer reads ${SUPPORTED_OPSETS.min}–${SUPPORTED_OPSETS.max})`,
    );
  }
  const initializers = new Map<string, OnnxTensor>();
  for (const t of graph.initializer ?? []) {
    initializers.set(t.name ?? "", decodeTensor(t, (why) => fail(`initializer "${t.name}": ${why}`)));
  }
  const info = (v: onnxProto.onnx.IValueInfoProto): OnnxValueInfo => {
    const t = v.type?.tensorType;
    return {
      name: v.name ?? "",
      dtype: ONNX_DTYPES[t?.elemType ?? -1] ?? null,
      dims: (t?.shape?.dim ?? []).map((d) => (d.dimValue != null ? num(d.dimValue) : d.dimParam || "?")),
    };
  };
  return {
    source,
    opset,
    inputs: (graph.input ?? []).filter((v) => !initializers.has(v.name ?? "")).map(info),
    outputs: (graph.output ?? []).map(info),
    initializers,
    nodes: graph.node ?? [],
  };
}

/** Reads and decodes a model file; errors name the file. */
export async function readOnnx(path: string): Promise<OnnxModelFile> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new OnnxImportError(`${path}: ${e instanceof Deno.errors.NotFound ? "no such file" : e}`);
  }
  return parseOnnx(bytes, path);
}

/**
 * Builds `model` into `g` at the shapes of `options.feeds`, returning its outputs and the parameters
 * declared for its float initializers.
 *
 * @example
 * ```ts
 * const model = await readOnnx("tiny_lm.onnx");
 * const g = new Graph();
 * const ids = g.input("input_ids", [4, 16], "int64");
 * const { outputs, params } = importOnnx(g, model, { feeds: { input_ids: ids } });
 * const loss = crossEntropy(g, outputs.logits!, g.input("targets", [4, 16], "int64"));
 * ```
 */
export function importOnnx(g: Graph, model: OnnxModelFile, options: ImportOptions): ImportedGraph {
  const src = model.source;
  const first = model.nodes.find((n) => !!n.domain || !HANDLERS[n.opType ?? ""]);
  if (first) {
    const op = first.domain ? `${first.domain}.${first.opType}` : first.opType;
    throw new OnnxImportError(
      `${src}: unsupported op ${op} (node "${first.name ?? ""}"); the importer supports ${
        SUPPORTED_OPS.join(", ")
      }`,
    );
  }
  const floatType = options.dtype ?? "float32";
  const values = new Map<string, Value>();
  const params = new Map<string, Tensor>();

  for (const spec of model.inputs) {
    const t = options.feeds[spec.name];
    if (!t) {
      throw new OnnxImportError(
        `${src}: no tensor bound to graph input "${spec.name}" (inputs: ${
          model.inputs.map((i) => i.name).join(", ")
        })`,
      );
    }
    const wantType = spec.dtype && (isFloat(spec.dtype) ? floatType : spec.dtype);
    const dimsOk = spec.dims.length === t.shape.length &&
      spec.dims.every((d, i) => typeof d === "string" || d === t.shape[i]);
    if ((wantType && t.dtype !== wantType) || !dimsOk) {
      throw new OnnxImportError(
        `${src}: graph input "${spec.name}" is ${spec.dtype} [${spec.dims.join(",")}], ` +
          `but the tensor bound to it is ${t.dtype} ${fmtShape(t.shape)}`,
      );
    }
    values.set(spec.name, fromTensor(t));
  }
  for (const [name, t] of model.initializers) {
    if (values.has(name)) continue; // an input with a default: the feed wins
    if (isWeight(t)) values.set(name, { kind: "init", name, t });
    else values.set(name, { kind: "static", v: staticOf(mapFloat(t.dtype, floatType), t.shape, t.data) });
  }

  const ctx: Ctx = {
    g,
    src,
    opset: model.opset,
    floatType,
    tensor(v: Value): Tensor {
      if (v.kind === "tensor") return v.t;
      if (v.kind === "static") return g.const(v.v.data, v.v.shape, v.v.dtype);
      if (v.kind === "missing") throw new OnnxImportError(`${src}: ${v.why}`);
      let p = params.get(v.name);
      if (!p) {
        if (options.weights === "const") {
          const data = options.values?.get(v.name) ?? v.t.data;
          if (data.length !== sizeOf(v.t.shape)) {
            throw new OnnxImportError(
              `${src}: the value given for "${v.name}" does not fill ${fmtShape(v.t.shape)}`,
            );
          }
          p = g.const(data, v.t.shape, floatType);
        } else p = g.param(v.name, v.t.shape, floatType);
        params.set(v.name, p);
      }
      return p;
    },
  };

  model.nodes.forEach((node, index) => {
    const op = node.opType!;
    const where = `node ${index} "${node.name ?? ""}" (${op})`;
    const ins = (node.input ?? []).map((name) => {
      if (name === "") return null;
      const v = values.get(name);
      if (!v) throw new OnnxImportError(`${src}: ${where} reads "${name}", which nothing produced`);
      return v;
    });
    const n = new NodeView(ctx, node, ins, where);
    let outs: Value[];
    try {
      outs = HANDLERS[op]!(n);
    } catch (e) {
      if (e instanceof OnnxImportError) throw e;
      throw new OnnxImportError(`${src}: ${where}: ${e instanceof Error ? e.message : e}`);
    }
    (node.output ?? []).forEach((name, i) => {
      if (name === "") return;
      const v = outs[i];
      values.set(name, v ?? { kind: "missing", why: `${where} output ${i} is not supported` });
    });
  });

  const outputs: Record<string, Tensor> = {};
  for (const name of [...model.outputs.map((o) => o.name), ...(options.fetch ?? [])]) {
    const v = values.get(name);
    if (!v) throw new OnnxImportError(`${src}: value "${name}" is produced by no node`);
    if (v.kind === "missing") throw new OnnxImportError(`${src}: value "${name}": ${v.why}`);
    outputs[name] = ctx.tensor(v);
  }
  return { outputs, params };
}

/**
 * Whether an initializer is a weight (a parameter): float, rank ≥ 1, and not named like a value the
 * engine's own lowering made up (`%`-prefixed). Scalars — ε, √d, GELU's constants that constant
 * folding stored as initializers — stay constants.
 */
export function isWeight(t: OnnxTensor): boolean {
  return isFloat(t.dtype) && t.shape.length >= 1 && !t.name.startsWith("%");
}

function mapFloat(dtype: DType, floatType: "float32" | "float64"): DType {
  return isFloat(dtype) ? floatType : dtype;
}

// --- values ------------------------------------------------------------------------------------

/** A value known at import time, on the host. Numbers (ints within 2⁵³; floats as doubles). */
interface Static {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly data: readonly number[];
}

type Value =
  | { kind: "static"; v: Static }
  | { kind: "tensor"; t: Tensor }
  | { kind: "init"; name: string; t: OnnxTensor }
  | { kind: "missing"; why: string };

interface Ctx {
  readonly g: Graph;
  readonly src: string;
  readonly opset: number;
  readonly floatType: "float32" | "float64";
  tensor(v: Value): Tensor;
}

function fromTensor(t: Tensor): Value {
  const n = t.node;
  if (n.op === "const" && n.data) return { kind: "static", v: staticOf(n.dtype, n.shape, n.data) };
  return { kind: "tensor", t };
}

function staticOf(dtype: DType, shape: Shape, data: TensorData | readonly number[]): Static {
  return { dtype, shape: [...shape], data: Array.from(data as ArrayLike<number | bigint>, (x) => Number(x)) };
}

class NodeView {
  readonly ctx: Ctx;
  readonly node: INode;
  readonly ins: (Value | null)[];
  readonly where: string;
  constructor(ctx: Ctx, node: INode, ins: (Value | null)[], where: string) {
    this.ctx = ctx;
    this.node = node;
    this.ins = ins;
    this.where = where;
  }
  get g(): Graph {
    return this.ctx.g;
  }
  fail(why: string): never {
    throw new OnnxImportError(`${this.ctx.src}: ${this.where}: ${why}`);
  }
  has(i: number): boolean {
    return !!this.ins[i];
  }
  value(i: number): Value {
    const v = this.ins[i] ?? this.fail(`input ${i} is missing`);
    if (v.kind === "missing") this.fail(`input ${i}: ${v.why}`);
    return v;
  }
  /** True when every present input is known at import time. */
  allStatic(): boolean {
    return this.ins.every((v) => !v || v.kind === "static");
  }
  tensor(i: number): Tensor {
    return this.ctx.tensor(this.value(i));
  }
  static(i: number): Static {
    const v = this.value(i);
    if (v.kind === "static") return v.v;
    return this.fail(
      `input ${i} must be known at import time (a constant or a shape), but it depends on ${
        v.kind === "init" ? `the weight "${v.name}"` : "the model's inputs"
      }`,
    );
  }
  shapeOf(i: number): Shape {
    const v = this.value(i);
    return v.kind === "static"
      ? v.v.shape
      : v.kind === "init"
      ? v.t.shape
      : v.kind === "tensor"
      ? v.t.shape
      : [];
  }
  ints(i: number): number[] {
    return [...this.static(i).data];
  }
  attr(name: string): IAttr | undefined {
    return (this.node.attribute ?? []).find((a) => a.name === name);
  }
  int(name: string, dflt: number): number {
    const a = this.attr(name);
    return a ? num(a.i ?? 0) : dflt;
  }
  float(name: string, dflt: number): number {
    const a = this.attr(name);
    return a ? Number(a.f ?? 0) : dflt;
  }
  intList(name: string): number[] | null {
    const a = this.attr(name);
    return a ? (a.ints ?? []).map(num) : null;
  }
  /** The float dtype a file float maps to. */
  mapDtype(dtype: DType): DType {
    return mapFloat(dtype, this.ctx.floatType);
  }
}

const tensorV = (t: Tensor): Value => ({ kind: "tensor", t });
const staticV = (v: Static): Value => ({ kind: "static", v });

// --- the handlers ------------------------------------------------------------------------------

type Handler = (n: NodeView) => Value[];

function elementwise(
  onTensor: (g: Graph, xs: Tensor[]) => Tensor,
  onStatic?: (xs: number[], dtype: DType) => number,
  outDtype?: DType,
): Handler {
  return (n) => {
    if (onStatic && n.allStatic()) {
      const xs = n.ins.map((_, i) => n.static(i));
      return [staticV(broadcastStatic(n, xs, onStatic, outDtype))];
    }
    const xs = n.ins.map((_, i) => n.tensor(i));
    // ONNX requires equal input types; a float64 import may meet a float constant and a float input.
    return [tensorV(onTensor(n.g, xs))];
  };
}

function unaryFloat(f: (g: Graph, x: Tensor) => Tensor): Handler {
  return (n) => [tensorV(f(n.g, n.tensor(0)))];
}

const intDiv = (a: number, b: number) => Math.trunc(a / b);

const HANDLERS: Readonly<Record<string, Handler>> = {
  Identity: (n) => [n.value(0)],
  Dropout: (n) => [n.value(0)], // inference graphs only: dropout is the identity there
  Constant: (n) => {
    const a = n.node.attribute?.[0] ?? n.fail("no value attribute");
    if (a.t) return [staticV(toStatic(decodeTensor(a.t, (why) => n.fail(why)), n))];
    if (a.name === "value_float") {
      return [staticV({ dtype: n.ctx.floatType, shape: [], data: [Number(a.f)] })];
    }
    if (a.name === "value_int") return [staticV({ dtype: "int64", shape: [], data: [num(a.i ?? 0)] })];
    if (a.name === "value_ints") {
      const v = (a.ints ?? []).map(num);
      return [staticV({ dtype: "int64", shape: [v.length], data: v })];
    }
    if (a.name === "value_floats") {
      const v = (a.floats ?? []).map(Number);
      return [staticV({ dtype: n.ctx.floatType, shape: [v.length], data: v })];
    }
    return n.fail(`Constant attribute "${a.name}" is not supported`);
  },
  Shape: (n) => {
    const s = n.shapeOf(0);
    const r = s.length;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
    const dims = s.slice(clamp(n.int("start", 0)), clamp(n.int("end", r)));
    return [staticV({ dtype: "int64", shape: [dims.length], data: dims })];
  },
  Size: (n) => [staticV({ dtype: "int64", shape: [], data: [sizeOf(n.shapeOf(0))] })],
  ConstantOfShape: (n) => {
    const shape = n.ints(0);
    const a = n.attr("value");
    const t = a?.t ? decodeTensor(a.t, (why) => n.fail(why)) : null;
    const dtype = t ? n.mapDtype(t.dtype) : n.ctx.floatType;
    const v = t ? Number(t.data[0]) : 0;
    if (shape.some((d) => d < 1)) n.fail(`shape ${fmtShape(shape)} has an empty dimension`);
    return [staticV({ dtype, shape, data: new Array(sizeOf(shape)).fill(v) })];
  },
  Range: (n) => {
    const [start, limit, delta] = [0, 1, 2].map((i) => n.static(i).data[0]!);
    const count = Math.max(Math.ceil((limit! - start!) / delta!), 0);
    const data = Array.from({ length: count }, (_, i) => start! + i * delta!);
    return [staticV({ dtype: n.static(0).dtype, shape: [count], data })];
  },
  Cast: (n) => {
    const to = ONNX_DTYPES[n.int("to", 0)] ?? n.fail(`Cast to ONNX type ${n.int("to", 0)} is not supported`);
    const dtype = n.mapDtype(to);
    const v = n.value(0);
    if (v.kind === "static") {
      const conv = dtype === "bool"
        ? (x: number) => (x ? 1 : 0)
        : dtype === "float32"
        ? Math.fround
        : isFloat(dtype)
        ? (x: number) => x
        : (x: number) => Math.trunc(x);
      return [staticV({ dtype, shape: v.v.shape, data: v.v.data.map(conv) })];
    }
    const t = n.tensor(0);
    return [tensorV(t.dtype === dtype ? t : n.g.cast(t, dtype))];
  },

  Add: elementwise((g, [a, b]) => g.add(a!, b!), ([a, b]) => a! + b!),
  Sub: elementwise((g, [a, b]) => g.sub(a!, b!), ([a, b]) => a! - b!),
  Mul: elementwise((g, [a, b]) => g.mul(a!, b!), ([a, b]) => a! * b!),
  Div: elementwise(
    (g, [a, b]) => g.div(a!, b!),
    ([a, b], dtype) => (isFloat(dtype) ? a! / b! : intDiv(a!, b!)),
  ),
  Pow: elementwise((g, [a, b]) => g.pow(a!, b!), ([a, b]) => a! ** b!),
  Max: elementwise((g, xs) => xs.reduce((p, q) => g.maximum(p, q)), (xs) => Math.max(...xs)),
  Min: elementwise((g, xs) => xs.reduce((p, q) => g.minimum(p, q)), (xs) => Math.min(...xs)),
  Neg: elementwise((g, [x]) => g.neg(x!), ([x]) => -x!),
  Sqrt: elementwise((g, [x]) => g.sqrt(x!), ([x]) => Math.sqrt(x!)),
  Reciprocal: elementwise((g, [x]) => g.div(g.scalar(1, x!.dtype), x!), ([x]) => 1 / x!),
  Equal: elementwise((g, [a, b]) => g.equal(a!, b!), ([a, b]) => (a === b ? 1 : 0), "bool"),
  Less: elementwise((g, [a, b]) => g.less(a!, b!), ([a, b]) => (a! < b! ? 1 : 0), "bool"),
  LessOrEqual: elementwise((g, [a, b]) => g.lessOrEqual(a!, b!), ([a, b]) => (a! <= b! ? 1 : 0), "bool"),
  Greater: elementwise((g, [a, b]) => g.less(b!, a!), ([a, b]) => (a! > b! ? 1 : 0), "bool"),
  GreaterOrEqual: elementwise(
    (g, [a, b]) => g.lessOrEqual(b!, a!),
    ([a, b]) => (a! >= b! ? 1 : 0),
    "bool",
  ),
  And: elementwise((g, [a, b]) => g.and(a!, b!), ([a, b]) => (a && b ? 1 : 0), "bool"),
  Not: elementwise((g, [x]) => g.equal(x!, g.const([0], [], "bool")), ([x]) => (x ? 0 : 1), "bool"),
  Where: (n) => {
    if (n.allStatic()) {
      const xs = [0, 1, 2].map((i) => n.static(i));
      return [staticV(broadcastStatic(n, xs, ([c, a, b]) => (c ? a! : b!), xs[1]!.dtype))];
    }
    return [tensorV(n.g.where(n.tensor(0), n.tensor(1), n.tensor(2)))];
  },

  Exp: unaryFloat((g, x) => g.exp(x)),
  Log: unaryFloat((g, x) => g.log(x)),
  Tanh: unaryFloat((g, x) => g.tanh(x)),
  Sigmoid: unaryFloat((g, x) => g.sigmoid(x)),
  Relu: unaryFloat((g, x) => g.relu(x)),
  Abs: unaryFloat((g, x) => g.abs(x)),
  Erf: unaryFloat((g, x) => g.apply("erf", [x])),
  Clip: (n) => {
    const lo = n.has(1) ? n.static(1).data[0]! : -Infinity;
    const hi = n.has(2) ? n.static(2).data[0]! : Infinity;
    return [tensorV(n.g.clip(n.tensor(0), lo, hi))];
  },

  MatMul: (n) => [tensorV(matmul(n.g, n.tensor(0), n.tensor(1)))],
  Gemm: (n) => {
    const g = n.g;
    let a = n.tensor(0), b = n.tensor(1);
    if (n.int("transA", 0)) a = g.transpose(a, [1, 0]);
    if (n.int("transB", 0)) b = g.transpose(b, [1, 0]);
    const alpha = n.float("alpha", 1), beta = n.float("beta", 1);
    let y = g.matmul(a, b);
    if (alpha !== 1) y = g.mul(y, alpha);
    if (n.has(2)) {
      const c = n.tensor(2);
      y = g.add(y, beta === 1 ? c : g.mul(c, beta));
    }
    return [tensorV(y)];
  },
  Softmax: (n) => [tensorV(n.g.softmax(n.tensor(0), softmaxAxis(n)))],
  LogSoftmax: (n) => [tensorV(n.g.logSoftmax(n.tensor(0), softmaxAxis(n)))],
  LayerNormalization: (n) => {
    const x = n.tensor(0);
    const axis = n.int("axis", -1);
    if (axis !== -1 && axis !== x.shape.length - 1) {
      n.fail(`LayerNormalization over axis ${axis} (only the last axis is supported)`);
    }
    const d = x.shape[x.shape.length - 1]!;
    const beta = n.has(2) ? n.tensor(2) : n.g.fill([d], 0, x.dtype);
    // Mean and InvStdDev (outputs 1, 2) are left missing: an error only if something reads them.
    return [tensorV(n.g.layerNorm(x, n.tensor(1), beta, n.float("epsilon", 1e-5)))];
  },
  ReduceMean: reduce("reduceMean", 18),
  ReduceSum: reduce("reduceSum", 13),
  ReduceMax: reduce("reduceMax", 18),

  Reshape: (n) => {
    const from = n.shapeOf(0);
    const spec = n.ints(1);
    const allowZero = n.int("allowzero", 0);
    const to = spec.map((d, i) => (d === 0 && !allowZero ? from[i]! : d));
    return [reshapeValue(n, 0, to)];
  },
  Flatten: (n) => {
    const s = n.shapeOf(0);
    const axis = n.int("axis", 1) < 0 ? n.int("axis", 1) + s.length : n.int("axis", 1);
    return [reshapeValue(n, 0, [sizeOf(s.slice(0, axis)), sizeOf(s.slice(axis))])];
  },
  Unsqueeze: (n) => {
    const s = n.shapeOf(0);
    const axes = n.has(1) ? n.ints(1) : n.intList("axes") ?? n.fail("no axes");
    const r = s.length + axes.length;
    const norm = new Set(axes.map((a) => (a < 0 ? a + r : a)));
    const out: number[] = [];
    let k = 0;
    for (let i = 0; i < r; i++) out.push(norm.has(i) ? 1 : s[k++]!);
    return [reshapeValue(n, 0, out)];
  },
  Squeeze: (n) => {
    const s = n.shapeOf(0);
    const axes = n.has(1) ? n.ints(1) : n.intList("axes");
    const drop = axes
      ? new Set(axes.map((a) => (a < 0 ? a + s.length : a)))
      : new Set(s.flatMap((d, i) => (d === 1 ? [i] : [])));
    return [reshapeValue(n, 0, s.filter((_, i) => !drop.has(i)))];
  },
  Expand: (n) => {
    const to = broadcastShapes(n.shapeOf(0), n.ints(1)) ??
      n.fail(`cannot broadcast ${fmtShape(n.shapeOf(0))} to ${fmtShape(n.ints(1))}`);
    const v = n.value(0);
    if (v.kind === "static") {
      return [staticV(broadcastStatic(n, [v.v], ([x]) => x!, v.v.dtype, to))];
    }
    const t = n.tensor(0);
    return [tensorV(fmtShape(t.shape) === fmtShape(to) ? t : n.g.expand(t, to))];
  },
  Transpose: (n) => {
    const s = n.shapeOf(0);
    const perm = n.intList("perm") ?? [...s.keys()].reverse();
    const v = n.value(0);
    if (v.kind === "static") return [staticV(transposeStatic(v.v, perm))];
    return [tensorV(n.g.transpose(n.tensor(0), perm))];
  },
  Concat: (n) => {
    const r = n.shapeOf(0).length;
    const axis = n.int("axis", 0) < 0 ? n.int("axis", 0) + r : n.int("axis", 0);
    if (n.allStatic()) {
      const xs = n.ins.map((_, i) => n.static(i));
      return [staticV(concatStatic(xs, axis))];
    }
    const xs = n.ins.map((_, i) => n.tensor(i));
    return [tensorV(xs.length === 1 ? xs[0]! : n.g.concat(xs, axis))];
  },
  Split: (n) => {
    const s = n.shapeOf(0);
    const axis = n.int("axis", 0) < 0 ? n.int("axis", 0) + s.length : n.int("axis", 0);
    const outs = (n.node.output ?? []).length;
    const d = s[axis]!;
    const sizes = n.has(1) ? n.ints(1) : n.intList("split") ?? Array.from({ length: outs }, (_, i) => {
      const each = Math.ceil(d / outs); // opset 18 num_outputs: the last chunk may be smaller
      return Math.min(each, d - i * each);
    });
    const x = n.tensor(0);
    let at = 0;
    return sizes.map((k) => {
      const t = k === d ? x : n.g.slice(x, axis, at, at + k);
      at += k;
      return tensorV(t);
    });
  },
  Slice: (n) => {
    const s = n.shapeOf(0);
    const starts = n.ints(1), ends = n.ints(2);
    const axes = n.has(3) ? n.ints(3) : starts.map((_, i) => i);
    const steps = n.has(4) ? n.ints(4) : starts.map(() => 1);
    const v = n.value(0);
    const ranges = s.map((d) => [0, d, 1] as [number, number, number]);
    axes.forEach((a, i) => {
      const ax = a < 0 ? a + s.length : a;
      const d = s[ax]!;
      const step = steps[i]!;
      if (step !== 1 && v.kind !== "static") n.fail(`Slice with step ${step} (only step 1 is supported)`);
      const clampIdx = (x: number, lo: number, hi: number) => Math.min(Math.max(x < 0 ? x + d : x, lo), hi);
      ranges[ax] = step > 0
        ? [clampIdx(starts[i]!, 0, d), clampIdx(ends[i]!, 0, d), step]
        : [clampIdx(starts[i]!, -1, d - 1), clampIdx(ends[i]!, -1, d - 1), step];
    });
    if (v.kind === "static") return [staticV(sliceStatic(v.v, ranges))];
    let t = n.tensor(0);
    ranges.forEach(([a, b], ax) => {
      if (b <= a) n.fail(`Slice of axis ${ax} is empty (${a}:${b}), which static shapes cannot hold`);
      if (a !== 0 || b !== s[ax]) t = n.g.slice(t, ax, a, b);
    });
    return [tensorV(t)];
  },
  Gather: (n) => {
    const s = n.shapeOf(0);
    const axis = n.int("axis", 0) < 0 ? n.int("axis", 0) + s.length : n.int("axis", 0);
    const data = n.value(0), idx = n.value(1);
    if (data.kind === "static" && idx.kind === "static") return [staticV(gatherStatic(data.v, idx.v, axis))];
    let i = idx.kind === "static"
      ? n.g.const(idx.v.data.map((k) => (k < 0 ? k + s[axis]! : k)), idx.v.shape, "int64")
      : n.tensor(1);
    if (i.dtype !== "int64") i = n.g.cast(i, "int64");
    const t = n.tensor(0);
    if (axis === 0) return [tensorV(n.g.gather(t, i))];
    // Move the gathered axis first, gather, then move the index dims back to where the axis was.
    const front = [axis, ...[...s.keys()].filter((k) => k !== axis)];
    const y = n.g.gather(n.g.transpose(t, front), i); // [...idx, ...s without axis]
    const ri = i.shape.length;
    const perm = [
      ...Array.from({ length: axis }, (_, k) => ri + k),
      ...Array.from({ length: ri }, (_, k) => k),
      ...Array.from({ length: s.length - 1 - axis }, (_, k) => ri + axis + k),
    ];
    return [tensorV(n.g.transpose(y, perm))];
  },
  Trilu: (n) => {
    const s = n.shapeOf(0);
    const [rows, cols] = [s[s.length - 2]!, s[s.length - 1]!];
    const k = n.has(1) ? n.static(1).data[0]! : 0;
    const upper = n.int("upper", 1) === 1;
    const keep = (r: number, c: number) => (upper ? c - r >= k : c - r <= k);
    const v = n.value(0);
    if (v.kind === "static") {
      const data = v.v.data.map((x, i) => (keep(Math.floor(i / cols) % rows, i % cols) ? x : 0));
      return [staticV({ ...v.v, data })];
    }
    const mask = Array.from(
      { length: rows * cols },
      (_, i) => (keep(Math.floor(i / cols), i % cols) ? 1 : 0),
    );
    const t = n.tensor(0);
    return [tensorV(n.g.where(n.g.const(mask, [rows, cols], "bool"), t, n.g.scalar(0, t.dtype)))];
  },
};

/** Every op type the importer maps (default domain). */
export const SUPPORTED_OPS: readonly string[] = Object.keys(HANDLERS).sort();

// --- op helpers --------------------------------------------------------------------------------

function softmaxAxis(n: NodeView): number {
  const r = n.shapeOf(0).length;
  const axis = n.int("axis", -1);
  return axis < 0 ? axis + r : axis;
}

function reduce(op: "reduceMean" | "reduceSum" | "reduceMax", axesAsInputFrom: number): Handler {
  return (n) => {
    const x = n.tensor(0);
    const fromInput = n.ctx.opset >= axesAsInputFrom;
    const axes = fromInput ? (n.has(1) ? n.ints(1) : null) : n.intList("axes");
    const keep = n.int("keepdims", 1) === 1;
    if (!axes || axes.length === 0) {
      if (n.int("noop_with_empty_axes", 0)) return [tensorV(x)];
      const all = [...x.shape.keys()];
      return [tensorV(n.g.apply(op, [x], { axes: all, keepdims: keep }))];
    }
    const norm = [...new Set(axes.map((a) => (a < 0 ? a + x.shape.length : a)))].sort((a, b) => a - b);
    return [tensorV(n.g.apply(op, [x], { axes: norm, keepdims: keep }))];
  };
}

/** ONNX MatMul: numpy semantics, 1-D operands included. */
function matmul(g: Graph, a: Tensor, b: Tensor): Tensor {
  const a1 = a.shape.length === 1, b1 = b.shape.length === 1;
  const aa = a1 ? g.reshape(a, [1, a.shape[0]!]) : a;
  const bb = b1 ? g.reshape(b, [b.shape[0]!, 1]) : b;
  const y = g.matmul(aa, bb);
  if (!a1 && !b1) return y;
  const s = [...y.shape];
  if (b1) s.pop();
  if (a1) s.splice(s.length - (b1 ? 1 : 2), 1);
  return g.reshape(y, s);
}

function reshapeValue(n: NodeView, i: number, to: readonly number[]): Value {
  const v = n.value(i);
  const from = n.shapeOf(i);
  const free = to.filter((d) => d === -1).length;
  const known = to.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const shape = to.map((d) => (d === -1 ? sizeOf(from) / known : d));
  if (free > 1 || sizeOf(shape) !== sizeOf(from) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    n.fail(`cannot reshape ${fmtShape(from)} to ${fmtShape(to)}`);
  }
  if (v.kind === "static") return staticV({ ...v.v, shape });
  const t = n.tensor(i);
  return tensorV(fmtShape(t.shape) === fmtShape(shape) ? t : n.g.reshape(t, shape));
}

// --- host evaluation of constants ---------------------------------------------------------------

function strides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let k = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = k;
    k *= shape[i]!;
  }
  return s;
}

/** Elementwise `f` over numpy-broadcast static inputs (float32 results rounded as ONNX would). */
function broadcastStatic(
  n: NodeView,
  xs: readonly Static[],
  f: (xs: number[], dtype: DType) => number,
  outDtype?: DType,
  target: Shape = [],
): Static {
  let shape: number[] | null = [...target];
  for (const x of xs) shape = shape && broadcastShapes(shape, x.shape);
  if (!shape) n.fail(`shapes ${xs.map((x) => fmtShape(x.shape)).join(", ")} do not broadcast`);
  const dtype = outDtype ?? xs[0]!.dtype;
  const round = dtype === "float32" ? Math.fround : (v: number) => v;
  const out = new Array<number>(sizeOf(shape));
  const os = strides(shape);
  const ist = xs.map((x) => {
    const st = strides(x.shape);
    const lead = shape!.length - x.shape.length;
    return shape!.map((_, i) => (i < lead || x.shape[i - lead] === 1 ? 0 : st[i - lead]!));
  });
  const args = new Array<number>(xs.length);
  for (let k = 0; k < out.length; k++) {
    xs.forEach((x, j) => {
      let off = 0, rem = k;
      for (let i = 0; i < os.length; i++) {
        const c = Math.floor(rem / os[i]!);
        rem -= c * os[i]!;
        off += c * ist[j]![i]!;
      }
      args[j] = x.data[off]!;
    });
    out[k] = round(f(args, xs[0]!.dtype));
  }
  return { dtype, shape, data: out };
}

function transposeStatic(x: Static, perm: readonly number[]): Static {
  const shape = perm.map((p) => x.shape[p]!);
  const is = strides(x.shape), os = strides(shape);
  const out = new Array<number>(x.data.length);
  for (let k = 0; k < out.length; k++) {
    let off = 0, rem = k;
    for (let i = 0; i < shape.length; i++) {
      const c = Math.floor(rem / os[i]!);
      rem -= c * os[i]!;
      off += c * is[perm[i]!]!;
    }
    out[k] = x.data[off]!;
  }
  return { dtype: x.dtype, shape, data: out };
}

function concatStatic(xs: readonly Static[], axis: number): Static {
  const first = xs[0]!;
  const outer = sizeOf(first.shape.slice(0, axis));
  const shape = first.shape.map((d, i) => (i === axis ? xs.reduce((p, x) => p + x.shape[axis]!, 0) : d));
  const data: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const x of xs) {
      const inner = sizeOf(x.shape.slice(axis));
      data.push(...x.data.slice(o * inner, (o + 1) * inner));
    }
  }
  return { dtype: first.dtype, shape, data };
}

function sliceStatic(x: Static, ranges: readonly [number, number, number][]): Static {
  const idx = ranges.map(([a, b, step]) => {
    const out: number[] = [];
    for (let i = a; step > 0 ? i < b : i > b; i += step) out.push(i);
    return out;
  });
  const shape = idx.map((v) => v.length);
  const st = strides(x.shape);
  const data: number[] = [];
  const rec = (ax: number, off: number) => {
    if (ax === idx.length) return void data.push(x.data[off]!);
    for (const i of idx[ax]!) rec(ax + 1, off + i * st[ax]!);
  };
  if (sizeOf(shape) > 0) rec(0, 0);
  return { dtype: x.dtype, shape, data };
}

function gatherStatic(x: Static, idx: Static, axis: number): Static {
  const d = x.shape[axis]!;
  const outer = sizeOf(x.shape.slice(0, axis)), inner = sizeOf(x.shape.slice(axis + 1));
  const data: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const raw of idx.data) {
      const i = raw < 0 ? raw + d : raw;
      data.push(...x.data.slice((o * d + i) * inner, (o * d + i + 1) * inner));
    }
  }
  const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
  return { dtype: x.dtype, shape, data };
}

function toStatic(t: OnnxTensor, n: NodeView): Static {
  return staticOf(n.mapDtype(t.dtype), t.shape, t.data);
}

// --- decoding ----------------------------------------------------------------------------------

/** ONNX TensorProto element types the importer reads (int32 is widened to int64). */
const ONNX_DTYPES: Record<number, DType> = { 1: "float32", 6: "int64", 7: "int64", 9: "bool", 11: "float64" };

function num(v: number | { toNumber(): number } | string | null | undefined): number {
  if (v == null) return 0;
  if (typeof v === "number") return v;
  if (typeof v === "string") return Number(v);
  return v.toNumber();
}

function decodeTensor(t: ITensor, fail: (why: string) => never): OnnxTensor {
  const type = t.dataType ?? 0;
  const dtype = ONNX_DTYPES[type] ??
    fail(`element type ${type} is not supported (float, double, int32, int64, bool)`);
  if (t.dataLocation === 1) fail("weights stored in an external file are not supported");
  const shape = (t.dims ?? []).map(num);
  const n = sizeOf(shape);
  let data: TensorData;
  const raw = t.rawData && t.rawData.length ? t.rawData.slice() : null; // copied: aligned views
  if (type === 1) data = raw ? new Float32Array(raw.buffer) : Float32Array.from(t.floatData ?? []);
  else if (type === 11) data = raw ? new Float64Array(raw.buffer) : Float64Array.from(t.doubleData ?? []);
  else if (type === 7) {
    data = raw
      ? new BigInt64Array(raw.buffer)
      : BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(num(v))));
  } else if (type === 6) {
    const src = raw ? Array.from(new Int32Array(raw.buffer)) : (t.int32Data ?? []);
    data = BigInt64Array.from(src.map((v) => BigInt(v)));
  } else data = raw ? Uint8Array.from(raw) : Uint8Array.from(t.int32Data ?? []);
  if (data.length !== n) fail(`holds ${data.length} values, not shape ${fmtShape(shape)}`);
  return { name: t.name ?? "", dtype, shape, data };
}
