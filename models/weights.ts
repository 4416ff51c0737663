/**
 * A weights file: named float tensors and a JSON header, checked on read.
 *
 * Layout (little-endian):
 * ```
 * "PBWEIGHT"        8 bytes, the magic
 * version           u32 (= 1)
 * header length H   u32
 * header            H bytes of UTF-8 JSON: { meta, tensors: [{ name, dtype, shape, offset, bytes }], sha256 }
 * padding           zeros to a multiple of 8 bytes
 * data              the tensors' raw bytes; `offset` counts from the start of the data
 * ```
 * `sha256` is the hex digest of the data, so a truncated or corrupted file is an error naming the file,
 * never silently wrong weights.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { dirname } from "node:path";

/** The magic bytes at the start of a weights file. */
export const WEIGHTS_MAGIC = "PBWEIGHT";
/** The format version this code writes and reads. */
export const WEIGHTS_VERSION = 1;

/** Tensors a weights file holds. */
export type WeightMap = ReadonlyMap<string, Float32Array | Float64Array>;

interface TensorEntry {
  name: string;
  dtype: "float32" | "float64";
  shape: number[];
  offset: number;
  bytes: number;
}

/** What is stored beside the tensors. */
export interface WeightsOptions {
  /** Each tensor's shape (checked against its length). */
  shapes: ReadonlyMap<string, readonly number[]>;
  /** Any JSON-able value (configs, metrics). */
  meta?: unknown;
}

/** A decoded weights file. */
export interface Weights {
  readonly tensors: Map<string, Float32Array | Float64Array>;
  /** The JSON the writer stored beside the tensors (configs, metrics). */
  readonly meta: unknown;
}

/**
 * Serializes tensors (with their shapes, for checking) and a JSON-able `meta`.
 *
 * @example
 * ```ts
 * const w = new Map([["w", Float32Array.of(1, 2)]]);
 * const bytes = encodeWeights(w, { shapes: new Map([["w", [2]]]), meta: { step: 3 } });
 * decodeWeights(bytes, "memory").tensors.get("w"); // Float32Array [1, 2]
 * ```
 */
export function encodeWeights(tensors: WeightMap, options: WeightsOptions): Uint8Array {
  const { shapes, meta } = options;
  const entries: TensorEntry[] = [];
  let offset = 0;
  for (const [name, v] of tensors) {
    const shape = shapes.get(name);
    if (!shape || shape.reduce((a, d) => a * d, 1) !== v.length) {
      throw new RangeError(
        `encodeWeights: "${name}" has ${v.length} values, not the shape ${JSON.stringify(shape)}`,
      );
    }
    entries.push({
      name,
      dtype: v instanceof Float64Array ? "float64" : "float32",
      shape: [...shape],
      offset,
      bytes: v.byteLength,
    });
    offset += align8(v.byteLength);
  }
  const data = new Uint8Array(offset);
  let i = 0;
  for (const v of tensors.values()) {
    data.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), entries[i++]!.offset);
  }
  const header = new TextEncoder().encode(
    JSON.stringify({ meta, tensors: entries, sha256: createHash("sha256").update(data).digest("hex") }),
  );
  const start = align8(16 + header.length);
  const out = new Uint8Array(start + data.length);
  out.set(new TextEncoder().encode(WEIGHTS_MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, WEIGHTS_VERSION, true);
  view.setUint32(12, header.length, true);
  out.set(header, 16);
  out.set(data, start);
  return out;
}

/** Parses and checks a weights file's bytes; `source` names it in errors. */
export function decodeWeights(bytes: Uint8Array, source: string): Weights {
  const fail = (why: string): never => {
    throw new Error(`Cannot read weights "${source}": ${why}`);
  };
  if (bytes.length < 16 || new TextDecoder().decode(bytes.subarray(0, 8)) !== WEIGHTS_MAGIC) {
    fail(`not a prefbench weights file (no "${WEIGHTS_MAGIC}" magic)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== WEIGHTS_VERSION) fail(`format version ${version} (this code reads ${WEIGHTS_VERSION})`);
  const hlen = view.getUint32(12, true);
  if (16 + hlen > bytes.length) {
    fail(`the header (${hlen} bytes) runs past the end of the file (${bytes.length} bytes)`);
  }
  let header: { meta: unknown; tensors: TensorEntry[]; sha256: string };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + hlen)));
  } catch (e) {
    return fail(`unreadable header (${e instanceof Error ? e.message : e})`);
  }
  const start = align8(16 + hlen);
  const entries = Array.isArray(header.tensors) ? header.tensors : fail("the header lists no tensors");
  const size = entries.reduce((end, t) => Math.max(end, t.offset + align8(t.bytes)), 0);
  if (bytes.length !== start + size) {
    fail(`${bytes.length} bytes, but the header describes ${start + size} (truncated or padded)`);
  }
  const data = bytes.slice(start); // a copy, 8-byte aligned, so typed views are valid
  if (createHash("sha256").update(data).digest("hex") !== header.sha256) {
    fail("the data does not match its checksum");
  }
  const tensors = new Map<string, Float32Array | Float64Array>();
  for (const t of entries) {
    const width = t.dtype === "float64"
      ? 8
      : t.dtype === "float32"
      ? 4
      : fail(`"${t.name}" has dtype ${t.dtype}`);
    const n = t.shape.reduce((a, d) => a * d, 1);
    if (n * width !== t.bytes) fail(`"${t.name}" holds ${t.bytes} bytes, not shape [${t.shape.join(",")}]`);
    const Ctor = t.dtype === "float64" ? Float64Array : Float32Array;
    tensors.set(t.name, new Ctor(data.buffer, t.offset, n));
  }
  return { tensors, meta: header.meta };
}

/** Writes a weights file atomically (a temporary file renamed into place), creating its folder. */
export async function saveWeights(path: string, tensors: WeightMap, options: WeightsOptions): Promise<void> {
  await writeAtomic(path, encodeWeights(tensors, options));
}

/** Reads and checks a weights file; errors name the file. */
export async function loadWeights(path: string): Promise<Weights> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(
      `Cannot read weights "${path}": ${e instanceof Deno.errors.NotFound ? "no such file" : e}`,
    );
  }
  return decodeWeights(bytes, path);
}

/** Writes bytes to `path` through a temporary file in the same folder, so readers never see half a file. */
export async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}
