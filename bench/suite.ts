/**
 * Suite files and planning: a suite names tasks, seeds and algorithms with hyperparameters, where a
 * list value sweeps that hyperparameter and a scalar fixes it, plus the run-wide settings (divergence
 * ceilings, bootstrap). Planning expands it into cells — (task, algorithm, hyperparameters, seed) — in
 * a fixed order, each with a stable id that also keys its random streams, so a cell's result never
 * depends on which other cells run.
 *
 * Every problem is a {@link ConfigError} naming the file, the field (`algorithms.dpo.beta`), the value
 * and what is allowed, raised while parsing: before any cell starts.
 *
 * @module
 */
import { derivedTaskSpec, isTextTask, TEXT_TASKS } from "../tasks/text_tasks.ts";
import { dataTaskSpec } from "../tasks/data_tasks.ts";
import type { TextTaskSpec } from "../tasks/text_tasks.ts";
import { isDerivedTask, parseTextTasks, type SuiteTextTask } from "../tasks/text_task_schema.ts";
import { parse } from "npm:yaml@2.9.1";
import { dirname, join } from "node:path";
import {
  allowed,
  BUILT_INS,
  checkValue,
  HParamError,
  isPolicyAlgorithm,
  parseHParams,
  REWARD_MODEL_DEFAULTS,
  rewardModel,
  unknownName,
} from "../algorithms/mod.ts";
import type {
  Algorithm,
  HParams,
  HParamSpec,
  HParamValue,
  PolicyAlgorithm,
  Registry,
} from "../algorithms/mod.ts";
import type { PluginRef, PluginSpec } from "./plugins.ts";
import { checkInput, yamlPosition, yamlReason } from "./validate.ts";
import type { StatsSettings } from "../results/mod.ts";
import { ConfigError } from "../results/mod.ts";

/** One algorithm's entry in a suite: fixed values and swept lists. */
export interface SuiteAlgorithm {
  /** Algorithm name, as in the registry. */
  readonly name: string;
  /** Hyperparameters fixed by the suite (validated). */
  readonly fixed: HParams;
  /** Swept hyperparameters, in the order the suite lists them (each value validated). */
  readonly sweep: readonly (readonly [string, readonly HParamValue[]])[];
}

/**
 * When a cell has diverged: it stops, is recorded as failed with the reason, and the run goes on.
 * A non-finite loss or metric always stops a cell; null switches a ceiling off.
 */
export interface DivergenceLimits {
  /** Largest pre-clip gradient norm a step may report. */
  readonly maxGradNorm: number | null;
  /** Largest KL(π‖π_ref) (nats) the evaluator may measure at a checkpoint. */
  readonly maxKl: number | null;
}

/** A parsed suite. */
export interface Suite {
  /** The suite's `name:` (default "suite"). */
  readonly name: string;
  /** Where it came from (for messages and the manifest). */
  readonly file: string;
  /** Seeds every cell is run with (`seeds: 3` gives 0, 1, 2; default 3). */
  readonly seeds: readonly number[];
  /** Checkpoints per trained cell. */
  readonly checkpoints: number;
  /** Tasks to run, by name: bandit tasks, built-in text tasks or the suite's own `textTasks`. */
  readonly tasks: readonly string[];
  /** Policy algorithms, in suite order. */
  readonly algorithms: readonly SuiteAlgorithm[];
  /** Policy algorithms on text tasks, where the suite sets them apart (`text_algorithms`); else `algorithms`. */
  readonly textAlgorithms?: readonly SuiteAlgorithm[];
  /** The full config of the reward model behind `reward: proxy`. */
  readonly rewardModel: HParams;
  /** When a cell counts as diverged and stops. */
  readonly divergence: DivergenceLimits;
  /** How per-seed metrics are aggregated into intervals. */
  readonly stats: StatsSettings;
  /** Who judges win rates on judged text tasks (default: each task's own judge). */
  readonly judge?: JudgeSpec;
  /** Defaults of `slurm submit`'s resource flags (flags override them; not part of the config hash). */
  readonly slurm?: SlurmSuiteSettings;
  /**
   * Text tasks the suite defines (`text_tasks:`), by name: tasks over local data, paths resolved against
   * the suite file's folder, and tasks derived from another text task under another preference-data
   * regime (`base:`, `pairs:`); `tasks` may name them like built-in tasks.
   */
  readonly textTasks?: Readonly<Record<string, SuiteTextTask>>;
  /**
   * The plugins the run loads (`plugins:` and `--plugin`), each with the hash of its file: part of the
   * config, so a changed plugin is a different config.
   */
  readonly plugins?: readonly PluginRef[];
}

