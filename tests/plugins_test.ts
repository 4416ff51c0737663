/**
 * The open registry end to end: the example plugin run from a folder outside the repository (by a
 * suite's `plugins:` and by `--plugin`, in one process and with `--jobs 2`), with the KL and reward of
 * its cells computed here by hand; plugins that cannot be used (a name collision, a syntax error, no
 * export, a malformed algorithm, a file changed before a resume), each an exit-2 error naming the file
 * with nothing written; and a script outside the repository that imports `mod.ts` by URL with no
 * config, registers an algorithm of its own and runs a suite.
 */
import assert from "node:assert/strict";
import { spawnBench, strip } from "./_cli.ts";
import { task } from "./_bandit.ts";

const EXAMPLE = new URL("../examples/uniform_mix.ts", import.meta.url);
const MOD = new URL("../mod.ts", import.meta.url);
const OUTSIDE_SCRIPT = new URL("./fixtures/outside_script.ts", import.meta.url);

/** A fresh folder outside the repository, with a space and a non-ASCII letter in its name. */
async function outside(): Promise<string> {
  const dir = `${await Deno.makeTempDir({ prefix: "prefbench-plugin-" })}/my plügins`;
  await Deno.mkdir(dir);
  return dir;
}

async function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await spawnBench(args).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function runDir(out: string): Promise<string> {
  const dirs: string[] = [];
  for await (const e of Deno.readDir(out)) if (e.isDirectory) dirs.push(`${out}/${e.name}`);
  assert.equal(dirs.length, 1, `one run folder in ${out}`);
  return dirs[0]!;
}

async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}

/** (1 − α)·π_ref + α·uniform on bandit.random: its exact KL and expected gold reward, by hand. */
function mixture(alpha: number): { kl: number; reward: number } {
  const b = task("bandit.random").bandit, k = b.actions;
  let kl = 0, reward = 0;
  for (let x = 0; x < b.contexts; x++) {
    for (let y = 0; y < k; y++) {
      const ref = Math.exp(b.refLogProbs[x * k + y]!);
      const q = (1 - alpha) * ref + alpha / k;
      kl += b.contextProbs[x]! * q * Math.log(q / ref);
      reward += b.contextProbs[x]! * q * b.reward[x * k + y]!;
    }
  }
  return { kl, reward };
}

const SUITE = `name: plugin-example
seeds: 2
plugins: [./uniform_mix.ts]
tasks: [bandit.random]
algorithms:
  uniform_mix: { alpha: [0, 0.3, 1] }
  dpo: { beta: 0.3, steps: 30 }
`;

