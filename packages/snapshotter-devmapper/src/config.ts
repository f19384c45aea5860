// The devmapper snapshotter's configuration checks, as containerd's devmapper.Config:
// parse (base image size with docker/go-units' RAMInBytes, ext4 as the default file
// system) then validate, collecting every problem in one go-multierror style message.

export interface DevmapperConfig {
  root_path: string;
  pool_name: string;
  base_image_size: string;
  async_remove: boolean;
  discard_blocks: boolean;
  fs_type: string;
  fs_options: string;
}

/** A config after parsing: the base image size in bytes and a file-system type. */
export interface ParsedDevmapperConfig extends DevmapperConfig {
  baseImageSizeBytes: number;
}

const binaryUnits: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** Parses a size such as `10GB`, `512Mi` or `1.5 g` with binary units, as go-units' RAMInBytes. */
export function ramInBytes(size: string): number {
  const m = /^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(size);
  if (!m) throw new Error(`invalid size: '${size}'`);
  const number = m[1] ?? '';
  if (!/^\d+(\.\d+)?$/.test(number)) throw new Error(`strconv.ParseFloat: parsing ${JSON.stringify(number)}: invalid syntax`);
  const mul = binaryUnits[(m[3] ?? '').toLowerCase()] ?? 1;
  return Math.trunc(Number(number) * mul);
}

/** go-multierror's message for a list of errors. */
function multiError(errors: readonly string[]): string {
  const head = errors.length === 1 ? '1 error occurred:' : `${errors.length} errors occurred:`;
  return `${head}\n\t${errors.map((e) => `* ${e}`).join('\n\t')}\n\n`;
}

/** Parses then validates, throwing containerd's messages. */
export function parseDevmapperConfig(config: DevmapperConfig): ParsedDevmapperConfig {
  let baseImageSizeBytes: number;
  try {
    baseImageSizeBytes = ramInBytes(config.base_image_size);
  } catch (err) {
    throw new Error(`failed to parse base image size: '${config.base_image_size}': ${(err as Error).message}`);
  }
  const parsed: ParsedDevmapperConfig = { ...config, fs_type: config.fs_type || 'ext4', baseImageSizeBytes };
  const problems: string[] = [];
  if (parsed.pool_name === '') problems.push('pool_name is required');
  if (parsed.root_path === '') problems.push('root_path is required');
  if (parsed.base_image_size === '') problems.push('base_image_size is required');
  if (parsed.fs_type !== 'ext4' && parsed.fs_type !== 'xfs') problems.push(`unsupported Filesystem Type: ${JSON.stringify(parsed.fs_type)}`);
  if (problems.length > 0) throw new Error(multiError(problems));
  return parsed;
}
