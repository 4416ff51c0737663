/**
 * PyTorch for the oracle tests: {@link findTorch} (shared with the performance benchmarks, which need it
 * outside the tests) and running a Python script on a JSON document.
 */
export { findTorch } from "../perf/mod.ts";

/** Runs a Python script with a JSON document on stdin and parses the JSON it prints. */
export async function runPythonJson(
  python: string,
  script: string,
  input: unknown,
  args: string[] = [],
): Promise<unknown> {
  const child = new Deno.Command(python, {
    args: [script, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(input)));
  await w.close();
  const out = await child.output();
  if (!out.success) throw new Error(`${script} failed:\n${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