/** What a suite may name besides its own text tasks. */
export interface SuiteKnown {
  /** Task names (bandit and text). */
  readonly tasks: readonly string[];
  /** The algorithms (default: the built-ins). */
  readonly registry?: Registry;
  /** The plugins loaded for it, recorded in the suite. */
  readonly plugins?: readonly PluginRef[];
}

/**
 * The judge of a suite's judged text tasks (summarization): the task's own embedded judge, a reward
 * model read from an ONNX file (P(a ≻ b) = σ(r(a) − r(b))), or a chat model behind an OpenAI-compatible
 * endpoint a user runs (`url` up to `/v1`; the API key, if any, read from the environment variable
 * `api_key_env` so that it never lands in a results file).
 */
export type JudgeSpec =
  | { readonly kind: "task" }
  | { readonly kind: "onnx"; readonly path: string }
  | { readonly kind: "chat"; readonly url: string; readonly model: string; readonly apiKeyEnv?: string };

/** One unit of work. */
export interface Cell {
  /** Position in the plan, from 0. */
  readonly index: number;
  /** `task/algorithm/knob=v[,k=v...]/seed=s`: stable, and the key of the cell's random streams. */
  readonly id: string;
  readonly task: string;
  readonly algorithm: string;
  /** The algorithm's knob and its value in this cell. */
  readonly knob: string;
  readonly knobValue: HParamValue;
  /** The line this cell belongs to in a frontier: the algorithm, plus swept non-knob values. */
  readonly series: string;
  /** The complete, validated config. */
  readonly hparams: HParams;
  readonly seed: number;
}

/** Ceilings when a suite sets none: far beyond healthy training, well short of overflow. */
export const DIVERGENCE_DEFAULTS: DivergenceLimits = { maxGradNorm: 1e6, maxKl: 100 };
/** Bootstrap settings when a suite sets none (rliable's resample count, 95% intervals). */
export const STATS_DEFAULTS: StatsSettings = { resamples: 2000, confidence: 0.95, seed: 0 };

const TOP_KEYS = [
  "name",
  "seeds",
  "checkpoints",
  "tasks",
  "algorithms",
  "text_algorithms",
  "divergence",
  "stats",
  "judge",
  "text_tasks",
  "slurm",
  "plugins",
];

/**
 * Parses suite YAML. `knownTasks` validates task names; `file` names the source in errors:
 * `Cannot parse config "tasks/x.yaml": unknown algorithm "dpp" (known: dpo, ipo, ...)`.
 */
