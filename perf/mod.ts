/**
 * The performance harness: the `bench:engine`, `bench:perf`, `bench:sampling` and `bench:jobs` entry
 * points (scripts: run them with `deno task`, this module does not import them), their PyTorch peers
 * (`torch_gpt_bench.py`, `torch_perf.py`), and what other code uses of them: finding PyTorch, and the
 * `bench:perf` page (pure specs from the benchmark's JSON, snapshot-tested).
 *
 * @module
 */
export { findTorch } from "./torch.ts";
export { efficiencyRows, efficiencySpec, perfReportHtml, scalingRows, scalingSpec, SWEEPS } from "./page.ts";
export type { EfficiencyRow, PerfDoc, PerfWorkload, ScalingPoint, ScalingRow } from "./page.ts";
