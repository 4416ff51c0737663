/**
 * The error of bad input: a config, a flag or a file that a run or a report reads. It lives beside the
 * results reader because reading a `results.json` throws it too, so the bench and the reports catch one
 * type and print its message alone.
 *
 * @module
 */

/**
 * A bad config, flag or input file, found before anything ran; `field` says where.
 *
 * @example
 * ```ts
 * throw new ConfigError('Cannot parse config "tasks/x.yaml": unknown algorithm "dpp" (known: dpo, ipo)', "algorithms.dpp");
 * ```
 */
export class ConfigError extends Error {
  override name = "ConfigError";
  /**
   * Where the problem is: a dotted path in a config (`algorithms.dpo.beta`, `tasks[1]`), a flag
   * (`--threads`), or `line:column` for YAML that does not parse.
   */
  readonly field: string;

  constructor(message: string, field: string) {
    super(message);
    this.field = field;
  }
}