export function parseSuite(text: string, file: string, knownOrTasks: SuiteKnown | readonly string[]): Suite {
  const given: SuiteKnown = isKnown(knownOrTasks) ? knownOrTasks : { tasks: knownOrTasks };
  const knownTasks = given.tasks, registry = given.registry ?? BUILT_INS;
  const fail = (field: string, why: string): never => {
    throw new ConfigError(`Cannot parse config "${file}": ${why}`, field);
  };
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    fail(yamlPosition(e) ?? "", `malformed YAML at ${yamlReason(e)}`);
  }
  if (!isRecord(doc)) {
    return fail("", `a suite must be a mapping of ${TOP_KEYS.join(", ")} (got ${kindOf(doc)})`);
  }
  for (const k of Object.keys(doc)) if (!TOP_KEYS.includes(k)) fail(k, unknownName("key", k, TOP_KEYS));
  const name = doc.name ?? "suite";
  if (typeof name !== "string" || name.trim() === "") {
    fail("name", `name = ${JSON.stringify(name)} is not allowed (allowed: a non-empty string)`);
  }
  const seeds = reword(fail, "seeds", () => parseSeeds(doc.seeds ?? 3));
  const checkpoints = doc.checkpoints ?? 4;
  if (typeof checkpoints !== "number" || !Number.isInteger(checkpoints) || checkpoints < 1) {
    fail(
      "checkpoints",
      `checkpoints = ${JSON.stringify(checkpoints)} is not allowed (allowed: an integer ≥ 1)`,
    );
  }
  if (!Array.isArray(doc.tasks) || doc.tasks.length === 0) {
    fail(
      "tasks",
      `tasks = ${JSON.stringify(doc.tasks ?? null)} is not allowed (allowed: a non-empty list of task names)`,
    );
  }
  const textTasks = doc.text_tasks === undefined ? null : parseTextTasks(doc.text_tasks, {
    file,
    knownTasks,
    fail,
    unknownKey: (key, known) => unknownName("key", key, known),
    unknownName,
  });
  const known = [...knownTasks, ...Object.keys(textTasks ?? {})];
  const tasks = checkTasks(doc.tasks as unknown[], known, (i) => `tasks[${i}]`, fail);
  if (!isRecord(doc.algorithms)) {
    return fail(
      "algorithms",
      `algorithms = ${
        JSON.stringify(doc.algorithms ?? null)
      } is not allowed (allowed: a mapping from algorithm names to hyperparameters)`,
    );
  }

  if (doc.plugins !== undefined) pluginPaths(doc.plugins, fail);
  const { algorithms, rewardModelConfig } = parseAlgorithms(doc.algorithms, fail, registry);
  // Text tasks may sweep other values (a GPT's β range is not a table's); they inherit `algorithms` otherwise.
  let textAlgorithms: SuiteAlgorithm[] | null = null;
  if (doc.text_algorithms !== undefined) {
    if (!isRecord(doc.text_algorithms)) {
      return fail(
        "text_algorithms",
        `text_algorithms = ${
          JSON.stringify(doc.text_algorithms)
        } is not allowed (allowed: a mapping from algorithm names to hyperparameters)`,
      );
    }
    textAlgorithms = parseAlgorithms(doc.text_algorithms, fail, registry).algorithms;
  }
  return {
    name: name as string,
    file,
    seeds,
    checkpoints: checkpoints as number,
    tasks,
    algorithms,
    ...(textAlgorithms ? { textAlgorithms } : {}),
    rewardModel: rewardModelConfig,
    divergence: parseDivergence(doc.divergence, fail),
    stats: parseStats(doc.stats, fail),
    ...(doc.judge === undefined ? {} : { judge: parseJudge(doc.judge, file, fail) }),
    ...(doc.slurm === undefined ? {} : { slurm: parseSlurm(doc.slurm, fail) }),
    ...(textTasks ? { textTasks } : {}),
    ...(given.plugins?.length ? { plugins: given.plugins } : {}),
  };
}

function isKnown(v: SuiteKnown | readonly string[]): v is SuiteKnown {
  return !Array.isArray(v);
}

/** A suite's `plugins:` value: a list of paths (checked; loading is the caller's). */
function pluginPaths(v: unknown, fail: Fail): string[] {
  if (!Array.isArray(v) || v.some((p) => typeof p !== "string" || p.trim() === "")) {
    return fail(
      "plugins",
      `plugins = ${JSON.stringify(v)} is not allowed (allowed: a list of paths of TypeScript modules)`,
    );
  }
  return v as string[];
}

/**
 * The plugins a suite's text names (`plugins:`), paths resolved against the suite file's folder, for
 * loading before the suite is parsed. YAML that does not parse gives none (parsing then reports it).
 */
export function suitePluginSpecs(text: string, file: string): PluginSpec[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return [];
  }
  if (!isRecord(doc) || doc.plugins === undefined) return [];
  const paths = pluginPaths(doc.plugins, (field, why): never => {
    throw new ConfigError(`Cannot parse config "${file}": ${why}`, field);
  });
  return paths.map((p, i) => ({
    path: p.startsWith("/") ? p : join(dirname(file), p),
    field: `plugins[${i}]`,
  }));
}

/** `slurm: { cpus_per_task, mem, time, partition, account, max_parallel }`: defaults of `slurm submit`'s flags. */
export interface SlurmSuiteSettings {
  /** CPUs per array task (default: the run's `--threads`). */
  readonly cpusPerTask?: number;
  /** Memory per task, in Slurm's syntax: `4G`, `500M`. */
  readonly mem?: string;
  /** Time limit per task, in Slurm's syntax: `30`, `01:00:00`, `1-12`. */
  readonly time?: string;
  /** Slurm partition to submit to (default: the cluster's). */
  readonly partition?: string;
  /** Slurm account to charge (default: the cluster's). */
  readonly account?: string;
  /** Array tasks running at once (`%N`; default: no limit). */
  readonly maxParallel?: number;
}

