/**
 * Finding PyTorch: the peer of the performance benchmarks and the oracle of the gradient tests. The
 * product never depends on it: a benchmark leaves PyTorch's columns empty and a test that needs it is
 * ignored, with the reason printed, where it is missing.
 *
 * @module
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
