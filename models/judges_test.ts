/**
 * Judges from outside: an ONNX reward model written by the project's own classifier code (probability,
 * scalar-logit and two-class-logit outputs; missing, corrupt and mis-shaped files), and a chat judge
 * against a local OpenAI-compatible mock server (swap bookkeeping, request body, ties, errors).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Graph, type Tensor } from "../engine/graph.ts";
import { toOnnx } from "../engine/onnx.ts";
import { Rng } from "../engine/rng.ts";
import { Runtime } from "../engine/runtime.ts";
import type { ClassifierConfig } from "./classifier.ts";
import { classifierLogits, classifierParams, exportClassifier, SentimentScorer } from "./classifier.ts";
import { initParams } from "./gpt.ts";
import type { JudgeItem } from "./judge.ts";
import { CHAT_JUDGE_SYSTEM, chatJudge, onnxRewardJudge, parseChoice } from "./judges.ts";
import { WordTokenizer } from "./tokenizer.ts";

const rt = await Runtime.create({ ep: "cpu", threads: 1, log: null });
const tok = new WordTokenizer([
  "maria",
  "omar",
  "opened",
  "a",
  "bakery",
  "shop",
  "in",
  "lisbon",
  "porto",
  ".",
]);

const ITEMS: JudgeItem[] = [
  { document: "maria opened a bakery in lisbon .", a: "maria opened a bakery .", b: "omar opened a shop ." },
  { document: "omar opened a shop in porto .", a: "omar opened a shop in porto .", b: "a a a" },
  { document: "maria opened a bakery in lisbon .", a: "lisbon", b: "maria" },
  { document: "omar opened a shop in porto .", a: "omar", b: "omar opened a bakery in porto ." },
  { document: "maria opened a bakery in lisbon .", a: "in porto .", b: "maria in lisbon ." },
];

// --- the ONNX reward judge ---------------------------------------------------------------------------

const CFG: ClassifierConfig = { vocab: tok.vocabSize, dModel: 16, layers: 1, heads: 2, maxLen: 16 };
const PARAMS = initParams(classifierParams(CFG), Rng.stream(0, "test", "judges", "init"));
// A larger head than initialization gives, so rewards differ by amounts a test can see.
PARAMS.set("cls.head.w", (PARAMS.get("cls.head.w") as Float32Array).map((w) => w * 40));

/** The classifier's logit z as an output of the given name and form. */
function logitModel(output: string, form: (g: Graph, z: Tensor) => Tensor) {
  const g = new Graph();
  const p: Record<string, Tensor> = {};
  for (const s of classifierParams(CFG)) p[s.name] = g.const(PARAMS.get(s.name)!, s.shape, "float32");
  const ids = g.input("input_ids", [4, CFG.maxLen], "int64");
  const mask = g.input("attention_mask", [4, CFG.maxLen], "int64");
  return toOnnx(g, { [output]: form(g, classifierLogits(g, CFG, p, ids, mask)) }, "reward_model");
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const join2 = (i: JudgeItem, s: string) => `${i.document} ${s}`;

Deno.test("ONNX reward judge: P = σ(r(a) − r(b)) from a probability, a scalar logit or two-class logits", async () => {
  const dir = await Deno.makeTempDir();
  const probPath = join(dir, "p.onnx"),
    scalarPath = join(dir, "scalar.onnx"),
    twoPath = join(dir, "two.onnx");
  await Deno.writeFile(probPath, exportClassifier(CFG, PARAMS, { batch: 4 }).bytes);
  await Deno.writeFile(scalarPath, logitModel("logits", (g, z) => g.reshape(z, [4, 1])).bytes);
  await Deno.writeFile(
    twoPath,
    logitModel("logits", (g, z) => g.concat([g.zeros([4, 1]), g.reshape(z, [4, 1])], 1)).bytes,
  );
  // The reference values: p(positive) through the project's own scorer, its logit z = log(p / (1 − p)).
  const scorer = await SentimentScorer.fromFile(rt, probPath, tok);
  const pa = await scorer.score(ITEMS.map((i) => join2(i, i.a)));
  const pb = await scorer.score(ITEMS.map((i) => join2(i, i.b)));
  const logit = (p: number) => Math.log(p / (1 - p));
  assert.ok(ITEMS.some((_, k) => Math.abs(logit(pa[k]!) - logit(pb[k]!)) > 0.5), "rewards differ visibly");

  const prob = await onnxRewardJudge(rt, probPath, tok);
  assert.equal(prob.name, "onnx:p.onnx");
  assert.equal(prob.model.output, "probability");
  const jp = await prob.compare(ITEMS, Rng.stream(0, "unused"));
  ITEMS.forEach((_, k) => {
    assert.ok(Math.abs(jp[k]!.probability - sigmoid(pa[k]! - pb[k]!)) < 1e-12, `item ${k}`);
    assert.equal(jp[k]!.swapped, undefined);
  });

  for (const [path, output] of [[scalarPath, "scalar"], [twoPath, "twoClass"]] as const) {
    const judge = await onnxRewardJudge(rt, path, tok);
    assert.equal(judge.model.output, output);
    const j = await judge.compare(ITEMS, Rng.stream(0, "unused"));
    ITEMS.forEach((_, k) => {
      const want = sigmoid(logit(pa[k]!) - logit(pb[k]!));
      assert.ok(
        Math.abs(j[k]!.probability - want) < 1e-4,
        `${output} item ${k}: ${j[k]!.probability} vs ${want}`,
      );
    });
  }

  // The text option decides what the model reads; scale Infinity is the deterministic comparison.
  const custom = await onnxRewardJudge(rt, scalarPath, tok, { text: (_d, s) => s, scale: Infinity });
  const r = await custom.model.score(ITEMS.flatMap((i) => [i.a, i.b]));
  const jc = await custom.compare(ITEMS, Rng.stream(0, "unused"));
  ITEMS.forEach((_, k) => {
    const d = r[2 * k]! - r[2 * k + 1]!;
    assert.equal(jc[k]!.probability, d > 0 ? 1 : d < 0 ? 0 : 0.5);
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("ONNX reward judge: a missing, corrupt or mis-shaped file is an error naming it", async () => {
  const dir = await Deno.makeTempDir();
  const missing = join(dir, "missing.onnx");
  await assert.rejects(
    onnxRewardJudge(rt, missing, tok),
    (e: Error) => e.message === `Cannot load the reward model "${missing}": no such file`,
  );
  const corrupt = join(dir, "corrupt.onnx");
  await Deno.writeTextFile(corrupt, "this is not an onnx model");
  await assert.rejects(
    onnxRewardJudge(rt, corrupt, tok),
    (e: Error) =>
      e.message.startsWith(`Cannot load the reward model "${corrupt}": not a readable ONNX model`),
  );
  const shaped = join(dir, "shaped.onnx");
  await Deno.writeFile(shaped, logitModel("score", (_g, z) => z).bytes);
  await assert.rejects(
    onnxRewardJudge(rt, shaped, tok),
    (e: Error) =>
      e.message.startsWith(`Cannot load the reward model "${shaped}": it needs an output "logits" [4, 2]`) &&
      e.message.includes(`"score" [4]`),
  );
  const wide = join(dir, "wide.onnx");
  await Deno.writeFile(
    wide,
    logitModel("logits", (g, z) => g.concat([z, z, z].map((t) => g.reshape(t, [4, 1])), 1)).bytes,
  );
  await assert.rejects(onnxRewardJudge(rt, wide, tok), /"logits" \[4,3\]/);
  await Deno.remove(dir, { recursive: true });
});

// --- the chat judge ----------------------------------------------------------------------------------

interface Seen {
  body: {
    model: string;
    temperature: number;
    messages: { role: string; content: string }[];
  };
  authorization: string | null;
}

/** A local OpenAI-compatible server answering with `answer(user message)`, recording every request. */
function mockServer(answer: (user: string) => string | { status: number; body: string }) {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.json() as Seen["body"];
    seen.push({ body, authorization: req.headers.get("authorization") });
    if (new URL(req.url).pathname !== "/v1/chat/completions") {
      return new Response("not found", { status: 404 });
    }
    const a = answer(body.messages.find((m) => m.role === "user")!.content);
    if (typeof a !== "string") return new Response(a.body, { status: a.status });
    return Response.json({ choices: [{ index: 0, message: { role: "assistant", content: a } }] });
  });
  return { url: `http://127.0.0.1:${server.addr.port}/v1`, seen, close: () => server.shutdown() };
}

/** The two summaries in the order the prompt shows them. */
function shown(user: string): [string, string] {
  const m = /Summary A:\n(.*)\n\nSummary B:\n(.*)\n\n/.exec(user)!;
  return [m[1]!, m[2]!];
}

const many: JudgeItem[] = Array.from({ length: 24 }, (_, k) => ({
  document: `document ${k}`,
  a: `summary a${k}${k % 3 === 0 ? " longer" : ""}`,
  b: `summary b${k}${k % 3 === 1 ? " longer" : ""}`,
}));

Deno.test("chat judge: an always-A server gives P = 1 exactly when not swapped; the order is the stream's", async () => {
  const server = mockServer(() => "A");
  try {
    const judge = chatJudge({ url: server.url, model: "judge-model", apiKey: "k3y", log: null });
    assert.equal(judge.name, `chat:judge-model@${server.url}`);
    const j = await judge.compare(many, Rng.stream(0, "test", "chat"));
    const draws = Rng.stream(0, "test", "chat");
    const swaps = many.map(() => draws.float() < 0.5);
    assert.ok(swaps.some((s) => s) && swaps.some((s) => !s));
    j.forEach((x, k) => {
      assert.equal(x.swapped, swaps[k]);
      assert.equal(x.probability, x.swapped ? 0 : 1);
    });
    // The request: the model, temperature 0, the document and both summaries in the recorded order.
    assert.equal(server.seen.length, many.length);
    for (const { body, authorization } of server.seen) {
      assert.equal(body.model, "judge-model");
      assert.equal(body.temperature, 0);
      assert.equal(authorization, "Bearer k3y");
      assert.equal(body.messages[0]!.content, CHAT_JUDGE_SYSTEM);
      const user = body.messages[1]!.content;
      const k = Number(/document (\d+)/.exec(user)![1]);
      const item = many[k]!;
      assert.deepEqual(shown(user), swaps[k] ? [item.b, item.a] : [item.a, item.b]);
    }
    // A rerun with the same stream judges alike.
    assert.deepEqual(await judge.compare(many, Rng.stream(0, "test", "chat")), j);
  } finally {
    await server.close();
  }
});

Deno.test("chat judge: a server preferring the longer summary is mapped back through the swap", async () => {
  const server = mockServer((user) => {
    const [first, second] = shown(user);
    return first.length === second.length
      ? "Neither; they are equal."
      : first.length > second.length
      ? "A"
      : "B.";
  });
  const warnings: string[] = [];
  try {
    const judge = chatJudge({
      url: `${server.url}/`,
      model: "m",
      log: (l) => warnings.push(l),
      concurrency: 3,
    });
    const j = await judge.compare(many, Rng.stream(1, "test", "chat"));
    j.forEach((x, k) => {
      const { a, b } = many[k]!;
      assert.equal(x.probability, a.length > b.length ? 1 : a.length < b.length ? 0 : 0.5, `item ${k}`);
    });
    // Equal lengths (k ≡ 2 mod 3) get an answer with no A or B: a tie, counted and warned about.
    assert.equal(judge.unparsed, 8);
    assert.equal(warnings.length, 8);
    assert.match(warnings[0]!, /chat judge m: no A or B in "Neither; they are equal\."; a tie/);
    assert.equal(server.seen[0]!.authorization, null);
  } finally {
    await server.close();
  }
});

Deno.test("chat judge: a non-200 answer, a body that is no chat completion and an unreachable server are errors naming the URL", async () => {
  const server = mockServer((user) =>
    user.includes("document 0")
      ? { status: 500, body: "model not loaded" }
      : { status: 200, body: '{"error":1}' }
  );
  try {
    const judge = chatJudge({ url: server.url, model: "m", log: null });
    await assert.rejects(
      judge.compare([many[0]!], Rng.stream(0, "x")),
      (e: Error) =>
        e.message ===
          `Chat judge: "${server.url}/chat/completions" answered 500 Internal Server Error: model not loaded`,
    );
    await assert.rejects(
      judge.compare([many[1]!], Rng.stream(0, "x")),
      (e: Error) =>
        e.message.startsWith(`Chat judge: "${server.url}/chat/completions" did not answer a chat completion`),
    );
  } finally {
    await server.close();
  }
  const down = chatJudge({
    url: "http://127.0.0.1:9/v1",
    model: "m",
    fetch: () => Promise.reject(new TypeError("connection refused")),
  });
  await assert.rejects(
    down.compare([many[0]!], Rng.stream(0, "x")),
    (e: Error) =>
      e.message === `Chat judge: cannot reach "http://127.0.0.1:9/v1/chat/completions": connection refused`,
  );
});

Deno.test("parseChoice reads the first standalone A or B", () => {
  assert.equal(parseChoice("A"), "A");
  assert.equal(parseChoice(" B."), "B");
  assert.equal(parseChoice("Summary B is better than summary A"), "B");
  assert.equal(parseChoice("Answer: A"), "A");
  assert.equal(parseChoice("**B**"), "B");
  assert.equal(parseChoice("a b"), null); // lower case: the article, not an answer
  assert.equal(parseChoice("ABBA"), null);
  assert.equal(parseChoice(""), null);
});
