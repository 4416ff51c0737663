/**
 * Bad input is caught before any cell starts: a table of bad suites, flags, run folders and input
 * files, each asserting the exact field the error names, the exact message (file, field, value and
 * what is allowed), and that nothing was written — the output folder stays empty and a run folder
 * being resumed is unchanged.
 */
import assert from "node:assert/strict";
import { ALGORITHMS, isPolicyAlgorithm, knownAlgorithms } from "../algorithms/registry.ts";
import { prepareRun } from "../bench/cli.ts";
import { configHash, runSuite } from "../bench/run.ts";
import { parseSuite } from "../bench/suite.ts";
import { checkInput } from "../bench/validate.ts";
import { ConfigError } from "../results/mod.ts";
import { TEXT_TASKS } from "../tasks/text_tasks.ts";
import { TASKS } from "./_bandit.ts";

const KNOWN_TASKS = [...TASKS.keys(), ...TEXT_TASKS.keys()].join(", ");
const GOOD = "tasks: [bandit.ood]\nalgorithms: { dpo: { beta: 0.1, steps: 5 } }\n";

/** A case: files to lay out in a fresh folder `d`, then the flags (or a direct call) that must fail. */
interface Case {
  name: string;
  files?: Record<string, string | Uint8Array>;
  /** Flags for `deno task bench`; `--out d/out` is added unless the case names `--out` or `--resume`. */
  args?: (d: string) => string[];
  /** Instead of flags: a direct call of a checking helper. */
  call?: (d: string) => Promise<unknown>;
  field: string;
  message: (d: string) => string;
}

const suiteCase = (name: string, yaml: string, field: string, why: string): Case => ({
  name,
  files: { "s.yaml": yaml },
  args: (d) => ["--suite", `${d}/s.yaml`],
  field,
  message: (d) => `Cannot parse config "${d}/s.yaml": ${why}`,
});

/** A run folder whose manifest matches GOOD, so that resuming it gets as far as its records. */
function runFolder(records: string): Record<string, string> {
  const suite = parseSuite(GOOD, "s.yaml", [...TASKS.keys()]);
  const manifest = { configHash: configHash(suite), suite, executionProvider: "cpu", threads: 1 };
  return { "run/manifest.json": JSON.stringify(manifest), "run/results.jsonl": records };
}

