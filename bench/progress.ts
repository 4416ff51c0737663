/**
 * Progress on stderr. On a terminal: one live line, rewritten in place, with cells done/total, the
 * current cell, its step, the last checkpoint's reward and KL, and an ETA; finished cells leave no
 * trace unless they failed. Elsewhere (CI logs, pipes): one plain line per finished cell, nothing
 * rewritten, so logs stay readable.
 *
 * The ETA is estimated by work, not by cell count: each remaining cell costs the mean wall time of the
 * finished cells of its kind (task × algorithm), or of its task where its algorithm has not run there
 * yet. A text cell costs a hundred bandit cells, so counting cells would read "98%, ETA 1s" with
 * minutes of text cells to go; cells of a kind with no measurement yet make the ETA a lower bound,
 * shown as `ETA ≥ …` with how many cells are not yet timed.
 *
 * @module
 */
import type { CellRecord } from "../results/mod.ts";
import type { Cell } from "./suite.ts";

/** Where progress goes. */
export interface ProgressOptions {
  /** Cells in the plan. */
  readonly total: number;
  /** Cells already finished before this process started (a resume). */
  readonly done: number;
  /** Permanent lines (a newline is added). */
  readonly log: (line: string) => void;
  /** Raw writes for the live line; absent or null: plain mode. */
  readonly live?: ((text: string) => void) | null;
  /** Seconds since the run started in this process (injectable for tests). */
  readonly clock?: () => number;
  /** The terminal's width: the live line is cut to fit, since a wrapped line cannot be rewritten. */
  readonly columns?: () => number;
  /**
   * The cells still to run, for an ETA by work; without them the ETA is the pace of the cells run here
   * times the cells left.
   */
  readonly remaining?: readonly Cell[];
  /** Cells that run at once (worker processes): the work left is shared between them. */
  readonly workers?: number;
}

/** An ETA: seconds of work left, and how many cells left have no timed kind (the seconds then a lower bound). */
export interface Eta {
  readonly seconds: number;
  readonly untimed: number;
}

/** Live or plain progress of a run. */
export class Progress {
  readonly #o: ProgressOptions;
  readonly #clock: () => number;
  #done: number;
  #ranHere = 0;
  #cell: Cell | null = null;
  #step: number | null = null;
  #last: { kl: number; reward: number } | null = null;
  #shown = 0;
  #drawn = false;
  /** Cells left to run, by id (when the plan was given). */
  readonly #left: Map<string, Cell> | null;
  /** Wall seconds of finished cells, by kind (task × algorithm) and by task. */
  readonly #byKind = new Map<string, { sum: number; n: number }>();
  readonly #byTask = new Map<string, { sum: number; n: number }>();
  #cellStarted = 0;

  constructor(o: ProgressOptions) {
    this.#o = o;
    this.#done = o.done;
    this.#left = o.remaining ? new Map(o.remaining.map((c) => [c.id, c])) : null;
    const t0 = performance.now();
    this.#clock = o.clock ?? (() => (performance.now() - t0) / 1000);
  }

  /** A cell starts. */
  start(cell: Cell): void {
    this.#cell = cell;
    this.#cellStarted = this.#clock();
    this.#step = null;
    this.#last = null;
    this.#draw(true);
  }

  /** An optimizer step finished. */
  step(step: number): void {
    this.#step = step;
    this.#draw(false);
  }

  /** A checkpoint was evaluated. */
  checkpoint(kl: number, reward: number): void {
    this.#last = { kl, reward };
    this.#draw(false);
  }

