/**
 * `deno task bench:perf`: the harness against PyTorch on the same machine, in one run, on the workloads
 * a preference-optimization run spends its time in, and how a training step scales:
 *
 * 1. a GPT training step, configs S and M (`perf/engine_bench.ts`, run as a child: it also measures
 *    ONNX Runtime's own MatMul throughput at the model's shapes, the MFU reference);
 * 2. a DPO step on 16 pairs: 32 rows of prompt + response through the GPT, response log-probs summed
 *    per row, the DPO loss on the log-ratio margins, backward and AdamW — one `session.run` here,
 *    forward + backward + `optimizer.step()` in PyTorch;
 * 3. a PPO update phase: 2 epochs over 2 minibatches of a rollout of 32 completions (policy and value
 *    head, clipped losses, gradient clipping, AdamW), one `session.run` per optimizer step and, as a
 *    second row, all four steps folded into one call ({@link Trainer.stepMany});
 * 4. generation: 32 prompts, 32 new tokens each at temperature 1, with a key/value cache on both sides
 *    (`GptPolicy.sample`, 16 decode steps and their draws per call; a cached decoder in
 *    `perf/torch_perf.py`);
 * 5. scaling: training steps of shapes around config S, one dimension at a time (model size, batch,
 *    sequence length), each against PyTorch and ONNX Runtime's MatMul; on a GPU also config M at
 *    batch 256, the shape the GPU target is stated at.
 *
 * Workloads 2–4 use config S's model. The harness and the PyTorch peer run in interleaved rounds, the
 * first run of each segment untimed, so both see the same background load and the ratios hold on a
 * noisy machine; figures are medians. Prints tables, writes JSON (`--json`, default
 * `.cache/bench-perf.json`) and a page with the scaling curves (`--html`, default
 * `.cache/bench-perf.html`). Flags: `--rounds N`, `--runs N` (timed runs per round), `--threads N`,
 * `--ep cpu|auto|cuda|webgpu`, `--skip-engine` (omit 1), `--no-scaling` (omit 5), `--no-torch`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Graph, type Tensor } from "../engine/graph.ts";
import { Rng } from "../engine/rng.ts";
import { EP_CHOICES, type EpChoice, Runtime } from "../engine/runtime.ts";
import { Trainer } from "../engine/trainer.ts";
import { dpoLoss } from "../algorithms/dpo.ts";
import { clippedSurrogate, valueLoss } from "../algorithms/ppo.ts";
import {
  declareParams,
  type GptConfig,
  gptHidden,
  gptParams,
  gptValues,
  initParams,
  lmHead,
  tokenLogProbs,
} from "../models/gpt.ts";
import { GptPolicy } from "../models/gpt_policy.ts";
import { findTorch } from "./torch.ts";
import { availableParallelism, cpus } from "node:os";
import * as ort from "npm:onnxruntime-node@1.30.0";
import { type PerfDoc, perfReportHtml, type ScalingPoint, SWEEPS } from "./page.ts";
import { type BenchConfig, benchConfig, type ConfigResult, CONFIGS } from "./engine_bench.ts";
import { TorchPeer } from "./_peer.ts";
import { summarize, table, type TimingSummary } from "./_timing.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "4" },
    runs: { type: "string", default: "3" },
    threads: { type: "string", default: "2" },
    ep: { type: "string", default: "cpu" },
    json: { type: "string", default: ".cache/bench-perf.json" },
    html: { type: "string", default: ".cache/bench-perf.html" },
    "skip-engine": { type: "boolean", default: false },
    "no-scaling": { type: "boolean", default: false },
    "no-torch": { type: "boolean", default: false },
  },
});
const rounds = Number(args.values.rounds),
  runs = Number(args.values.runs),
  threads = Number(args.values.threads);
for (const [k, v] of [["rounds", rounds], ["runs", runs], ["threads", threads]] as const) {
  if (!(Number.isInteger(v) && v >= 1)) {
    console.error(`bench:perf: --${k} = ${JSON.stringify(args.values[k])} is not allowed (an integer ≥ 1)`);
    Deno.exit(2);
  }
}
const ep = args.values.ep as EpChoice;
if (!EP_CHOICES.includes(ep)) {
  console.error(`bench:perf: --ep = ${JSON.stringify(ep)} is not allowed (${EP_CHOICES.join(", ")})`);
  Deno.exit(2);
}
const log = (line: string) => console.error(line);
const model: GptConfig = CONFIGS[0]!.model; // config S
const PAIRS = 16, SEQ = model.context, PROMPTS = 32, NEW = 32;
const PPO_ROWS = 32, PPO_MINIBATCHES = 2, PPO_EPOCHS = 2;

/** One workload's result. */
interface WorkloadResult {
  name: string;
  /** What one run does, in units (tokens processed or generated). */
  units: number;
  unit: string;
  engineMs: TimingSummary;
  torchMs: TimingSummary | null;
  /** Engine units/s ÷ PyTorch units/s. */
  ratio: number | null;
}

