// `--platform` values as ctr's commands parse them: each with containerd's platforms.Parse,
// a bad one reported in the command's own words (they differ from command to command).
import { type Platform, parsePlatform } from '@containerd-ts/client';
import { CommandError } from './context.js';

/** Each value parsed; a bad one fails as `<describe(value)>: <why>`. */
export function parsePlatformFlags(values: readonly string[], describe: (value: string) => string): Platform[] {
  return values.map((value) => {
    try {
      return parsePlatform(value);
    } catch (err) {
      throw new CommandError(`${describe(value)}: ${(err as Error).message}`);
    }
  });
}
