import fs from 'node:fs';
import path from 'node:path';
import { CORE_SCHEMA, floatCoreTag, intCoreTag, load as parseYamlText, NOT_RESOLVED, Schema } from 'js-yaml';
import { DEFAULT_READ_LIMITS, type ReadLimits } from './read-limits.js';

// Apart from the reader, so the process settings (env.ts) get them without loading js-yaml.
export { DEFAULT_READ_LIMITS, type ReadLimits };

/**
 * Reading config files without letting one hang or explode the loader, which runs inside every
 * service: only regular files under an allowed folder's real path, a size cap per file, a cap on
 * YAML aliases and on the expanded size of a parsed document, and an include budget per batch.
 */
export class ConfigReadError extends Error {
  override name = 'ConfigReadError';
}

/**
 * The text of `file`, which must be a regular file whose real path lies inside one of `roots`'
 * real paths (a symlink out of the folder, a FIFO, `/dev/zero` are refused) and at most
 * `maxBytes` long. Opened non-blocking, and checked on the open descriptor, so swapping the file
 * for a FIFO between the check and the read does not hang.
 */
export function readConfigFile(file: string, roots: readonly string[], maxBytes: number): string {
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch (error) {
    throw new ConfigReadError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const realRoots = roots.flatMap((root) => {
    try {
      return [fs.realpathSync(root)];
    } catch {
      return [];
    }
  });
  if (!realRoots.some((root) => isInside(real, root))) {
    throw new ConfigReadError(`${file} links outside ${roots.join(' and ')} (to ${real}); config files must lie inside it`);
  }
  let fd: number;
  try {
    fd = fs.openSync(real, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW);
  } catch (error) {
    throw new ConfigReadError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) {
      throw new ConfigReadError(`${file} is not a regular file (${kindOf(stat)}); config files must be regular files`);
    }
    if (stat.size > maxBytes) {
      throw new ConfigReadError(`${file} is ${stat.size} bytes, more than the ${maxBytes} a config file may have`);
    }
    // Read at most one byte past the cap: a file growing while read is refused too.
    const buffer = Buffer.alloc(Math.min(maxBytes + 1, stat.size + 1));
    let length = 0;
    for (;;) {
      const read = fs.readSync(fd, buffer, length, buffer.length - length, null);
      length += read;
      if (read === 0 || length === buffer.length) {
        break;
      }
    }
    if (length > maxBytes) {
      throw new ConfigReadError(`${file} is more than the ${maxBytes} bytes a config file may have`);
    }
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * YAML's core schema, but numbers are decimal only: `0x10`, `0o17`, `0b1`, `.nan` and `.inf` stay
 * strings, so a numeric key reports them ("must be a number, got "0x10"") instead of taking 16 or NaN.
 */
const NOT_DECIMAL = /^[-+]?(0[xob]|\.(nan|inf)$)/i;
type ScalarTag = typeof intCoreTag;
const decimalOnly = (tag: ScalarTag): ScalarTag => ({
  ...tag,
  resolve: (source: string, isExplicit: boolean, tagName: string) => (NOT_DECIMAL.test(source) ? NOT_RESOLVED : tag.resolve(source, isExplicit, tagName)),
});
export const CONFIG_YAML_SCHEMA = new Schema(
  CORE_SCHEMA.tags.map((tag) => (tag === intCoreTag ? decimalOnly(intCoreTag) : tag === floatCoreTag ? decimalOnly(floatCoreTag) : tag)),
);

/**
 * Parses YAML (CONFIG_YAML_SCHEMA), then walks the value once with aliases expanded, stopping as soon as it re-uses
 * more than `maxAliases` anchors or holds more than `maxNodes` nodes (string bytes count one node
 * per 64): a billion-laughs document is refused before anything serialises it.
 */
export function parseYamlLimited(text: string, file: string, limits: Pick<ReadLimits, 'maxAliases' | 'maxNodes'>): unknown {
  const parsed: unknown = parseYamlText(text, { filename: file, schema: CONFIG_YAML_SCHEMA });
  const seen = new Set<object>();
  let aliases = 0;
  let nodes = 0;
  const stack: unknown[] = [parsed];
  while (stack.length > 0) {
    const value = stack.pop();
    nodes += typeof value === 'string' ? 1 + Math.floor(value.length / 64) : 1;
    if (nodes > limits.maxNodes) {
      throw new ConfigReadError(`${file}: the YAML expands to more than ${limits.maxNodes} nodes (aliases expanded); a batch config is far smaller`);
    }
    if (typeof value !== 'object' || value === null || value instanceof Date) {
      continue;
    }
    if (seen.has(value)) {
      aliases += 1;
      if (aliases > limits.maxAliases) {
        throw new ConfigReadError(`${file}: the YAML uses aliases (*name) more than ${limits.maxAliases} times`);
      }
    }
    seen.add(value);
    stack.push(...(Array.isArray(value) ? value : Object.values(value)));
  }
  return parsed;
}

/** How many includes, and how many bytes, one file may still bring in. */
export interface IncludeBudget {
  includes: number;
  bytes: number;
  /** The overrun was reported once; later includes of the file are dropped without another problem. */
  spent: boolean;
}

export const includeBudget = (limits: Pick<ReadLimits, 'maxIncludes' | 'maxIncludedBytes'>): IncludeBudget => ({
  includes: limits.maxIncludes,
  bytes: limits.maxIncludedBytes,
  spent: false,
});

/** Takes one include of `bytes` from the budget, or says why it cannot. */
export function spendInclude(budget: IncludeBudget, bytes: number, limits: Pick<ReadLimits, 'maxIncludes' | 'maxIncludedBytes'>): string | null {
  if (budget.includes <= 0) {
    budget.spent = true;
    return `more than ${limits.maxIncludes} includes (files including each other?)`;
  }
  if (bytes > budget.bytes) {
    budget.spent = true;
    return `includes bring in more than ${limits.maxIncludedBytes} bytes (files including each other?)`;
  }
  budget.includes -= 1;
  budget.bytes -= bytes;
  return null;
}

export function isInside(file: string, dir: string): boolean {
  const relative = path.relative(dir, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

function kindOf(stat: fs.Stats): string {
  if (stat.isFIFO()) {
    return 'a FIFO';
  }
  if (stat.isCharacterDevice() || stat.isBlockDevice()) {
    return 'a device';
  }
  if (stat.isSocket()) {
    return 'a socket';
  }
  if (stat.isDirectory()) {
    return 'a directory';
  }
  return 'not a file';
}
