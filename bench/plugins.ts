/**
 * Plugins: TypeScript modules that add algorithms and/or bandit tasks to a run. A plugin exports
 * `algorithms` (a list of algorithm plugins, {@link Algorithm}) and/or `tasks` (a list of
 * {@link BanditTask}s); each is checked as the built-ins are — a well-formed name, a kind, a summary,
 * hyperparameter specs that cover the defaults (bandit and text) which pass their own validation, a
 * knob among them, a training function — before any cell runs. A plugin is named by its file:
 * `--plugin PATH` on the command line (relative to the working directory) or `plugins: [PATH]` in a
 * suite (relative to the suite file). The run records each plugin's absolute path and the SHA-256 of
 * its content, which enter the config hash: a changed plugin is a different config, and a resume or a
 * worker (`--jobs`, `run-cell`, Slurm) that finds other bytes at the path refuses, naming the file.
 * Only the plugin file itself is hashed, not the modules it imports.
 *
 * @module
 */
import { resolve } from "node:path";
import { toFileUrl } from "./paths.ts";
import { isPolicyAlgorithm, parseHParams } from "../algorithms/mod.ts";
import type { Algorithm, HParams, HParamSpec, Registry } from "../algorithms/mod.ts";
import { ConfigError } from "../results/mod.ts";
import type { PluginRef } from "../results/mod.ts";
import type { BanditTask } from "../tasks/bandits.ts";
import { POLICY_FAMILIES } from "../tasks/bandits.ts";
import { sha256 } from "./store.ts";

export type { PluginRef };

/** What a run knows after loading its plugins. */
export interface Known {
  /** Every algorithm: the built-ins and the plugins'. */
  readonly registry: Registry;
  /** Every bandit task: the built-ins and the plugins'. */
  readonly tasks: ReadonlyMap<string, BanditTask>;
  /** The plugins loaded, in order. */
  readonly plugins: readonly PluginRef[];
}

/** A plugin to load: its path, and where it was named (for errors: `--plugin`, `plugins[0]`). */
export interface PluginSpec {
  readonly path: string;
  readonly field: string;
  /** The content's hash a run recorded; a file that no longer has it is refused. */
  readonly sha256?: string;
}

const NAME = /^[a-z][a-z0-9_]*$/;
const KINDS = ["offline-pairwise", "online-rl", "inference-time", "supervised"];

/**
 * Loads plugins in order on top of the built-in registry and tasks. Every failure is a
 * {@link ConfigError} naming the file: missing, unreadable, changed since the run started, failing to
 * load (a syntax error, a throwing import), exporting nothing usable, a malformed algorithm or task, or
 * a name that collides with a built-in or another plugin (both named).
 */
export async function loadPlugins(
  specs: readonly PluginSpec[],
  base: { readonly registry: Registry; readonly tasks: ReadonlyMap<string, BanditTask> },
): Promise<Known> {
  let registry = base.registry;
  const tasks = new Map(base.tasks);
  const taskSource = new Map([...base.tasks.keys()].map((k) => [k, "the built-in tasks"]));
  const plugins: PluginRef[] = [];
  const seen = new Set<string>();
  for (const spec of specs) {
    const path = resolve(spec.path);
    if (seen.has(path)) continue; // named twice (flag and suite): loaded once
    seen.add(path);
    const fail = (why: string): never => {
      throw new ConfigError(`Cannot load plugin "${spec.path}" (${spec.field}): ${why}`, spec.field);
    };
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      return fail(e instanceof Deno.errors.NotFound ? "no such file" : `cannot read it (${message(e)})`);
    }
    const hash = sha256(text);
    if (spec.sha256 !== undefined && spec.sha256 !== hash) {
      fail(
        `the file changed since the run started (sha256 ${spec.sha256.slice(0, 12)} recorded, ` +
          `${hash.slice(0, 12)} now); restore it, or start a new run`,
      );
    }
    let mod: Record<string, unknown>;
    try {
      mod = await import(toFileUrl(path).href);
    } catch (e) {
      return fail(`it does not load: ${message(e).split("\n")[0]}`);
    }
    const algorithms = listExport(mod, "algorithms", fail);
    const taskList = listExport(mod, "tasks", fail);
    if (algorithms.length === 0 && taskList.length === 0) {
      fail('it exports no "algorithms" and no "tasks" (export a non-empty list of either)');
    }
    algorithms.forEach((a, i) => checkAlgorithm(a, `algorithms[${i}]`, fail));
    try {
      registry = registry.with(algorithms as Algorithm[], path);
    } catch (e) {
      fail(message(e));
    }
    taskList.forEach((t, i) => {
      const task = checkTask(t, `tasks[${i}]`, fail);
      const had = taskSource.get(task.name);
      if (had) fail(`task "${task.name}" collides with the one of ${had}`);
      taskSource.set(task.name, `plugin "${path}"`);
      tasks.set(task.name, task);
    });
    plugins.push({
      path,
      sha256: hash,
      algorithms: algorithms.map((a) => (a as Algorithm).name),
      tasks: taskList.map((t) => (t as BanditTask).name),
    });
  }
  return { registry, tasks, plugins };
}

