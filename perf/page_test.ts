import assert from "node:assert/strict";
import { assertSnapshot } from "../tests/_snapshot.ts";
import type { PerfDoc, ScalingPoint } from "./page.ts";
import { efficiencyRows, efficiencySpec, perfReportHtml, scalingRows, scalingSpec, SWEEPS } from "./page.ts";
import { renderSvg } from "../reports/mod.ts";

const POINTS: ScalingPoint[] = [
  {
    sweep: SWEEPS[1]!,
    x: 8,
    label: "B 8",
    stepMs: 20,
    tokensPerS: 25600,
    mfu: 0.3,
    torchStepMs: 40,
    ratio: 2,
  },
  {
    sweep: SWEEPS[1]!,
    x: 32,
    label: "B 32",
    stepMs: 50,
    tokensPerS: 40960,
    mfu: 0.45,
    torchStepMs: null,
    ratio: null,
  },
  {
    sweep: SWEEPS[2]!,
    x: 64,
    label: 'T <64> & "q"',
    stepMs: 45,
    tokensPerS: 45500,
    mfu: 0.42,
    torchStepMs: 90,
    ratio: 2,
  },
];

Deno.test("scalingRows: one row per side, PyTorch only where it was measured", () => {
  const rows = scalingRows(POINTS);
  assert.deepEqual(rows.map((r) => [r.x, r.side, r.ms]), [
    [8, "harness", 20],
    [8, "PyTorch", 40],
    [32, "harness", 50],
    [64, "harness", 45],
    [64, "PyTorch", 90],
  ]);
  const eff = efficiencyRows(POINTS);
  assert.deepEqual(eff.filter((r) => r.x === 32).map((r) => r.measure), ["MFU vs ORT MatMul"]);
});

Deno.test("the scaling and efficiency specs match their snapshots and render to SVG", async () => {
  const scaling = scalingSpec(scalingRows(POINTS)), efficiency = efficiencySpec(efficiencyRows(POINTS));
  await assertSnapshot(import.meta.url, "scalingSpec", scaling);
  await assertSnapshot(import.meta.url, "efficiencySpec", efficiency);
  for (const spec of [scaling, efficiency]) assert.match(await renderSvg(spec), /^<svg[\s\S]*<\/svg>$/);
});

Deno.test("perfReportHtml escapes every string from the document and draws the scaling charts", async () => {
  const doc: PerfDoc = {
    date: "2026-01-01T00:00:00Z",
    provider: "cpu",
    threads: 2,
    machine: { cpu: "<script>alert(1)</script>", cpus: 2 },
    versions: { deno: "2.9.6" },
    torch: null,
    workloads: [{
      name: "DPO <step>",
      units: 100,
      unit: "tokens",
      engineMs: { median: 10 },
      torchMs: null,
      ratio: null,
    }],
    training: [],
    scaling: POINTS,
  };
  const html = await perfReportHtml(doc);
  assert.ok(!html.includes("<script>alert(1)"));
  assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
  assert.ok(html.includes("DPO &lt;step&gt;") && html.includes("T &lt;64&gt; &amp; &quot;q&quot;"));
  assert.equal(html.match(/<figure class="chart"/g)?.length, 2);
  assert.ok(html.includes("10000 tokens")); // 100 units in 10 ms
});
