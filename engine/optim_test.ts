import assert from "node:assert/strict";
import { Graph } from "./graph.ts";
import { type AdamWConfig, validateAdamW } from "./optim.ts";
import { Rng } from "./rng.ts";
import { Runtime } from "./runtime.ts";
import { Trainer } from "./trainer.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });

/** Plain-TypeScript AdamW (PyTorch's formulation), float64, the reference for the in-graph one. */
function referenceAdamW(
  params: Record<string, number[]>,
  gradsOf: (p: Record<string, number[]>) => Record<string, number[]>,
  c: AdamWConfig,
  lrs: number[],
): Record<string, number[]> {
  const m: Record<string, number[]> = {}, v: Record<string, number[]> = {};
  for (const k in params) (m[k] = params[k]!.map(() => 0)), (v[k] = params[k]!.map(() => 0));
  lrs.forEach((lr, i) => {
    const t = i + 1;
    let gr = gradsOf(params);
    if (c.clipNorm !== null) {
      const norm = Math.sqrt(Object.values(gr).flat().reduce((s, x) => s + x * x, 0));
      const scale = Math.min(1, c.clipNorm / (norm + 1e-6));
      gr = Object.fromEntries(Object.entries(gr).map(([k, g]) => [k, g.map((x) => x * scale)]));
    }
    for (const k in params) {
      const decays = c.weightDecay > 0 && k === "w"; // "w" is the rank-2 parameter
      params[k] = params[k]!.map((p, j) => {
        const g = gr[k]![j]!;
        m[k]![j] = c.beta1 * m[k]![j]! + (1 - c.beta1) * g;
        v[k]![j] = c.beta2 * v[k]![j]! + (1 - c.beta2) * g * g;
        const mh = m[k]![j]! / (1 - c.beta1 ** t), vh = v[k]![j]! / (1 - c.beta2 ** t);
        const q = decays ? p * (1 - lr * c.weightDecay) : p;
        return q - lr * mh / (Math.sqrt(vh) + c.eps);
      });
    }
  });
  return params;
}

Deno.test("AdamW in the graph equals a plain-TypeScript AdamW over 10 steps (decay, clipping, a schedule)", async (t) => {
  // Loss: ½‖W x + b − y‖² over a fixed batch; its gradient in closed form drives the reference.
  const rng = Rng.stream(3, "adamw");
  const X = Array.from({ length: 4 * 3 }, () => rng.normal()); // [N=4, 3]
  const Y = Array.from({ length: 4 * 2 }, () => rng.normal()); // [N=4, 2]
  const w0 = Array.from({ length: 3 * 2 }, () => rng.normal());
  const b0 = [0.1, -0.2];
  const gradsOf = (p: Record<string, number[]>) => {
    const gw = new Array(6).fill(0), gb = [0, 0];
    for (let n = 0; n < 4; n++) {
      for (let j = 0; j < 2; j++) {
        let r = p.b![j]! - Y[n * 2 + j]!;
        for (let i = 0; i < 3; i++) r += X[n * 3 + i]! * p.w![i * 2 + j]!;
        for (let i = 0; i < 3; i++) gw[i * 2 + j] += r * X[n * 3 + i]!;
        gb[j]! += r;
      }
    }
    return { w: gw, b: gb };
  };
  const configs: [string, AdamWConfig][] = [
    ["defaults", { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clipNorm: null }],
    ["weight decay 0.1, clip 0.5", { beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, clipNorm: 0.5 }],
  ];
  for (const [name, c] of configs) {
    await t.step(name, async () => {
      for (const dtype of ["float64", "float32"] as const) {
        const g = new Graph();
        const w = g.param("w", [3, 2], dtype), b = g.param("b", [2], dtype);
        const x = g.input("x", [4, 3], dtype), y = g.input("y", [4, 2], dtype);
        const r = g.sub(g.add(g.matmul(x, w), b), y);
        const loss = g.mul(g.sum(g.mul(r, r)), 0.5);
        const arr = (v: number[]) => (dtype === "float64" ? Float64Array.from(v) : Float32Array.from(v));
        const tr = await Trainer.create(rt, loss, new Map([["w", arr(w0)], ["b", arr(b0)]]), { adamw: c });
        const lrs = [0.1, 0.1, 0.05, 0.05, 0.05, 0.02, 0.02, 0.02, 0.01, 0.01];
        for (const lr of lrs) await tr.step({ x: arr(X), y: arr(Y) }, lr);
        const ref = referenceAdamW({ w: [...w0], b: [...b0] }, gradsOf, c, lrs);
        // float64: the same algorithm to rounding, element by element. float32: within 1e-5 relative
        // (per tensor, ‖ours − ref‖ / ‖ref‖) of the float64 reference.
        for (const k of ["w", "b"]) {
          const ours = Array.from(tr.params.get(k)!, Number);
          if (dtype === "float64") {
            ref[k]!.forEach((v, i) =>
              assert.ok(Math.abs(ours[i]! - v) <= 1e-12 * Math.max(1, Math.abs(v)), `${k}[${i}]`)
            );
          } else {
            const num = Math.hypot(...ref[k]!.map((v, i) => ours[i]! - v)), den = Math.hypot(...ref[k]!);
            assert.ok(num / den < 1e-5, `float32 ${k}: relative error ${num / den}`);
          }
        }
      }
    });
  }
});

Deno.test("AdamW config validation names the field, value and range", () => {
  const ok: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clipNorm: null };
  assert.throws(() => validateAdamW({ ...ok, beta1: 1 }), /beta1 = 1 \(allowed: \[0, 1\)\)/);
  assert.throws(() => validateAdamW({ ...ok, eps: 0 }), /eps = 0 \(allowed: > 0\)/);
  assert.throws(() => validateAdamW({ ...ok, clipNorm: -1 }), /clipNorm = -1/);
});
