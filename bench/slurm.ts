/**
 * Slurm: a run's cells as a job array, its merge as a job that depends on it. `slurm submit` writes
 * `<run>/slurm/array.sbatch` (one array task per cell; the task id is the cell's index in the plan)
 * and `<run>/slurm/merge.sbatch`, then submits them with `sbatch --parsable`, the merge with
 * `--dependency=afterany:<array job>` so it runs once every task has ended, however it ended (a merge
 * with cells missing says which and exits 1; `slurm submit --resume` submits only those).
 *
 * The scripts run this checkout's `bench/cli.ts` with the Deno executable that submitted them: both
 * must be on a file system the compute nodes share, as the run folder must.
 *
 * @module
 */
import { writeAtomic } from "./store.ts";
import { indexRanges } from "./plan.ts";
import { ConfigError } from "../results/mod.ts";

/** Resources and placement of the jobs (`#SBATCH` lines); absent ones are left to the cluster's defaults. */
export interface SlurmSettings {
  /** CPUs per array task (the run's `--threads` by default). */
  readonly cpusPerTask: number;
  /** Memory per task, Slurm's syntax: `4G`, `500M`. */
  readonly mem?: string;
  /** Time limit per task: `MM`, `HH:MM:SS`, `D-HH`, ... */
  readonly time?: string;
  readonly partition?: string;
  readonly account?: string;
  /** Array tasks running at once (`%N`). */
  readonly maxParallel?: number;
  /** The Deno executable on the compute nodes. */
  readonly deno: string;
}

/** What `slurm submit` wrote and ran. */
export interface Submission {
  readonly arrayScript: string;
  readonly mergeScript: string;
  /** The sbatch command lines, as a shell would take them (the merge's with `<array-job-id>` on a dry run). */
  readonly commands: readonly string[];
  /** Job ids (null on a dry run). */
  readonly arrayJob: string | null;
  readonly mergeJob: string | null;
}

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Checks a value that goes on an `#SBATCH` line (no spaces, quotes or newlines; the value is not quoted there). */
export function checkSbatchValue(flag: string, value: string, pattern: RegExp, allowed: string): string {
  if (!pattern.test(value)) {
    throw new ConfigError(
      `Cannot parse the command line: ${flag} = ${
        JSON.stringify(value)
      } is not allowed (allowed: ${allowed})`,
      flag,
    );
  }
  return value;
}

/** The array script: one task per cell in `indices` (the task id is the cell index). */
export function arrayScript(dir: string, indices: readonly number[], s: SlurmSettings): string {
  const name = dir.slice(dir.lastIndexOf("/") + 1);
  const range = indexRanges(indices) + (s.maxParallel ? `%${s.maxParallel}` : "");
  return [
    "#!/bin/bash",
    `# prefbench: the cells of ${name}, one array task per cell (the task id is the cell's index in`,
    `# \`deno task bench plan --run ${dir}\`). Written by \`deno task bench slurm submit\`.`,
    `#SBATCH --job-name=prefbench-${name}`,
    `#SBATCH --array=${range}`,
    ...resourceLines(s),
    `#SBATCH --output=${dir}/slurm/cell-%a-%A.out`,
    "set -euo pipefail",
    `cd ${shq(ROOT)}`,
    `exec ${shq(s.deno)} run -A --config ${shq(`${ROOT}/deno.json`)} ${shq(`${ROOT}/bench/cli.ts`)} ` +
    `run-cell --run ${shq(dir)} --index "$SLURM_ARRAY_TASK_ID"`,
    "",
  ].join("\n");
}

