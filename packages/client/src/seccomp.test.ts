import { describe, expect, it } from 'vitest';
import { defaultSeccompProfile } from './seccomp.js';

const spec = (bounding: string[]) => ({ ociVersion: '1', process: { user: { uid: 0, gid: 0 }, cwd: '/', capabilities: { bounding } } });

describe("containerd's default seccomp profile", () => {
  it('allows the base syscalls, this architecture, and restricts clone without CAP_SYS_ADMIN', () => {
    const p = defaultSeccompProfile(spec(['CAP_CHOWN']), 'amd64', '6.1.0-18-amd64');
    expect(p.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(p.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    expect(p.syscalls?.[0]?.names).toContain('read');
    expect(p.syscalls?.[0]?.names).toHaveLength(349);
    expect(p.syscalls?.map((s) => s.names[0])).toEqual(['accept', 'personality', 'personality', 'personality', 'personality', 'personality', 'ptrace', 'arch_prctl', 'clone', 'clone3']);
    expect(p.syscalls?.at(-2)?.args).toEqual([{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]);
    expect(p.syscalls?.at(-1)).toEqual({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
  });

  it('adds syscalls per capability in bounding order; CAP_SYS_ADMIN lifts the clone rules; old kernels get no ptrace', () => {
    const p = defaultSeccompProfile(spec(['CAP_SYS_PTRACE', 'CAP_SYS_ADMIN']), 's390x', '4.4.0');
    expect(p.syscalls?.map((s) => s.names[0])).toEqual(['accept', 'personality', 'personality', 'personality', 'personality', 'personality', 's390_pci_mmio_read', 'kcmp', 'bpf']);
  });
});
