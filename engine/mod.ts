/**
 * The compute engine: a graph IR with static shapes, reverse-mode autodiff, AdamW appended to the
 * graph, ONNX serialization and ONNX Runtime sessions, and a seeded PRNG. It knows nothing of RL.
 *
 * @example
 * ```ts
 * import { Graph, Runtime, Trainer } from "./mod.ts";
 * const g = new Graph();
 * const w = g.param("w", [3]);
 * const x = g.input("x", [3]);
 * const loss = g.sum(g.square(g.sub(w, x)));
 * const rt = await Runtime.create({ ep: "cpu" });
 * const t = await Trainer.create(rt, loss, new Map([["w", new Float32Array(3)]]));
 * await t.step({ x: Float32Array.of(1, 2, 3) }, 0.1);
 * ```
 *
 * @module
 */
export * from "./graph.ts";
export { OPS } from "./ops.ts";
export type { OpDef, VjpContext } from "./ops.ts";
export { grad, sumToShape } from "./autodiff.ts";
export type { GradOptions } from "./autodiff.ts";
export * from "./optim.ts";
export { IR_VERSION, OPSET, toOnnx } from "./onnx.ts";
export type { Emitter, OnnxAttr, OnnxModel, ValueSpec } from "./onnx.ts";
export * from "./runtime.ts";
export * from "./trainer.ts";
export { Rng } from "./rng.ts";
export { checkVjp } from "./gradcheck.ts";
export type { CheckInput, VjpCheck } from "./gradcheck.ts";
export { importOnnx, isWeight, OnnxImportError, parseOnnx, readOnnx, SUPPORTED_OPS } from "./onnx_import.ts";
export type {
  ImportedGraph,
  ImportOptions,
  INode,
  OnnxModelFile,
  OnnxTensor,
  OnnxValueInfo,
} from "./onnx_import.ts";