const SLURM_KEYS = {
  cpus_per_task: "cpusPerTask",
  mem: "mem",
  time: "time",
  partition: "partition",
  account: "account",
  max_parallel: "maxParallel",
} as const;
const SLURM_WORDS: Record<string, [RegExp, string]> = {
  mem: [/^\d+[KMGT]?$/, "a size such as 4G or 500M"],
  time: [/^(\d+-)?\d+(:\d{1,2}){0,2}$/, "a Slurm time such as 30, 01:00:00 or 1-12"],
  partition: [/^[\w.-]+$/, "a partition name (letters, digits, _ . -)"],
  account: [/^[\w.-]+$/, "an account name (letters, digits, _ . -)"],
};

function parseSlurm(raw: unknown, fail: Fail): SlurmSuiteSettings {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(settings("slurm", raw, Object.keys(SLURM_KEYS), fail))) {
    const word = SLURM_WORDS[k];
    const ok = word
      ? typeof v === "string" && word[0].test(v)
      : typeof v === "number" && Number.isSafeInteger(v) && v >= 1;
    if (!ok) {
      fail(
        `slurm.${k}`,
        `slurm.${k} = ${JSON.stringify(v)} is not allowed (allowed: ${word ? word[1] : "an integer ≥ 1"})`,
      );
    }
    out[SLURM_KEYS[k as keyof typeof SLURM_KEYS]] = v as string | number;
  }
  return out;
}

const JUDGE_KEYS = { task: ["kind"], onnx: ["kind", "path"], chat: ["kind", "url", "model", "api_key_env"] };

/** `judge: { kind: task | onnx | chat, ... }`; an ONNX path is relative to the suite file's folder. */
function parseJudge(raw: unknown, file: string, fail: Fail): JudgeSpec {
  const kinds = Object.keys(JUDGE_KEYS);
  const kind = isRecord(raw) ? raw.kind : undefined;
  if (typeof kind !== "string" || !kinds.includes(kind)) {
    return fail(
      "judge.kind",
      `judge.kind = ${JSON.stringify(kind) ?? "(missing)"} is not allowed (allowed: one of ${
        kinds.join(", ")
      })`,
    );
  }
  const doc = settings("judge", raw, JUDGE_KEYS[kind as keyof typeof JUDGE_KEYS], fail);
  const text = (k: string, what: string): string => {
    const v = doc[k];
    if (typeof v !== "string" || v.trim() === "") {
      fail(
        `judge.${k}`,
        `judge.${k} = ${JSON.stringify(v) ?? "(missing)"} is not allowed (allowed: ${what})`,
      );
    }
    return v as string;
  };
  if (kind === "onnx") {
    const path = text("path", "the path of an ONNX reward model");
    return { kind, path: path.startsWith("/") ? path : join(dirname(file), path) };
  }
  if (kind === "chat") {
    const url = text("url", "an http(s) URL such as http://127.0.0.1:8080/v1");
    if (!/^https?:\/\/[^\s]+$/.test(url)) {
      fail("judge.url", `judge.url = ${JSON.stringify(url)} is not allowed (allowed: an http(s) URL)`);
    }
    const model = text("model", "the model name the endpoint serves");
    return doc.api_key_env === undefined
      ? { kind, url, model }
      : { kind, url, model, apiKeyEnv: text("api_key_env", "the name of an environment variable") };
  }
  return { kind: "task" };
}

/**
 * The suite's own text tasks as the cell runner loads them (`CellEnv.textSpecs`); a derived task loads
 * through its base's spec, so it shares the base's cached builds.
 */
export function suiteTextTasks(s: Suite): Map<string, TextTaskSpec> {
  const configs = Object.entries(s.textTasks ?? {});
  const specs = new Map<string, TextTaskSpec>();
  for (const [name, c] of configs) if (!isDerivedTask(c)) specs.set(name, dataTaskSpec(name, c));
  for (const [name, c] of configs) {
    if (isDerivedTask(c)) {
      specs.set(name, derivedTaskSpec(name, c, TEXT_TASKS.get(c.base) ?? specs.get(c.base)!));
    }
  }
  return new Map(configs.map(([name]) => [name, specs.get(name)!]));
}

/**
 * Checks, before anything runs, that every file a suite-defined text task reads is there: the dataset
 * and the gold model exist and are non-empty files (they are not read: a dataset may be larger than
 * memory), the tokenizers parse as JSON. A {@link ConfigError} names the path and the field.
 */
