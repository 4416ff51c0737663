/**
 * Suite files and planning: a suite names tasks, seeds and algorithms with hyperparameters, where a
 * list value sweeps that hyperparameter and a scalar fixes it. Planning expands it into cells —
 * (task, algorithm, hyperparameters, seed) — in a fixed order, each with a stable id that also keys its
 * random streams, so a cell's result never depends on which other cells run.
 *
 * @module
 */
import { parse } from "yaml";
import { allowed, checkValue, HParamError, parseHParams } from "../algorithms/_hparams.ts";
import { getAlgorithm, isPolicyAlgorithm, knownAlgorithms } from "../algorithms/registry.ts";
import { REWARD_MODEL_DEFAULTS, rewardModel } from "../algorithms/reward_model.ts";
import type { Algorithm, HParams, PolicyAlgorithm } from "../algorithms/types.ts";
import type { HParamSpec, HParamValue } from "../algorithms/_hparams.ts";

/** One algorithm's entry in a suite: fixed values and swept lists. */
export interface SuiteAlgorithm {
  readonly name: string;
  /** Hyperparameters fixed by the suite (validated). */
  readonly fixed: HParams;
  /** Swept hyperparameters, in the order the suite lists them (each value validated). */
  readonly sweep: readonly (readonly [string, readonly HParamValue[]])[];
}

/** A parsed suite. */
export interface Suite {
  readonly name: string;
  /** Where it came from (for messages and the manifest). */
  readonly file: string;
  readonly seeds: readonly number[];
  /** Checkpoints per trained cell. */
  readonly checkpoints: number;
  readonly tasks: readonly string[];
  /** Policy algorithms, in suite order. */
  readonly algorithms: readonly SuiteAlgorithm[];
  /** The full config of the reward model behind `reward: proxy`. */
  readonly rewardModel: HParams;
}

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

const TOP_KEYS = ["name", "seeds", "checkpoints", "tasks", "algorithms"];

/**
 * Parses suite YAML. `knownTasks` validates task names; `file` names the source in errors:
 * `Cannot parse config "tasks/x.yaml": unknown algorithm "dpp" (known: dpo, ipo, ...)`.
 */
export function parseSuite(text: string, file: string, knownTasks: readonly string[]): Suite {
  const fail = (why: string): never => {
    throw new SyntaxError(`Cannot parse config "${file}": ${why}`);
  };
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    fail(e instanceof Error ? e.message.split("\n")[0]! : String(e));
  }
  if (!isRecord(doc)) return fail("a suite must be a mapping");
  for (const k of Object.keys(doc)) {
    if (!TOP_KEYS.includes(k)) fail(`unknown key "${k}" (known: ${TOP_KEYS.join(", ")})`);
  }
  const name = typeof doc.name === "string" ? doc.name : "suite";
  const seeds = wrap(fail, () => parseSeeds(doc.seeds ?? 3));
  const checkpoints = doc.checkpoints ?? 4;
  if (typeof checkpoints !== "number" || !Number.isInteger(checkpoints) || checkpoints < 1) {
    fail(`checkpoints = ${JSON.stringify(checkpoints)} is not allowed (allowed: an integer ≥ 1)`);
  }
  if (!Array.isArray(doc.tasks) || doc.tasks.length === 0) fail("tasks must be a non-empty list");
  const tasks = (doc.tasks as unknown[]).map(String);
  wrap(fail, () => checkTasks(tasks, knownTasks));
  if (!isRecord(doc.algorithms)) return fail("algorithms must be a mapping from names to hyperparameters");

  const algorithms: SuiteAlgorithm[] = [];
  let rewardModelConfig: HParams = { ...REWARD_MODEL_DEFAULTS };
  for (const [algName, raw] of Object.entries(doc.algorithms)) {
    wrap(fail, () => {
      const alg = getAlgorithm(algName);
      const entry = parseEntry(alg.name, alg.hparams, raw ?? {});
      if (isPolicyAlgorithm(alg)) algorithms.push(entry);
      else if (entry.sweep.length > 0) {
        throw new HParamError(
          `${alg.name}: "${
            entry.sweep[0]![0]
          }" cannot be swept (the reward model configures the proxy reward)`,
        );
      } else {rewardModelConfig = parseHParams(
          rewardModel.name,
          rewardModel.hparams,
          rewardModel.defaults,
          entry.fixed,
        );}
    });
  }
  return {
    name,
    file,
    seeds,
    checkpoints: checkpoints as number,
    tasks,
    algorithms,
    rewardModel: rewardModelConfig,
  };
}

