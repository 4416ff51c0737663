/**
 * `deno task bench:engine`: how fast the engine trains a GPT, against ONNX Runtime's own MatMul and
 * against PyTorch, on the same machine in the same run.
 *
 * For each config it measures
 * 1. one harness training step (forward, cross-entropy, backward, AdamW: one `session.run` through
 *    {@link Trainer}): median wall time, tokens/s, achieved GFLOP/s ({@link gptTrainFlops}), and the
 *    JavaScript side of a step, i.e. step wall time minus the time spent inside ONNX Runtime's
 *    `InferenceSession.run` (timed by wrapping that method, so the engine needs no hook);
 * 2. ONNX Runtime's MatMul throughput at the model's shapes: a graph of just the forward matmuls of one
 *    step, through the same runtime, so "MFU vs ORT MatMul" = step GFLOP/s ÷ that;
 * 3. the same step in PyTorch (`bench/torch_gpt_bench.py`), and the ratio of tokens/s.
 *
 * Flags: `--configs S,M`, `--steps N` (timed steps, every config), `--warmup N`, `--threads N`,
 * `--ep cpu|auto|cuda|webgpu`, `--json path`, `--no-torch`. Table on stdout, progress on stderr.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { availableParallelism, cpus } from "node:os";
import * as ort from "onnxruntime-node";
import { Graph, type Tensor, type TensorData } from "../engine/graph.ts";
import { Rng } from "../engine/rng.ts";
import { EP_CHOICES, type EpChoice, type Executable, Runtime } from "../engine/runtime.ts";
import { Trainer } from "../engine/trainer.ts";
import {
  crossEntropy,
  declareParams,
  type GptConfig,
  gptLogits,
  gptParams,
  gptTrainFlops,
  initParams,
} from "../models/gpt.ts";
import { findTorch } from "../tests/_torch.ts";
import { median, summarize, table, timeRuns, type TimingSummary } from "./_timing.ts";

/** One benchmark config: a model, a batch shape and how many steps to time. */
export interface BenchConfig {
  readonly name: string;
  readonly model: GptConfig;
  readonly batch: number;
  readonly seq: number;
  readonly warmup: number;
  readonly steps: number;
  /** Issue targets: harness tokens/s ÷ PyTorch tokens/s at least this. */
  readonly minTorchRatio: number;
  /** Issue targets: the JavaScript side at most this share of the step (null: no target). */
  readonly maxJsShare: number | null;
}

/** The configs of the issue; warm-up and step counts keep the default run under ~4 minutes on 2 cores. */
export const CONFIGS: readonly BenchConfig[] = [
  {
    name: "S",
    model: { vocab: 512, dModel: 128, layers: 2, heads: 4, context: 64 },
    batch: 32,
    seq: 64,
    warmup: 3,
    steps: 10,
    minTorchRatio: 1.0,
    maxJsShare: 0.1,
  },
  {
    name: "M",
    model: { vocab: 2048, dModel: 256, layers: 4, heads: 4, context: 128 },
    batch: 16,
    seq: 128,
    warmup: 2,
    steps: 5,
    minTorchRatio: 0.75,
    maxJsShare: null,
  },
];

/** What the PyTorch peer prints. */
interface TorchResult {
  torch: string;
  threads: number;
  stepMs: TimingSummary;
  tokensPerS: number;
  lossFirst: number;
  lossLast: number;
}

/** One config's measurements (the `--json` record). */
interface ConfigResult {
  name: string;
  model: GptConfig;
  batch: number;
  seq: number;
  warmup: number;
  steps: number;
  /** Building the graph, its gradient and AdamW, lowering and creating the session. */
  compileMs: number;
  stepMs: TimingSummary;
  /** Time inside `InferenceSession.run` per timed step. */
  ortRunMs: TimingSummary;
  /** Step wall time minus time inside `InferenceSession.run`, per timed step. */
  jsMs: TimingSummary;
  /** median(jsMs) ÷ median(stepMs). */
  jsShare: number;
  tokensPerS: number;
  trainFlops: number;
  gflops: number;
  lossFirst: number;
  lossLast: number;
  matmul: { flops: number; ms: TimingSummary; gflops: number };
  /** Step GFLOP/s ÷ ORT MatMul GFLOP/s at the model's shapes. */
  mfuVsOrtMatmul: number;
  torch: TorchResult | null;
  /** Harness tokens/s ÷ PyTorch tokens/s. */
  torchRatio: number | null;
}

