// ctr-ts oci spec: the default OCI runtime spec as containerd's oci.GenerateSpec writes it for
// an empty container in the current namespace (no daemon needed).
import { defaultSpec, formatSpec } from '@containerd-ts/client';
import type { Command } from '../cli.js';
import { globalOptions } from '../context.js';

const specCommand: Command = {
  name: 'spec',
  usage: 'see the output of the default OCI spec',
  action(ctx) {
    ctx.out(`${formatSpec(defaultSpec(globalOptions(ctx).namespace, ''))}\n`);
  },
};

export const ociCommand: Command = {
  name: 'oci',
  usage: 'OCI tools',
  subcommands: [specCommand],
};
