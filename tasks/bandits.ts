/**
 * Bandit task definitions: parsing `tasks/bandits.yaml` into bandits, their policy family and their
 * preference data. Generated tables (rewards, π_ref logits) come from the task's own seed, so every
 * cell of every run sees the same bandit; preference data come from the cell seed's "data" stream.
 *
 * @module
 */
import { parse } from "npm:yaml@2.9.1";
import { Rng } from "../engine/rng.ts";
import type { Bandit, Feedback, PreferencePairs } from "../envs/bandit.ts";
import { FEEDBACKS, labelPairs, makeBandit, samplePairs } from "../envs/bandit.ts";
import type { Features } from "../models/loglinear.ts";
import { linearScorer, logLinearPolicy } from "../models/loglinear.ts";
import type { TablePolicy, TableScorer } from "../models/tabular.ts";
import { tabularPolicy, tabularScorer } from "../models/tabular.ts";

/** The policy families a bandit task may ask for. */
export const POLICY_FAMILIES = ["tabular", "loglinear"] as const;
/** A policy family. */
export type PolicyFamily = typeof POLICY_FAMILIES[number];

/** A bandit task: the environment, its policy family and where its preference pairs come from. */
export interface BanditTask {
  /** Task name, as suites and the CLI write it. */
  readonly name: string;
  /** One line for listings (empty where the task file gives none). */
  readonly description: string;
  /** The contextual bandit: its reward table, π_ref and feedback. */
  readonly bandit: Bandit;
  /** The policy family trained on it (`tabular` or `loglinear`). */
  readonly policy: PolicyFamily;
  /** φ(x, y), for the log-linear family (and the linear reward model). */
  readonly features: Features | null;
  /** Explicit unordered pairs `[x, y₁, y₂]`, or a number of pairs drawn from π_ref. */
  readonly pairs: { readonly explicit: readonly (readonly [number, number, number])[] } | {
    readonly sample: number;
  };
}

/** The embedded task file. */
export const BANDIT_TASKS_URL = new URL("./bandits.yaml", import.meta.url);

/** Parses a bandit task file (default: the embedded one). Errors name the file, the task and the field. */
export async function loadBanditTasks(url: URL = BANDIT_TASKS_URL): Promise<Map<string, BanditTask>> {
  return parseBanditTasks(await Deno.readTextFile(url), displayPath(url));
}

