import assert from "node:assert/strict";
import type { ReadStats } from "./datasets.ts";
import { DatasetError, readDataset, readDatasetRows } from "./datasets.ts";
import { imdbColumns, writeJsonl, writeParquet } from "../tests/fixtures/datasets.ts";

const dir = await Deno.makeTempDir({ prefix: "prefbench-datasets-" });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const REVIEWS = [
  { text: "a fine movie .", label: 1 },
  { text: 'dull and "long" ,\nwith a newline', label: 0 },
  { text: "ünïcödé is fine too ✓", label: 1 },
];

const stats = (): ReadStats => ({ bytesRead: 0, rowGroupsRead: 0, rows: 0 });

Deno.test("datasets: JSONL in the IMDb schema reads typed rows through the preset and column overrides", async () => {
  const path = await writeJsonl(`${dir}/imdb.jsonl`, REVIEWS.map((r) => ({ ...r, extra: [1, 2] })));
  assert.deepEqual(await readDatasetRows({ path, preset: "imdb" }, { roles: ["text", "label"] }), REVIEWS);
  const renamed = await writeJsonl(
    `${dir}/renamed.jsonl`,
    REVIEWS.map((r) => ({ review: r.text, y: r.label })),
  );
  const rows = await readDatasetRows(
    { path: renamed, preset: "imdb", columns: { text: "review", label: "y" } },
    { roles: ["label", "text"], maxRows: 2 },
  );
  assert.deepEqual(rows, REVIEWS.slice(0, 2));
  await assert.rejects(
    () => readDatasetRows({ path }, { roles: ["text"] }),
    (e: Error) => e instanceof DatasetError && e.message.includes(path) && e.message.includes("columns.text"),
  );
});

Deno.test("datasets: a missing column or a wrong type names the file, the line or row, the column and the value", async () => {
  const missing = await writeJsonl(`${dir}/missing.jsonl`, [REVIEWS[0]!, {
    review: "no text here",
    label: 0,
  }]);
  await assert.rejects(
    () => readDatasetRows({ path: missing, preset: "imdb" }, { roles: ["text", "label"] }),
    (e: Error) =>
      e.message ===
        `Cannot read dataset "${missing}": line 2 has no column "text" (for text; it has "review", "label")`,
  );
  const wrong = await writeJsonl(`${dir}/wrong.jsonl`, [REVIEWS[0]!, REVIEWS[1]!, {
    text: "great",
    label: "pos",
  }]);
  await assert.rejects(
    () => readDatasetRows({ path: wrong, preset: "imdb" }, { roles: ["text", "label"] }),
    (e: Error) =>
      e.message ===
        `Cannot read dataset "${wrong}": line 3: column "label" (label) = "pos" is a string (expected an integer)`,
  );
  const broken = `${dir}/broken.jsonl`;
  await Deno.writeTextFile(broken, `{"text": "ok", "label": 1}\n\n{"text": "cut`);
  await assert.rejects(
    () => readDatasetRows({ path: broken, preset: "imdb" }, { roles: ["text", "label"] }),
    (e: Error) => e.message.includes(broken) && e.message.includes("line 3 is not valid JSON"),
  );

  const pq = await writeParquet(`${dir}/strings.parquet`, [
    { name: "text", strings: ["good", "bad"] },
    { name: "label", strings: ["pos", "neg"] },
  ]);
  await assert.rejects(
    () => readDatasetRows({ path: pq, preset: "imdb" }, { roles: ["text", "label"] }),
    (e: Error) =>
      e.message ===
        `Cannot read dataset "${pq}": column "label" (label) is BYTE_ARRAY (strings) (expected integers (INT32 or INT64))`,
  );
  await assert.rejects(
    () => readDatasetRows({ path: pq, preset: "tldr" }, { roles: ["prompt", "completion"] }),
    (e: Error) =>
      e.message ===
        `Cannot read dataset "${pq}": no column "prompt" (for prompt; the file has "text", "label")`,
  );
  await assert.rejects(
    () => readDatasetRows({ path: `${dir}/none.parquet`, preset: "imdb" }, { roles: ["text"] }),
    (e: Error) => e.message === `Cannot read dataset "${dir}/none.parquet": no such file`,
  );
  await assert.rejects(
    () => readDatasetRows({ path: `${dir}/data.csv` }, { roles: ["text"] }),
    (e: Error) => e.message.includes(`${dir}/data.csv`) && e.message.includes("format"),
  );
});

