/**
 * Rendering vega-lite specs to SVG headless (npm vega + vega-lite, no browser, no network), so the
 * report reads without JavaScript.
 *
 * @module
 */
import * as vega from "npm:vega@6.4.0";
import * as vl from "npm:vega-lite@6.5.0";
import type { Spec } from "./charts.ts";

/** Options of {@link renderSvg}. */
export interface RenderOptions {
  /**
   * Prepended to every `id` in the SVG and to the references to them (`url(#…)`, `href="#…"`). Several
   * SVGs inlined in one page share one id space, and vega numbers its clip paths and gradients from 1
   * in every chart, so without a prefix a chart could clip itself with another chart's path.
   */
  readonly idPrefix?: string;
  /**
   * Make the SVG smaller for inlining (default false): drop the per-mark `aria-label`s (vega writes each
   * point's whole tooltip there, most of a frontier chart's bytes; the live chart keeps them) and round
   * path and transform coordinates to 1/100 px.
   */
  readonly compact?: boolean;
}

/** The SVG markup of a vega-lite spec. */
export async function renderSvg(spec: Spec, opts: RenderOptions = {}): Promise<string> {
  const compiled = vl.compile(spec as unknown as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    let svg = await view.toSVG();
    if (opts.compact) svg = compactSvg(svg);
    return opts.idPrefix ? prefixIds(svg, opts.idPrefix) : svg;
  } finally {
    view.finalize();
  }
}

/** Prefixes the ids an SVG defines and the references to them. */
export function prefixIds(svg: string, prefix: string): string {
  const ids = new Set([...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!));
  if (ids.size === 0) return svg;
  const swap = (id: string) => (ids.has(id) ? `${prefix}${id}` : id);
  return svg
    .replace(/(\sid=")([^"]+)"/g, (_, head: string, id: string) => `${head}${swap(id)}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${swap(id)})`)
    .replace(/(href=")#([^"]+)"/g, (_, head: string, id: string) => `${head}#${swap(id)}"`);
}

/** Drops per-mark aria labels and rounds path and transform coordinates to two decimals. */
export function compactSvg(svg: string): string {
  return svg
    .replace(/ aria-label="[^"]*"( role="graphics-symbol")/g, "$1")
    .replace(
      / (d|transform)="([^"]*)"/g,
      (_, attr: string, v: string) => ` ${attr}="${v.replace(/(\d\.\d{2})\d+/g, "$1")}"`,
    );
}