Deno.test("the example plugin runs from a folder outside the repo; its cells have the hand-computed KL and reward", async (t) => {
  const dir = await outside();
  const plugin = `${dir}/uniform_mix.ts`;
  await Deno.copyFile(EXAMPLE, plugin);
  await Deno.writeTextFile(`${dir}/suite.yaml`, SUITE);

  let first = "";
  await t.step("by the suite's plugins: key", async () => {
    const r = await bench(["--suite", `${dir}/suite.yaml`, "--out", `${dir}/runs`]);
    assert.equal(r.code, 0, r.stderr);
    const run = await runDir(`${dir}/runs`);
    const results = JSON.parse(first = await Deno.readTextFile(`${run}/results.json`));
    const mixes = results.cells.filter((c: { algorithm: string }) => c.algorithm === "uniform_mix");
    assert.equal(mixes.length, 6); // 3 values × 2 seeds
    for (const c of mixes) {
      const want = mixture(c.knobValue), got = c.checkpoints.at(-1);
      assert.ok(Math.abs(got.kl - want.kl) < 1e-9, `α = ${c.knobValue}: KL ${got.kl} vs ${want.kl}`);
      assert.ok(Math.abs(got.reward - want.reward) < 1e-9, `α = ${c.knobValue}: reward ${got.reward}`);
    }
    assert.ok(mixture(1).kl > 0.1 && mixture(0).kl === 0, "the check separates the knob values");
    assert.ok(results.frontiers["bandit.random"]["uniform_mix"], "a frontier for the plugin's series");
    const manifest = JSON.parse(await Deno.readTextFile(`${run}/manifest.json`));
    const [ref] = manifest.suite.plugins;
    assert.equal(ref.path, plugin);
    assert.deepEqual(ref.algorithms, ["uniform_mix"]);
    const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(plugin)));
    assert.equal(ref.sha256, [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(""));
    assert.match(await Deno.readTextFile(`${run}/report.html`), /uniform_mix/);
  });

  await t.step(
    "with --jobs 2: the workers load the same plugin, and results.json is the same bytes",
    async () => {
      const r = await bench(["--suite", `${dir}/suite.yaml`, "--out", `${dir}/runs2`, "--jobs", "2"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        strip(await Deno.readTextFile(`${await runDir(`${dir}/runs2`)}/results.json`)),
        strip(first),
      );
    },
  );

  await t.step("by --plugin, as the README shows it", async () => {
    const r = await bench([
      "--plugin",
      plugin,
      "--algorithms",
      "uniform_mix,dpo",
      "--tasks",
      "bandit.random",
      "--seeds",
      "1",
      "--out",
      `${dir}/runs3`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const results = JSON.parse(await Deno.readTextFile(`${await runDir(`${dir}/runs3`)}/results.json`));
    const mix = results.cells.find((c: { algorithm: string }) => c.algorithm === "uniform_mix");
    assert.ok(Math.abs(mix.checkpoints[0].kl - mixture(0.5).kl) < 1e-9);
    const help = await bench(["--help", "--plugin", plugin]);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /uniform_mix \(inference-time\) \[plugin .*uniform_mix\.ts\]/);
  });
});

/** A plugin module's text: the example with its algorithm renamed. */
async function renamed(name: string): Promise<string> {
  return (await Deno.readTextFile(EXAMPLE)).replace('name: "uniform_mix"', `name: "${name}"`);
}

Deno.test("a plugin that cannot be used is an exit-2 error naming the file, before anything is written", async (t) => {
  const dir = await outside();
  const cases: { name: string; files: Record<string, string>; plugins: string[]; message: RegExp }[] = [
    {
      name: "a name that collides with a built-in",
      files: { "p.ts": await renamed("dpo") },
      plugins: ["p.ts"],
      message:
        /plugin ".*p\.ts".*algorithm "dpo" of plugin ".*p\.ts" collides with the one of the built-in registry/,
    },
    {
      name: "a name two plugins share",
      files: { "a.ts": await renamed("mix"), "b.ts": await renamed("mix") },
      plugins: ["a.ts", "b.ts"],
      message: /algorithm "mix" of plugin ".*b\.ts" collides with the one of plugin ".*a\.ts"/,
    },
    {
      name: "a syntax error",
      files: { "p.ts": "export const algorithms = [\n" },
      plugins: ["p.ts"],
      message: /Cannot load plugin ".*p\.ts" \(--plugin\): it does not load/,
    },
    {
      name: "no export",
      files: { "p.ts": "export const something = 1;\n" },
      plugins: ["p.ts"],
      message: /Cannot load plugin ".*p\.ts" \(--plugin\): it exports no "algorithms" and no "tasks"/,
    },
    {
      name: "an algorithm without a train function",
      files: { "p.ts": (await renamed("mix")).replace(/^\s+train,$/m, "") },
      plugins: ["p.ts"],
      message: /algorithms\[0\] \("mix"\) has no "train" function/,
    },
    {
      name: "a missing file",
      files: {},
      plugins: ["nowhere.ts"],
      message: /Cannot load plugin ".*nowhere\.ts" \(--plugin\): no such file/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const d = await Deno.makeTempDir({ dir });
      for (const [f, text] of Object.entries(c.files)) await Deno.writeTextFile(`${d}/${f}`, text);
      const r = await bench([
        ...c.plugins.flatMap((p) => ["--plugin", `${d}/${p}`]),
        "--tasks",
        "bandit.random",
        "--algorithms",
        "dpo",
        "--out",
        `${d}/runs`,
      ]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, c.message);
      assert.deepEqual(await listing(`${d}/runs`), []);
    });
  }
});