/** The engine's DPO step on 16 pairs of config S's shape: one trainer step per call. */
async function engineDpo(rt: Runtime): Promise<() => Promise<unknown>> {
  const g = new Graph();
  const p = declareParams(g, gptParams(model));
  const rows = 2 * PAIRS;
  const tokens = g.input("tokens", [rows, SEQ], "int64");
  const targets = g.input("targets", [rows, SEQ], "int64");
  const mask = g.input("mask", [rows, SEQ]);
  const refMargin = g.input("ref_margin", [PAIRS]);
  const logp = g.mul(tokenLogProbs(g, lmHead(g, p, gptHidden(g, model, p, tokens)), targets), mask); // [2P, T]
  const seq = g.reduceSum(logp, [1]); // [2P]
  const h = g.sub(g.sub(g.slice(seq, 0, 0, PAIRS), g.slice(seq, 0, PAIRS, rows)), refMargin); // [P]
  const loss = g.mean(dpoLoss(g, h, g.scalar(0.1, "float32"), g.scalar(0, "float32")));
  const trainer = await Trainer.create(rt, loss, initParams(gptParams(model), Rng.stream(0, "perf", "init")));
  const rng = Rng.stream(0, "perf", "data");
  const ids = () => BigInt64Array.from({ length: rows * SEQ }, () => BigInt(rng.int(model.vocab)));
  const m = new Float32Array(rows * SEQ);
  for (let r = 0; r < rows; r++) m.fill(1, r * SEQ + SEQ / 2, (r + 1) * SEQ); // the response: the second half
  const feeds = {
    tokens: ids(),
    targets: ids(),
    mask: m,
    ref_margin: Float32Array.from({ length: PAIRS }, () => 0.1 * rng.normal()),
  };
  return () => trainer.step(feeds, 1e-3);
}

/**
 * The engine's PPO update phase: {@link PPO_EPOCHS} passes over {@link PPO_MINIBATCHES} minibatches of a
 * rollout of {@link PPO_ROWS} completions (config S, responses in the second half of each row): token
 * log-probs and a value head on the last hidden state, the clipped surrogate and the clipped value loss
 * over response tokens (`algorithms/ppo.ts`'s loss functions), gradient-norm clipping at 1 and AdamW.
 * `fold`: all the phase's optimizer steps in one `session.run` ({@link Trainer.steps}); else one call each.
 */