/** The merge script: results.json and report.html once the array has ended. */
export function mergeScript(dir: string, s: SlurmSettings): string {
  const name = dir.slice(dir.lastIndexOf("/") + 1);
  return [
    "#!/bin/bash",
    `# prefbench: results.json and report.html of ${name}, after its array (--dependency=afterany).`,
    `#SBATCH --job-name=prefbench-${name}-merge`,
    ...resourceLines({ ...s, cpusPerTask: 1 }),
    `#SBATCH --output=${dir}/slurm/merge-%j.out`,
    "set -euo pipefail",
    `cd ${shq(ROOT)}`,
    `exec ${shq(s.deno)} run -A --config ${shq(`${ROOT}/deno.json`)} ${shq(`${ROOT}/bench/cli.ts`)} ` +
    `merge --run ${shq(dir)}`,
    "",
  ].join("\n");
}

function resourceLines(s: SlurmSettings): string[] {
  return [
    `#SBATCH --cpus-per-task=${s.cpusPerTask}`,
    ...(s.mem ? [`#SBATCH --mem=${s.mem}`] : []),
    ...(s.time ? [`#SBATCH --time=${s.time}`] : []),
    ...(s.partition ? [`#SBATCH --partition=${s.partition}`] : []),
    ...(s.account ? [`#SBATCH --account=${s.account}`] : []),
  ];
}

/**
 * Writes `<dir>/slurm/{array,merge}.sbatch` for the cells `indices` and, unless `dryRun`, submits the
 * array and then the merge depending on it. `dir` must be absolute (the scripts run elsewhere).
 */
export async function submit(
  dir: string,
  indices: readonly number[],
  s: SlurmSettings,
  opts: { dryRun?: boolean; sbatch?: string } = {},
): Promise<Submission> {
  if (/[\s'"\\$`]/.test(dir)) {
    throw new ConfigError(
      `Cannot submit "${dir}": a run folder for Slurm may not contain spaces, quotes, "\\", "$" or "\`" ` +
        `(its path goes on #SBATCH lines, which are not quoted)`,
      "--out",
    );
  }
  await Deno.mkdir(`${dir}/slurm`, { recursive: true });
  const arrayPath = `${dir}/slurm/array.sbatch`, mergePath = `${dir}/slurm/merge.sbatch`;
  await writeAtomic(arrayPath, arrayScript(dir, indices, s));
  await writeAtomic(mergePath, mergeScript(dir, s));
  const sbatch = opts.sbatch ?? "sbatch";
  const arrayArgs = ["--parsable", arrayPath];
  const mergeArgs = (id: string) => ["--parsable", `--dependency=afterany:${id}`, mergePath];
  if (opts.dryRun) {
    return {
      arrayScript: arrayPath,
      mergeScript: mergePath,
      commands: [[sbatch, ...arrayArgs], [sbatch, ...mergeArgs("<array-job-id>")]].map((c) => c.join(" ")),
      arrayJob: null,
      mergeJob: null,
    };
  }
  const arrayJob = await runSbatch(sbatch, arrayArgs);
  const mergeJob = await runSbatch(sbatch, mergeArgs(arrayJob));
  return {
    arrayScript: arrayPath,
    mergeScript: mergePath,
    commands: [[sbatch, ...arrayArgs], [sbatch, ...mergeArgs(arrayJob)]].map((c) => c.join(" ")),
    arrayJob,
    mergeJob,
  };
}

/** Runs sbatch; returns the job id (`--parsable` prints `id` or `id;cluster`). */
async function runSbatch(sbatch: string, args: string[]): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(sbatch, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    throw new Error(
      `Cannot run "${sbatch}": ${(e as Error).message} (is Slurm installed here? --dry-run writes the ` +
        `scripts without submitting)`,
    );
  }
  const dec = new TextDecoder();
  const text = dec.decode(out.stdout).trim();
  const id = text.split(";")[0]!;
  if (!out.success || !/^\d+$/.test(id)) {
    throw new Error(
      `"${sbatch} ${args.join(" ")}" failed (exit ${out.code}): ${dec.decode(out.stderr).trim() || text}`,
    );
  }
  return id;
}

/** Single-quotes a word for bash. */
function shq(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
