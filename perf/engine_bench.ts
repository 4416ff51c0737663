/**
 * `deno task bench:engine`: how fast the engine trains a GPT, against ONNX Runtime's own MatMul and
 * against PyTorch, on the same machine in the same run.
 *
 * For each config it measures
 * 1. one harness training step (forward, cross-entropy, backward, AdamW: one `session.run` through
 *    {@link Trainer}): median wall time, tokens/s, achieved GFLOP/s ({@link gptTrainFlops}), and the
 *    JavaScript side of a step, i.e. step wall time minus the time spent inside ONNX Runtime's
 *    `InferenceSession.run` (timed by wrapping that method, so the engine needs no hook);
 * 2. ONNX Runtime's MatMul throughput at the model's shapes: a graph of just the matmuls of one step,
 *    forward and gradient products, through the same runtime, so "MFU vs ORT MatMul" = step GFLOP/s ÷
 *    that (and, for comparison, ÷ the forward products' throughput alone);
 * 3. the same step in PyTorch (`perf/torch_gpt_bench.py`, kept running as a peer process), and the
 *    ratio of tokens/s.
 *
 * The three are interleaved in rounds (engine steps, matmul runs, PyTorch steps, repeat) rather than
 * run one after the other: on a small shared VM the background load changes over seconds (we saw the
 * same graph run 2.5× slower for a few seconds), and interleaving lets every column see the same load,
 * so the ratios stay meaningful even when the absolute figures move. Each segment of a round begins
 * with one untimed run, so the cost of switching between them is not timed: the figures are steady-state.
 *
 * Flags: `--configs S,M`, `--steps N` (timed steps per config), `--warmup N`, `--rounds N`,
 * `--threads N`, `--ep cpu|auto|cuda|webgpu`, `--json path`, `--no-torch`. Table on stdout, progress
 * on stderr.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { availableParallelism, cpus } from "node:os";
import * as ort from "npm:onnxruntime-node@1.30.0";
import { Graph, type Tensor, type TensorData } from "../engine/graph.ts";
import { Rng } from "../engine/rng.ts";
import { EP_CHOICES, type EpChoice, Runtime } from "../engine/runtime.ts";
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
import { findTorch } from "./torch.ts";
import { TorchPeer } from "./_peer.ts";
import { summarize, table, timeRuns, type TimingSummary } from "./_timing.ts";

/** One benchmark config: a model, a batch shape and how many steps to time. */
export interface BenchConfig {
  readonly name: string;
  readonly model: GptConfig;
  readonly batch: number;
  readonly seq: number;
  readonly warmup: number;
  /** Timed steps (of the engine and of PyTorch each). */
  readonly steps: number;
  /** Interleaving rounds the timed steps are split into. */
  readonly rounds: number;
  /** Target the report checks: harness tokens/s ÷ PyTorch tokens/s at least this. */
  readonly minTorchRatio: number;
  /** Target the report checks: the JavaScript side at most this share of the step (null: none). */
  readonly maxJsShare: number | null;
}

/**
 * The two GPT configs, small (S) and medium (M: wider, deeper, longer rows), each with the targets the
 * report checks; the default run takes well under a minute of steps on 2 cores.
 */
export const CONFIGS: readonly BenchConfig[] = [
  {
    name: "S",
    model: { vocab: 512, dModel: 128, layers: 2, heads: 4, context: 64 },
    batch: 32,
    seq: 64,
    warmup: 3,
    steps: 30,
    rounds: 6,
    minTorchRatio: 1.0,
    maxJsShare: 0.1,
  },
  {
    name: "M",
    model: { vocab: 2048, dModel: 256, layers: 4, heads: 4, context: 128 },
    batch: 16,
    seq: 128,
    warmup: 2,
    steps: 12,
    rounds: 4,
    minTorchRatio: 0.75,
    maxJsShare: null,
  },
];