async function enginePpo(rt: Runtime, fold: boolean): Promise<() => Promise<unknown>> {
  const mb = PPO_ROWS / PPO_MINIBATCHES;
  const g = new Graph();
  const p = declareParams(g, gptParams(model, { valueHead: true }));
  const tokens = g.input("tokens", [mb, SEQ], "int64");
  const input = (name: string) => g.input(name, [mb, SEQ]);
  const targets = g.input("targets", [mb, SEQ], "int64");
  const [mask, oldLogp, adv, ret, oldV] = ["mask", "old_logp", "adv", "ret", "old_value"].map(
    input,
  ) as Tensor[];
  const hidden = gptHidden(g, model, p, tokens);
  const logp = tokenLogProbs(g, lmHead(g, p, hidden), targets); // [mb, T]
  const eps = g.scalar(0.2);
  const n = g.maximum(g.sum(mask!), 1);
  const overTokens = (x: Tensor) => g.div(g.sum(g.mul(x, mask!)), n);
  const pg = overTokens(clippedSurrogate(g, logp, oldLogp!, adv!, eps).loss);
  const vl = overTokens(valueLoss(g, gptValues(g, p, hidden), oldV!, ret!, eps, true));
  const init = initParams(gptParams(model, { valueHead: true }), Rng.stream(0, "perf", "init"));
  const trainer = await Trainer.create(rt, g.add(pg, g.mul(vl, 0.5)), init, { adamw: { clipNorm: 1 } });
  const rng = Rng.stream(0, "perf", "ppo");
  const rows = (f: () => number) => Float32Array.from({ length: mb * SEQ }, f);
  const m = new Float32Array(mb * SEQ);
  for (let r = 0; r < mb; r++) m.fill(1, r * SEQ + SEQ / 2, (r + 1) * SEQ);
  // The rollout's minibatches, fixed (the shuffling is the host's and is not what is timed).
  const batches = Array.from({ length: PPO_EPOCHS * PPO_MINIBATCHES }, () => ({
    tokens: BigInt64Array.from({ length: mb * SEQ }, () => BigInt(rng.int(model.vocab))),
    targets: BigInt64Array.from({ length: mb * SEQ }, () => BigInt(rng.int(model.vocab))),
    mask: m,
    old_logp: rows(() => -6 * rng.float()),
    adv: rows(() => rng.normal()),
    ret: rows(() => rng.normal()),
    old_value: rows(() => 0.1 * rng.normal()),
  }));
  if (fold) return () => trainer.stepMany(batches, 1e-4);
  return async () => {
    for (const b of batches) await trainer.step(b, 1e-4);
  };
}

/** The engine's generation: 32 prompts, 32 new tokens each, with the key/value cache. */
function engineGenerate(rt: Runtime): () => Promise<unknown> {
  const policy = GptPolicy.create(rt, model, initParams(gptParams(model), Rng.stream(0, "perf", "init")));
  const prompts = Array.from({ length: PROMPTS }, (_, b) => [1, 4 + (b % 50), 5]);
  let seed = 0;
  return () =>
    policy.sample(prompts, {
      rng: Rng.stream(seed++, "perf", "sampling"),
      maxNewTokens: NEW,
      eos: null,
      cache: true,
    });
}

/** Interleaved rounds of engine runs and peer runs; the first run of each segment is untimed. */
async function interleave(
  engine: () => Promise<unknown>,
  peer: TorchPeer | null,
): Promise<{ engine: number[]; torch: number[] }> {
  const out = { engine: [] as number[], torch: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    await engine();
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await engine();
      out.engine.push(performance.now() - t0);
    }
    if (peer) out.torch.push(...(await peer.steps(runs + 1)).ms.slice(1));
    log(`  round ${r + 1}/${rounds}`);
  }
  return out;
}

/** The PyTorch version a peer reported, for the document (null until one ran). */
let torchSeen: string | null = null;

async function workload(
  name: string,
  units: number,
  unit: string,
  engine: () => Promise<unknown>,
  peerArgs: (string | number)[],
  python: string | null,
): Promise<WorkloadResult> {
  log(`${name}:`);
  const peer = python
    ? await TorchPeer.start(python, new URL("./torch_perf.py", import.meta.url), [
      ...[
        "--vocab",
        model.vocab,
        "--d-model",
        model.dModel,
        "--layers",
        model.layers,
        "--heads",
        model.heads,
      ],
      ...["--context", model.context, "--threads", threads],
      ...peerArgs,
    ], { label: name, log })
    : null;
  if (peer) torchSeen = peer.torch;
  try {
    const t = await interleave(engine, peer);
    const engineMs = summarize(t.engine);
    const torchMs = t.torch.length ? summarize(t.torch) : null;
    return {
      name,
      units,
      unit,
      engineMs,
      torchMs,
      ratio: torchMs ? torchMs.median / engineMs.median : null,
    };
  } finally {
    await peer?.close();
  }
}

