/**
 * Reports: vega-lite specs from results (pure), SVG rendering headless, the self-contained
 * `report.html`, the CSV tables beside it, the run index, the comparison of two runs and the published site.
 *
 * @module
 */
export * from "./charts.ts";
export { prefixIds, renderSvg } from "./render.ts";
export type { RenderOptions } from "./render.ts";
export { Charts, page } from "./_page.ts";
export type { PageOptions } from "./_page.ts";
export { buildReport, escapeHtml, scriptJson } from "./report.ts";
export type { ReportManifest, ReportOptions } from "./report.ts";
export { listRuns, readRun } from "./runs.ts";
export type { Run, SkippedRun } from "./runs.ts";
export { compareHtml, compareRuns, compareText, moved, summarize } from "./compare.ts";
export type { Change, Comparison, ManifestDifference, Side, Verdict } from "./compare.ts";
export { headlines, indexPage } from "./run_index.ts";
export type { Headline, IndexOptions } from "./run_index.ts";
export { CHECKPOINT_COLUMNS, checkpointsCsv, SUMMARY_COLUMNS, summaryCsv } from "./tables.ts";
export { publishSite } from "./publish.ts";
export type { PublishOptions, Site } from "./publish.ts";
export { browserScripts } from "./assets.ts";
export type { BrowserScript } from "./assets.ts";