const USAGE = "usage: deno task bench:engine [--configs S,M] [--steps N] [--warmup N] [--threads N] " +
  `[--ep ${EP_CHOICES.join("|")}] [--json path] [--no-torch]`;

const log = (line: string) => console.error(line);

/** Time spent inside ONNX Runtime's `InferenceSession.run`, accumulated over every session. */
let ortRunTotalMs = 0;

/**
 * Wraps `InferenceSession.prototype.run` (the class every session the engine creates is an instance
 * of) to accumulate its wall time: the JavaScript side of a step is measured from outside, without a
 * hook in `engine/runtime.ts`. What counts as "inside" is onnxruntime-common's feed checks, the native
 * run (kernels, and the copy of every output into a fresh JS buffer) and wrapping outputs as tensors.
 */
function instrumentOrtRun(): void {
  type Run = (this: unknown, ...args: unknown[]) => Promise<unknown>;
  const proto = (ort.InferenceSession as unknown as { prototype: { run: Run } }).prototype;
  const run = proto.run;
  proto.run = async function (this: unknown, ...args: unknown[]) {
    const t0 = performance.now();
    try {
      return await run.apply(this, args);
    } finally {
      ortRunTotalMs += performance.now() - t0;
    }
  };
}

/** Random token batches (a few, cycled, so drawing data is never timed). */
function batches(c: BenchConfig, rng: Rng, count = 4): { tokens: BigInt64Array; targets: BigInt64Array }[] {
  const draw = () => BigInt64Array.from({ length: c.batch * c.seq }, () => BigInt(rng.int(c.model.vocab)));
  return Array.from({ length: count }, () => ({ tokens: draw(), targets: draw() }));
}

/** Times the harness training step of a config. */
async function benchTrainStep(rt: Runtime, c: BenchConfig) {
  const t0 = performance.now();
  const g = new Graph();
  const specs = gptParams(c.model);
  const p = declareParams(g, specs);
  const tokens = g.input("tokens", [c.batch, c.seq], "int64");
  const targets = g.input("targets", [c.batch, c.seq], "int64");
  const loss = crossEntropy(g, gptLogits(g, c.model, p, tokens), targets);
  const trainer = await Trainer.create(rt, loss, initParams(specs, Rng.stream(0, "bench", c.name, "init")));
  const compileMs = performance.now() - t0;
  log(
    `engine ${c.name}: compiled in ${(compileMs / 1e3).toFixed(1)} s; ${c.warmup} warm-up + ${c.steps} steps`,
  );

  const data = batches(c, Rng.stream(0, "bench", c.name, "data"));
  const losses: number[] = [];
  const stepMs: number[] = [], runMs: number[] = [];
  for (let i = 0; i < c.warmup + c.steps; i++) {
    const b = data[i % data.length]!;
    const run0 = ortRunTotalMs;
    const s0 = performance.now();
    const m = await trainer.step({ tokens: b.tokens, targets: b.targets }, 1e-3);
    const ms = performance.now() - s0;
    losses.push(m.loss!);
    if (i < c.warmup) continue;
    stepMs.push(ms);
    runMs.push(ortRunTotalMs - run0);
    log(
      `engine ${c.name}: step ${stepMs.length}/${c.steps} ${ms.toFixed(1)} ms (js ${
        (ms - runMs.at(-1)!).toFixed(1)
      })`,
    );
  }
  const jsMs = stepMs.map((s, i) => s - runMs[i]!);
  return {
    compileMs,
    stepMs: summarize(stepMs),
    ortRunMs: summarize(runMs),
    jsMs: summarize(jsMs),
    lossFirst: losses[0]!,
    lossLast: losses.at(-1)!,
  };
}

/**
 * The forward matmuls of one step at the model's shapes, each reduced to a scalar so that no large
 * output is copied back (the reductions read each product once: memory-bound, small next to the
 * products). Every operand is a distinct graph input, so ONNX Runtime can neither fold nor share them.
 */