/**
 * The plugins a run recorded (its suite's `plugins`), loaded on top of the built-ins and checked
 * against the hashes recorded: what a resume, a worker and a merge know.
 */
export async function loadRunPlugins(
  plugins: readonly PluginRef[] | undefined,
  base: { readonly registry: Registry; readonly tasks: ReadonlyMap<string, BanditTask> },
): Promise<Known> {
  const specs = (plugins ?? []).map((p, i) => ({ path: p.path, field: `plugins[${i}]`, sha256: p.sha256 }));
  return await loadPlugins(specs, base);
}

function listExport(mod: Record<string, unknown>, key: string, fail: (why: string) => never): unknown[] {
  const v = mod[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) return fail(`its export "${key}" is not a list (got ${typeof v})`);
  return v;
}

/** Checks an exported algorithm as the registry's own are checked (their tests assert the same). */
function checkAlgorithm(a: unknown, where: string, fail: (why: string) => never): void {
  if (typeof a !== "object" || a === null) fail(`${where} is not an algorithm object`);
  const alg = a as Record<string, unknown>;
  const name = alg.name;
  if (typeof name !== "string" || !NAME.test(name)) {
    fail(`${where}.name = ${JSON.stringify(name)} is not allowed (allowed: snake_case, e.g. "my_dpo")`);
  }
  const at = `${where} ("${name}")`;
  if (!KINDS.includes(alg.kind as string)) {
    fail(`${at}.kind = ${JSON.stringify(alg.kind)} is not allowed (allowed: ${KINDS.join(", ")})`);
  }
  if (typeof alg.summary !== "string" || alg.summary === "") {
    fail(`${at} has no "summary" (a one-line string)`);
  }
  for (const k of ["hparams", "defaults", "textDefaults"]) {
    if (typeof alg[k] !== "object" || alg[k] === null) fail(`${at} has no "${k}" object`);
  }
  const specs = alg.hparams as Record<string, HParamSpec>;
  for (const k of ["defaults", "textDefaults"]) {
    const values = alg[k] as HParams;
    const missing = Object.keys(specs).filter((s) => !(s in values));
    if (missing.length > 0) fail(`${at}.${k} has no value for ${missing.join(", ")}`);
    try {
      parseHParams(name as string, specs, values, values);
    } catch (e) {
      fail(`${at}.${k}: ${message(e)}`);
    }
  }
  const kind = alg.kind as Algorithm["kind"];
  const fn = kind === "supervised" ? "fit" : "train";
  if (typeof alg[fn] !== "function") fail(`${at} has no "${fn}" function`);
  if (
    isPolicyAlgorithm(alg as unknown as Algorithm) && !(typeof alg.knob === "string" && alg.knob in specs)
  ) {
    fail(
      `${at}.knob = ${JSON.stringify(alg.knob)} is not one of its hyperparameters (${
        Object.keys(specs).join(", ")
      })`,
    );
  }
}

/** Checks an exported bandit task's shape. */
function checkTask(t: unknown, where: string, fail: (why: string) => never): BanditTask {
  const task = t as Partial<BanditTask> | null;
  if (typeof task !== "object" || task === null) return fail(`${where} is not a task object`);
  if (typeof task.name !== "string" || !/^[a-z][a-z0-9_.-]*$/.test(task.name)) {
    fail(`${where}.name = ${JSON.stringify(task.name)} is not allowed (allowed: e.g. "bandit.mine")`);
  }
  const at = `${where} ("${task.name}")`;
  const b = task.bandit;
  if (!b || !(b.reward instanceof Float64Array) || !(b.refLogProbs instanceof Float64Array)) {
    fail(`${at}.bandit is not a bandit (build it with makeBandit)`);
  }
  if (!POLICY_FAMILIES.includes(task.policy as never)) {
    fail(
      `${at}.policy = ${JSON.stringify(task.policy)} is not allowed (allowed: ${POLICY_FAMILIES.join(", ")})`,
    );
  }
  if (task.policy === "loglinear" && !task.features) fail(`${at} is log-linear but has no features`);
  if (!task.pairs || !("explicit" in task.pairs || "sample" in task.pairs)) {
    fail(`${at}.pairs must be { sample: n } or { explicit: [[x, y1, y2], ...] }`);
  }
  return { description: "", features: null, ...task } as BanditTask;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
