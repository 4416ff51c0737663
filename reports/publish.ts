/**
 * A static site of every finished run under a folder, ready to host or open from disk: `index.html`
 * listing the runs, and per run `<id>/index.html` (its report, rebuilt from its results.json and
 * manifest with a link back to the index) beside its `manifest.json`, `results.json`, `summary.csv` and
 * `checkpoints.csv`. The browser builds of vega, vega-lite and vega-embed are written once, to
 * `assets/`, and every page loads them from there (about 0.84 MB once instead of per page); everything
 * else a page shows is in the page, and its pre-rendered SVGs read without them. The run folders
 * themselves are only read.
 *
 * @module
 */
import { resolve } from "node:path";
import { ConfigError } from "../results/mod.ts";
import { browserScripts } from "./assets.ts";
import { scriptFile } from "./_page.ts";
import { buildReport } from "./report.ts";
import { indexPage } from "./run_index.ts";
import { listRuns } from "./runs.ts";
import { checkpointsCsv, summaryCsv } from "./tables.ts";

/** Options of {@link publishSite}. */
export interface PublishOptions {
  /** One line per page written or run skipped (default: none). */
  readonly log?: (line: string) => void;
}

/** What {@link publishSite} wrote. */
export interface Site {
  readonly index: string;
  /** The runs published, by id. */
  readonly runs: string[];
  /** Folders under the runs root that were not finished, readable runs, with why. */
  readonly skipped: { id: string; reason: string }[];
}

/** Writes the site for the runs under `root` into `out`; throws if `out` is `root` or inside it. */
export async function publishSite(root: string, out: string, opts: PublishOptions = {}): Promise<Site> {
  const { runs, skipped } = await listRuns(root);
  // Checked before anything is created: a run folder is never written to.
  const rootAbs = resolve(await Deno.realPath(root)), outAbs = resolve(out);
  const inside = (dir: string) => outAbs === dir || outAbs.startsWith(`${dir}/`);
  if (inside(rootAbs) || inside(resolve(root))) {
    throw new ConfigError(
      `Cannot publish to "${out}": it is the runs folder "${root}" or inside it, and runs are never modified ` +
        `(choose another --out, such as site/)`,
      "--out",
    );
  }
  await Deno.mkdir(out, { recursive: true });
  for (const s of skipped) opts.log?.(`skipped ${s.id}: ${s.reason}`);
  await Deno.mkdir(`${out}/assets`, { recursive: true });
  for (const s of await browserScripts()) {
    await Deno.writeTextFile(
      `${out}/assets/${scriptFile(s)}`,
      `/* ${s.name} ${s.version} (${s.license}) */\n${s.source}\n`,
    );
  }
  for (const run of runs) {
    const dir = `${out}/${run.id}`;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/index.html`,
      await buildReport(run.results, run.manifest, {
        runId: run.id,
        indexHref: "../index.html",
        scriptBase: "../assets/",
      }),
    );
    for (const f of ["manifest.json", "results.json"]) await Deno.copyFile(`${run.dir}/${f}`, `${dir}/${f}`);
    // Built from results.json rather than copied, so runs finished before the tables existed have them too.
    await Deno.writeTextFile(`${dir}/summary.csv`, summaryCsv(run.results));
    await Deno.writeTextFile(`${dir}/checkpoints.csv`, checkpointsCsv(run.results));
    opts.log?.(`wrote ${dir}/index.html`);
  }
  const index = `${out}/index.html`;
  await Deno.writeTextFile(
    index,
    await indexPage(runs, skipped, { href: (r) => `${r.id}/index.html`, title: "prefbench results" }),
  );
  return { index, runs: runs.map((r) => r.id), skipped: skipped.map(({ id, reason }) => ({ id, reason })) };
}
