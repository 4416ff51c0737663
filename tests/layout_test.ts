/**
 * The layout's rules, checked by a plain scan of the source: every algorithm file stays short enough
 * to read top to bottom, reports/ reads runs only through the results contract (never bench/), and
 * nothing outside tests/ imports from tests/.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const SKIP = new Set(["node_modules", ".git", ".cache", "runs", "data", ".scratch"]);

/** Every .ts file under `dir` (relative to the repository root), skipping build and data folders. */
async function sources(dir = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(new URL(dir || ".", ROOT))) {
    const path = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory && !SKIP.has(e.name)) out.push(...await sources(path));
    else if (e.isFile && e.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/** The relative module specifiers a file imports or re-exports, resolved against the root. */
async function imports(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(new URL(path, ROOT));
  const out: string[] = [];
  for (
    const m of text.matchAll(/(?:import|export)\s[^"';]*?from\s*"(\.[^"]+)"|import\(\s*"(\.[^"]+)"\s*\)/g)
  ) {
    const spec = m[1] ?? m[2]!;
    out.push(new URL(spec, new URL(path, ROOT)).href.slice(ROOT.href.length));
  }
  return out;
}

const FILES = await sources();

Deno.test("the scan sees the code it checks (algorithms, reports and tests are all found)", () => {
  for (const dir of ["algorithms/", "reports/", "tests/", "bench/", "results/"]) {
    assert.ok(FILES.some((f) => f.startsWith(dir)), `no file under ${dir}`);
  }
});

Deno.test("every file in algorithms/ is under 350 lines", async () => {
  for (const f of FILES.filter((f) => f.startsWith("algorithms/") && !f.endsWith("_test.ts"))) {
    const lines = (await Deno.readTextFile(new URL(f, ROOT))).split("\n").length - 1;
    assert.ok(lines < 350, `${f} has ${lines} lines`);
  }
});

Deno.test("reports/ imports nothing from bench/", async () => {
  for (const f of FILES.filter((f) => f.startsWith("reports/"))) {
    for (const i of await imports(f)) assert.ok(!i.startsWith("bench/"), `${f} imports ${i}`);
  }
});

Deno.test("nothing outside tests/ imports from tests/", async () => {
  const scanned = FILES.filter((f) => !f.startsWith("tests/") && !f.endsWith("_test.ts"));
  assert.ok(scanned.length > 50);
  for (const f of scanned) {
    for (const i of await imports(f)) assert.ok(!i.startsWith("tests/"), `${f} imports ${i}`);
  }
});

Deno.test("the import scan finds relative imports and resolves them against the root", async () => {
  assert.deepEqual(await imports("tests/layout_test.ts"), []); // only a node: import here
  assert.ok((await imports("bench/cell.ts")).includes("bench/evaluate.ts"));
});