/** The PyTorch column of one config. */
export interface TorchResult {
  torch: string;
  threads: number;
  stepMs: TimingSummary;
  tokensPerS: number;
  lossLast: number;
}

/** One config's measurements (the `--json` record). */
export interface ConfigResult {
  name: string;
  model: GptConfig;
  batch: number;
  seq: number;
  warmup: number;
  steps: number;
  rounds: number;
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
  /** The step's matmuls, forward and gradient products (flops = gptTrainFlops), timed alone. */
  matmul: { flops: number; ms: TimingSummary; gflops: number };
  /** Step GFLOP/s ÷ ORT MatMul GFLOP/s on the step's own products. */
  mfuVsOrtMatmul: number;
  /** The forward products alone (flops = gptTrainFlops / 3): the reference of versions before 0.2. */
  matmulForward: { flops: number; ms: TimingSummary; gflops: number };
  /** Step GFLOP/s ÷ ORT MatMul GFLOP/s on the forward products alone. */
  mfuVsOrtMatmulForward: number;
  torch: TorchResult | null;
  /** Harness tokens/s ÷ PyTorch tokens/s. */
  torchRatio: number | null;
  /**
   * Share of the timed phase during which some task waited for a CPU (Linux PSI); high values mean
   * other work competed for the cores and every figure is noisier. Null where unavailable.
   */
  cpuPressure: number | null;
}

const USAGE = "usage: deno task bench:engine [--configs S,M] [--steps N] [--warmup N] [--rounds N] " +
  `[--threads N] [--ep ${EP_CHOICES.join("|")}] [--json path] [--no-torch]`;

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

/** One timed harness step. */
interface StepSample {
  ms: number;
  runMs: number;
  loss: number;
}

/** Builds the harness training step of a config; returns a function that takes one step. */
async function prepareEngine(rt: Runtime, c: BenchConfig) {
  const t0 = performance.now();
  const g = new Graph();
  const specs = gptParams(c.model);
  const p = declareParams(g, specs);
  const tokens = g.input("tokens", [c.batch, c.seq], "int64");
  const targets = g.input("targets", [c.batch, c.seq], "int64");
  const loss = crossEntropy(g, gptLogits(g, c.model, p, tokens), targets);
  const trainer = await Trainer.create(rt, loss, initParams(specs, Rng.stream(0, "bench", c.name, "init")));
  const compileMs = performance.now() - t0;

  // A few random batches, cycled, so drawing data is never timed (the PyTorch peer does the same).
  const rng = Rng.stream(0, "bench", c.name, "data");
  const draw = () => BigInt64Array.from({ length: c.batch * c.seq }, () => BigInt(rng.int(c.model.vocab)));
  const data = Array.from({ length: 4 }, () => ({ tokens: draw(), targets: draw() }));
  let i = 0;
  const step = async (): Promise<StepSample> => {
    const b = data[i++ % data.length]!;
    const run0 = ortRunTotalMs;
    const s0 = performance.now();
    const m = await trainer.step(b, 1e-3);
    return { ms: performance.now() - s0, runMs: ortRunTotalMs - run0, loss: m.loss! };
  };
  return { compileMs, step };
}

/**
 * The matmuls of one training step at the model's shapes: each forward product A·B and the two products
 * of its gradient, dA = G·Bᵀ and dB = Aᵀ·G, in the layouts the engine's autodiff emits (a linear layer's
 * batch folded into rows, transposes that ONNX Runtime fuses into the product), so "MFU vs ORT MatMul" =
 * step GFLOP/s ÷ what ONNX Runtime's MatMul reaches on exactly the step's products. The gradient
 * products are not the forward ones over again: Aᵀ·G reduces over the B·T rows and ran ~30% slower per
 * FLOP than A·B here. `forward` alone (the earlier reference) is timed too, for comparison.
 *
 * Only one element of each product is fetched (a one-element slice of the flattened product), so no
 * large output is copied back and no reduction pass is timed with the products (a ReduceSum over each
 * product cost 25–40% of the matmul time on S). Every operand is a distinct graph input, so ONNX Runtime
 * can neither fold nor share them.
 */
