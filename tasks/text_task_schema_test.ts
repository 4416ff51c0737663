import assert from "node:assert/strict";
import { DATA_TASK_DEFAULTS, type DataTaskConfig } from "./data_tasks.ts";
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
  const t = parseTextTasks({ mine: { ...BASE, rows: 100, pairs: { count: 8 } } }, OPTS)
    .mine as DataTaskConfig;
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

Deno.test("pairs: the regime's keys are parsed, and only those given are kept", () => {
  const pairs = (p: unknown) =>
    (parseTextTasks({ mine: { ...BASE, pairs: p } }, OPTS).mine as DataTaskConfig).pairs;
  const d = DATA_TASK_DEFAULTS.sentiment.pairs;
  assert.deepEqual(
    pairs(undefined),
    { count: d.count, scale: d.scale },
    "an old suite's pairs hash as before",
  );
  assert.deepEqual(
    pairs({
      count: 16384,
      prompts: 64,
      completions: 4,
      label: "deterministic",
      ties: "drop",
      identical: "drop",
    }),
    {
      count: 16384,
      scale: d.scale,
      prompts: 64,
      completions: 4,
      label: "deterministic",
      ties: "drop",
      identical: "drop",
    },
  );
  assert.deepEqual(pairs({ scale: Infinity, label: "bradley_terry" }), {
    count: d.count,
    scale: Infinity,
    label: "bradley_terry",
  });
});

Deno.test("a derived task takes its base's pairs with the fields given replaced", () => {
  const tasks = parseTextTasks({
    "sentiment.dpo4": { base: "sentiment.small", pairs: { completions: 4, label: "deterministic" } },
    "mine.det": { base: "mine", description: "mine, deterministic", pairs: { label: "deterministic" } },
    mine: { ...BASE, pairs: { count: 64, identical: "drop" } },
  }, OPTS);
  assert.deepEqual(Object.keys(tasks), ["sentiment.dpo4", "mine.det", "mine"], "the suite's order");
  assert.deepEqual(tasks["sentiment.dpo4"], {
    base: "sentiment.small",
    pairs: { count: 4096, scale: 10, completions: 4, label: "deterministic" },
  });
  assert.deepEqual(tasks["mine.det"], {
    base: "mine",
    description: "mine, deterministic",
    pairs: {
      count: 64,
      scale: DATA_TASK_DEFAULTS.sentiment.pairs.scale,
      label: "deterministic",
      identical: "drop",
    },
  });
});

Deno.test("bad pair fields and bases are errors naming the field and the value", () => {
  const named = {
    ...OPTS,
    unknownName: (what: string, name: string) => `no ${what} "${name}" (did you mean?)`,
  };
  const cases: [unknown, string, string | RegExp, TextTaskSchemaOptions?][] = [
    [
      { completions: 1 },
      "pairs.completions",
      "pairs.completions = 1 is not allowed (allowed: an integer ≥ 2)",
    ],
    [{ prompts: 0 }, "pairs.prompts", "pairs.prompts = 0 is not allowed (allowed: an integer ≥ 1)"],
    [
      { prompts: 300 },
      "pairs.prompts",
      "pairs.prompts = 300 is not allowed (allowed: at most prompts.train = 256)",
    ],
    [{ count: 1.5 }, "pairs.count", "pairs.count = 1.5 is not allowed (allowed: an integer ≥ 1)"],
    [{ scale: 0 }, "pairs.scale", "pairs.scale = 0 is not allowed (allowed: a number > 0)"],
    [
      { label: "determinstic" },
      "pairs.label",
      'pairs.label: no label rule "determinstic" (did you mean?)',
      named,
    ],
    [
      { label: "determinstic" },
      "pairs.label",
      /pairs\.label: unknown label rule "determinstic" \(known: bradley_terry, deterministic\)/,
    ],
    [{ ties: true }, "pairs.ties", "pairs.ties = true is not allowed (allowed: one of coin, drop)"],
    [{ identical: "remove" }, "pairs.identical", /unknown identical rule "remove" \(known: keep, drop\)/],
    [
      { label: "deterministic", scale: 3 },
      "pairs.scale",
      /pairs\.scale = 3 is not allowed with text_tasks\.mine\.pairs\.label = deterministic/,
    ],
    [{ cuont: 3 }, "pairs.cuont", /pairs: no key "cuont"/, { ...OPTS, unknownKey: (k) => `no key "${k}"` }],
  ];
  for (const [pairs, field, message, opts] of cases) {
    const e = failure({ mine: { ...BASE, pairs } }, opts);
    assert.equal(e.field, `text_tasks.mine.${field}`, JSON.stringify(pairs));
    if (typeof message === "string") assert.equal(e.message, `text_tasks.mine.${message}`);
    else assert.match(e.message, message);
  }
  const derived = (entry: unknown, opts?: TextTaskSchemaOptions) =>
    failure({ mine: BASE, d: entry, dd: { base: "mine" } }, opts);
  assert.deepEqual(
    [derived({ base: "sentimnt" }, named).field, derived({ base: "sentimnt" }, named).message],
    ["text_tasks.d.base", 'text_tasks.d.base: no text task "sentimnt" (did you mean?)'],
  );
  assert.match(
    derived({ base: "bandit.random" }).message,
    /unknown text task "bandit\.random" \(known: sentiment, /,
  );
  assert.match(
    derived({ base: "dd" }).message,
    /^text_tasks\.d\.base = "dd" is not allowed: "dd" is itself derived/,
  );
  assert.equal(
    derived({ base: "mine", kind: "sentiment" }).field,
    "text_tasks.d.kind",
    "a derived task has no kind",
  );
  assert.equal(derived({ base: "mine", pairs: { label: "x" } }).field, "text_tasks.d.pairs.label");
});
