/**
 * Bad input, caught before any cell starts: the checks on files a run reads (a suite, a dataset, an
 * ONNX model, a tokenizer) and on the folder it writes, each throwing a {@link ConfigError}. A
 * message names the file, the field that pointed at it, the value and what is allowed, in the form
 * `Cannot parse config "tasks/x.yaml": unknown algorithm "dpp" (known: dpo, ipo, ...)`.
 *
 * @module
 */
import onnxProto from "npm:onnx-proto@8.0.1";
import { parse as parseYaml } from "npm:yaml@2.9.1";
import { ConfigError } from "../results/mod.ts";

/** What a referenced file must hold. */
export type InputKind = "onnx" | "json" | "jsonl" | "yaml" | "text";

/** Where a path came from, for messages: the field that named it and the file that field is in. */
export interface InputRef {
  /** `tasks.sentiment.classifier`, `--suite`, ... */
  readonly field: string;
  /** The config file holding the field (omit for command-line flags). */
  readonly config?: string;
}

/** A file a run reads, checked: its bytes, and what it parsed to (JSON value, lines, YAML document). */
export interface CheckedInput {
  readonly path: string;
  readonly bytes: Uint8Array;
  /** JSON/YAML: the document; JSONL: one value per non-empty line; ONNX and text: the text or null. */
  readonly value: unknown;
}

/**
 * Checks that a file a config refers to exists, is a readable regular file, is not empty and parses as
 * `kind`; throws a {@link ConfigError} naming the path and the field that referred to it.
 *
 * @example
 * ```ts
 * await checkInput("data/train.jsonl", "jsonl", { field: "tasks.sentiment.dataset", config: "suite.yaml" });
 * // ConfigError: Cannot read "data/train.jsonl" (tasks.sentiment.dataset in config "suite.yaml"):
 * //   line 3 is not valid JSON (Unexpected token ...)
 * ```
 */
export async function checkInput(path: string, kind: InputKind, ref: InputRef): Promise<CheckedInput> {
  const where = ref.config ? `${ref.field} in config "${ref.config}"` : ref.field;
  const fail = (why: string): never => {
    throw new ConfigError(`Cannot read "${path}" (${where}): ${why}`, ref.field);
  };
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    return fail(e instanceof Deno.errors.NotFound ? "no such file" : osReason(e));
  }
  if (!info.isFile) fail(info.isDirectory ? "it is a directory, not a file" : "it is not a regular file");
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    return fail(osReason(e));
  }
  if (bytes.length === 0) fail(`the file is empty (expected ${DESCRIBE[kind]})`);
  return { path, bytes, value: parseInput(bytes, kind, fail) };
}

const DESCRIBE: Record<InputKind, string> = {
  onnx: "an ONNX model",
  json: "JSON",
  jsonl: "JSON lines",
  yaml: "YAML",
  text: "UTF-8 text",
};

function parseInput(bytes: Uint8Array, kind: InputKind, fail: (why: string) => never): unknown {
  if (kind === "onnx") {
    let model: onnxProto.onnx.ModelProto;
    try {
      model = onnxProto.onnx.ModelProto.decode(bytes);
    } catch (e) {
      return fail(`it is not an ONNX model (${firstLine(e)})`);
    }
    // Protobuf decoding accepts many byte strings; a model also needs an IR version, an opset and a graph.
    if (!Number(model.irVersion) || model.opsetImport.length === 0 || !model.graph?.node?.length) {
      fail("it is not an ONNX model (no IR version, opset or graph nodes)");
    }
    return null;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return fail(`it is not UTF-8 text (expected ${DESCRIBE[kind]})`);
  }
  switch (kind) {
    case "text":
      return text;
    case "json":
      try {
        return JSON.parse(text);
      } catch (e) {
        return fail(`it is not valid JSON (${firstLine(e)})`);
      }
    case "jsonl":
      return text.split("\n").flatMap((line, i) => {
        if (!line.trim()) return [];
        try {
          return [JSON.parse(line)];
        } catch (e) {
          return fail(`line ${i + 1} is not valid JSON (${firstLine(e)})`);
        }
      });
    case "yaml":
      try {
        return parseYaml(text);
      } catch (e) {
        return fail(`it is not valid YAML (${yamlReason(e)})`);
      }
  }
}

/**
 * Checks, without leaving a trace, that runs can be written under `dir`: if it exists it must be a
 * writable folder; if not, its nearest existing ancestor must be, so `mkdir -p` will succeed.
 */
export async function checkOutputDir(dir: string, field = "--out"): Promise<void> {
  const fail = (why: string): never => {
    throw new ConfigError(`Cannot write runs to "${dir}" (${field}): ${why}`, field);
  };
  let probe = dir;
  for (;;) {
    try {
      const info = await Deno.stat(probe);
      if (!info.isDirectory) {
        fail(probe === dir ? "it is not a folder" : `"${probe}" is not a folder`);
      }
      break;
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      // NotADirectory: a file sits somewhere up the path; walking up finds it and names it.
      if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory)) {
        return fail(osReason(e));
      }
      const parent = parentOf(probe);
      if (parent === probe) return fail("no part of the path exists");
      probe = parent;
    }
  }
  // Permission bits do not tell (root ignores them; read-only mounts do not show): try.
  try {
    const tmp = await Deno.makeTempDir({ dir: probe, prefix: ".prefbench-write-check-" });
    await Deno.remove(tmp);
  } catch (e) {
    fail(`${probe === dir ? "the folder" : `"${probe}"`} is not writable (${osReason(e)})`);
  }
}

/** The first line of a YAML error with its position: `line 2, column 8: ...`. */
export function yamlReason(e: unknown): string {
  const pos = (e as { linePos?: { line: number; col: number }[] }).linePos?.[0];
  const msg = firstLine(e).replace(/ at line \d+, column \d+:?$/, "");
  return pos ? `line ${pos.line}, column ${pos.col}: ${msg}` : msg;
}

/** `line:column` of a YAML error, when it has one. */
export function yamlPosition(e: unknown): string | null {
  const pos = (e as { linePos?: { line: number; col: number }[] }).linePos?.[0];
  return pos ? `${pos.line}:${pos.col}` : null;
}

function parentOf(p: string): string {
  const trimmed = p.replace(/\/+$/, "");
  const i = trimmed.lastIndexOf("/");
  if (i < 0) return ".";
  return i === 0 ? "/" : trimmed.slice(0, i);
}

function osReason(e: unknown): string {
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.NotADirectory) return "a part of the path is not a folder";
  return firstLine(e).replace(/ \(os error \d+\).*$/, "");
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0]!.trim();
}
