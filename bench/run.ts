/**
 * Running a suite: plan the cells, run them one after another (bandit cells are milliseconds; the
 * session cache makes every cell of one algorithm and task share one ONNX session), append each record
 * as it finishes, then aggregate, write `results.json`, the report and the manifest.
 *
 * @module
 */
import * as ort from "onnxruntime-node";
import { cpus, totalmem } from "node:os";
import denoJson from "../deno.json" with { type: "json" };
import type { EpChoice } from "../engine/runtime.ts";
import { Runtime } from "../engine/runtime.ts";
import { buildReport } from "../reports/report.ts";
import type { BanditTask } from "../tasks/bandits.ts";
import type { CellEnv, Proxy } from "./cell.ts";
import { runCell } from "./cell.ts";
import type { CellRecord, Results } from "./results.ts";
import { aggregate } from "./results.ts";
import { appendRecord, canonicalJson, readRecords, runId, sha256, writeAtomic } from "./store.ts";
import type { Cell, Suite } from "./suite.ts";
import { planCells } from "./suite.ts";

/** Options of {@link runSuite}. */
export interface RunOptions {
  /** Folder that holds run folders (default `runs`). */
  out?: string;
  /** Resume this run folder instead of starting a new one. */
  resume?: string;
  ep?: EpChoice;
  threads?: number;
  /** Progress lines (default: stderr); null silences them. */
  log?: ((line: string) => void) | null;
}

/** The outcome of a run. */
export interface RunOutcome {
  readonly dir: string;
  readonly results: Results;
  readonly reportPath: string;
  readonly wallSeconds: number;
}

/** `manifest.json`. */
export interface Manifest {
  harness: string;
  gitCommit: string | null;
  suite: Suite;
  configHash: string;
  deno: string;
  onnxruntime: string;
  executionProvider: string;
  threads: number;
  machine: { os: string; arch: string; cpu: string; cores: number; memoryGiB: number };
  seeds: readonly number[];
  cells: number;
  startedAt: string;
  finishedAt: string | null;
}

/** Runs (or resumes) a suite on the bandit tasks; returns where the run went. */
export async function runSuite(
  suite: Suite,
  tasks: ReadonlyMap<string, BanditTask>,
  opts: RunOptions = {},
): Promise<RunOutcome> {
  const log = opts.log === undefined ? (l: string) => console.error(l) : opts.log;
  const t0 = performance.now();
  const configHash = sha256(canonicalJson(suite));
  const cells = planCells(suite);
  const rt = await Runtime.create({ ep: opts.ep ?? "cpu", threads: opts.threads ?? 1, log });

  const startedAt = new Date();
  const dir = opts.resume ?? `${opts.out ?? "runs"}/${runId(startedAt, configHash)}`;
  await Deno.mkdir(dir, { recursive: true });
  const manifestPath = `${dir}/manifest.json`;
  let manifest: Manifest;
  if (opts.resume) {
    manifest = JSON.parse(await Deno.readTextFile(manifestPath));
    if (manifest.configHash !== configHash) {
      throw new Error(
        `Cannot resume "${dir}": it was started with another config (hash ${manifest.configHash})`,
      );
    }
  } else {
    manifest = {
      harness: `prefbench ${denoJson.version}`,
      gitCommit: await gitCommit(),
      suite,
      configHash,
      deno: Deno.version.deno,
      onnxruntime: (ort.env.versions as Record<string, string | undefined>).node ?? "unknown",
      executionProvider: rt.provider,
      threads: rt.threads,
      machine: {
        os: Deno.build.os,
        arch: Deno.build.arch,
        cpu: cpus()[0]?.model ?? "unknown",
        cores: cpus().length,
        memoryGiB: Math.round(totalmem() / 2 ** 30),
      },
      seeds: suite.seeds,
      cells: cells.length,
      startedAt: startedAt.toISOString(),
      finishedAt: null,
    };
    await writeAtomic(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
  }

  const jsonl = `${dir}/results.jsonl`;
  const prior = await readRecords(jsonl);
  // Rewrite what survived, so a torn last line does not swallow the next record appended after it.
  if (opts.resume) await writeAtomic(jsonl, prior.map((r) => JSON.stringify(r) + "\n").join(""));
  const done = new Map(prior.map((r) => [r.id, r]));
  const env: CellEnv = {
    rt,
    tasks,
    checkpoints: suite.checkpoints,
    rewardModel: suite.rewardModel,
    proxies: new Map<string, Promise<Proxy>>(),
  };
  const records: CellRecord[] = [];
  for (const cell of cells) {
    const finished = done.get(cell.id);
    if (finished) {
      records.push(finished);
      continue;
    }
    const rec = await runCell(cell, env);
    await appendRecord(jsonl, rec);
    records.push(rec);
    log?.(progressLine(cell, cells.length, rec, (performance.now() - t0) / 1000));
  }

  const finishedAt = new Date().toISOString();
  const results = aggregate(
    { suite: suite.name, configHash, startedAt: manifest.startedAt, finishedAt },
    tasks,
    records,
  );
  await writeAtomic(`${dir}/results.json`, JSON.stringify(results) + "\n");
  const reportPath = `${dir}/report.html`;
  await writeAtomic(reportPath, await buildReport(results, manifest));
  manifest.finishedAt = finishedAt;
  await writeAtomic(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
  return { dir, results, reportPath, wallSeconds: (performance.now() - t0) / 1000 };
}

/** `[ 12/360] bandit.random  dpo  beta=0.1  seed=2  0.41s  (elapsed 12.3s)`, with the error if any. */
export function progressLine(cell: Cell, total: number, rec: CellRecord, elapsed: number): string {
  const w = String(total).length;
  const extra = cell.series === cell.algorithm ? "" : ` [${cell.series.slice(cell.algorithm.length + 1)}]`;
  const status = rec.status === "ok" ? "" : `  ERROR: ${rec.error}`;
  return `[${String(cell.index + 1).padStart(w)}/${total}] ${cell.task}  ${cell.algorithm}${extra}  ` +
    `${cell.knob}=${cell.knobValue}  seed=${cell.seed}  ${rec.wallSeconds.toFixed(2)}s  ` +
    `(elapsed ${elapsed.toFixed(1)}s)${status}`;
}

async function gitCommit(): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", {
      args: ["rev-parse", "HEAD"],
      stdout: "piped",
      stderr: "null",
    })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}