function matmulGraph(
  c: BenchConfig,
): { g: Graph; out: Tensor; flops: number; feeds: Record<string, TensorData> } {
  const { dModel: d, heads: h, layers, vocab: v } = c.model;
  const b = c.batch, t = c.seq, dh = d / h, n = b * t;
  const g = new Graph();
  const feeds: Record<string, TensorData> = {};
  const rng = Rng.stream(0, "bench", c.name, "matmul");
  // Feed names are prefixed: the ONNX lowering names its own values v0, v1, … and k0, c0, …, and a
  // feed called "v0" would collide with them.
  const input = (name: string, shape: number[]) => {
    const x = g.input(`mm.${name}`, shape);
    feeds[`mm.${name}`] = rng.normalArray(shape.reduce((p, q) => p * q, 1), 0.1);
    return x;
  };
  const products: Tensor[] = [];
  let flops = 0;
  const mm = (a: Tensor, w: Tensor) => {
    const out = g.matmul(a, w);
    flops += 2 * out.size * a.shape.at(-1)!;
    products.push(g.reduceSum(out));
  };
  for (let l = 0; l < layers; l++) {
    const x = input(`x${l}`, [n, d]), hid = input(`hid${l}`, [n, 4 * d]);
    mm(x, input(`attn.w${l}`, [d, 3 * d])); // qkv  [B·T, 3D]
    mm(input(`q${l}`, [b, h, t, dh]), input(`kT${l}`, [b, h, dh, t])); // scores [B, H, T, T]
    mm(input(`att${l}`, [b, h, t, t]), input(`v${l}`, [b, h, t, dh])); // [B, H, T, Dh]
    mm(x, input(`proj.w${l}`, [d, d])); // [B·T, D]
    mm(x, input(`mlp.w1${l}`, [d, 4 * d])); // [B·T, 4D]
    mm(hid, input(`mlp.w2${l}`, [4 * d, d])); // [B·T, D]
  }
  mm(input("f", [n, d]), input("head", [d, v])); // [B·T, V]
  const out = products.reduce((a, x) => g.add(a, x));
  return { g, out, flops, feeds };
}

/** ONNX Runtime's MatMul GFLOP/s at the model's forward shapes. */
async function benchMatmul(rt: Runtime, c: BenchConfig) {
  const { g, out, flops, feeds } = matmulGraph(c);
  const exe: Executable = await rt.compile(g, { out });
  const runs = Math.max(5, c.steps);
  const ms = summarize(await timeRuns(() => exe.run(feeds), { warmup: 2, runs }));
  return { flops, ms, gflops: flops / (ms.median / 1e3) / 1e9 };
}

