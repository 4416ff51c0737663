/**
 * prefbench: a reproducible benchmark harness for preference-optimization algorithms, training and
 * sampling every model through ONNX Runtime.
 *
 * @module
 */
export * from "./engine/mod.ts";
export * from "./models/mod.ts";
