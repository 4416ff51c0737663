import assert from "node:assert/strict";
import { Rng } from "../engine/rng.ts";
import { loadBanditTasks, parseBanditTasks, taskPairs, taskPolicy } from "./bandits.ts";

Deno.test("the embedded bandit tasks: names, sizes, π_ref and the explicit preference data", async () => {
  const tasks = await loadBanditTasks();
  assert.deepEqual([...tasks.keys()], [
    "bandit.ipo-total-order",
    "bandit.ipo-single-pair",
    "bandit.ood",
    "bandit.random",
  ]);
  const total = tasks.get("bandit.ipo-total-order")!;
  const pairs = taskPairs(total, Rng.stream(0, "data", total.name));
  // Deterministic feedback on the gold order a > b > c: a≻b, b≻c, a≻c.
  assert.deepEqual([...pairs.chosen], [0, 1, 0]);
  assert.deepEqual([...pairs.rejected], [1, 2, 2]);
  const random = tasks.get("bandit.random")!;
  assert.equal(random.bandit.contexts * random.bandit.actions, 128);
  assert.equal(taskPairs(random, Rng.stream(0, "data", random.name)).x.length, 512);
  assert.equal(taskPolicy(tasks.get("bandit.ood")!).contexts, 1);
  // Generated tables come from the task seed alone: parsing again gives the same bandit.
  const again = await loadBanditTasks();
  assert.deepEqual(again.get("bandit.random")!.bandit, random.bandit);
});

Deno.test("task file errors name the file, the task and the field", () => {
  const bad = (body: string) => () => parseBanditTasks(`t:\n${body}`, "tasks/x.yaml");
  assert.throws(
    bad("  actions: [a, b]\n  reference: uniform\n  reward: [[1, 0]]\n  feedback: oracle\n  pairs: 3"),
    /Cannot parse tasks "tasks\/x\.yaml": t: feedback "oracle" is not known \(known: bradley_terry, deterministic\)/,
  );
  assert.throws(
    bad(
      "  actions: [a, b]\n  reference: uniform\n  reward: [[1, 0, 2]]\n  feedback: deterministic\n  pairs: 3",
    ),
    /t: reward must be a \[1\]\[2\] table/,
  );
  assert.throws(
    bad(
      "  actions: [a, b]\n  reference: uniform\n  reward: [[1, 0]]\n  feedback: deterministic\n  pairs: [[a, z]]",
    ),
    /t: pairs: unknown action "z" \(known: a, b\)/,
  );
  assert.throws(
    bad(
      "  actions: [a, b]\n  reference: uniform\n  reward: [[1, 0]]\n  feedback: deterministic\n  pairs: 3\n  policy: loglinear",
    ),
    /t: a loglinear policy needs features/,
  );
  assert.throws(bad("  colour: red"), /t: unknown field "colour"/);
});
