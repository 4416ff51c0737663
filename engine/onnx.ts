/**
 * Lowering a finished graph to an ONNX ModelProto (IR version 8, opset 17) in one pass.
 *
 * Only the nodes the requested outputs depend on are emitted, so one {@link Graph} can be compiled
 * into several models (a forward pass, a training step). Names are counter-based and attributes
 * sorted, so the same graph always gives the same bytes and sessions can be cached by hash.
 *
 * @module
 */
import onnxProto from "npm:onnx-proto@8.0.1";
import { createHash } from "node:crypto";
import type { DType, Graph, Shape, Tensor, TensorData } from "./graph.ts";
import { GraphError } from "./graph.ts";
import { OPS } from "./ops.ts";

const { onnx } = onnxProto;

/** The opset every model is emitted at. */
export const OPSET = 17;
/** ONNX IR version matching opset 17. */
export const IR_VERSION = 8;

/** An ONNX attribute value, tagged with its kind so emission never guesses int vs float. */
export type OnnxAttr =
  | { int: number }
  | { float: number }
  | { ints: readonly number[] }
  | { str: string }
  | { dtype: DType }
  | { tensor: { dtype: DType; value: number } };

/** What an op's lowering may call. */
export interface Emitter {
  /** Appends a node; returns its (first) output name. */
  node(opType: string, inputs: readonly string[], attrs?: Readonly<Record<string, OnnxAttr>>): string;
  /** A 1-D int64 initializer (axes, shapes, pads), shared between uses of the same values. */
  ints(values: readonly number[]): string;
  /** A scalar initializer of a dtype, shared between uses. */
  scalar(value: number, dtype: DType): string;
}

/** A feed or fetch of a compiled model. */
export interface ValueSpec {
  /** Feed or fetch name: a graph input's or parameter's name, or an output's key. */
  readonly name: string;
  /** Static shape of the value. */
  readonly shape: Shape;
  /** Element type of the value. */
  readonly dtype: DType;
}

/** A serialized model and its interface. */
export interface OnnxModel {
  /** The serialized `ModelProto`. */
  readonly bytes: Uint8Array;
  /** Hex SHA-256 of `bytes`. */
  readonly hash: string;
  /** What the model must be fed: the inputs and parameters the outputs need, in graph creation order. */
  readonly inputs: readonly ValueSpec[];
  /** What the model returns, in the order of the `outputs` record given to {@link toOnnx}. */
  readonly outputs: readonly ValueSpec[];
}

const ELEM_TYPE: Record<DType, number> = { float32: 1, int64: 7, bool: 9, float64: 11 };

/**
 * Serializes the part of `graph` that `outputs` need.
 *
 * @example
 * ```ts
 * const g = new Graph();
 * const x = g.input("x", [2]);
 * const model = toOnnx(g, { y: g.exp(x) });
 * ```
 */
