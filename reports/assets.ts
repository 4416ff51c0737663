/**
 * The browser builds of vega, vega-lite and vega-embed, read from the installed npm packages when a
 * page is built, so the page renders its charts with no network: each package's `unpkg` entry (its
 * minified UMD build, `build/*.min.js`) is inlined into a `<script>`. About 0.84 MB in all for vega 6.4,
 * vega-lite 6.5 and vega-embed 7.3 (which bundles vega-tooltip and vega-interpreter).
 *
 * @module
 */

/** The packages inlined, in load order (vega-lite and vega-embed attach to the `vega` global). */
export const BROWSER_PACKAGES = ["vega", "vega-lite", "vega-embed"] as const;

/** The npm specifier of each, with the version the harness is tested with. */
const SPECIFIERS: Readonly<Record<typeof BROWSER_PACKAGES[number], string>> = {
  vega: "npm:vega@6.4.0",
  "vega-lite": "npm:vega-lite@6.5.0",
  "vega-embed": "npm:vega-embed@7.3.0",
};

/** One package's browser build. */
export interface BrowserScript {
  readonly name: string;
  readonly version: string;
  readonly license: string;
  /** Where it was read from. */
  readonly path: string;
  readonly source: string;
}

let cached: Promise<BrowserScript[]> | null = null;

/** The browser builds of {@link BROWSER_PACKAGES}, read once per process. */
export function browserScripts(): Promise<BrowserScript[]> {
  cached ??= Promise.all(BROWSER_PACKAGES.map(readBuild)).catch((e) => {
    cached = null;
    throw e;
  });
  return cached;
}

/**
 * A package's browser build: resolve the package's entry point the way imports do (wherever the package
 * is installed: `node_modules/` or Deno's cache; a package not yet loaded in the cache's mode is
 * imported first, which is what places it there), walk up to the folder whose `package.json` names the
 * package, and read the file its `unpkg` (or `jsdelivr`) field names: the build a CDN would serve.
 */
async function readBuild(name: typeof BROWSER_PACKAGES[number]): Promise<BrowserScript> {
  let entry: URL;
  const spec = SPECIFIERS[name];
  try {
    entry = new URL(import.meta.resolve(spec));
    if (entry.protocol !== "file:") {
      await import(spec);
      entry = new URL(import.meta.resolve(spec));
    }
  } catch (e) {
    throw new Error(`Cannot find the npm package "${spec}": ${(e as Error).message}`);
  }
  if (entry.protocol !== "file:") {
    throw new Error(`Cannot read the browser build of "${name}": it resolved to ${entry.href}, not a file`);
  }
  for (let dir = new URL(".", entry);; dir = new URL("..", dir)) {
    const pkg = await readJson(new URL("package.json", dir));
    if (pkg?.name === name) {
      const build = typeof pkg.unpkg === "string" ? pkg.unpkg : pkg.jsdelivr;
      if (typeof build !== "string") {
        throw new Error(
          `Cannot find the browser build of "${name}": its package.json names no unpkg or jsdelivr file`,
        );
      }
      const path = new URL(build, dir);
      const source = await Deno.readTextFile(path);
      // Inlined in a <script>, these would end it early or switch the parser's mode.
      if (/<\/script|<!--|<script/i.test(source)) {
        throw new Error(`Cannot inline ${path.pathname}: it contains "</script", "<script" or "<!--"`);
      }
      return {
        name,
        version: String(pkg.version),
        license: String(pkg.license ?? "unknown"),
        path: path.pathname,
        source,
      };
    }
    if (dir.pathname === "/") {
      throw new Error(`Cannot find the package.json of "${name}" above ${entry.pathname}`);
    }
  }
}

async function readJson(url: URL): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await Deno.readTextFile(url));
  } catch {
    return null;
  }
}