export async function checkTextTaskInputs(suite: Suite): Promise<void> {
  const configs = suite.textTasks ?? {};
  // A data task is read when it runs, or when a task deriving from it does.
  const read = new Set(suite.tasks.map((t) => {
    const c = configs[t];
    return c && isDerivedTask(c) ? c.base : t;
  }));
  for (const [name, t] of Object.entries(configs)) {
    if (!read.has(name) || isDerivedTask(t)) continue;
    const at = `text_tasks.${name}`;
    await checkPresent(t.dataset.path, { field: `${at}.dataset.path`, config: suite.file });
    await checkInput(t.tokenizer, "json", { field: `${at}.tokenizer`, config: suite.file });
    await checkPresent(t.gold.path, { field: `${at}.gold.path`, config: suite.file });
    if (t.gold.tokenizer) {
      await checkInput(t.gold.tokenizer, "json", { field: `${at}.gold.tokenizer`, config: suite.file });
    }
  }
}

/** A non-empty regular file, checked without reading it. */
async function checkPresent(path: string, ref: { field: string; config: string }): Promise<void> {
  const fail = (why: string): never => {
    throw new ConfigError(
      `Cannot read "${path}" (${ref.field} in config "${ref.config}"): ${why}`,
      ref.field,
    );
  };
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    return fail(e instanceof Deno.errors.NotFound ? "no such file" : String(e));
  }
  if (!info.isFile) fail(info.isDirectory ? "it is a directory, not a file" : "it is not a regular file");
  if (info.size === 0) fail("the file is empty");
}

/** The policy algorithms of an `algorithms` mapping, and the reward model's config where it is listed. */
function parseAlgorithms(doc: Record<string, unknown>, fail: Fail, registry: Registry) {
  const algorithms: SuiteAlgorithm[] = [];
  let rewardModelConfig: HParams = { ...REWARD_MODEL_DEFAULTS };
  for (const [algName, raw] of Object.entries(doc)) {
    const alg = reword(fail, `algorithms.${algName}`, () => registry.get(algName));
    const entry = parseEntry(alg, raw ?? {}, fail);
    if (isPolicyAlgorithm(alg)) algorithms.push(entry);
    else {
      const swept = entry.sweep[0];
      if (swept) {
        fail(
          `algorithms.${alg.name}.${swept[0]}`,
          `algorithms.${alg.name}.${swept[0]} = ${JSON.stringify(swept[1])} cannot be swept ` +
            `(the reward model configures the proxy reward)`,
        );
      }
      rewardModelConfig = parseHParams(
        rewardModel.name,
        rewardModel.hparams,
        rewardModel.defaults,
        entry.fixed,
      );
    }
  }
  return { algorithms, rewardModelConfig };
}

/** Command-line narrowing of a suite: `--tasks`, `--algorithms`, `--seeds`. */
export interface SuiteOverrides {
  tasks?: readonly string[];
  algorithms?: readonly string[];
  seeds?: readonly number[];
}

/**
 * Applies overrides: listed tasks replace the suite's; listed algorithms keep their suite config, or
 * run with their defaults if the suite does not mention them; seeds replace the suite's. Errors name
 * the flag.
 */
export function overrideSuite(
  s: Suite,
  o: SuiteOverrides,
  knownTasks: readonly string[],
  registry: Registry = BUILT_INS,
): Suite {
  const fail = (field: string, why: string): never => {
    throw new ConfigError(`Cannot parse the command line: ${field}: ${why}`, field);
  };
  const known = [...knownTasks, ...Object.keys(s.textTasks ?? {})];
  const tasks = o.tasks ? checkTasks(o.tasks, known, () => "--tasks", fail) : s.tasks;
  let algorithms = s.algorithms;
  if (o.algorithms) {
    if (new Set(o.algorithms).size !== o.algorithms.length) fail("--algorithms", "an algorithm is repeated");
    algorithms = o.algorithms.map((name) => {
      const alg = reword(fail, "--algorithms", () => registry.get(name));
      if (!isPolicyAlgorithm(alg)) {
        fail(
          "--algorithms",
          `"${name}" fits the proxy reward and traces no frontier; run a policy algorithm with reward: proxy ` +
            `(known: ${registry.policies().map((a) => a.name).join(", ")})`,
        );
      }
      return s.algorithms.find((a) => a.name === name) ?? { name, fixed: {}, sweep: [] };
    });
  }
  const textAlgorithms = s.textAlgorithms && o.algorithms
    ? o.algorithms.map((name) =>
      s.textAlgorithms!.find((a) => a.name === name) ?? { name, fixed: {}, sweep: [] }
    )
    : s.textAlgorithms;
  return {
    ...s,
    tasks,
    algorithms,
    ...(textAlgorithms ? { textAlgorithms } : {}),
    seeds: o.seeds ?? s.seeds,
  };
}