export function toOnnx(
  graph: Graph,
  outputs: Readonly<Record<string, Tensor>>,
  name = "prefbench",
): OnnxModel {
  const needed = reachable(graph, Object.values(outputs).map((t) => t.id));
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  const inputs: ValueSpec[] = [];
  const valueName = new Map<number, string>();
  const shared = new Map<string, string>();
  let counter = 0;

  const emitter: Emitter = {
    node(opType, ins, attrs = {}) {
      const out = `%v${counter++}`;
      nodes.push({
        opType,
        input: [...ins],
        output: [out],
        name: `n${nodes.length}_${opType}`,
        attribute: Object.keys(attrs).sort().map((k) => attrProto(k, attrs[k]!)),
      });
      return out;
    },
    ints(values) {
      return sharedInit(`ints:${values.join(",")}`, "int64", [values.length], values);
    },
    scalar(value, dtype) {
      return sharedInit(`${dtype}:${Object.is(value, -0) ? "-0" : value}`, dtype, [], [value]);
    },
  };

  function sharedInit(key: string, dtype: DType, dims: Shape, values: readonly number[]): string {
    let n = shared.get(key);
    if (!n) {
      n = `%k${shared.size}`;
      shared.set(key, n);
      initializers.push(tensorProto(n, dtype, dims, toTyped(dtype, values)));
    }
    return n;
  }

  for (const node of graph.nodes) {
    if (!needed.has(node.id)) continue;
    if (node.op === "input" || node.op === "param") {
      valueName.set(node.id, node.name!);
      inputs.push({ name: node.name!, shape: node.shape, dtype: node.dtype });
    } else if (node.op === "const") {
      const n = `%c${node.id}`;
      valueName.set(node.id, n);
      initializers.push(tensorProto(n, node.dtype, node.shape, node.data!));
    } else {
      const def = OPS[node.op]!;
      const ins = node.inputs.map((i) => valueName.get(i)!);
      const infos = node.inputs.map((i) => graph.nodes[i]!);
      valueName.set(node.id, def.onnx(emitter, ins, node.attrs, { x: infos, out: node }));
    }
  }

  // Name each output's producing node output after it; an Identity only where that is impossible
  // (an output that is a feed or an initializer, or a value fetched under two names).
  const outs: ValueSpec[] = [];
  const producer = new Map<string, onnxProto.onnx.INodeProto>();
  for (const n of nodes) producer.set(n.output![0]!, n);
  const renamed = new Map<string, string>();
  for (const [outName, t] of Object.entries(outputs)) {
    if (outName === "" || outName.startsWith("%")) throw new GraphError(`invalid output name "${outName}"`);
    if (inputs.some((i) => i.name === outName)) {
      throw new GraphError(`output name "${outName}" is also an input name`);
    }
    const v = valueName.get(t.id)!;
    const node = producer.get(v);
    if (node && !renamed.has(v)) {
      renamed.set(v, outName);
      node.output = [outName];
    } else {
      nodes.push({
        opType: "Identity",
        input: [renamed.get(v) ?? v],
        output: [outName],
        name: `out_${outName}`,
      });
    }
    outs.push({ name: outName, shape: t.shape, dtype: t.dtype });
  }
  for (const n of nodes) n.input = n.input!.map((i) => renamed.get(i) ?? i);

  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: "prefbench",
    graph: {
      name,
      node: nodes,
      initializer: initializers,
      input: inputs.map(valueInfo),
      output: outs.map(valueInfo),
    },
  });
  const bytes = onnx.ModelProto.encode(model).finish();
  const hash = createHash("sha256").update(bytes).digest("hex");
  return { bytes, hash, inputs, outputs: outs };
}

function reachable(graph: Graph, roots: readonly number[]): Set<number> {
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const i of graph.nodes[id]!.inputs) stack.push(i);
  }
  return seen;
}

function valueInfo(v: ValueSpec) {
  return {
    name: v.name,
    type: {
      tensorType: { elemType: ELEM_TYPE[v.dtype], shape: { dim: v.shape.map((d) => ({ dimValue: d })) } },
    },
  };
}

function toTyped(dtype: DType, values: readonly number[]): TensorData {
  switch (dtype) {
    case "float32":
      return Float32Array.from(values);
    case "float64":
      return Float64Array.from(values);
    case "int64":
      return BigInt64Array.from(values.map((v) => BigInt(v)));
    case "bool":
      return Uint8Array.from(values);
  }
}

function tensorProto(name: string, dtype: DType, dims: Shape, data: TensorData) {
  // Little-endian raw bytes, as ONNX stores them (every platform onnxruntime-node ships for is LE).
  const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return { name, dataType: ELEM_TYPE[dtype], dims: [...dims], rawData };
}

function attrProto(name: string, a: OnnxAttr) {
  if ("int" in a) return { name, type: 2, i: a.int };
  if ("float" in a) return { name, type: 1, f: a.float };
  if ("ints" in a) return { name, type: 7, ints: [...a.ints] };
  if ("str" in a) return { name, type: 3, s: new TextEncoder().encode(a.str) };
  if ("dtype" in a) return { name, type: 2, i: ELEM_TYPE[a.dtype] };
  const t = a.tensor;
  return { name, type: 4, t: tensorProto("", t.dtype, [1], toTyped(t.dtype, [t.value])) };
}