const found = args.values["no-torch"] ? null : await findTorch();
const python = found?.python ?? null;
if (found && !python) log(`bench:perf: no PyTorch (${found.reason}); its columns stay empty`);
const rt = await Runtime.create({ ep, threads, log: ep === "auto" ? log : null }).catch((e: Error) => {
  console.error(`bench:perf: ${e.message}`);
  Deno.exit(1);
});

let engineBench: { configs: ConfigResult[] } | null = null;
if (!args.values["skip-engine"]) {
  log("GPT training steps S and M (perf/engine_bench.ts):");
  const json = await Deno.makeTempFile({ suffix: ".json" });
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./engine_bench.ts", import.meta.url).pathname,
      "--threads",
      String(threads),
      "--json",
      json,
      "--ep",
      rt.provider,
      ...(python ? [] : ["--no-torch"]),
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (child.success) engineBench = JSON.parse(await Deno.readTextFile(json));
  else log("bench:perf: perf/engine_bench.ts failed; its rows are left out");
  await Deno.remove(json);
}

const ppoPeer = [
  ...["--workload", "ppo", "--seq", SEQ, "--batch", PPO_ROWS],
  ...["--minibatches", PPO_MINIBATCHES, "--epochs", PPO_EPOCHS],
];
const results = [
  await workload("DPO step, 16 pairs", 2 * PAIRS * SEQ, "tokens", await engineDpo(rt), [
    "--workload",
    "dpo",
    "--seq",
    SEQ,
    "--pairs",
    PAIRS,
  ], python),
  await workload(
    `PPO update, ${PPO_EPOCHS} epochs × ${PPO_MINIBATCHES} minibatches`,
    PPO_EPOCHS * PPO_ROWS * SEQ,
    "tokens",
    await enginePpo(rt, false),
    ppoPeer,
    python,
  ),
  await workload(
    `PPO update, the ${PPO_EPOCHS * PPO_MINIBATCHES} steps in one call`,
    PPO_EPOCHS * PPO_ROWS * SEQ,
    "tokens",
    await enginePpo(rt, true),
    ppoPeer,
    python,
  ),
  await workload("generation, 32 × 32 tokens", PROMPTS * NEW, "new tokens", engineGenerate(rt), [
    "--workload",
    "generate",
    "--batch",
    PROMPTS,
    "--new",
    NEW,
  ], python),
];

console.log(
  `\nmodel S (vocab ${model.vocab}, d ${model.dModel}, ${model.layers} layers, context ${model.context}); ` +
    `${threads} thread(s); medians of ${rounds} × ${runs} runs`,
);
console.log(table(
  ["workload", "harness ms", "units/s", "PyTorch ms", "units/s", "ratio"],
  results.map((r) => [
    r.name,
    r.engineMs.median.toFixed(1),
    `${(r.units / (r.engineMs.median / 1000)).toFixed(0)} ${r.unit}`,
    r.torchMs ? r.torchMs.median.toFixed(1) : "—",
    r.torchMs ? (r.units / (r.torchMs.median / 1000)).toFixed(0) : "—",
    r.ratio ? `${r.ratio.toFixed(2)}×` : "—",
  ]),
));
const scaling = args.values["no-scaling"] ? [] : await scalingSweep();
const doc: PerfDoc & Record<string, unknown> = {
  schema: "prefbench.bench_perf/1",
  date: new Date().toISOString(),
  provider: rt.provider,
  threads,
  machine: { cpu: cpus()[0]?.model ?? "unknown", cpus: availableParallelism() },
  versions: { deno: Deno.version.deno, onnxruntime: ort.env.versions.common ?? "unknown" },
  torch: torchSeen,
  model,
  rounds,
  runs,
  workloads: results,
  training: engineBench?.configs ?? [],
  scaling,
};
for (const path of [args.values.json!, args.values.html!]) {
  await Deno.mkdir(path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".", { recursive: true });
}
await Deno.writeTextFile(args.values.json!, JSON.stringify(doc, null, 2) + "\n");
await Deno.writeTextFile(args.values.html!, await perfReportHtml(doc));
console.log(`json: ${args.values.json}`);
console.log(`report: ${args.values.html}`);

