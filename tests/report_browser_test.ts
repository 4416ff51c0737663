/**
 * report.html in a real browser: Debian's Chromium, driven from Deno by npm playwright-core over
 * Chromium's DevTools pipe. The page is opened from disk (file://) and must render every chart live
 * (an SVG with marks in each figure), make no request beyond its own file, log no console error, and
 * run no script from data; with JavaScript off, every pre-rendered SVG must be there and visible. A
 * screenshot goes to `.cache/browser-test/report.png`.
 *
 * Skipped, saying why, where Chromium is missing (`apt-get install chromium`, or set
 * PREFBENCH_CHROMIUM to a Chromium binary).
 */
import assert from "node:assert/strict";
import { chromium } from "npm:playwright-core@1.65.1";
import type { Browser, Page } from "npm:playwright-core@1.65.1";
import { publishSite } from "../reports/publish.ts";
import { buildReport } from "../reports/report.ts";
import { EVIL, EVIL_IMG, fixtureManifest, fixtureResults, HOSTILE, writeRun } from "./_report_fixture.ts";

const CHROMIUM = Deno.env.get("PREFBENCH_CHROMIUM") ?? "/usr/bin/chromium";
const found = await Deno.stat(CHROMIUM).then((s) => s.isFile, () => false);
if (!found) {
  console.warn(
    `report_browser_test: skipped: no Chromium at ${CHROMIUM} (install Debian's chromium with ` +
      `apt-get install chromium, or set PREFBENCH_CHROMIUM to a Chromium binary)`,
  );
}
const SCREENSHOT = new URL("../.cache/browser-test/report.png", import.meta.url);

/** What a page did while it loaded. */
interface Observed {
  requests: string[];
  errors: string[];
  dialogs: string[];
}

