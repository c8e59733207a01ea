/** The caps of the config reader (read-file.ts), set by `ANOMSTACK_CONFIG_MAX_*` (env.ts). */
export interface ReadLimits {
  /** Bytes of one batch YAML, defaults.yaml or included file. @defaultValue 1 MiB */
  maxFileBytes: number;
  /** Re-used anchors (`*alias` of a list or mapping) in one YAML document. @defaultValue 100 */
  maxAliases: number;
  /** Nodes (scalars, list items, mapping entries) of a parsed document, aliases expanded. @defaultValue 100,000 */
  maxNodes: number;
  /** `{% include %}`s resolved for one file, nested ones counted. @defaultValue 100 */
  maxIncludes: number;
  /** Bytes all the includes of one file bring in. @defaultValue 4 MiB */
  maxIncludedBytes: number;
}

export const DEFAULT_READ_LIMITS: ReadLimits = {
  maxFileBytes: 1024 * 1024,
  maxAliases: 100,
  maxNodes: 100_000,
  maxIncludes: 100,
  maxIncludedBytes: 4 * 1024 * 1024,
};
