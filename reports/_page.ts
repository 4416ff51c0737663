/**
 * What every page shares: escaping, the HTML shell with its stylesheet and content security policy,
 * charts as pre-rendered SVG plus an embedded vega-lite spec, and the inlined vega-embed layer that
 * turns them interactive when JavaScript runs.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { BrowserScript } from "./assets.ts";
import { browserScripts } from "./assets.ts";
import type { Spec } from "./charts.ts";
import { renderSvg } from "./render.ts";

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** JSON safe inside `<script>`: no `</script>`, no `<!--`, no U+2028/2029 surprises. */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** An element id from any string (ids from data are escaped too, where they are written). */
export function slug(prefix: string, s: string): string {
  return `${prefix}-${s.replace(/[^A-Za-z0-9_-]+/g, "-")}`;
}

/**
 * Numbers the charts of one page and renders each as a `<figure>`: the pre-rendered SVG (what shows
 * without JavaScript) and the vega-lite spec, with its data, in a `<script type="application/json">`
 * that the page's script hands to vega-embed.
 */
export class Charts {
  #n = 0;

  /** Renders a chart (an optional caption is HTML, already escaped). */
  async figure(spec: Spec, caption = ""): Promise<string> {
    const id = `chart-${this.#n++}`;
    const svg = await renderSvg(spec, { idPrefix: `${id}-`, compact: true });
    return `<figure class="chart" id="${id}"><div class="static">${svg}</div>` +
      `<script type="application/json" class="vega-lite-spec" data-for="${id}">${scriptJson(spec)}</script>` +
      (caption ? `<figcaption>${caption}</figcaption>` : "") + `</figure>`;
  }
}

/**
 * Replaces each figure's static SVG by a live vega-embed view once it has rendered; a chart that fails
 * keeps its SVG and says so on the console. `ast: true` makes vega interpret expressions instead of
 * compiling them with `new Function`, so the policy below needs no 'unsafe-eval'.
 */
const EMBED = `(function () {
  "use strict";
  if (typeof vegaEmbed !== "function") {
    console.error("prefbench: vega-embed did not load; the charts stay pre-rendered");
    document.querySelectorAll("figure.chart").forEach(function (f) { f.classList.add("failed"); });
    return;
  }
  document.querySelectorAll("script.vega-lite-spec").forEach(function (s) {
    var fig = document.getElementById(s.getAttribute("data-for"));
    if (!fig) return;
    var live = document.createElement("div");
    live.className = "live";
    fig.insertBefore(live, fig.firstChild);
    vegaEmbed(live, JSON.parse(s.textContent), { renderer: "svg", actions: false, ast: true }).then(function () {
      fig.classList.add("rendered");
    }).catch(function (e) {
      live.remove();
      fig.classList.add("failed");
      console.error("prefbench: " + fig.id + " did not render (" + e + "); its pre-rendered SVG stays");
    });
  });
})();`;

/**
 * Nothing may load from anywhere: no fetch, image, font or frame, from the network or from disk. Only
 * the page's own scripts run, each allowed by its SHA-256 hash, so that even a string that escaped
 * escaping could not run as a script (hashes also switch off inline event handlers). A report read
 * offline and one read online behave alike. A published site's pages also load the shared browser
 * builds from their own origin (`'self'`), and nothing else.
 */
function csp(scripts: readonly string[], self: boolean): string {
  const sources = [
    ...(self ? ["'self'"] : []),
    ...scripts.map((s) => `'sha256-${createHash("sha256").update(s).digest("base64")}'`),
  ];
  return `default-src 'none'; script-src ${sources.join(" ") || "'none'"}; style-src 'unsafe-inline'; ` +
    "img-src data:; font-src data:; base-uri 'none'; form-action 'none'";
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1150px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; } h3 { margin-top: 1.6em; }
.meta { color: #666; } figure { margin: 1em 0; overflow-x: auto; } figcaption { color: #555; font-size: 90%; }
figure.rendered > .static { display: none; }
nav a { white-space: nowrap; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; display: block; overflow-x: auto; margin: 0.5em 0 1em; }
th, td { padding: 2px 8px; white-space: nowrap; text-align: right; border-bottom: 1px solid #eee; vertical-align: top; }
th:first-child, td:first-child, th.text, td.text, th.l, td.l { text-align: left; }
tr.sub th { text-align: right; }
th.group { text-align: center; border-bottom: 1px solid #ccc; font-weight: normal; color: #444; }
td.text { white-space: pre-wrap; max-width: 40em; min-width: 12em; }
code, pre { font-size: 90%; } pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; max-height: 30em; }
.ci { color: #777; font-size: 90%; } td.reason, th.reason { text-align: left; white-space: normal; }
caption { text-align: left; color: #444; padding: 4px 0; caption-side: top; }
.warn { background: #fff4e0; border-left: 4px solid #e8a33d; padding: 0.4em 0.8em; }
.moved { background: #fdeaea; } .up { color: #0a7a2f; } .down { color: #b3261e; }
dl.manifest { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; }
dl.manifest dt { color: #555; } dl.manifest dd { margin: 0; }
`;

/** Options of {@link page}. */
export interface PageOptions {
  /** The page title (plain text: it is escaped). */
  readonly title: string;
  /** The body (HTML, with every string from data already escaped). */
  readonly body: string;
  /** Load vega, vega-lite and vega-embed so the charts turn interactive (default true). */
  readonly interactive?: boolean;
  /**
   * Where the page finds the browser builds, relative to itself (a published site's `../assets/`):
   * the page then loads each from `<scriptBase><file>` ({@link scriptFile}) instead of inlining it, and
   * its policy allows scripts from its own origin besides the hashed inline one. Default: inlined.
   */
  readonly scriptBase?: string;
}

/** The file name a browser build is shared under: `vega-6.4.0.min.js`. */
export function scriptFile(s: BrowserScript): string {
  return `${s.name}-${s.version}.min.js`;
}

/** A whole page: one file, no external resource (or, with `scriptBase`, the shared browser builds). */
export async function page(opts: PageOptions): Promise<string> {
  const builds = opts.interactive === false ? [] : await browserScripts();
  const inline = opts.scriptBase === undefined
    ? builds.map((s) => `/* ${s.name} ${s.version} (${s.license}), inlined from npm */\n${s.source}\n`)
    : [];
  const shared = opts.scriptBase === undefined
    ? []
    : builds.map((s) => `<script src="${escapeHtml(opts.scriptBase + scriptFile(s))}"></script>`);
  const scripts = builds.length ? [...inline, EMBED] : [];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp(scripts, shared.length > 0)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(opts.title)}</title>
<style>${STYLE}</style>
</head>
<body>
${opts.body}
${[...shared, ...scripts.map((s) => `<script>${s}</script>`)].join("\n")}
</body>
</html>
`;
}

/** `value [lo, hi]` with the interval in grey. */
export function interval(value: number, ci: readonly [number, number], digits = 3, stacked = false): string {
  return `${value.toFixed(digits)}${stacked ? "<br>" : " "}<span class="ci">[${ci[0].toFixed(digits)}, ${
    ci[1].toFixed(digits)
  }]</span>`;
}
