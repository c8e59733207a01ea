import { MODEL_NAMES } from './registry.js';
import type { FittedModel } from './types.js';

/**
 * Binary model format, version 1:
 *   "AMDL" | u8 version | 3 zero bytes | u32 LE header length | JSON header | zero padding to 8 | arrays
 * The JSON header holds the FittedModel with each typed array replaced by {"$a": kind, "o": byte offset
 * into the array section, "n": length}, and each non-finite number by {"$n": "Infinity" | "-Infinity" | "NaN"}.
 * Arrays are little-endian, as typed arrays are on every platform Node runs on.
 */
const MAGIC = 'AMDL';
const VERSION = 1;
const PREFIX_BYTES = 12;

const ARRAY_KINDS = {
  f64: Float64Array,
  f32: Float32Array,
  i32: Int32Array,
  u32: Uint32Array,
  u8: Uint8Array,
} as const;
type ArrayKind = keyof typeof ARRAY_KINDS;
type TypedArray = InstanceType<(typeof ARRAY_KINDS)[ArrayKind]>;

function kindOf(value: unknown): ArrayKind | null {
  for (const [kind, ctor] of Object.entries(ARRAY_KINDS)) {
    if (value instanceof ctor) {
      return kind as ArrayKind;
    }
  }
  return null;
}

const align8 = (n: number): number => Math.ceil(n / 8) * 8;

export function encodeModel(m: FittedModel): Buffer {
  const arrays: { offset: number; array: TypedArray }[] = [];
  let size = 0;
  const replace = (value: unknown): unknown => {
    const kind = kindOf(value);
    if (kind !== null) {
      const array = value as TypedArray;
      const ref = { $a: kind, o: size, n: array.length };
      arrays.push({ offset: size, array });
      size = align8(size + array.byteLength);
      return ref;
    }
    if (typeof value === 'number' && !Number.isFinite(value)) {
      return { $n: String(value) };
    }
    if (Array.isArray(value)) {
      return value.map(replace);
    }
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replace(v)]));
    }
    return value;
  };
  const header = Buffer.from(JSON.stringify(replace(m)), 'utf8');
  const arraysStart = align8(PREFIX_BYTES + header.length);
  const out = Buffer.alloc(arraysStart + size);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt8(VERSION, 4);
  out.writeUInt32LE(header.length, 8);
  header.copy(out, PREFIX_BYTES);
  for (const { offset, array } of arrays) {
    out.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), arraysStart + offset);
  }
  return out;
}

export function decodeModel(b: Buffer): FittedModel {
  const fail = (why: string): never => {
    throw new Error(`not a valid anomstack model: ${why}`);
  };
  if (b.length < PREFIX_BYTES || b.toString('latin1', 0, 4) !== MAGIC) {
    fail('missing AMDL header');
  }
  const version = b.readUInt8(4);
  if (version !== VERSION) {
    fail(`format version ${version} is not supported (this build reads ${VERSION})`);
  }
  const headerLength = b.readUInt32LE(8);
  if (PREFIX_BYTES + headerLength > b.length) {
    fail('truncated header');
  }
  let header: unknown;
  try {
    header = JSON.parse(b.toString('utf8', PREFIX_BYTES, PREFIX_BYTES + headerLength));
  } catch {
    fail('corrupt JSON header');
  }
  const arraysStart = align8(PREFIX_BYTES + headerLength);
  const revive = (value: unknown): unknown => {
    if (Array.isArray(value)) {
      return value.map(revive);
    }
    if (typeof value !== 'object' || value === null) {
      return value;
    }
    const record = value as Record<string, unknown>;
    if (typeof record['$n'] === 'string') {
      return Number(record['$n']);
    }
    if (typeof record['$a'] === 'string') {
      const ctor = ARRAY_KINDS[record['$a'] as ArrayKind];
      const offset = record['o'];
      const length = record['n'];
      if (ctor === undefined || !Number.isInteger(offset) || !Number.isInteger(length)) {
        return fail('bad array reference');
      }
      const start = arraysStart + (offset as number);
      const bytes = (length as number) * ctor.BYTES_PER_ELEMENT;
      if ((offset as number) < 0 || (length as number) < 0 || start + bytes > b.length) {
        return fail('array outside the buffer (truncated?)');
      }
      // Copy: the source Buffer may be a pooled slice with an unaligned offset.
      const copy = new Uint8Array(bytes);
      copy.set(b.subarray(start, start + bytes));
      return new ctor(copy.buffer);
    }
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, revive(v)]));
  };
  const model = revive(header) as Partial<FittedModel>;
  if (typeof model.modelName !== 'string' || !(MODEL_NAMES as readonly string[]).includes(model.modelName)) {
    fail(`unknown model name ${JSON.stringify(model.modelName)}`);
  }
  if (typeof model.d !== 'number' || !Number.isInteger(model.d) || model.d < 1) {
    fail('bad feature count');
  }
  if (typeof model.trainMin !== 'number' || typeof model.trainMax !== 'number' || typeof model.modelTag !== 'string') {
    fail('missing score range or tag');
  }
  if (typeof model.params !== 'object' || model.params === null || typeof model.state !== 'object' || model.state === null) {
    fail('missing params or state');
  }
  return model as FittedModel;
}