/** Parses bandit task YAML text; `file` is only used in error messages. */
export function parseBanditTasks(text: string, file: string): Map<string, BanditTask> {
  const fail = (why: string): never => {
    throw new SyntaxError(`Cannot parse tasks "${file}": ${why}`);
  };
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    fail(e instanceof Error ? e.message.split("\n")[0]! : String(e));
  }
  if (!isRecord(doc)) return fail("the file must be a mapping from task names to definitions");
  const out = new Map<string, BanditTask>();
  for (const [name, def] of Object.entries(doc)) {
    try {
      out.set(name, parseTask(name, def));
    } catch (e) {
      fail(`${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return out;
}

const KEYS = [
  "description",
  "actions",
  "contexts",
  "seed",
  "reference",
  "reward",
  "feedback",
  "pairs",
  "policy",
  "features",
];

function parseTask(name: string, def: unknown): BanditTask {
  if (!isRecord(def)) throw new Error("a task definition must be a mapping");
  for (const k of Object.keys(def)) {
    if (!KEYS.includes(k)) throw new Error(`unknown field "${k}" (known: ${KEYS.join(", ")})`);
  }
  const actionNames = Array.isArray(def.actions)
    ? def.actions.map(String)
    : Array.from({ length: positiveInt("actions", def.actions) }, (_, i) => `y${i + 1}`);
  if (new Set(actionNames).size !== actionNames.length) throw new Error("action names must be distinct");
  const k = actionNames.length;
  const x = def.contexts === undefined ? 1 : positiveInt("contexts", def.contexts);
  const seed = def.seed === undefined ? 0 : nonNegativeInt("seed", def.seed);

  const reward = isRecord(def.reward) && "normal" in def.reward
    ? gaussianTable(
      x,
      k,
      positive("reward.normal", def.reward.normal),
      Rng.stream(seed, "task", name, "reward"),
    )
    : table("reward", def.reward, x, k);
  const reference = def.reference === "uniform"
    ? Array.from({ length: x }, () => new Array<number>(k).fill(1))
    : isRecord(def.reference) && "logits_normal" in def.reference
    ? gaussianTable(
      x,
      k,
      positive("reference.logits_normal", def.reference.logits_normal),
      Rng.stream(seed, "task", name, "reference"),
    ).map((row) => row.map(Math.exp))
    : table("reference", def.reference, x, k);
  const feedback = def.feedback as Feedback;
  if (!FEEDBACKS.includes(feedback)) {
    throw new Error(`feedback "${def.feedback}" is not known (known: ${FEEDBACKS.join(", ")})`);
  }
  const bandit = makeBandit({ actionNames, reward, refProbs: reference, feedback });

  const policy = (def.policy ?? "tabular") as PolicyFamily;
  if (!POLICY_FAMILIES.includes(policy)) {
    throw new Error(`policy "${def.policy}" is not known (known: ${POLICY_FAMILIES.join(", ")})`);
  }
  const features = def.features === undefined ? null : parseFeatures(def.features, x, k);
  if (policy === "loglinear" && !features) throw new Error("a loglinear policy needs features");

  const action = (v: unknown) => {
    const i = typeof v === "number" ? v : actionNames.indexOf(String(v)); // a name or a 0-based index
    if (!(i >= 0 && i < k && Number.isInteger(i))) {
      throw new Error(`pairs: unknown action ${JSON.stringify(v)} (known: ${actionNames.join(", ")})`);
    }
    return i;
  };
  let pairs: BanditTask["pairs"];
  if (typeof def.pairs === "number") pairs = { sample: positiveInt("pairs", def.pairs) };
  else if (Array.isArray(def.pairs) && def.pairs.length > 0) {
    pairs = {
      explicit: def.pairs.map((p): [number, number, number] => {
        if (!Array.isArray(p) || (p.length !== 2 && p.length !== 3)) {
          throw new Error(
            `pairs: each entry must be [y1, y2] or [context, y1, y2], got ${JSON.stringify(p)}`,
          );
        }
        const c = p.length === 3 ? nonNegativeInt("pairs context", p[0]) : 0;
        if (c >= x) throw new Error(`pairs: context ${c} is outside [0, ${x})`);
        const [y1, y2] = p.slice(-2).map(action) as [number, number];
        if (y1 === y2) {
          throw new Error(`pairs: a pair must compare two different actions, got ${JSON.stringify(p)}`);
        }
        return [c, y1, y2];
      }),
    };
  } else throw new Error("pairs must be a positive count or a non-empty list of pairs");

  return {
    name,
    description: typeof def.description === "string" ? def.description : "",
    bandit,
    policy,
    features,
    pairs,
  };
}

/** The policy a task trains, initialized at π_ref. */
export function taskPolicy(task: BanditTask): TablePolicy {
  const b = task.bandit;
  if (task.policy === "loglinear") {
    return logLinearPolicy({ refLogProbs: b.refLogProbs, features: task.features! });
  }
  return tabularPolicy({ contexts: b.contexts, actions: b.actions, initLogits: b.refLogProbs });
}

/** The reward model a task fits for proxy rewards: linear in the task's features if it has them. */
export function taskScorer(task: BanditTask): TableScorer {
  if (task.features) return linearScorer({ features: task.features });
  return tabularScorer({ contexts: task.bandit.contexts, actions: task.bandit.actions });
}

/** The labelled preference dataset of one cell seed (explicit pairs are labelled by the feedback). */
export function taskPairs(task: BanditTask, rng: Rng): PreferencePairs {
  return "sample" in task.pairs
    ? samplePairs(task.bandit, task.pairs.sample, rng)
    : labelPairs(task.bandit, task.pairs.explicit, rng);
}

function parseFeatures(v: unknown, x: number, k: number): Features {
  if (!Array.isArray(v) || v.length !== x) throw new Error(`features must have ${x} context rows`);
  const rows = v.map((row) => {
    if (!Array.isArray(row) || row.length !== k) {
      throw new Error(`features: each context needs ${k} action rows`);
    }
    return row.map((f) => {
      if (!Array.isArray(f) || f.some((e) => typeof e !== "number" || !Number.isFinite(e))) {
        throw new Error("features: each φ(x, y) must be a list of finite numbers");
      }
      return f as number[];
    });
  });
  const dims = rows[0]![0]!.length;
  if (dims < 1 || rows.some((r) => r.some((f) => f.length !== dims))) {
    throw new Error("features: every φ(x, y) must have the same (non-zero) length");
  }
  return { contexts: x, actions: k, dims, values: rows.flat(2) };
}

function table(field: string, v: unknown, x: number, k: number): number[][] {
  const ok = Array.isArray(v) && v.length === x &&
    v.every((r) => Array.isArray(r) && r.length === k && r.every((e) => typeof e === "number"));
  if (!ok) throw new Error(`${field} must be a [${x}][${k}] table of numbers (contexts × actions)`);
  return v as number[][];
}

function gaussianTable(x: number, k: number, std: number, rng: Rng): number[][] {
  return Array.from({ length: x }, () => Array.from({ length: k }, () => rng.normal() * std));
}

function positiveInt(field: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new Error(`${field} = ${JSON.stringify(v)} (must be an integer ≥ 1)`);
  }
  return v;
}

function nonNegativeInt(field: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    throw new Error(`${field} = ${JSON.stringify(v)} (must be an integer ≥ 0)`);
  }
  return v;
}

function positive(field: string, v: unknown): number {
  if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) {
    throw new Error(`${field} = ${JSON.stringify(v)} (must be a number > 0)`);
  }
  return v;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A file URL as a path relative to the working directory where possible (for messages). */
export function displayPath(url: URL): string {
  const p = url.protocol === "file:" ? decodeURIComponent(url.pathname) : url.href;
  const cwd = Deno.cwd() + "/";
  return p.startsWith(cwd) ? p.slice(cwd.length) : p;
}
