/**
 * Reverse-mode automatic differentiation over the graph IR.
 *
 * One walker does all the bookkeeping (tinygrad style): it visits nodes from the loss backwards,
 * calls each op's rule, checks that the rule returned one gradient per input (or null), sums a
 * broadcast gradient back to its input's shape, and accumulates gradients of values used twice.
 * The gradient nodes are appended to the same graph, so a training step lowers to one model.
 *
 * @module
 */
import type { Graph, Shape } from "./graph.ts";
import { fmtShape, GraphError, isFloat, Tensor } from "./graph.ts";
import { OPS } from "./ops.ts";

/** Options for {@link grad}. */
export interface GradOptions {
  /** The gradient of the output (defaults to ones; required shape = output shape). */
  seed?: Tensor;
}

/**
 * Gradients of `output` with respect to each of `wrt` (zeros where `output` does not depend on it).
 *
 * @example
 * ```ts
 * const g = new Graph();
 * const w = g.param("w", [3]);
 * const loss = g.sum(g.mul(w, w));
 * const [dw] = grad(loss, [w]); // 2·w
 * ```
 */
export function grad(output: Tensor, wrt: readonly Tensor[], options: GradOptions = {}): Tensor[] {
  const g = output.graph;
  if (!isFloat(output.dtype)) throw new GraphError(`grad: the output is ${output.dtype}, not a float`);
  const live = dependents(g, wrt.map((t) => t.id));
  const grads = new Map<number, Tensor>();
  const seed = options.seed ?? g.fill(output.shape, 1, output.dtype);
  if (fmtShape(seed.shape) !== fmtShape(output.shape)) {
    throw new GraphError(
      `grad: seed shape ${fmtShape(seed.shape)} differs from output ${fmtShape(output.shape)}`,
    );
  }
  grads.set(output.id, seed);

  for (let id = output.id; id >= 0; id--) {
    const gy = grads.get(id);
    if (!gy || !live.has(id)) continue;
    const node = g.nodes[id]!;
    if (node.inputs.length === 0) continue;
    const def = OPS[node.op]!;
    if (!def.vjp) continue; // comparisons and the like: no gradient flows through them
    const x = node.inputs.map((i) => tensorOf(g, i));
    const gx = def.vjp({ g, x, out: tensorOf(g, id), grad: gy, attrs: node.attrs });
    if (gx.length !== x.length) {
      throw new GraphError(
        `grad: the rule of ${node.op} returned ${gx.length} gradients for ${x.length} inputs`,
      );
    }
    gx.forEach((gi, k) => {
      const xi = x[k]!;
      if (!gi || !live.has(xi.id) || !isFloat(xi.dtype)) return;
      const summed = sumToShape(g, gi, xi.shape);
      if (summed.dtype !== xi.dtype) {
        throw new GraphError(
          `grad: the rule of ${node.op} gave a ${summed.dtype} gradient for a ${xi.dtype} input`,
        );
      }
      const prev = grads.get(xi.id);
      grads.set(xi.id, prev ? g.add(prev, summed) : summed);
    });
  }
  return wrt.map((w) => grads.get(w.id) ?? g.zeros(w.shape, w.dtype));
}

/** Sums a gradient of a broadcast shape back to `shape` (leading axes, then size-1 axes). */
export function sumToShape(g: Graph, t: Tensor, shape: Shape): Tensor {
  const s = t.shape;
  if (fmtShape(s) === fmtShape(shape)) return t;
  const lead = s.length - shape.length;
  if (lead < 0) {
    throw new GraphError(`grad: gradient ${fmtShape(s)} has lower rank than its input ${fmtShape(shape)}`);
  }
  const axes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const want = i < lead ? 1 : shape[i - lead]!;
    if (i < lead || (want === 1 && s[i] !== 1)) axes.push(i);
    else if (want !== s[i]) {
      throw new GraphError(`grad: gradient ${fmtShape(s)} does not broadcast from input ${fmtShape(shape)}`);
    }
  }
  return g.reshape(g.reduceSum(t, axes, true), [...shape]);
}

function tensorOf(g: Graph, id: number): Tensor {
  return new Tensor(g, id);
}

/** Ids of nodes that depend on any of `roots` (roots included). */
function dependents(g: Graph, roots: readonly number[]): Set<number> {
  const live = new Set(roots);
  for (const n of g.nodes) if (n.inputs.some((i) => live.has(i))) live.add(n.id);
  return live;
}