/** Expands a suite into cells: task × algorithm × swept values (suite order) × seed. */
export function planCells(s: Suite, registry: Registry = BUILT_INS): Cell[] {
  const cells: Cell[] = [];
  for (const task of s.tasks) {
    const text = isTextTask(task) || s.textTasks?.[task] !== undefined;
    for (const entry of (text ? s.textAlgorithms : undefined) ?? s.algorithms) {
      const alg = registry.get(entry.name) as PolicyAlgorithm;
      for (const combo of product(entry.sweep)) {
        // Text tasks start from the algorithm's text defaults (a GPT does not train at a table's rates).
        const defaults = text ? alg.textDefaults : alg.defaults;
        const hparams = parseHParams(alg.name, alg.hparams, defaults, { ...entry.fixed, ...combo });
        const sweptOther = Object.keys(combo).filter((k) => k !== alg.knob);
        const series = [alg.name, ...sweptOther.map((k) => `${k}=${combo[k]}`)].join(" ");
        const key = [`${alg.knob}=${hparams[alg.knob]}`, ...sweptOther.map((k) => `${k}=${combo[k]}`)].join(
          ",",
        );
        for (const seed of s.seeds) {
          cells.push({
            index: cells.length,
            id: `${task}/${alg.name}/${key}/seed=${seed}`,
            task,
            algorithm: alg.name,
            knob: alg.knob,
            knobValue: hparams[alg.knob]!,
            series,
            hparams,
            seed,
          });
        }
      }
    }
  }
  return cells;
}

/** `3` → seeds 0, 1, 2; a list → those seeds. */
export function parseSeeds(v: unknown): number[] {
  const ok = (s: unknown) => typeof s === "number" && Number.isSafeInteger(s) && s >= 0;
  if (typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 10_000) return [...Array(v).keys()];
  if (Array.isArray(v) && v.length > 0 && v.every(ok) && new Set(v).size === v.length) return v as number[];
  throw new RangeError(
    `seeds = ${
      JSON.stringify(v)
    } is not allowed (allowed: a count in [1, 10000] or a list of distinct integers ≥ 0)`,
  );
}

type Fail = (field: string, why: string) => never;

function parseEntry(alg: Algorithm, raw: unknown, fail: Fail): SuiteAlgorithm {
  const at = `algorithms.${alg.name}`;
  if (!isRecord(raw)) {
    return fail(at, `${at} = ${JSON.stringify(raw)} is not allowed (allowed: a mapping of hyperparameters)`);
  }
  const specs = alg.hparams as Readonly<Record<string, HParamSpec>>;
  const fixed: HParams = {};
  const sweep: [string, HParamValue[]][] = [];
  for (const [k, v] of Object.entries(raw)) {
    const spec = specs[k];
    if (!spec) fail(`${at}.${k}`, `${at}: ${unknownName("hyperparameter", k, Object.keys(specs))}`);
    const check = (x: unknown) => {
      try {
        return checkValue(alg.name, k, spec!, x);
      } catch (e) {
        if (e instanceof HParamError) return fail(`${at}.${k}`, `${at}.${e.detail}`);
        throw e;
      }
    };
    if (Array.isArray(v)) {
      if (v.length === 0) {
        fail(
          `${at}.${k}`,
          `${at}.${k} = [] is not allowed (allowed: ${allowed(spec!)}, or a non-empty list to sweep)`,
        );
      }
      const values = v.map(check);
      if (new Set(values).size !== values.length) {
        fail(
          `${at}.${k}`,
          `${at}.${k} = ${JSON.stringify(v)} repeats a value (a sweep lists each value once)`,
        );
      }
      sweep.push([k, values]);
    } else fixed[k] = check(v);
  }
  return { name: alg.name, fixed, sweep };
}