Deno.test("datasets: Parquet in the IMDb and both TL;DR schemas", async () => {
  const imdb = await writeParquet(`${dir}/imdb.parquet`, imdbColumns(REVIEWS), { rowGroupSize: 2 });
  assert.deepEqual(
    await readDatasetRows({ path: imdb, preset: "imdb" }, { roles: ["text", "label"] }),
    REVIEWS,
  );

  const prompts = ["SUBREDDIT: r/cats\nPOST: my cat sat.\nTL;DR:", "POST: rain again.\nTL;DR:"];
  const summaries = [" cat sat", " it rained"];
  const tldr = await writeParquet(`${dir}/tldr.parquet`, [
    { name: "prompt", strings: prompts },
    { name: "completion", strings: summaries },
  ]);
  const post = await writeParquet(`${dir}/post.parquet`, [
    { name: "id", strings: ["a", "b"] },
    { name: "post", strings: prompts },
    { name: "summary", strings: summaries },
  ]);
  const expected = prompts.map((prompt, i) => ({ prompt, completion: summaries[i]! }));
  for (const [path, preset] of [[tldr, "tldr"], [post, "tldr-post"]] as const) {
    const rows = await readDatasetRows({ path, preset, format: "parquet" }, {
      roles: ["prompt", "completion"],
    });
    assert.deepEqual(rows, expected);
  }
  const jsonl = await writeJsonl(`${dir}/tldr.jsonl`, expected);
  assert.deepEqual(
    await readDatasetRows({ path: jsonl, preset: "tldr" }, { roles: ["prompt", "completion"] }),
    expected,
  );
});

Deno.test("datasets: reads stream: the first rows of a large file without reading the rest", async () => {
  const n = 20_000;
  const rows = Array.from({ length: n }, (_, i) => ({ text: `review number ${i} `.repeat(8), label: i % 2 }));
  const jsonl = await writeJsonl(`${dir}/large.jsonl`, rows);
  const jsonlSize = (await Deno.stat(jsonl)).size;
  const s1 = stats();
  const head = await readDatasetRows({ path: jsonl, preset: "imdb" }, {
    roles: ["text", "label"],
    maxRows: 10,
    stats: s1,
  });
  assert.deepEqual(head, rows.slice(0, 10));
  assert.equal(s1.rows, 10);
  assert.ok(s1.bytesRead > 0 && s1.bytesRead <= 256 * 1024, `read ${s1.bytesRead} of ${jsonlSize} bytes`);
  assert.ok(jsonlSize > 10 * s1.bytesRead);
  // A full read sees every byte and row.
  const s2 = stats();
  let count = 0;
  for await (const _ of readDataset({ path: jsonl, preset: "imdb" }, { roles: ["label"], stats: s2 })) {
    count++;
  }
  assert.equal(count, n);
  assert.equal(s2.bytesRead, jsonlSize);

  // Parquet: 20 row groups of 1000 rows; 1001 rows touch exactly two of them, and only the label column.
  const pq = await writeParquet(`${dir}/large.parquet`, imdbColumns(rows), { rowGroupSize: 1000 });
  const pqSize = (await Deno.stat(pq)).size;
  const s3 = stats();
  const first = await readDatasetRows({ path: pq, preset: "imdb" }, {
    roles: ["text", "label"],
    maxRows: 1001,
    stats: s3,
  });
  assert.deepEqual(first, rows.slice(0, 1001));
  assert.equal(s3.rowGroupsRead, 2);
  assert.ok(s3.bytesRead < pqSize / 5, `read ${s3.bytesRead} of ${pqSize} bytes`);
  const s4 = stats();
  const labels = await readDatasetRows({ path: pq, preset: "imdb" }, { roles: ["label"], stats: s4 });
  assert.equal(labels.length, n);
  assert.equal(s4.rowGroupsRead, 20);
  assert.ok(s4.bytesRead < pqSize / 5, `labels only: read ${s4.bytesRead} of ${pqSize} bytes`);
});
