/**
 * The real-data suite presets (tasks/imdb.yaml, tasks/tldr.yaml) parse, plan their cells as text cells,
 * and without the data fail up front naming the missing path; `text_tasks:` entries are checked field
 * by field with errors naming the field and value.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../results/mod.ts";
import { checkTextTaskInputs, overrideSuite, parseSuite, planCells, suiteTextTasks } from "../bench/suite.ts";
import { DATA_TASK_DEFAULTS, type DataTaskConfig } from "../tasks/data_tasks.ts";
import { TEXT_TASKS } from "../tasks/text_tasks.ts";
import { getAlgorithm } from "../algorithms/registry.ts";
import type { PolicyAlgorithm } from "../algorithms/types.ts";

const BUILT_IN = ["bandit.random", ...TEXT_TASKS.keys()];

async function preset(name: string) {
  const file = `tasks/${name}.yaml`;
  const text = await Deno.readTextFile(new URL(`../${file}`, import.meta.url));
  return parseSuite(text, file, BUILT_IN);
}

Deno.test("data presets: imdb.yaml and tldr.yaml parse into data tasks with paths beside the suite", async () => {
  const imdb = await preset("imdb");
  const t = imdb.textTasks!.imdb as DataTaskConfig;
  assert.equal(t.kind, "sentiment");
  assert.deepEqual(t.dataset, { path: "data/imdb/train.parquet", preset: "imdb" });
  assert.equal(t.tokenizer, "data/gpt2/tokenizer.json");
  assert.deepEqual(t.gold, {
    path: "data/distilbert-imdb/model.onnx",
    tokenizer: "data/distilbert-imdb/tokenizer.json",
    label: "POSITIVE",
    maxLength: 128,
    batch: 64,
  });
  assert.deepEqual(t.prompts, { train: 512, eval: 256, minTokens: 2, maxTokens: 8 });
  assert.equal(t.reference.weightDecay, DATA_TASK_DEFAULTS.sentiment.reference.weightDecay);
  // Cells on a suite-defined task are text cells: the algorithms' text defaults.
  const cells = planCells(imdb);
  const dpo = cells.find((c) => c.algorithm === "dpo")!;
  assert.equal(dpo.hparams.lr, (getAlgorithm("dpo") as PolicyAlgorithm).textDefaults.lr);
  assert.ok(cells.every((c) => c.task === "imdb"));
  assert.deepEqual([...suiteTextTasks(imdb).keys()], ["imdb"]);
  assert.deepEqual(overrideSuite(imdb, { tasks: ["imdb"] }, BUILT_IN).tasks, ["imdb"]);

  const tldr = await preset("tldr");
  const s = tldr.textTasks!.tldr as DataTaskConfig;
  assert.equal(s.kind, "summarize");
  assert.deepEqual(s.dataset, { path: "data/tldr/train.parquet", preset: "tldr" });
  assert.equal(s.gold.path, "data/tldr-reward/model.onnx");
  assert.equal(s.pairs.scale, 1);
  assert.equal(suiteTextTasks(tldr).get("tldr")!.pairs.count, 4096);
});

Deno.test("data presets: without the files, the run stops up front naming the missing path", async () => {
  const cwd = Deno.cwd();
  const empty = await Deno.makeTempDir({ prefix: "prefbench-presets-" });
  try {
    Deno.chdir(empty); // where the preset's data/ folder does not exist
    for (
      const [name, field, path] of [
        ["imdb", "text_tasks.imdb.dataset.path", "data/imdb/train.parquet"],
        ["tldr", "text_tasks.tldr.dataset.path", "data/tldr/train.parquet"],
      ] as const
    ) {
      const text = await Deno.readTextFile(`${cwd}/tasks/${name}.yaml`);
      const suite = parseSuite(text, `tasks/${name}.yaml`, BUILT_IN);
      await assert.rejects(
        () => checkTextTaskInputs(suite),
        (e: Error) =>
          e instanceof ConfigError && e.field === field &&
          e.message === `Cannot read "${path}" (${field} in config "tasks/${name}.yaml"): no such file`,
      );
    }
    // With the dataset present, the next missing file is named.
    await Deno.mkdir("data/imdb", { recursive: true });
    await Deno.writeTextFile("data/imdb/train.parquet", "PAR1");
    const suite = parseSuite(await Deno.readTextFile(`${cwd}/tasks/imdb.yaml`), "tasks/imdb.yaml", BUILT_IN);
    await assert.rejects(
      () => checkTextTaskInputs(suite),
      (e: Error) =>
        e.message ===
          `Cannot read "data/gpt2/tokenizer.json" (text_tasks.imdb.tokenizer in config "tasks/imdb.yaml"): no such file`,
    );
  } finally {
    Deno.chdir(cwd);
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("data presets: text_tasks fields are checked, naming the field and the value", () => {
  const base = {
    kind: "sentiment",
    dataset: { path: "d.jsonl", preset: "imdb" },
    tokenizer: "t.json",
    gold: { path: "m.onnx" },
  };
  const suite = (task: unknown, name = "mine") =>
    JSON.stringify({ tasks: [name], text_tasks: { [name]: task }, algorithms: { dpo: {} } });
  const parsed = parseSuite(suite(base), "dir/s.yaml", BUILT_IN).textTasks!.mine as DataTaskConfig;
  assert.equal(parsed.dataset.path, "dir/d.jsonl");
  assert.deepEqual(parsed.prompts, DATA_TASK_DEFAULTS.sentiment.prompts);
  const cases: [unknown, string, string][] = [
    [{ ...base, kind: "chat" }, "text_tasks.mine.kind", 'text_tasks.mine.kind = "chat" is not allowed'],
    [{ ...base, datset: {} }, "text_tasks.mine.datset", 'unknown key "datset" (did you mean "dataset"?'],
    [
      { ...base, dataset: { path: "d.jsonl" } },
      "text_tasks.mine.dataset.columns.text",
      'names no column for "text"',
    ],
    [
      { ...base, dataset: { path: "d.csv", format: "csv", preset: "imdb" } },
      "text_tasks.mine.dataset.format",
      'text_tasks.mine.dataset.format = "csv" is not allowed (allowed: one of jsonl, parquet)',
    ],
    [
      { ...base, dataset: { path: "d.jsonl", preset: "imbd" } },
      "text_tasks.mine.dataset.preset",
      'preset = "imbd" is not allowed (allowed: one of imdb, tldr, tldr-post)',
    ],
    [{ ...base, tokenizer: 3 }, "text_tasks.mine.tokenizer", "text_tasks.mine.tokenizer = 3 is not allowed"],
    [{ ...base, gold: {} }, "text_tasks.mine.gold.path", "text_tasks.mine.gold.path = (missing)"],
    [
      { ...base, gold: { path: "m", label_index: -1 } },
      "text_tasks.mine.gold.label_index",
      "= -1 is not allowed",
    ],
    [
      { ...base, reference: { d_model: 30, heads: 4 } },
      "text_tasks.mine.reference.heads",
      "a divisor of d_model = 30",
    ],
    [
      { ...base, prompts: { min_tokens: 5, max_tokens: 2 } },
      "text_tasks.mine.prompts.max_tokens",
      "≥ prompts.min_tokens = 5",
    ],
    [
      { ...base, pairs: { scale: 0 } },
      "text_tasks.mine.pairs.scale",
      "= 0 is not allowed (allowed: a number > 0)",
    ],
    [
      {
        ...base,
        kind: "summarize",
        dataset: { path: "d.jsonl", preset: "tldr" },
        gold: { path: "m", label_index: 1 },
      },
      "text_tasks.mine.gold",
      "label_index and label are for sentiment classifiers",
    ],
  ];
  for (const [task, field, message] of cases) {
    assert.throws(
      () => parseSuite(suite(task), "s.yaml", BUILT_IN),
      (e: Error) => e instanceof ConfigError && e.field === field && e.message.includes(message),
      `${field}: ${message}`,
    );
  }
  assert.throws(
    () => parseSuite(suite(base, "sentiment"), "s.yaml", BUILT_IN),
    (e: Error) =>
      e instanceof ConfigError && e.message.includes('"sentiment" is the name of a built-in task'),
  );
  assert.throws(
    () =>
      parseSuite(
        JSON.stringify({ tasks: ["other"], text_tasks: { mine: base }, algorithms: { dpo: {} } }),
        "s.yaml",
        BUILT_IN,
      ),
    (e: Error) =>
      e instanceof ConfigError && e.message.includes('unknown task "other"') && e.message.includes("mine"),
  );
});