function parseDivergence(raw: unknown, fail: Fail): DivergenceLimits {
  const keys = { max_grad_norm: "maxGradNorm", max_kl: "maxKl" } as const;
  const out: { -readonly [K in keyof DivergenceLimits]: DivergenceLimits[K] } = { ...DIVERGENCE_DEFAULTS };
  for (const [k, v] of Object.entries(settings("divergence", raw, Object.keys(keys), fail))) {
    if (v !== null && !(typeof v === "number" && v > 0 && Number.isFinite(v))) {
      fail(
        `divergence.${k}`,
        `divergence.${k} = ${
          JSON.stringify(v)
        } is not allowed (allowed: a finite number > 0, or null for no ceiling)`,
      );
    }
    out[keys[k as keyof typeof keys]] = v as number | null;
  }
  return out;
}

function parseStats(raw: unknown, fail: Fail): StatsSettings {
  const out = { ...STATS_DEFAULTS };
  for (const [k, v] of Object.entries(settings("stats", raw, Object.keys(STATS_DEFAULTS), fail))) {
    const ok = k === "confidence"
      ? typeof v === "number" && v > 0 && v < 1
      : typeof v === "number" && Number.isSafeInteger(v) && v >= (k === "seed" ? 0 : 1) &&
        (k === "seed" || v <= 1_000_000);
    if (!ok) {
      const range = k === "confidence"
        ? "a number in (0, 1)"
        : k === "seed"
        ? "an integer ≥ 0"
        : "an integer in [1, 1000000]";
      fail(`stats.${k}`, `stats.${k} = ${JSON.stringify(v)} is not allowed (allowed: ${range})`);
    }
    out[k as keyof StatsSettings] = v as number;
  }
  return out;
}

/** A settings mapping (absent: empty) whose keys are all known. */
function settings(at: string, raw: unknown, known: readonly string[], fail: Fail): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (!isRecord(raw)) {
    return fail(
      at,
      `${at} = ${JSON.stringify(raw)} is not allowed (allowed: a mapping of ${known.join(", ")})`,
    );
  }
  for (const k of Object.keys(raw)) {
    if (!known.includes(k)) fail(`${at}.${k}`, `${at}: ${unknownName("key", k, known)}`);
  }
  return raw;
}

function product(sweep: readonly (readonly [string, readonly HParamValue[]])[]): HParams[] {
  let out: HParams[] = [{}];
  for (const [k, values] of sweep) out = out.flatMap((c) => values.map((v) => ({ ...c, [k]: v })));
  return out;
}

function checkTasks(
  tasks: readonly unknown[],
  known: readonly string[],
  field: (i: number) => string,
  fail: Fail,
): string[] {
  tasks.forEach((t, i) => {
    if (typeof t !== "string" || !known.includes(t)) {
      fail(field(i), `unknown task ${JSON.stringify(t)} (known: ${known.join(", ")})`);
    }
  });
  const repeated = tasks.findIndex((t, i) => tasks.indexOf(t) !== i);
  if (repeated >= 0) fail(field(repeated), `task "${tasks[repeated]}" is listed twice`);
  return tasks as string[];
}

/** Runs `f`, turning a RangeError (unknown name, bad seeds) into a ConfigError at `field`. */
function reword<T>(fail: Fail, field: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof RangeError) return fail(field, e.message);
    throw e;
  }
}

function kindOf(v: unknown): string {
  return Array.isArray(v) ? "a list" : v === null || v === undefined ? "nothing" : `a ${typeof v}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * For `--help`: every plugin's summary, knob and hyperparameters with their bandit defaults (and the
 * text default beside it where it differs) and allowed values; a plugin's source after its name.
 */
export function describeAlgorithms(registry: Registry): string {
  return registry.list().map((a) => {
    const specs = a.hparams as Record<string, HParamSpec>;
    const defaults = a.defaults as Record<string, unknown>, text = a.textDefaults as Record<string, unknown>;
    const lines = Object.entries(specs).map(([k, s]) => {
      const d = JSON.stringify(defaults[k]), t = JSON.stringify(text[k]);
      const value = d === t ? d : `${d} (text: ${t})`;
      return `    ${k}${isPolicyAlgorithm(a) && a.knob === k ? " (knob)" : ""} = ${value}: ${allowed(s)}`;
    });
    const source = registry.source(a.name);
    const from = source === "built-in" ? "" : ` [plugin ${source}]`;
    return [`  ${a.name} (${a.kind})${from}: ${a.summary}`, ...lines].join("\n");
  }).join("\n");
}