const CASES: Case[] = [
  suiteCase(
    "malformed YAML",
    "tasks: [bandit.ood\nalgorithms: {}\n",
    "2:1",
    "malformed YAML at line 2, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]",
  ),
  suiteCase(
    "a list instead of a mapping",
    "- dpo\n- ipo\n",
    "",
    "a suite must be a mapping of name, seeds, checkpoints, tasks, algorithms, text_algorithms, divergence, stats, judge, text_tasks, slurm, plugins (got a list)",
  ),
  suiteCase(
    "an unknown top-level key, with a did-you-mean",
    GOOD + "seed: 3\n",
    "seed",
    'unknown key "seed" (did you mean "seeds"? known: name, seeds, checkpoints, tasks, algorithms, text_algorithms, divergence, stats, judge, text_tasks, slurm, plugins)',
  ),
  suiteCase(
    "an unknown task, with the known names",
    "tasks: [bandit.ood, bandit.rando]\nalgorithms: { dpo: {} }\n",
    "tasks[1]",
    `unknown task "bandit.rando" (known: ${KNOWN_TASKS})`,
  ),
  suiteCase(
    "an unknown algorithm, with the known names",
    "tasks: [bandit.ood]\nalgorithms: { dpp: { beta: 0.1 } }\n",
    "algorithms.dpp",
    `unknown algorithm "dpp" (did you mean "dpo"? known: ${knownAlgorithms()})`,
  ),
  suiteCase(
    "an out-of-range hyperparameter",
    "tasks: [bandit.ood]\nalgorithms: { dpo: { beta: -1 } }\n",
    "algorithms.dpo.beta",
    "algorithms.dpo.beta = -1 is not allowed (allowed: a number in (0, ∞))",
  ),
  suiteCase(
    "a mistyped integer hyperparameter",
    'tasks: [bandit.ood]\nalgorithms: { ppo: { iterations: "ten" } }\n',
    "algorithms.ppo.iterations",
    'algorithms.ppo.iterations = "ten" is not allowed (allowed: an integer in [1, ∞))',
  ),
  suiteCase(
    "a mistyped boolean inside a sweep",
    "tasks: [bandit.ood]\nalgorithms: { ipo: { anneal_lr: [true, yes] } }\n",
    "algorithms.ipo.anneal_lr",
    'algorithms.ipo.anneal_lr = "yes" is not allowed (allowed: true or false)',
  ),
  suiteCase(
    "an unknown hyperparameter, with a did-you-mean",
    "tasks: [bandit.ood]\nalgorithms: { ipo: { taux: 1 } }\n",
    "algorithms.ipo.taux",
    'algorithms.ipo: unknown hyperparameter "taux" (did you mean "tau"? known: tau, steps, lr, anneal_lr, batch_size, max_grad_norm)',
  ),
  suiteCase(
    "an empty sweep",
    "tasks: [bandit.ood]\nalgorithms: { dpo: { beta: [] } }\n",
    "algorithms.dpo.beta",
    "algorithms.dpo.beta = [] is not allowed (allowed: a number in (0, ∞), or a non-empty list to sweep)",
  ),
  suiteCase(
    "a swept reward model",
    GOOD.replace("algorithms: {", "algorithms: { reward_model: { lr: [0.1, 1] },"),
    "algorithms.reward_model.lr",
    "algorithms.reward_model.lr = [0.1,1] cannot be swept (the reward model configures the proxy reward)",
  ),
  suiteCase(
    "zero seeds",
    GOOD + "seeds: 0\n",
    "seeds",
    "seeds = 0 is not allowed (allowed: a count in [1, 10000] or a list of distinct integers ≥ 0)",
  ),
  suiteCase(
    "zero checkpoints",
    GOOD + "checkpoints: 0\n",
    "checkpoints",
    "checkpoints = 0 is not allowed (allowed: an integer ≥ 1)",
  ),
  suiteCase(
    "a negative KL ceiling",
    GOOD + "divergence: { max_kl: -1 }\n",
    "divergence.max_kl",
    "divergence.max_kl = -1 is not allowed (allowed: a finite number > 0, or null for no ceiling)",
  ),
  suiteCase(
    "an unknown judge kind",
    GOOD + "judge: { kind: oracle }\n",
    "judge.kind",
    'judge.kind = "oracle" is not allowed (allowed: one of task, onnx, chat)',
  ),
  suiteCase(
    "a chat judge without a model",
    GOOD + "judge: { kind: chat, url: http://127.0.0.1:8080/v1 }\n",
    "judge.model",
    "judge.model = (missing) is not allowed (allowed: the model name the endpoint serves)",
  ),
  suiteCase(
    "a chat judge with a URL that is not http",
    GOOD + "judge: { kind: chat, url: ftp://x, model: m }\n",
    "judge.url",
    'judge.url = "ftp://x" is not allowed (allowed: an http(s) URL)',
  ),
  suiteCase(
    "a misspelt judge setting",
    GOOD + "judge: { kind: onnx, pth: rm.onnx }\n",
    "judge.pth",
    'judge: unknown key "pth" (did you mean "path"? known: kind, path)',
  ),
  suiteCase(
    "a Slurm memory size that is not one",
    GOOD + "slurm: { mem: lots }\n",
    "slurm.mem",
    'slurm.mem = "lots" is not allowed (allowed: a size such as 4G or 500M)',
  ),
  suiteCase(
    "a misspelt divergence setting",
    GOOD + "divergence: { max_grad_nrom: 10 }\n",
    "divergence.max_grad_nrom",
    'divergence: unknown key "max_grad_nrom" (did you mean "max_grad_norm"? known: max_grad_norm, max_kl)',
  ),
  suiteCase(
    "a confidence level of 1.5",
    GOOD + "stats: { confidence: 1.5 }\n",
    "stats.confidence",
    "stats.confidence = 1.5 is not allowed (allowed: a number in (0, 1))",
  ),
  {
    name: "a missing suite file",
    args: (d) => ["--suite", `${d}/nope.yaml`],
    field: "--suite",
    message: (d) => `Cannot read "${d}/nope.yaml" (--suite): no such file`,
  },
  {
    name: "a suite that is a folder",
    files: { "dir.yaml/x": "" },
    args: (d) => ["--suite", `${d}/dir.yaml`],
    field: "--suite",
    message: (d) => `Cannot read "${d}/dir.yaml" (--suite): it is a directory, not a file`,
  },
  {
    name: "a corrupt (binary) suite file",
    files: { "s.yaml": Uint8Array.of(0xff, 0xfe, 0x00, 0x81) },
    args: (d) => ["--suite", `${d}/s.yaml`],
    field: "--suite",
    message: (d) => `Cannot read "${d}/s.yaml" (--suite): it is not UTF-8 text (expected UTF-8 text)`,
  },
  {
    name: "an output folder that cannot be created (a file is in the way)",
    files: { "blocker": "a file" },
    args: (d) => ["--out", `${d}/blocker/runs`],
    field: "--out",
    message: (d) => `Cannot write runs to "${d}/blocker/runs" (--out): "${d}/blocker" is not a folder`,
  },
  {
    name: "zero threads",
    args: () => ["--threads", "0"],
    field: "--threads",
    message: () =>
      'Cannot parse the command line: --threads = "0" is not allowed (allowed: an integer in [1, 1024])',
  },
  {
    name: "an unknown execution provider",
    args: () => ["--ep", "tpu"],
    field: "--ep",
    message: () =>
      'Cannot parse the command line: --ep = "tpu" is not allowed (allowed: one of auto, cuda, webgpu, cpu)',
  },
  {
    name: "a misspelt flag, with a did-you-mean",
    args: () => ["--sedes", "3"],
    field: "--sedes",
    message: () =>
      'Cannot parse the command line: unknown option "--sedes" (did you mean "--seeds"? known: --suite, --plugin, --tasks, --algorithms, --seeds, --out, --resume, --ep, --threads, --jobs, --quiet, --help)',
  },
  {
    name: "seeds that are not numbers",
    args: () => ["--seeds", "a,b"],
    field: "--seeds",
    message: () =>
      `Cannot parse the command line: --seeds = "a,b" is not allowed (allowed: a count in [1, 10000] or a comma-separated list of distinct integers ≥ 0)`,
  },
  {
    name: "an unknown task on the command line",
    args: () => ["--tasks", "bandit.ood,sentimental"],
    field: "--tasks",
    message: () =>
      `Cannot parse the command line: --tasks: unknown task "sentimental" (known: ${KNOWN_TASKS})`,
  },
  {
    name: "the reward model as a policy algorithm",
    args: () => ["--algorithms", "reward_model"],
    field: "--algorithms",
    message: () =>
      'Cannot parse the command line: --algorithms: "reward_model" fits the proxy reward and traces no frontier; ' +
      `run a policy algorithm with reward: proxy (known: ${
        ALGORITHMS.filter(isPolicyAlgorithm).map((a) => a.name).join(", ")
      })`,
  },
  {
    name: "resuming a folder that does not exist",
    args: (d) => ["--resume", `${d}/gone`],
    field: "--resume",
    message: (d) => `Cannot resume "${d}/gone" (--resume): no such folder`,
  },
  {
    name: "resuming a folder with a corrupt manifest",
    files: { "run/manifest.json": '{"configHash": "ab", ' },
    args: (d) => ["--resume", `${d}/run`],
    field: "--resume",
    message: (d) =>
      `Cannot resume "${d}/run" (--resume): manifest.json is not valid JSON (Expected double-quoted property name in JSON at position 21 (line 1 column 22))`,
  },
  {
    name: "resuming a run whose results.jsonl was damaged mid-file",
    files: runFolder('{"id": "bandit.ood/dpo/beta=0.1/s\n{"id": "x", "checkpoints": []}\n'),
    args: (d) => ["--resume", `${d}/run`],
    field: "--resume",
    message: (d) =>
      `Cannot resume "${d}/run" (--resume): "${d}/run/results.jsonl" line 1 is not a cell record ` +
      `(Unterminated string in JSON at position 33 (line 1 column 34)); the file was damaged after it was written`,
  },
  {
    name: "resuming a run whose records name cells its config does not plan",
    files: runFolder('{"id": "bandit.random/dpo/beta=9/seed=0", "checkpoints": []}\n'),
    args: (d) => ["--resume", `${d}/run`],
    field: "--resume",
    message: (d) =>
      `Cannot resume "${d}/run" (--resume): results.jsonl holds cell "bandit.random/dpo/beta=9/seed=0", which its config does not plan`,
  },
  {
    name: "resuming with another config",
    files: { ...runFolder(""), "s.yaml": GOOD.replace("0.1", "0.2") },
    args: (d) => ["--resume", `${d}/run`, "--suite", `${d}/s.yaml`],
    field: "--resume",
    message: (d) =>
      `Cannot resume "${d}/run" (--resume): it was started with another config; resume with --resume alone to use the run's own config`,
  },
  {
    name: "resuming with another thread count",
    files: runFolder(""),
    args: (d) => ["--resume", `${d}/run`, "--threads", "2"],
    field: "--threads",
    message: (d) => `Cannot resume "${d}/run" (--threads): it ran with 1 thread(s), not 2`,
  },
  {
    name: "a corrupt ONNX model named by a config field",
    files: { "model.onnx": "this is not a protobuf" },
    call: (d) =>
      checkInput(`${d}/model.onnx`, "onnx", { field: "tasks.sentiment.classifier", config: "s.yaml" }),
    field: "tasks.sentiment.classifier",
    message: (d) =>
      `Cannot read "${d}/model.onnx" (tasks.sentiment.classifier in config "s.yaml"): it is not an ONNX model (index out of range: 17 + 111 > 22)`,
  },
  {
    name: "a dataset with a bad line",
    files: { "train.jsonl": '{"prompt": "a", "chosen": "b"}\n{"prompt": "c", chosen: 1}\n' },
    call: (d) =>
      checkInput(`${d}/train.jsonl`, "jsonl", { field: "tasks.sentiment.dataset", config: "s.yaml" }),
    field: "tasks.sentiment.dataset",
    message: (d) =>
      `Cannot read "${d}/train.jsonl" (tasks.sentiment.dataset in config "s.yaml"): line 2 is not valid JSON ` +
      `(Expected double-quoted property name in JSON at position 16 (line 1 column 17))`,
  },
  {
    name: "an empty tokenizer file",
    files: { "tokenizer.json": "" },
    call: (d) =>
      checkInput(`${d}/tokenizer.json`, "json", { field: "tasks.summarize.tokenizer", config: "s.yaml" }),
    field: "tasks.summarize.tokenizer",
    message: (d) =>
      `Cannot read "${d}/tokenizer.json" (tasks.summarize.tokenizer in config "s.yaml"): the file is empty (expected JSON)`,
  },
  {
    name: "a missing dataset",
    call: (d) =>
      checkInput(`${d}/missing.jsonl`, "jsonl", { field: "tasks.sentiment.dataset", config: "s.yaml" }),
    field: "tasks.sentiment.dataset",
    message: (d) =>
      `Cannot read "${d}/missing.jsonl" (tasks.sentiment.dataset in config "s.yaml"): no such file`,
  },
];

