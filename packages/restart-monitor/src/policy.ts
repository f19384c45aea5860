// containerd's restart labels and restart policies: `containerd.io/restart.status` and the
// log labels as containerd 1.6 reads them, `containerd.io/restart.policy` (`no`, `always`,
// `on-failure[:N]`, `unless-stopped`) with its count, as containerd 1.7 added them.

export const StatusLabel = 'containerd.io/restart.status';
export const LogURILabel = 'containerd.io/restart.loguri';
/** Deprecated since containerd 1.5 in favour of the log URI, still honoured. */
export const LogPathLabel = 'containerd.io/restart.logpath';
export const PolicyLabel = 'containerd.io/restart.policy';
export const CountLabel = 'containerd.io/restart.count';
export const ExplicitlyStoppedLabel = 'containerd.io/restart.explicitly-stopped';

export interface RestartPolicy {
  readonly name: 'always' | 'no' | 'unless-stopped' | 'on-failure';
  /** on-failure's maximum restarts; 0 = unlimited. */
  readonly maximumRetryCount: number;
}

/** Parses a policy label as containerd 1.7's NewPolicy (empty = `always`), with its errors. */
export function parsePolicy(policy: string): RestartPolicy {
  const parts = policy.split(':');
  const name = parts[0] ?? '';
  switch (name) {
    case '':
    case 'always':
    case 'no':
    case 'unless-stopped':
      if (parts.length > 1) throw new Error(`restart policy "${name}" not support max retry count`);
      return { name: name === '' ? 'always' : name, maximumRetryCount: 0 };
    case 'on-failure': {
      let maximumRetryCount = 0;
      if (parts.length > 1) {
        const raw = parts[1] ?? '';
        // Go's strconv.Atoi: an optional sign and decimal digits only
        if (!/^[+-]?\d+$/.test(raw)) throw new Error(`invalid max retry count: ${raw}`);
        maximumRetryCount = Number(raw);
      }
      return { name, maximumRetryCount };
    }
    default:
      throw new Error(`restart policy "${policy}" not supported`);
  }
}

export function formatPolicy(p: RestartPolicy): string {
  return p.name === 'on-failure' && p.maximumRetryCount !== 0 ? `${p.name}:${p.maximumRetryCount}` : p.name;
}

/** The task's last state as the monitor sees it (exit status 0 when there is no task). */
export interface ObservedStatus {
  readonly exitStatus: number;
}

/**
 * Whether a container whose desired status is `running` and whose task is not is
 * restarted, as containerd 1.7's restart.Reconcile decides. A bad policy label is an
 * error logged by the caller, and no restart.
 */
export function shouldRestart(status: ObservedStatus, labels: Readonly<Record<string, string>>): boolean {
  const policy = parsePolicy(labels[PolicyLabel] ?? '');
  switch (policy.name) {
    case 'always':
      return true;
    case 'on-failure': {
      const raw = labels[CountLabel] ?? '';
      if (raw !== '' && !/^[+-]?\d+$/.test(raw)) throw new Error(`strconv.Atoi: parsing ${JSON.stringify(raw)}: invalid syntax`);
      const count = raw === '' ? 0 : Number(raw);
      return status.exitStatus !== 0 && (policy.maximumRetryCount === 0 || count < policy.maximumRetryCount);
    }
    case 'unless-stopped':
      return !['1', 't', 'T', 'TRUE', 'true', 'True'].includes(labels[ExplicitlyStoppedLabel] ?? '');
    case 'no':
      return false;
  }
}
