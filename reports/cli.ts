/**
 * `deno task report`: the run index, the comparison of two runs, and the published site.
 *
 * ```sh
 * deno task report index [--runs runs]              # runs/index.html: every run, newest first
 * deno task report compare runs/A runs/B [--out f]  # what moved from A to B: a table here and an HTML page
 * deno task report publish --out site [--runs runs] # a static site: index + one page per run
 * ```
 *
 * Exit codes: 0 done, 1 an unexpected error, 2 bad input (a flag, a missing or unreadable run, a
 * results.json of an unknown schema version).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ConfigError } from "../results/mod.ts";
import { compareHtml, compareRuns, compareText } from "./compare.ts";
import { publishSite } from "./publish.ts";
import { indexPage } from "./run_index.ts";
import { listRuns, readRun } from "./runs.ts";

const HELP = `Usage: deno task report <command> [options]

Commands:
  index [--runs <dir>]            write <dir>/index.html listing every run (default dir: runs)
  compare <run-A> <run-B> [--out <file>]
                                  print what moved from A to B (reward at each KL budget and area under
                                  the frontier, with whether the intervals overlap) and write an HTML page
                                  with both frontiers overlaid (default: <A's folder>/../compare/A_vs_B.html);
                                  warns when provider, versions or config differ
  publish --out <dir> [--runs <dir>]
                                  write a static site: <out>/index.html and <out>/<run-id>/index.html
  -h, --help                      this help
`;

/** Bad command-line input (exit code 2). */
class UsageError extends Error {
  override name = "UsageError";
}

/** Runs a `report` command; returns the exit code. Output goes to `print` (stdout) and `warn` (stderr). */
export async function main(
  args: readonly string[],
  io: { print?: (s: string) => void; warn?: (s: string) => void } = {},
): Promise<number> {
  const print = io.print ?? ((s: string) => console.log(s));
  const warn = io.warn ?? ((s: string) => console.error(s));
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: { runs: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    warn(`Cannot parse the command line: ${(e as Error).message.split(".")[0]} (see --help)`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) {
    print(HELP);
    return command === undefined && !values.help ? 2 : 0;
  }
  try {
    switch (command) {
      case "index": {
        if (rest.length) throw new UsageError(`index takes no argument (got "${rest[0]}"); use --runs <dir>`);
        if (values.out !== undefined) {
          throw new UsageError("index writes <runs>/index.html; it takes no --out");
        }
        const root = values.runs ?? "runs";
        const { runs, skipped } = await listRunsOrFail(root);
        for (const s of skipped) warn(`skipped ${s.id}: ${s.reason}`);
        const path = `${root.replace(/\/+$/, "")}/index.html`;
        await Deno.writeTextFile(path, await indexPage(runs, skipped));
        print(`${runs.length} run(s) listed`);
        print(`index: ${path}`);
        return 0;
      }
      case "compare": {
        if (rest.length !== 2) throw new UsageError(`compare takes two run folders (got ${rest.length})`);
        if (values.runs !== undefined) throw new UsageError("compare takes run folders, not --runs");
        const [a, b] = await Promise.all(rest.map(readRunOrFail));
        const c = compareRuns(a!, b!);
        for (const d of c.differences.filter((x) => x.severity === "warning")) {
          warn(`warning: the runs differ in ${d.what}: ${d.a} (A) vs ${d.b} (B)`);
        }
        const out = values.out ?? `${parentOf(a!.dir)}/compare/${a!.id}_vs_${b!.id}.html`;
        await Deno.mkdir(parentOf(out), { recursive: true });
        await Deno.writeTextFile(out, await compareHtml(c, { out }));
        print(compareText(c, { warnings: false })); // the warnings went to stderr above
        print(`compare: ${out}`);
        return 0;
      }
      case "publish": {
        if (rest.length) throw new UsageError(`publish takes no argument (got "${rest[0]}")`);
        if (values.out === undefined) {
          throw new UsageError("publish needs --out <dir>, the folder to write the site to");
        }
        const root = values.runs ?? "runs";
        await listRunsOrFail(root); // a clear message for a missing folder before anything is written
        const site = await publishSite(root, values.out, { log: warn });
        print(`${site.runs.length} run(s) published`);
        print(`site: ${site.index}`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${command}" (known: index, compare, publish)`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      warn(`Cannot parse the command line: ${e.message} (see --help)`);
      return 2;
    }
    warn(e instanceof Error ? e.message : String(e));
    return e instanceof ConfigError ? 2 : 1;
  }
}

async function readRunOrFail(dir: string) {
  try {
    await Deno.stat(dir);
  } catch {
    throw new UsageError(`no such run folder "${dir}"`);
  }
  return await readRun(dir);
}

async function listRunsOrFail(root: string) {
  try {
    if (!(await Deno.stat(root)).isDirectory) throw new UsageError(`"${root}" is not a folder`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`no such runs folder "${root}" (--runs)`);
  }
  return await listRuns(root);
}

function parentOf(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const i = trimmed.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : trimmed.slice(0, i);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
