import assert from "node:assert/strict";
import { curveSpec, frontierSpec } from "./charts.ts";
import type { FrontierRow } from "./charts.ts";
import { ALGORITHM_COLOURS, algorithmColour, seriesColours } from "./palette.ts";

const rows = (series: string[]): FrontierRow[] =>
  series.map((s) => ({ series: s, layer: "point", kl: 1, reward: 0 }));

/** The colour a spec's scale gives a series. */
function colourIn(spec: Record<string, unknown>, series: string): string {
  const scale = JSON.stringify(spec).match(/"scale":\{"domain":(\[[^\]]*\]),"range":(\[[^\]]*\])\}/)!;
  const domain = JSON.parse(scale[1]!) as string[], range = JSON.parse(scale[2]!) as string[];
  return range[domain.indexOf(series)]!;
}

Deno.test("dpo has the same colour in two reports with different series sets, and in every kind of chart", () => {
  const a = frontierSpec("t", rows(["dpo", "ipo"]), { series: ["oracle π*_β", "π_ref", "dpo", "ipo"] });
  const b = frontierSpec("t", rows(["ppo", "grpo", "dpo"]), { series: ["π_ref", "ppo", "grpo", "dpo"] });
  const curve = { series: "dpo", knob: "0.1", metric: "loss", step: 1, value: 0, lo: 0, hi: 0, seeds: 1 };
  const c = curveSpec("t", [curve], { series: ["grpo", "dpo"] });
  assert.equal(colourIn(a, "dpo"), ALGORITHM_COLOURS.dpo);
  assert.equal(colourIn(b, "dpo"), ALGORITHM_COLOURS.dpo);
  assert.equal(colourIn(c, "dpo"), ALGORITHM_COLOURS.dpo);
  assert.equal(colourIn(a, "π_ref"), "#000000");
  assert.equal(colourIn(a, "oracle π*_β"), "#444444");
});

Deno.test("the built-in algorithms have distinct colours; a plugin's comes from its name alone", () => {
  const builtIn = [
    "dpo",
    "ipo",
    "simpo",
    "kto",
    "ppo",
    "ppo_adaptive",
    "grpo",
    "rloo",
    "online_dpo",
    "best_of_n",
  ];
  assert.equal(new Set(builtIn.map(algorithmColour)).size, builtIn.length);
  const mine = algorithmColour("uniform_mix");
  assert.match(mine, /^#[0-9a-f]{6}$/);
  assert.equal(algorithmColour("uniform_mix"), mine, "deterministic");
  assert.notEqual(algorithmColour("uniform_mix2"), mine);
  assert.ok(!Object.values(ALGORITHM_COLOURS).includes(mine));
});

Deno.test("variants are lighter shades of their algorithm's colour, the same whatever order a run lists them", () => {
  const one = seriesColours(["grpo", "grpo loss_norm=token", "grpo loss_norm=constant", "dpo"]);
  const two = seriesColours(["dpo", "grpo loss_norm=constant", "grpo", "grpo loss_norm=token"]);
  assert.equal(one[0], ALGORITHM_COLOURS.grpo);
  assert.equal(one[1], two[3], "grpo loss_norm=token");
  assert.equal(one[2], two[1], "grpo loss_norm=constant");
  const lum = (hex: string) => [1, 3, 5].reduce((s, i) => s + parseInt(hex.slice(i, i + 2), 16), 0);
  assert.ok(lum(one[2]!) > lum(one[0]!) && lum(one[1]!) > lum(one[2]!), "each variant lighter than the last");
});