/**
 * Training steps of GPT shapes around config S, one dimension at a time: model size (width and depth),
 * batch and sequence length; each measured as bench:engine measures S and M (interleaved with PyTorch,
 * against ONNX Runtime's MatMul at the same shapes), with fewer steps. On a GPU, config M at batch 256
 * is added: the shape the GPU target is stated at.
 */
async function scalingSweep(): Promise<ScalingPoint[]> {
  const base = CONFIGS[0]!;
  const shape = (c: BenchConfig) =>
    `d ${c.model.dModel}, ${c.model.layers} layers, B ${c.batch}, T ${c.seq}, V ${c.model.vocab}`;
  const point = (sweep: string, x: (c: BenchConfig) => number, over: Partial<BenchConfig>) => {
    const c: BenchConfig = { ...base, warmup: 1, steps: 6, rounds: 3, ...over };
    return { sweep, x: x(c), c };
  };
  const size = (c: BenchConfig) =>
    gptParams(c.model).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  const plan = [
    ...[[64, 2], [128, 2], [192, 3], [256, 4]].map(([d, l]) =>
      point(SWEEPS[0]!, size, { model: { ...base.model, dModel: d!, layers: l! } })
    ),
    ...[8, 16, 32, 64].map((b) => point(SWEEPS[1]!, (c) => c.batch, { batch: b })),
    ...[16, 32, 64, 128].map((t) =>
      point(SWEEPS[2]!, (c) => c.seq, { seq: t, model: { ...base.model, context: t } })
    ),
    ...(rt.provider === "cpu" ? [] : [
      point("M at batch 256", (c) => c.batch, {
        ...CONFIGS[1]!,
        batch: 256,
        warmup: 1,
        steps: 4,
        rounds: 2,
      }),
    ]),
  ];
  const out: ScalingPoint[] = [];
  for (const [i, p] of plan.entries()) {
    log(`scaling ${i + 1}/${plan.length}: ${p.sweep}, ${shape(p.c)}`);
    const r = await benchConfig(rt, { ...p.c, name: `${p.sweep} ${p.x}` }, python, threads);
    out.push({
      sweep: p.sweep,
      x: p.x,
      label: shape(p.c),
      stepMs: r.stepMs.median,
      tokensPerS: r.tokensPerS,
      mfu: r.mfuVsOrtMatmul,
      torchStepMs: r.torch?.stepMs.median ?? null,
      ratio: r.torchRatio,
    });
  }
  console.log(`\nscaling: training steps, ${threads} thread(s), provider ${rt.provider}`);
  console.log(table(
    ["sweep", "shape", "ms", "tokens/s", "MFU vs ORT MatMul", "PyTorch ms", "ratio"],
    out.map((p) => [
      p.sweep,
      p.label,
      p.stepMs.toFixed(1),
      p.tokensPerS.toFixed(0),
      `${(100 * p.mfu).toFixed(1)}%`,
      p.torchStepMs === null ? "—" : p.torchStepMs.toFixed(1),
      p.ratio === null ? "—" : `${p.ratio.toFixed(2)}×`,
    ]),
  ));
  const gpu = out.find((p) => p.sweep === "M at batch 256");
  if (gpu) {
    console.log(
      `GPU target: config M at batch 256 reaches ${(100 * gpu.mfu).toFixed(1)}% of the provider's MatMul ` +
        `throughput (target ≥ 40%): ${gpu.mfu >= 0.4 ? "met" : "NOT met"}`,
    );
  }
  return out;
}
