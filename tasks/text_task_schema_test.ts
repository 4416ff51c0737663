import assert from "node:assert/strict";
import { DATA_TASK_DEFAULTS } from "./data_tasks.ts";
import { parseTextTasks, type TextTaskSchemaOptions } from "./text_task_schema.ts";

class FieldError extends Error {
  constructor(readonly field: string, why: string) {
    super(why);
  }
}

const OPTS: TextTaskSchemaOptions = {
  file: "suites/mine.yaml",
  knownTasks: ["sentiment.small"],
  fail: (field, why) => {
    throw new FieldError(field, why);
  },
};

const BASE = {
  kind: "sentiment",
  dataset: { path: "train.parquet", preset: "imdb" },
  tokenizer: "/abs/tokenizer.json",
  gold: { path: "gold.onnx", label_index: 0 },
};

function failure(raw: unknown, opts: TextTaskSchemaOptions = OPTS): FieldError {
  try {
    parseTextTasks(raw, opts);
  } catch (e) {
    if (e instanceof FieldError) return e;
    throw e;
  }
  throw new Error("parseTextTasks accepted a bad entry");
}

Deno.test("parseTextTasks fills defaults and resolves relative paths against the suite's folder", () => {
  const t = parseTextTasks({ mine: { ...BASE, rows: 100, pairs: { count: 8 } } }, OPTS).mine!;
  const d = DATA_TASK_DEFAULTS.sentiment;
  assert.deepEqual(t.dataset, { path: "suites/train.parquet", preset: "imdb" });
  assert.equal(t.tokenizer, "/abs/tokenizer.json", "an absolute path stays as it is");
  assert.deepEqual(t.gold, { path: "suites/gold.onnx", labelIndex: 0 });
  assert.equal(t.rows, 100);
  assert.deepEqual(t.prompts, d.prompts);
  assert.deepEqual(t.reference, d.reference);
  assert.equal(t.maxNewTokens, d.maxNewTokens);
  assert.deepEqual(t.pairs, { count: 8, scale: d.pairs.scale });
});

Deno.test("parseTextTasks names the field of a bad entry, and the caller words unknown keys", () => {
  assert.equal(failure([]).field, "text_tasks");
  assert.equal(
    failure({ "sentiment.small": BASE }).message,
    'text task "sentiment.small" is the name of a built-in task',
  );
  assert.equal(failure({ "bad name": BASE }).field, "text_tasks.bad name");
  const rows = failure({ mine: { ...BASE, rows: 0 } });
  assert.deepEqual([rows.field, rows.message], [
    "text_tasks.mine.rows",
    "text_tasks.mine.rows = 0 is not allowed (allowed: an integer ≥ 1)",
  ]);
  const plain = failure({ mine: { ...BASE, pairz: {} } });
  assert.equal(plain.field, "text_tasks.mine.pairz");
  assert.match(plain.message, /^text_tasks\.mine: unknown key "pairz" \(known: kind, description, /);
  const worded = failure({ mine: { ...BASE, pairz: {} } }, { ...OPTS, unknownKey: (k) => `no "${k}" here` });
  assert.equal(worded.message, 'text_tasks.mine: no "pairz" here');
});
