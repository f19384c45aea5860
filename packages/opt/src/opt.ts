// The opt directory: where `ctr install` puts binaries and libraries of an image. Its
// bin/ and lib/ are created and put first on the daemon's PATH and LD_LIBRARY_PATH (so
// shims installed there are found), as containerd's opt service does.
import { mkdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** containerd-ts's own directory, so it never collides with a containerd beside it (`/opt/containerd`). */
export const DEFAULT_OPT_PATH = '/opt/containerd-ts';

export interface OptDirectory {
  readonly path: string;
  readonly bin: string;
  readonly lib: string;
}

const prepend = (dir: string, list: string | undefined) => (list ? `${dir}${delimiter}${list}` : dir);

/** Creates `<path>/bin` and `<path>/lib` (mode 0711) and puts them first on `env`'s PATH and LD_LIBRARY_PATH. */
export async function prepareOpt(path: string, env: NodeJS.ProcessEnv = process.env): Promise<OptDirectory> {
  const bin = join(path, 'bin');
  const lib = join(path, 'lib');
  await mkdir(bin, { recursive: true, mode: 0o711 });
  await mkdir(lib, { recursive: true, mode: 0o711 });
  // containerd appends its separator even to an empty list ("bin:"); a trailing empty entry means the cwd, so not here
  env.PATH = prepend(bin, env.PATH);
  env.LD_LIBRARY_PATH = prepend(lib, env.LD_LIBRARY_PATH);
  return { path, bin, lib };
}