/** Command-line narrowing of a suite: `--tasks`, `--algorithms`, `--seeds`. */
export interface SuiteOverrides {
  tasks?: readonly string[];
  algorithms?: readonly string[];
  seeds?: readonly number[];
}

/**
 * Applies overrides: listed tasks replace the suite's; listed algorithms keep their suite config, or
 * run with their defaults if the suite does not mention them; seeds replace the suite's.
 */
export function overrideSuite(s: Suite, o: SuiteOverrides, knownTasks: readonly string[]): Suite {
  if (o.tasks) checkTasks(o.tasks, knownTasks);
  let algorithms = s.algorithms;
  if (o.algorithms) {
    algorithms = o.algorithms.map((name) => {
      const alg = getAlgorithm(name);
      if (!isPolicyAlgorithm(alg)) {
        throw new RangeError(
          `"${name}" fits the proxy reward and traces no frontier; run a policy algorithm with reward: proxy`,
        );
      }
      return s.algorithms.find((a) => a.name === name) ?? { name, fixed: {}, sweep: [] };
    });
  }
  return { ...s, tasks: o.tasks ?? s.tasks, algorithms, seeds: o.seeds ?? s.seeds };
}

/** Expands a suite into cells: task × algorithm × swept values (suite order) × seed. */
export function planCells(s: Suite): Cell[] {
  const cells: Cell[] = [];
  for (const task of s.tasks) {
    for (const entry of s.algorithms) {
      const alg = getAlgorithm(entry.name) as PolicyAlgorithm;
      for (const combo of product(entry.sweep)) {
        const hparams = parseHParams(alg.name, alg.hparams, alg.defaults, { ...entry.fixed, ...combo });
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
  if (typeof v === "number" && Number.isInteger(v) && v >= 1) return [...Array(v).keys()];
  if (Array.isArray(v) && v.length > 0 && v.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    if (new Set(v).size !== v.length) throw new RangeError(`seeds ${JSON.stringify(v)} repeat a seed`);
    return v as number[];
  }
  throw new RangeError(
    `seeds = ${JSON.stringify(v)} is not allowed (allowed: a count ≥ 1 or a list of distinct integers ≥ 0)`,
  );
}

function parseEntry(name: string, specs: Readonly<Record<string, HParamSpec>>, raw: unknown) {
  if (!isRecord(raw)) throw new HParamError(`${name}: hyperparameters must be a mapping`);
  const fixed: HParams = {};
  const sweep: [string, HParamValue[]][] = [];
  for (const [k, v] of Object.entries(raw)) {
    const spec = specs[k];
    if (!spec) {
      throw new HParamError(
        `${name}: unknown hyperparameter "${k}" (known: ${Object.keys(specs).join(", ")})`,
      );
    }
    if (Array.isArray(v)) {
      if (v.length === 0) throw new HParamError(`${name}: ${k} is an empty list (a sweep needs values)`);
      const values = v.map((x) => checkValue(name, k, spec, x));
      if (new Set(values).size !== values.length) throw new HParamError(`${name}: ${k} repeats a value`);
      sweep.push([k, values]);
    } else fixed[k] = checkValue(name, k, spec, v);
  }
  return { name, fixed, sweep };
}

function product(sweep: readonly (readonly [string, readonly HParamValue[]])[]): HParams[] {
  let out: HParams[] = [{}];
  for (const [k, values] of sweep) out = out.flatMap((c) => values.map((v) => ({ ...c, [k]: v })));
  return out;
}

function checkTasks(tasks: readonly string[], known: readonly string[]): void {
  for (const t of tasks) {
    if (!known.includes(t)) throw new RangeError(`unknown task "${t}" (known: ${known.join(", ")})`);
  }
  if (new Set(tasks).size !== tasks.length) {
    throw new RangeError(`tasks ${JSON.stringify(tasks)} repeat a task`);
  }
}

function wrap<T>(fail: (why: string) => never, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof RangeError || e instanceof HParamError) return fail(e.message);
    throw e;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** For `--help`: every plugin's summary, knob and hyperparameters with defaults and allowed values. */
export function describeAlgorithms(list: readonly Algorithm[]): string {
  return list.map((a) => {
    const specs = a.hparams as Record<string, HParamSpec>;
    const defaults = a.defaults as Record<string, unknown>;
    const lines = Object.entries(specs).map(([k, s]) =>
      `    ${k}${isPolicyAlgorithm(a) && a.knob === k ? " (knob)" : ""} = ${JSON.stringify(defaults[k])}: ${
        allowed(s)
      }`
    );
    return [`  ${a.name} (${a.kind}): ${a.summary}`, ...lines].join("\n");
  }).join("\n");
}

export { knownAlgorithms };