function matmulGraph(c: BenchConfig, forwardOnly = false) {
  const { dModel: d, heads: h, layers, vocab: v } = c.model;
  const b = c.batch, t = c.seq, dh = d / h, n = b * t;
  const g = new Graph();
  const feeds: Record<string, TensorData> = {};
  const rng = Rng.stream(0, "bench", c.name, "matmul");
  // Feed names are prefixed: the ONNX lowering names its own values v0, v1, … and k0, c0, …, and a
  // feed called "v0" would collide with them.
  let inputs = 0;
  const input = (shape: readonly number[]) => {
    const name = `mm.${inputs++}`;
    const x = g.input(name, shape);
    feeds[name] = rng.normalArray(shape.reduce((p, q) => p * q, 1), 0.1);
    return x;
  };
  const products: Tensor[] = [];
  let flops = 0;
  const product = (a: Tensor, w: Tensor) => {
    const out = g.matmul(a, w);
    flops += 2 * out.size * a.shape.at(-1)!;
    products.push(g.slice(g.reshape(out, [-1]), 0, 0, 1)); // [1]
    return out;
  };
  const swap = (x: Tensor) => {
    const r = x.shape.length;
    return g.transpose(x, [...Array(r - 2).keys(), r - 1, r - 2]); // the last two axes swapped
  };
  // A·B, then dA = G·Bᵀ and dB = Aᵀ·G with G of the product's shape.
  const mm = (aShape: number[], bShape: number[]) => {
    const a = input(aShape), w = input(bShape);
    const out = product(a, w);
    if (forwardOnly) return;
    const grad = input(out.shape);
    product(grad, swap(w));
    product(swap(a), grad);
  };
  for (let l = 0; l < layers; l++) {
    mm([n, d], [d, 3 * d]); // qkv  [B·T, 3D]
    mm([b, h, t, dh], [b, h, dh, t]); // scores [B, H, T, T]
    mm([b, h, t, t], [b, h, t, dh]); // [B, H, T, Dh]
    mm([n, d], [d, d]); // [B·T, D]
    mm([n, d], [d, 4 * d]); // [B·T, 4D]
    mm([n, 4 * d], [4 * d, d]); // [B·T, D]
  }
  mm([n, d], [d, v]); // [B·T, V]
  const out = products.reduce((a, x) => g.add(a, x));
  return { g, out, flops, feeds };
}

/**
 * Microseconds that some runnable task waited for a CPU since boot (Linux PSI, `/proc/pressure/cpu`),
 * or null where the kernel does not report it. The difference over a measurement, divided by its wall
 * time, says how contended the machine was: the benchmark itself keeps it near zero on an idle machine.
 */
function cpuWaitUs(): number | null {
  try {
    const some = Deno.readTextFileSync("/proc/pressure/cpu").split("\n").find((l) => l.startsWith("some"));
    const total = some?.match(/total=(\d+)/)?.[1];
    return total === undefined ? null : Number(total);
  } catch {
    return null;
  }
}

