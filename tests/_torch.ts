/**
 * Finding PyTorch for the oracle tests and benchmarks. The product never depends on it: tests that
 * need it are ignored, with the reason printed, where it is missing.
 */

/** The interpreter to use: $PREFBENCH_PYTHON, else Debian's /usr/bin/python3, else python3 on PATH. */
const CANDIDATES = [Deno.env.get("PREFBENCH_PYTHON"), "/usr/bin/python3", "python3"].filter((
  p,
): p is string => !!p);

/** A Python with torch importable, or null with the reason. */
export async function findTorch(): Promise<{ python: string | null; reason: string }> {
  const tried: string[] = [];
  for (const python of CANDIDATES) {
    try {
      const out = await new Deno.Command(python, {
        args: ["-c", "import torch; print(torch.__version__)"],
        stdout: "piped",
        stderr: "piped",
      })
        .output();
      if (out.success) return { python, reason: "" };
      tried.push(`${python}: cannot import torch`);
    } catch {
      tried.push(`${python}: not found`);
    }
  }
  return {
    python: null,
    reason: `PyTorch is not installed (${tried.join("; ")}); install Debian's python3-torch`,
  };
}

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