/** Runs the PyTorch peer; null with a reason printed when torch is missing or the script fails. */
async function benchTorch(python: string, c: BenchConfig, threads: number): Promise<TorchResult | null> {
  const script = new URL("./torch_gpt_bench.py", import.meta.url).pathname;
  const m = c.model;
  const args = [
    script,
    ...["--vocab", m.vocab, "--d-model", m.dModel, "--layers", m.layers, "--heads", m.heads].map(String),
    ...["--seq", c.seq, "--batch", c.batch, "--warmup", c.warmup, "--steps", c.steps, "--threads", threads]
      .map(String),
  ];
  log(`torch ${c.name}: ${python} ${args.join(" ")}`);
  const out = await new Deno.Command(python, { args, stdout: "piped", stderr: "inherit" }).output();
  if (!out.success) {
    log(`torch ${c.name}: the PyTorch peer failed (exit ${out.code}); its column is left empty`);
    return null;
  }
  return JSON.parse(new TextDecoder().decode(out.stdout)) as TorchResult;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      configs: { type: "string", default: CONFIGS.map((c) => c.name).join(",") },
      steps: { type: "string" },
      warmup: { type: "string" },
      threads: { type: "string", default: "2" },
      ep: { type: "string", default: "cpu" },
      json: { type: "string" },
      "no-torch": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const count = (flag: string, v: string | undefined, min: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) {
      throw new RangeError(`Invalid --${flag} "${v}" (must be an integer ≥ ${min})\n${USAGE}`);
    }
    return n;
  };
  const steps = count("steps", values.steps, 1);
  const warmup = count("warmup", values.warmup, 0);
  const threads = count("threads", values.threads, 1)!;
  const ep = values.ep as EpChoice;
  const configs = values.configs.split(",").map((name) => {
    const c = CONFIGS.find((k) => k.name === name.trim());
    if (!c) {
      throw new RangeError(`Unknown config "${name}" (known: ${CONFIGS.map((k) => k.name).join(", ")})`);
    }
    return { ...c, steps: steps ?? c.steps, warmup: warmup ?? c.warmup };
  });

  instrumentOrtRun();
  const rt = await Runtime.create({ ep, threads, log: ep === "auto" ? log : null });
  const torch = values["no-torch"] ? { python: null, reason: "--no-torch" } : await findTorch();
  if (!torch.python) log(`PyTorch column skipped: ${torch.reason}`);

  const results: ConfigResult[] = [];
  for (const c of configs) {
    const step = await benchTrainStep(rt, c);
    log(`engine ${c.name}: ORT MatMul at the model's forward shapes`);
    const matmul = await benchMatmul(rt, c);
    const trainFlops = gptTrainFlops(c.model, c.batch, c.seq);
    const gflops = trainFlops / (step.stepMs.median / 1e3) / 1e9;
    const tokensPerS = (c.batch * c.seq) / (step.stepMs.median / 1e3);
    const peer = torch.python ? await benchTorch(torch.python, c, threads) : null;
    results.push({
      name: c.name,
      model: c.model,
      batch: c.batch,
      seq: c.seq,
      warmup: c.warmup,
      steps: c.steps,
      ...step,
      jsShare: step.jsMs.median / step.stepMs.median,
      tokensPerS,
      trainFlops,
      gflops,
      matmul,
      mfuVsOrtMatmul: gflops / matmul.gflops,
      torch: peer,
      torchRatio: peer ? tokensPerS / peer.tokensPerS : null,
    });
  }

  report(results, configs, torch.reason);
  if (values.json) {
    const doc = {
      schema: "prefbench.engine_bench/1",
      date: new Date().toISOString(),
      ep: rt.provider,
      threads,
      machine: { cpu: cpus()[0]?.model ?? "unknown", cpus: availableParallelism(), os: Deno.build.target },
      versions: { deno: Deno.version.deno, onnxruntime: ort.env.versions.common ?? "unknown" },
      torchSkipped: torch.python ? null : torch.reason,
      configs: results,
    };
    await Deno.writeTextFile(values.json, JSON.stringify(doc, null, 2) + "\n");
    log(`wrote ${values.json}`);
  }
}

/** The table, then one line per issue target. */
function report(
  results: readonly ConfigResult[],
  configs: readonly BenchConfig[],
  torchReason: string,
): void {
  const f = (x: number, digits = 1) => x.toFixed(digits);
  const rows = results.map((r) => [
    r.name,
    f(r.stepMs.median),
    f(r.tokensPerS, 0),
    f(r.gflops),
    f(r.matmul.gflops),
    `${f(100 * r.mfuVsOrtMatmul)}%`,
    `${f(100 * r.jsShare)}%`,
    r.torch ? f(r.torch.stepMs.median) : "—",
    r.torch ? f(r.torch.tokensPerS, 0) : "—",
    r.torchRatio === null ? "—" : `${f(r.torchRatio, 2)}×`,
  ]);
  console.log(table(
    [
      "config",
      "step ms",
      "tokens/s",
      "GFLOP/s",
      "ORT MatMul GFLOP/s",
      "MFU vs ORT MatMul",
      "JS share",
      "torch step ms",
      "torch tokens/s",
      "ratio",
    ],
    rows,
  ));
  if (results.some((r) => !r.torch)) {
    console.log(`PyTorch: not measured (${torchReason || "the peer failed"})`);
  }
  for (const r of results) {
    const c = configs.find((k) => k.name === r.name)!;
    const checks: string[] = [];
    if (c.maxJsShare !== null) {
      const ok = r.jsShare <= c.maxJsShare;
      checks.push(
        `JS share ${f(100 * r.jsShare)}% (target ≤ ${100 * c.maxJsShare}%): ${ok ? "met" : "NOT met"}`,
      );
    }
    if (r.torchRatio !== null) {
      const ok = r.torchRatio >= c.minTorchRatio;
      checks.push(`${f(r.torchRatio, 2)}× PyTorch (target ≥ ${c.minTorchRatio}×): ${ok ? "met" : "NOT met"}`);
    }
    const inside = median(r.ortRunMs.samples);
    console.log(
      `${r.name}: ${checks.join("; ") || "no targets measured"}; inside session.run ${f(inside)} ms of ` +
        `${f(r.stepMs.median)} ms; loss ${f(r.lossFirst, 3)} → ${f(r.lossLast, 3)}`,
    );
  }
}

if (import.meta.main) await main();