Deno.test("a resume refuses a plugin whose file changed since the run started, naming it, and leaves the run as it was", async () => {
  const dir = await outside();
  await Deno.copyFile(EXAMPLE, `${dir}/uniform_mix.ts`);
  await Deno.writeTextFile(`${dir}/suite.yaml`, SUITE.replace("seeds: 2", "seeds: 1"));
  const r = await bench(["--suite", `${dir}/suite.yaml`, "--out", `${dir}/runs`]);
  assert.equal(r.code, 0, r.stderr);
  const run = await runDir(`${dir}/runs`);
  const before = await Promise.all((await listing(run)).map((f) => Deno.readTextFile(`${run}/${f}`)));
  await Deno.writeTextFile(`${dir}/uniform_mix.ts`, "// edited\n", { append: true });
  const resumed = await bench(["--resume", run]);
  assert.equal(resumed.code, 2, resumed.stderr);
  assert.match(
    resumed.stderr,
    /Cannot load plugin ".*uniform_mix\.ts" \(plugins\[0\]\): the file changed since the run started/,
  );
  const after = await Promise.all((await listing(run)).map((f) => Deno.readTextFile(`${run}/${f}`)));
  assert.deepEqual(after, before);
});

Deno.test("a script outside the repo imports mod.ts by URL with no config, registers an algorithm and runs a suite", async () => {
  const dir = await outside();
  await Deno.copyFile(OUTSIDE_SCRIPT, `${dir}/script.ts`);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", `${dir}/script.ts`, MOD.href, `${dir}/runs`],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const line = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
  assert.equal(line.cells, 2);
  // All mass on action a of bandit.ipo-total-order (π_ref uniform over 3, r(a) = 1): KL = log 3.
  const b = task("bandit.ipo-total-order").bandit;
  assert.ok(Math.abs(line.always_first.kl - Math.log(3)) < 1e-12);
  assert.equal(line.always_first.reward, b.reward[0]);
  assert.ok(line.dpo.kl > 0);
  for (const f of ["manifest.json", "results.json", "results.jsonl", "report.html"]) {
    await Deno.stat(`${line.dir}/${f}`);
  }
});

const TASK_EXAMPLE = new URL("../examples/two_arms.ts", import.meta.url);

Deno.test("the example task plugin adds a bandit task built with the library's value exports, from a folder outside the repo", async () => {
  const dir = await outside();
  await Deno.copyFile(TASK_EXAMPLE, `${dir}/task.ts`);
  const r = await bench([
    "--plugin",
    `${dir}/task.ts`,
    "--tasks",
    "bandit.two-arms",
    "--algorithms",
    "dpo",
    "--seeds",
    "1",
    "--out",
    `${dir}/runs`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const results = JSON.parse(await Deno.readTextFile(`${await runDir(`${dir}/runs`)}/results.json`));
  const cells = results.cells.filter((c: { task: string }) => c.task === "bandit.two-arms");
  assert.ok(cells.length > 0);
  // DPO on deterministic good ≻ bad moves mass to "good": the reward rises above π_ref's 0.5.
  for (const c of cells) assert.ok(c.checkpoints.at(-1).reward > 0.5, `${c.id}`);
  assert.ok(results.oracle["bandit.two-arms"], "the oracle frontier of the plugin's task");

  // The same task from a second file: both files named.
  await Deno.copyFile(`${dir}/task.ts`, `${dir}/again.ts`);
  const clash = await bench([
    "--plugin",
    `${dir}/task.ts`,
    "--plugin",
    `${dir}/again.ts`,
    "--out",
    `${dir}/runs-clash`,
  ]);
  assert.equal(clash.code, 2, clash.stderr);
  assert.match(
    clash.stderr,
    /plugin ".*again\.ts".*task "bandit\.two-arms" collides with the one of plugin ".*task\.ts"/,
  );
  assert.deepEqual(await listing(`${dir}/runs-clash`), []);
});
