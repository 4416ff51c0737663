/**
 * The suite API of the library (`mod.ts`): parse a suite with the plugins it names, and run it in
 * this process. The command line does the same through {@link prepareRun}; these two calls are what a
 * script needs, with an optional registry of its own (`BUILT_INS.with([myAlgorithm], "my-script")`).
 *
 * @module
 */
import type { Registry } from "../algorithms/mod.ts";
import { BUILT_INS } from "../algorithms/mod.ts";
import { loadBanditTasks } from "../tasks/bandits.ts";
import { TEXT_TASKS } from "../tasks/text_tasks.ts";
import type { Known } from "./plugins.ts";
import { loadPlugins } from "./plugins.ts";
import type { RunOptions, RunOutcome } from "./run.ts";
import { runSuite as runInProcess } from "./run.ts";
import type { Suite } from "./suite.ts";
import { parseSuite as parseSuiteText, suitePluginSpecs } from "./suite.ts";

export type { Suite };

/** Options of {@link parseSuite}. */
export interface SuiteOptions {
  /** The algorithms the suite may name (default: the built-ins); its plugins are added on top. */
  readonly registry?: Registry;
  /** Plugin files to load besides the suite's own `plugins:` (paths relative to the working directory). */
  readonly plugins?: readonly string[];
}

/** Options of {@link runSuite}. */
export interface SuiteRunOptions extends RunOptions {
  /** The registry the suite was parsed with (default: the built-ins); the suite's plugins are added. */
  readonly registry?: Registry;
}

/** What a suite may name: the registry and tasks, with every plugin it names loaded on top. */
export async function knownFor(
  plugins: Parameters<typeof loadPlugins>[0],
  registry: Registry = BUILT_INS,
): Promise<Known> {
  return await loadPlugins(plugins, { registry, tasks: await loadBanditTasks() });
}

/**
 * Parses suite YAML, loading the plugins it names (`plugins:`, relative to `file`) and `opts.plugins`.
 * Bad input throws a `ConfigError` naming the file, the field and the value.
 */
export async function parseSuite(text: string, file: string, opts: SuiteOptions = {}): Promise<Suite> {
  const specs = [
    ...(opts.plugins ?? []).map((path, i) => ({ path, field: `plugins option [${i}]` })),
    ...suitePluginSpecs(text, file),
  ];
  const known = await knownFor(specs, opts.registry);
  return parseSuiteText(text, file, {
    tasks: [...known.tasks.keys(), ...TEXT_TASKS.keys()],
    registry: known.registry,
    plugins: known.plugins,
  });
}

/**
 * Runs (or, with `opts.resume`, finishes) a suite in this process, one cell after another, and writes
 * its run folder: `results.jsonl`, `results.json`, `manifest.json` and `report.html`.
 */
export async function runSuite(suite: Suite, opts: SuiteRunOptions = {}): Promise<RunOutcome> {
  const known = await knownFor(
    (suite.plugins ?? []).map((p, i) => ({ path: p.path, field: `plugins[${i}]`, sha256: p.sha256 })),
    opts.registry,
  );
  return await runInProcess(suite, known.tasks, { ...opts, registry: known.registry });
}
