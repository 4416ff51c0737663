/**
 * Reports: vega-lite specs from results (pure), SVG rendering headless, and the self-contained
 * `report.html`.
 *
 * @module
 */
export * from "./charts.ts";
export { renderSvg } from "./render.ts";
export { buildReport, escapeHtml, scriptJson } from "./report.ts";