/** Measures one config: warm-up, then rounds of engine steps, matmul runs and PyTorch steps. */
export async function benchConfig(
  rt: Runtime,
  c: BenchConfig,
  python: string | null,
  threads: number,
): Promise<ConfigResult> {
  const engine = await prepareEngine(rt, c);
  const mmGraph = matmulGraph(c), fwdGraph = matmulGraph(c, true);
  const mmExe = await rt.compile(mmGraph.g, { out: mmGraph.out });
  const fwdExe = await rt.compile(fwdGraph.g, { out: fwdGraph.out });
  log(`engine ${c.name}: compiled in ${(engine.compileMs / 1e3).toFixed(1)} s`);
  const m = c.model;
  const peer = python
    ? await TorchPeer.start(python, new URL("./torch_gpt_bench.py", import.meta.url), [
      ...["--vocab", m.vocab, "--d-model", m.dModel, "--layers", m.layers, "--heads", m.heads],
      ...["--seq", c.seq, "--batch", c.batch, "--warmup", c.warmup, "--threads", threads, "--serve"],
    ], { label: c.name, log })
    : null;

  log(`${c.name}: ${c.warmup} warm-up steps, then ${c.steps} steps in ${c.rounds} interleaved rounds`);
  const losses: number[] = [];
  for (let i = 0; i < c.warmup; i++) losses.push((await engine.step()).loss);
  for (let i = 0; i < 2; i++) await mmExe.run(mmGraph.feeds);

  const wait0 = cpuWaitUs(), wall0 = performance.now();
  const steps: StepSample[] = [], mmMs: number[] = [], fwdMs: number[] = [], torchMs: number[] = [];
  let torchLoss = NaN;
  const mmRunsPerRound = Math.max(2, Math.ceil(20 / c.rounds));
  for (let r = 0; r < c.rounds; r++) {
    const n = Math.ceil((c.steps - steps.length) / (c.rounds - r));
    // Each segment starts with one untimed run: the first run after another session or process had the
    // cores was consistently 30–150% slower (cold caches, the other side's threads still spinning), and
    // that switching cost, an artifact of interleaving, would otherwise land in one sample per round.
    await engine.step();
    const engineRound: StepSample[] = [];
    for (let i = 0; i < n; i++) engineRound.push(await engine.step());
    steps.push(...engineRound);
    // Two untimed runs: after the step's session the first matmul runs still share the cores with its threads.
    const mmRound = await timeRuns(() => mmExe.run(mmGraph.feeds), { warmup: 2, runs: mmRunsPerRound });
    mmMs.push(...mmRound);
    fwdMs.push(...await timeRuns(() => fwdExe.run(fwdGraph.feeds), { warmup: 2, runs: mmRunsPerRound }));
    let torchRound: number[] = [];
    if (peer) {
      const t = await peer.steps(n + 1);
      torchRound = t.ms.slice(1);
      torchMs.push(...torchRound);
      torchLoss = t.loss;
    }
    const med = (xs: readonly number[]) => (xs.length ? summarize(xs).median.toFixed(1) : "—");
    log(
      `${c.name}: round ${r + 1}/${c.rounds}: engine step ${med(engineRound.map((s) => s.ms))} ms, ` +
        `ORT matmuls ${med(mmRound)} ms, torch step ${med(torchRound)} ms (medians)`,
    );
  }
  const wait1 = cpuWaitUs();
  const cpuPressure = wait0 === null || wait1 === null
    ? null
    : (wait1 - wait0) / 1e3 / (performance.now() - wall0);
  await peer?.close();
  losses.push(...steps.map((s) => s.loss));

  const stepMs = summarize(steps.map((s) => s.ms));
  const jsMs = summarize(steps.map((s) => s.ms - s.runMs));
  const trainFlops = gptTrainFlops(c.model, c.batch, c.seq);
  const gflops = trainFlops / (stepMs.median / 1e3) / 1e9;
  const tokensPerS = (c.batch * c.seq) / (stepMs.median / 1e3);
  const mm = summarize(mmMs);
  const mmGflops = mmGraph.flops / (mm.median / 1e3) / 1e9;
  const fwd = summarize(fwdMs);
  const fwdGflops = fwdGraph.flops / (fwd.median / 1e3) / 1e9;
  let torch: TorchResult | null = null;
  if (peer) {
    const ms = summarize(torchMs);
    const tps = (c.batch * c.seq) / (ms.median / 1e3);
    torch = { torch: peer.torch, threads: peer.threads, stepMs: ms, tokensPerS: tps, lossLast: torchLoss };
  }
  const result: ConfigResult = {
    name: c.name,
    model: c.model,
    batch: c.batch,
    seq: c.seq,
    warmup: c.warmup,
    steps: c.steps,
    rounds: c.rounds,
    compileMs: engine.compileMs,
    stepMs,
    ortRunMs: summarize(steps.map((s) => s.runMs)),
    jsMs,
    jsShare: jsMs.median / stepMs.median,
    tokensPerS,
    trainFlops,
    gflops,
    lossFirst: losses[0]!,
    lossLast: losses.at(-1)!,
    matmul: { flops: mmGraph.flops, ms: mm, gflops: mmGflops },
    mfuVsOrtMatmul: gflops / mmGflops,
    matmulForward: { flops: fwdGraph.flops, ms: fwd, gflops: fwdGflops },
    mfuVsOrtMatmulForward: gflops / fwdGflops,
    torch,
    torchRatio: torch ? tokensPerS / torch.tokensPerS : null,
    cpuPressure,
  };
  return result;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      configs: { type: "string", default: CONFIGS.map((c) => c.name).join(",") },
      steps: { type: "string" },
      warmup: { type: "string" },
      rounds: { type: "string" },
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
  const rounds = count("rounds", values.rounds, 1);
  const threads = count("threads", values.threads, 1)!;
  const ep = values.ep as EpChoice;
  const configs = values.configs.split(",").map((name) => {
    const c = CONFIGS.find((k) => k.name === name.trim());
    if (!c) {
      throw new RangeError(`Unknown config "${name}" (known: ${CONFIGS.map((k) => k.name).join(", ")})`);
    }
    const s = steps ?? c.steps;
    return { ...c, steps: s, warmup: warmup ?? c.warmup, rounds: Math.min(s, rounds ?? c.rounds) };
  });

  instrumentOrtRun();
  const rt = await Runtime.create({ ep, threads, log: ep === "auto" ? log : null }).catch((e: Error) => {
    console.error(`bench:engine: ${e.message}`);
    Deno.exit(1);
  });
  const torch = values["no-torch"] ? { python: null, reason: "--no-torch" } : await findTorch();
  if (!torch.python) log(`PyTorch column skipped: ${torch.reason}`);

  const results: ConfigResult[] = [];
  for (const c of configs) results.push(await benchConfig(rt, c, torch.python, threads));

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

/** The table, then one line per config checking its targets (met or NOT met). */
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
    `${f(100 * r.mfuVsOrtMatmulForward)}%`,
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
      "(forward shapes only)",
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
      const target = `target ≥ ${c.minTorchRatio}×`;
      checks.push(`${f(r.torchRatio, 2)}× PyTorch (${target}): ${ok ? "met" : "NOT met"}`);
    }
    console.log(
      `${r.name}: ${checks.join("; ") || "no targets measured"}; step ${f(r.stepMs.median)} ms ` +
        `(min ${f(r.stepMs.min)}, max ${f(r.stepMs.max)}), ${f(r.ortRunMs.median)} ms inside session.run; ` +
        `loss ${f(r.lossFirst, 3)} → ${f(r.lossLast, 3)}` +
        (r.cpuPressure === null ? "" : `; CPU pressure ${f(100 * r.cpuPressure, 0)}%`),
    );
    if (r.cpuPressure !== null && r.cpuPressure > 0.2) {
      console.log(
        `${r.name}: warning: tasks waited for a CPU ${f(100 * r.cpuPressure, 0)}% of the time; other work ` +
          "competed for the cores, so these figures are unreliable, ratios included (PyTorch's OpenMP " +
          "threads slowed down far more than ONNX Runtime's under contention); rerun on an idle machine",
      );
    }
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    // Bad flags: the message (it names the value and what is allowed) without a stack trace.
    if (!(e instanceof RangeError)) throw e;
    console.error(e.message);
    Deno.exit(2);
  }
}
