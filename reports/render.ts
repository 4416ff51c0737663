/**
 * Rendering vega-lite specs to SVG headless (npm vega + vega-lite, no browser, no network), so the
 * report reads without JavaScript.
 *
 * @module
 */
import * as vega from "vega";
import * as vl from "vega-lite";
import type { Spec } from "./charts.ts";

/** The SVG markup of a vega-lite spec. */
export async function renderSvg(spec: Spec): Promise<string> {
  const compiled = vl.compile(spec as unknown as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