  /** A cell finished (ok or failed) and its record is on disk. */
  finish(cell: Cell, rec: CellRecord): void {
    this.#done++;
    this.#ranHere++;
    this.#cell = null;
    this.#left?.delete(cell.id);
    for (const [map, key] of [[this.#byKind, kind(cell)], [this.#byTask, cell.task]] as const) {
      const m = map.get(key) ?? { sum: 0, n: 0 };
      map.set(key, { sum: m.sum + rec.wallSeconds, n: m.n + 1 });
    }
    if (!this.#o.live) this.#o.log(this.cellLine(cell, rec));
    else if (rec.status !== "ok") this.message(this.cellLine(cell, rec));
    else this.#draw(true);
  }

  /** A permanent line; on a terminal the live line is cleared first and redrawn after. */
  message(line: string): void {
    this.clear();
    this.#o.log(line);
    this.#draw(true);
  }

  /** Removes the live line (before the run's last lines). */
  clear(): void {
    if (this.#o.live && this.#drawn) this.#o.live("\r\x1b[2K");
    this.#drawn = false;
  }

  /**
   * The work left: with the plan, each remaining cell at the mean time of its kind (or task), the cell
   * in progress less its elapsed time, shared between the workers; without it, the pace of the cells run
   * in this process times the cells left. Null before any cell finished.
   */
  eta(): Eta | null {
    if (this.#ranHere === 0) return null;
    if (!this.#left) {
      return { seconds: (this.#clock() / this.#ranHere) * (this.#o.total - this.#done), untimed: 0 };
    }
    let seconds = 0, untimed = 0;
    for (const c of this.#left.values()) {
      const m = this.#byKind.get(kind(c)) ?? this.#byTask.get(c.task);
      if (!m) {
        untimed++;
        continue;
      }
      const running = this.#cell?.id === c.id ? this.#clock() - this.#cellStarted : 0;
      seconds += Math.max(m.sum / m.n - running, 0);
    }
    return { seconds: seconds / Math.max(1, this.#o.workers ?? 1), untimed };
  }

  /**
   * The plain line of a finished cell:
   * `[ 12/360] bandit.random  dpo  beta=0.1  seed=2  0.41s  reward 0.512  KL 0.231  (elapsed 12.3s, ETA 1m05s)`,
   * with `FAILED: <reason>` for a failed cell.
   */
  cellLine(cell: Cell, rec: CellRecord): string {
    const w = String(this.#o.total).length;
    const extra = cell.series === cell.algorithm ? "" : ` [${cell.series.slice(cell.algorithm.length + 1)}]`;
    const last = rec.checkpoints.at(-1);
    const metrics = last ? `  reward ${fmt(last.reward)}  KL ${fmt(last.kl)}` : "";
    const eta = etaText(this.eta());
    const status = rec.status === "ok" ? "" : `  FAILED: ${rec.error}`;
    return `[${String(this.#done).padStart(w)}/${this.#o.total}] ${cell.task}  ${cell.algorithm}${extra}  ` +
      `${cell.knob}=${cell.knobValue}  seed=${cell.seed}  ${rec.wallSeconds.toFixed(2)}s${metrics}  ` +
      `(elapsed ${duration(this.#clock())}${eta === null ? "" : `, ${eta}`})${status}`;
  }

  /** The live line. */
  liveLine(): string {
    const w = String(this.#o.total).length;
    const pct = ((100 * this.#done) / Math.max(1, this.#o.total)).toFixed(0).padStart(3);
    const c = this.#cell;
    const cell = c ? `  ${c.task} ${c.series} ${c.knob}=${c.knobValue} seed=${c.seed}` : "";
    const step = c && this.#step !== null ? `  step ${this.#step}` : "";
    const last = c && this.#last ? `  reward ${fmt(this.#last.reward)} KL ${fmt(this.#last.kl)}` : "";
    return `[${String(this.#done).padStart(w)}/${this.#o.total}] ${pct}%${cell}${step}${last}` +
      `  ${etaText(this.eta()) ?? "ETA …"}`;
  }

  #draw(force: boolean): void {
    const live = this.#o.live;
    if (!live) return;
    // Redrawing on every step would spend more time on the terminal than on bandit training.
    const now = this.#clock();
    if (!force && now - this.#shown < 0.1) return;
    this.#shown = now;
    const line = this.liveLine(), width = this.#o.columns?.() ?? Infinity;
    live(`\r\x1b[2K${line.length < width ? line : `${line.slice(0, Math.max(0, width - 2))}…`}`);
    this.#drawn = true;
  }
}

function kind(c: Cell): string {
  return JSON.stringify([c.task, c.algorithm]);
}

/** `ETA 1m05s`, or `ETA ≥ 1m05s (+18 cells not yet timed)`; null when nothing is timed yet. */
function etaText(eta: Eta | null): string | null {
  if (eta === null) return null;
  if (eta.untimed === 0) return `ETA ${duration(eta.seconds)}`;
  return `ETA ≥ ${duration(eta.seconds)} (+${eta.untimed} cell${eta.untimed === 1 ? "" : "s"} not yet timed)`;
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toFixed(3) : String(v);
}

/** `4.2s`, `3m07s`, `1h02m`. */
export function duration(s: number): string {
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}
