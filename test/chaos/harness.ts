/**
 * The chaos rig: a private Redis with AOF that can be killed and restarted
 * (test/private-redis.ts), and a fleet of real `viber-bulk worker` processes under a supervisor
 * that restarts any that exit (as a container restart policy would), so that kill -9 and halts
 * can be thrown at them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export { PrivateRedis } from '../private-redis.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

interface Member {
  proc: ChildProcess;
  exited: Promise<number | null>;
  /** What this process wrote (stdout and stderr), for a report on it alone. */
  out: string;
}

/** How a worker process ended: its exit code, or the signal that ended it. */
export type Exit = number | `signal ${string}`;

export class WorkerFleet {
  private readonly members: Member[] = [];
  private stopping = false;
  logs = '';
  restarts = 0;
  /** Exit codes of workers that ended on their own or by a signal we sent. */
  readonly exits: Array<number | null> = [];

  constructor(
    private readonly size: number,
    private readonly env: Record<string, string>,
    private readonly args: string[],
  ) {}

  start(): void {
    this.stopping = false;
    for (let i = 0; i < this.size; i++) this.members[i] = this.spawnOne(i);
  }

  private spawnOne(slot: number): Member {
    const proc = spawn(process.execPath, [CLI, 'worker', ...this.args], {
      env: { ...process.env, ...this.env, LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const member = { proc, out: '' } as Member;
    const take = (d: Buffer): void => {
      this.logs += d.toString();
      member.out += d.toString();
    };
    proc.stdout?.on('data', take);
    proc.stderr?.on('data', take);
    const exited = new Promise<number | null>((resolve) =>
      proc.once('exit', (code) => {
        this.exits.push(code);
        resolve(code);
        // The supervisor: bring it back, like `restart: unless-stopped`.
        if (!this.stopping) {
          this.restarts++;
          setTimeout(() => {
            if (!this.stopping) this.members[slot] = this.spawnOne(slot);
          }, 300);
        }
      }),
    );
    member.exited = exited;
    return member;
  }

  /** kill -9 one worker (it is restarted by the supervisor). */
  kill9(slot: number): void {
    this.members[slot]?.proc.kill('SIGKILL');
  }

  /** SIGTERM to all; resolves with how long the slowest took to exit, and how each ended. */
  async stop(): Promise<{ ms: number; exits: Exit[] }> {
    this.stopping = true;
    const started = Date.now();
    const live = this.members.filter((m) => m.proc.exitCode === null && m.proc.signalCode === null);
    for (const m of live) m.proc.kill('SIGTERM');
    // Bounded: a worker that never exits fails its test with where it stopped, well before
    // Jest's timeout would fail it with nothing.
    const all = Promise.all(live.map((m) => m.exited));
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      all.then(() => false),
      new Promise<true>((resolve) => (timer = setTimeout(() => resolve(true), 30_000))),
    ]);
    clearTimeout(timer);
    if (late) {
      const stuck = live.filter((m) => m.proc.exitCode === null && m.proc.signalCode === null);
      const report = stuck.map(
        (m) =>
          `worker ${m.proc.pid} (${m.out.length} bytes of output), its last lines:\n` +
          m.out.trimEnd().split('\n').slice(-25).join('\n'),
      );
      throw new Error(`did not exit 30 s after SIGTERM:\n${report.join('\n')}`);
    }
    const exits = live.map((m): Exit => m.proc.exitCode ?? `signal ${String(m.proc.signalCode)}`);
    return { ms: Date.now() - started, exits };
  }

  /** Last resort in afterAll: SIGKILL to every member still alive; resolves once all exited. */
  async killAll(): Promise<void> {
    this.stopping = true;
    const live = this.members.filter((m) => m.proc.exitCode === null && m.proc.signalCode === null);
    for (const m of live) m.proc.kill('SIGKILL');
    await Promise.all(live.map((m) => m.exited));
  }
}
