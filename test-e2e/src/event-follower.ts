// `ctr events` (or ctr-ts events) running in the background, for tests that compare the
// events two daemons publish for the same actions.
import { type ChildProcess, spawn } from 'node:child_process';

/** `ctr events` (or ctr-ts events) running in the background, its lines collected. */
export class EventFollower {
  readonly lines: string[] = [];
  private readonly child: ChildProcess;
  private partial = '';

  constructor(command: string, socket: string, filters: string[]) {
    this.child = spawn(command, ['-a', socket, 'events', ...filters], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (d: Buffer) => {
      const parts = (this.partial + d.toString()).split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts);
    });
  }

  async waitFor(text: string, ms = 5000): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (this.lines.some((l) => l.includes(text))) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  /** The lines without Go's timestamp (`2006-01-02 15:04:05.999 +0000 UTC `) and without sync markers. */
  events(): string[] {
    return this.lines
      .filter((l) => !l.includes('sync-marker'))
      .map((l) => l.replace(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)? \+0000 UTC /, ''));
  }

  stop(): void {
    this.child.kill('SIGTERM');
  }
}
