/**
 * `manifest.json`: what a run folder says about itself — the harness and its commit, the resolved
 * suite, the provider and versions, the machine, the plan's size and when it started, resumed and
 * finished. The bench writes it before the first cell runs (and reads it back to resume); reports read
 * it to describe a run and to tell two runs' configs apart.
 *
 * @module
 */
import type { Environment } from "./results.ts";

/**
 * What every reader of a manifest may rely on in its resolved suite: the name and the file it came
 * from. The bench writes its whole parsed suite there and reads it back as such (`Manifest<Suite>`);
 * reports show the rest as JSON without looking inside.
 */
export interface ManifestSuite {
  readonly name: string;
  readonly file: string;
}

/** `manifest.json`; `S` is the suite as its writer typed it. */
export interface Manifest<S extends ManifestSuite = ManifestSuite> {
  harness: string;
  /** The harness's git commit (null outside a checkout). */
  gitCommit: string | null;
  /** Whether the checkout differed from that commit (modified or untracked files); null when unknown. */
  gitDirty?: boolean | null;
  suite: S;
  configHash: string;
  deno: string;
  onnxruntime: string;
  executionProvider: string;
  threads: number;
  /** Provider, thread count and versions in one place (also in `results.json`). */
  environment: Environment;
  /** `gpu`: the GPU model(s) `nvidia-smi` names, null where there is none (or no driver). */
  machine: { os: string; arch: string; cpu: string; cores: number; memoryGiB: number; gpu?: string | null };
  seeds: readonly number[];
  cells: number;
  startedAt: string;
  /** When the run was resumed, with what provider and versions, and from which commit (dirty or not). */
  resumes: { at: string; environment: Environment; gitCommit?: string | null; gitDirty?: boolean | null }[];
  finishedAt: string | null;
}