async function open(
  browser: Browser,
  url: string,
  javaScriptEnabled: boolean,
): Promise<{ page: Page; seen: Observed }> {
  const context = await browser.newContext({ javaScriptEnabled, viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const seen: Observed = { requests: [], errors: [], dialogs: [] };
  page.on("request", (r) => seen.requests.push(r.url()));
  page.on("console", (m) => {
    if (m.type() === "error") seen.errors.push(m.text());
  });
  page.on("pageerror", (e) => seen.errors.push(`uncaught: ${e.message}`));
  page.on("dialog", (d) => {
    seen.dialogs.push(d.message());
    void d.dismiss();
  });
  page.setDefaultTimeout(120_000); // a cap for a slow machine, not a timing assertion
  await page.goto(url, { waitUntil: "load" });
  return { page, seen };
}

/** `document.querySelectorAll(selector).length`, evaluated in the page (Deno's types have no DOM). */
function count(page: Page, selector: string): Promise<number> {
  return page.evaluate(`document.querySelectorAll(${JSON.stringify(selector)}).length`) as Promise<number>;
}

Deno.test({
  name:
    "report.html from disk in Chromium: every chart renders, nothing loads, no console error, data runs no script",
  ignore: !found,
  // Chromium's pipes and child process outlive a test step by design; they end with browser.close().
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "prefbench-browser-" });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
      ],
    });
    try {
      const path = `${dir}/report.html`;
      await Deno.writeTextFile(
        path,
        await buildReport(fixtureResults(), fixtureManifest(), { runId: "browser-test" }),
      );
      const url = new URL(`file://${path}`).href;
      const figures = (await buildReport(fixtureResults(), fixtureManifest(), { interactive: false }))
        .match(/<figure class="chart"/g)!.length;
      assert.equal(figures, 9);

      await t.step(
        "with JavaScript, every chart is drawn live by vega-embed, from the page alone",
        async () => {
          const { page, seen } = await open(browser, url, true);
          // Each figure ends "rendered" (vega-embed drew it) or "failed" (it threw); no wall-clock bound
          // beyond a generous cap for a slow machine.
          await page.waitForFunction(
            `document.querySelectorAll("figure.chart.rendered, figure.chart.failed").length === ${figures}`,
            undefined,
            { timeout: 120_000 },
          );
          assert.equal(await count(page, "figure.chart.failed"), 0, seen.errors.join("\n"));
          assert.equal(await count(page, "figure.chart.rendered > .live svg"), figures);
          for (let i = 0; i < figures; i++) {
            const marks = await count(page, `#chart-${i} > .live svg .role-mark > *`);
            assert.ok(marks > 0, `chart-${i} has ${marks} marks`);
            assert.ok(
              await page.locator(`#chart-${i} > .live svg`).first().isVisible(),
              `chart-${i} is visible`,
            );
            assert.ok(
              !(await page.locator(`#chart-${i} > .static svg`).isVisible()),
              `chart-${i}'s static SVG is hidden`,
            );
          }
          assert.deepEqual(seen.requests, [url], "the only request is the page itself");
          assert.deepEqual(seen.errors, [], "no console error");
          assert.deepEqual(seen.dialogs, [], "no script from data ran");
          // Hostile strings from a task name, a sample, a config value and the machine read as text.
          const text = await page.innerText("body");
          for (const s of [HOSTILE, `completion ${EVIL} ${EVIL_IMG}`, `cpu ${EVIL}`]) {
            assert.ok(text.includes(s), `shown as text: ${s}`);
          }
          // The resolved config sits in a collapsed <details>: its text, though hidden, is the JSON as is.
          assert.ok((await page.locator("details pre").textContent())!.includes(`"note": "${EVIL}"`));
          assert.equal(await count(page, "img"), 0, "the <img> payload was not parsed as HTML");
          // The charts' own text (titles, legends) is drawn by vega as text too.
          const titles = await page.evaluate(
            `[...document.querySelectorAll(".live svg .role-title-text")].map((e) => e.textContent)`,
          ) as string[];
          assert.ok(titles.includes(HOSTILE), JSON.stringify(titles));
          // The verdict is on the first screen: every task's sentence within the page's first 1,200 px.
          const verdictBottom = await page.evaluate(
            `document.querySelector("ul.verdict").getBoundingClientRect().bottom + window.scrollY`,
          ) as number;
          assert.ok(verdictBottom < 1200, `the verdict ends at ${verdictBottom} px`);
          assert.equal(await count(page, "ul.verdict li"), Object.keys(fixtureResults().verdict!).length);
          await Deno.mkdir(new URL(".", SCREENSHOT), { recursive: true });
          await page.screenshot({ path: SCREENSHOT.pathname, fullPage: true });
          console.log(`screenshot: ${SCREENSHOT.pathname}`);
          await page.context().close();
        },
      );

      await t.step("without JavaScript, the pre-rendered SVGs are present and visible", async () => {
        const { page, seen } = await open(browser, url, false);
        assert.equal(await count(page, "figure.chart > .static > svg"), figures);
        assert.equal(await count(page, ".live"), 0);
        for (let i = 0; i < figures; i++) {
          const svg = page.locator(`#chart-${i} > .static > svg`);
          assert.ok(await svg.isVisible(), `chart-${i}'s SVG is visible`);
          const box = (await svg.boundingBox())!;
          assert.ok(box.width > 100 && box.height > 100, `chart-${i} is ${box.width}×${box.height}`);
          assert.ok(
            await count(page, `#chart-${i} > .static svg .role-mark > *`) > 0,
            `chart-${i} has marks`,
          );
        }
        assert.ok(await page.locator("noscript").count() > 0);
        assert.deepEqual(seen.requests, [url]);
        assert.deepEqual(seen.dialogs, []);
        assert.ok((await page.innerText("body")).includes(`completion ${EVIL} ${EVIL_IMG}`));
        await page.context().close();
      });

      await t.step(
        "a published page loads the shared scripts from the site's assets/ and renders every chart",
        async () => {
          await writeRun(`${dir}/runs`, "20260102-030405-c0ffee00", fixtureResults());
          await publishSite(`${dir}/runs`, `${dir}/site`);
          const pageUrl = new URL(`file://${dir}/site/20260102-030405-c0ffee00/index.html`).href;
          const html = await Deno.readTextFile(new URL(pageUrl));
          assert.ok(html.length < 400_000, `the page does not inline the scripts (${html.length} bytes)`);
          const { page, seen } = await open(browser, pageUrl, true);
          await page.waitForFunction(
            `document.querySelectorAll("figure.chart.rendered, figure.chart.failed").length === ${figures}`,
            undefined,
            { timeout: 120_000 },
          );
          assert.equal(await count(page, "figure.chart.failed"), 0, seen.errors.join("\n"));
          assert.equal(await count(page, "figure.chart.rendered > .live svg"), figures);
          const assets = seen.requests.slice(1).map((u) => u.slice(u.lastIndexOf("/site/")));
          assert.deepEqual(seen.requests[0], pageUrl);
          assert.equal(assets.length, 3, seen.requests.join("\n"));
          for (const a of assets) assert.match(a, /^\/site\/assets\/vega(-lite|-embed)?-[\d.]+\.min\.js$/);
          assert.deepEqual(seen.errors, [], "no console error");
          assert.deepEqual(seen.dialogs, [], "no script from data ran");
          await page.context().close();
        },
      );
    } finally {
      await browser.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
