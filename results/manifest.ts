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
  /** The suite's name. */
  readonly name: string;
  /** The suite file it was parsed from. */
  readonly file: string;
  /** The plugins the run loaded, each with the hash of its file and the names it added. */
  readonly plugins?: readonly PluginRef[];
}

/** A plugin as a run records it: where it is, what its file held, what it added. */
export interface PluginRef {
  /** Absolute path of the module. */
  readonly path: string;
  /** SHA-256 (hex) of its content when the run started. */
  readonly sha256: string;
  /** The names of the algorithms it added. */
  readonly algorithms: readonly string[];
  /** The names of the bandit tasks it added. */
  readonly tasks: readonly string[];
}

/** `manifest.json`; `S` is the suite as its writer typed it. */
export interface Manifest<S extends ManifestSuite = ManifestSuite> {
  /** `prefbench <version>`, the version from `deno.json`. */
  harness: string;
  /** The harness's git commit (null outside a checkout). */
  gitCommit: string | null;
  /** Whether the checkout differed from that commit (modified or untracked files); null when unknown. */
  gitDirty?: boolean | null;
  /** The resolved suite, as its writer typed it. */
  suite: S;
  /** SHA-256 (hex) of the suite's config, `slurm` aside: a resume must match it. */
  configHash: string;
  /** Deno version of the process that started the run. */
  deno: string;
  /** ONNX Runtime version of the process that started the run. */
  onnxruntime: string;
  /** Execution provider of the process that started the run. */
  executionProvider: string;
  /** Intra-op threads per session of the process that started the run. */
  threads: number;
  /** Provider, thread count and versions in one place (also in `results.json`). */
  environment: Environment;
  /** `gpu`: the GPU model(s) `nvidia-smi` names, null where there is none (or no driver). */
  machine: { os: string; arch: string; cpu: string; cores: number; memoryGiB: number; gpu?: string | null };
  /** The suite's seeds. */
  seeds: readonly number[];
  /** Cells in the plan. */
  cells: number;
  /** When the run started (ISO 8601). */
  startedAt: string;
  /** When the run was resumed, with what provider and versions, and from which commit (dirty or not). */
  resumes: { at: string; environment: Environment; gitCommit?: string | null; gitDirty?: boolean | null }[];
  /** When the run finished (ISO 8601); null until then. */
  finishedAt: string | null;
}
