/**
 * A redis-server of a test's own, on its own port and folder (AOF on), for tests that kill,
 * restart, freeze or replicate it — never the shared test Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisAnswers } from '../src/redis.js';

export class PrivateRedis {
  private proc: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'vb-redis-'));

  /** `args`: more redis-server arguments (`--replicaof host port`, say). */
  constructor(
    readonly port: number,
    private readonly args: string[] = [],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.proc = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'everysec',
        '--save',
        '',
        '--maxmemory-policy',
        'noeviction',
        ...this.args,
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100; i++) {
      if (await redisAnswers(this.url)) return;
      await sleep(50);
    }
    throw new Error(`private redis-server on ${this.port} did not start`);
  }

  /** kill -9: whatever it had written to its AOF is all it keeps. */
  async kill9(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGKILL');
    await exited;
  }

  /** SIGSTOP freezes it (connections stay open, nothing is answered); SIGCONT thaws it. */
  signal(sig: 'SIGSTOP' | 'SIGCONT'): void {
    this.proc?.kill(sig);
  }

  async restart(downMs: number): Promise<void> {
    await this.kill9();
    await sleep(downMs);
    await this.start();
  }

  /** Stops it (kill -9; a frozen one is thawed first so that it can die) and removes its files. */
  async stop(): Promise<void> {
    this.signal('SIGCONT');
    await this.kill9();
    this.removeFiles();
  }

  /** Its data folder (AOF), once it is stopped. */
  private removeFiles(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
