import assert from "node:assert/strict";
import { duration, Progress } from "./progress.ts";
import type { CellRecord } from "../results/mod.ts";
import type { Cell } from "./suite.ts";

const cell = (index: number, series = "dpo"): Cell => ({
  index,
  id: `bandit.ood/dpo/beta=0.1/seed=${index}`,
  task: "bandit.ood",
  algorithm: "dpo",
  knob: "beta",
  knobValue: 0.1,
  series,
  hparams: { beta: 0.1 },
  seed: index,
});

const record = (c: Cell, ok = true): CellRecord => ({
  id: c.id,
  task: c.task,
  algorithm: c.algorithm,
  series: c.series,
  knob: c.knob,
  knobValue: c.knobValue,
  hparams: c.hparams,
  seed: c.seed,
  status: ok ? "ok" : "failed",
  ...(ok ? {} : { error: "loss is NaN at step 3" }),
  checkpoints: ok ? [{ step: 10, kl: 0.25, reward: 0.5, winRate: 0.6, wallSeconds: 1, metrics: {} }] : [],
  wallSeconds: 2,
});

Deno.test("plain progress (not a terminal): one line per finished cell with done/total, reward, KL and ETA", () => {
  let now = 0;
  const lines: string[] = [];
  const p = new Progress({ total: 12, done: 2, log: (l) => lines.push(l), clock: () => now });
  const a = cell(2), b = cell(3, "dpo label_smoothing=0.1");
  p.start(a);
  p.step(5);
  p.checkpoint(0.25, 0.5);
  now = 4;
  p.finish(a, record(a));
  p.start(b);
  now = 8;
  p.finish(b, record(b, false));
  assert.deepEqual(lines, [
    "[ 3/12] bandit.ood  dpo  beta=0.1  seed=2  2.00s  reward 0.500  KL 0.250  (elapsed 4.0s, ETA 36.0s)",
    "[ 4/12] bandit.ood  dpo [label_smoothing=0.1]  beta=0.1  seed=3  2.00s  (elapsed 8.0s, ETA 32.0s)  FAILED: loss is NaN at step 3",
  ]);
});

Deno.test("live progress (a terminal): one line rewritten in place, throttled; failures and messages stay", () => {
  let now = 0;
  const lines: string[] = [], writes: string[] = [];
  const p = new Progress({
    total: 4,
    done: 0,
    log: (l) => lines.push(l),
    live: (t) => writes.push(t),
    clock: () => now,
  });
  const a = cell(0);
  p.start(a);
  assert.equal(writes.at(-1), "\r\x1b[2K[0/4]   0%  bandit.ood dpo beta=0.1 seed=0  ETA …");
  now = 0.05;
  p.step(7);
  assert.equal(writes.length, 1, "a step within 0.1 s of the last redraw is not drawn");
  now = 0.5;
  p.checkpoint(0.25, 0.5);
  assert.equal(
    writes.at(-1),
    "\r\x1b[2K[0/4]   0%  bandit.ood dpo beta=0.1 seed=0  step 7  reward 0.500 KL 0.250  ETA …",
  );
  now = 1;
  p.finish(a, record(a));
  assert.deepEqual(lines, [], "a finished ok cell leaves no line on a terminal");
  assert.equal(writes.at(-1), "\r\x1b[2K[1/4]  25%  ETA 3.0s");
  p.start(cell(1));
  now = 2;
  p.finish(cell(1), record(cell(1), false));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^\[2\/4\] .* FAILED: loss is NaN at step 3$/);
  const n = writes.length;
  p.clear();
  assert.equal(writes.length, n + 1);
  assert.equal(writes.at(-1), "\r\x1b[2K");
  p.clear();
  assert.equal(writes.length, n + 1, "clearing twice writes once");
});

Deno.test("the live line is cut to the terminal's width, since a wrapped line cannot be rewritten", () => {
  const writes: string[] = [];
  const p = new Progress({
    total: 4,
    done: 0,
    log: () => {},
    live: (t) => writes.push(t),
    columns: () => 20,
  });
  p.start(cell(0));
  assert.equal(writes.at(-1), "\r\x1b[2K[0/4]   0%  bandit…");
  assert.equal(writes.at(-1)!.length - "\r\x1b[2K".length, 19);
});

Deno.test("durations read as seconds, minutes or hours", () => {
  assert.equal(duration(4.25), "4.3s");
  assert.equal(duration(187), "3m07s");
  assert.equal(duration(3725), "1h02m");
});

Deno.test("the ETA is by work: each cell left at its kind's measured time, a lower bound while a kind is untimed", () => {
  let now = 0;
  const lines: string[] = [];
  const text = (index: number): Cell => ({
    ...cell(index),
    id: `sentiment.small/dpo/beta=0.05/seed=${index}`,
    task: "sentiment.small",
  });
  const bandits = [cell(0), cell(1), cell(2)], texts = [text(0), text(1)];
  const p = new Progress({
    total: 5,
    done: 0,
    remaining: [...bandits, ...texts],
    log: (l) => lines.push(l),
    clock: () => now,
  });
  const run = (c: Cell, seconds: number) => {
    p.start(c);
    now += seconds;
    p.finish(c, { ...record(c), wallSeconds: seconds });
  };
  run(bandits[0]!, 0.5);
  run(bandits[1]!, 0.3);
  // One bandit cell left at their mean (0.4 s), and two text cells no text cell has timed yet.
  assert.deepEqual(p.eta(), { seconds: 0.4, untimed: 2 });
  assert.match(lines.at(-1)!, /ETA ≥ 0\.4s \(\+2 cells not yet timed\)\)$/);
  run(bandits[2]!, 0.4);
  run(texts[0]!, 60);
  // Counting cells would say one fifth of 61.2 s; by work it is one more text cell.
  assert.deepEqual(p.eta(), { seconds: 60, untimed: 0 });
  assert.match(lines.at(-1)!, /ETA 1m00s\)$/);
  // The cell in progress counts what it has left; two workers share the work.
  p.start(texts[1]!);
  now += 45;
  assert.deepEqual(p.eta(), { seconds: 15, untimed: 0 });
  const shared = new Progress({
    total: 2,
    done: 0,
    remaining: texts,
    log: () => {},
    workers: 2,
    clock: () => 0,
  });
  shared.finish(texts[0]!, { ...record(texts[0]!), wallSeconds: 60 });
  assert.deepEqual(shared.eta(), { seconds: 30, untimed: 0 });
});