/** Every file under `dir` with its content: what "nothing was written" compares. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(`${e.name}/`, ...(await snapshot(p)).map((s) => `${e.name}/${s}`));
    else out.push(`${e.name}: ${await Deno.readTextFile(p).catch(() => "<binary>")}`);
  }
  return out.sort();
}

Deno.test("bad configs, flags, run folders and files: the error names the exact field, and nothing is written", async (t) => {
  assert.ok(CASES.length >= 15);
  const root = await Deno.makeTempDir({ prefix: "prefbench-config-" });
  try {
    for (const [i, c] of CASES.entries()) {
      await t.step(c.name, async () => {
        const d = `${root}/case-${i}`;
        await Deno.mkdir(`${d}/out`, { recursive: true });
        for (const [path, data] of Object.entries(c.files ?? {})) {
          await Deno.mkdir(`${d}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
          if (typeof data === "string") await Deno.writeTextFile(`${d}/${path}`, data);
          else await Deno.writeFile(`${d}/${path}`, data);
        }
        const before = await snapshot(d);
        const attempt = async (): Promise<void> => {
          if (c.call) {
            await c.call(d);
            return;
          }
          const args = c.args!(d);
          const flags = args.includes("--out") || args.includes("--resume")
            ? args
            : [...args, "--out", `${d}/out`];
          const prepared = await prepareRun(flags);
          // Some checks (a run folder's records) belong to the runner; they too come before any write.
          if (prepared) await runSuite(prepared.suite, prepared.tasks, { ...prepared.options, log: null });
        };
        await assert.rejects(attempt, (e: Error) => {
          assert.ok(e instanceof ConfigError, `${e.name}: ${e.message}`);
          assert.equal(e.message, c.message(d));
          assert.equal(e.field, c.field);
          return true;
        });
        assert.deepEqual(await snapshot(d), before, "nothing was written");
        assert.deepEqual([...Deno.readDirSync(`${d}/out`)], [], "the output folder is still empty");
      });
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a bad config on the command line exits with 2 before anything runs", async () => {
  const d = await Deno.makeTempDir({ prefix: "prefbench-config-" });
  try {
    await Deno.writeTextFile(`${d}/s.yaml`, "tasks: [bandit.ood]\nalgorithms: { dpo: { beta: -1 } }\n");
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../bench/cli.ts", import.meta.url).pathname,
        "--suite",
        `${d}/s.yaml`,
        "--out",
        `${d}/out`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 2);
    assert.equal(
      new TextDecoder().decode(out.stderr).trim(),
      `Cannot parse config "${d}/s.yaml": algorithms.dpo.beta = -1 is not allowed (allowed: a number in (0, ∞))`,
    );
    await assert.rejects(Deno.stat(`${d}/out`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(d, { recursive: true });
  }
});
