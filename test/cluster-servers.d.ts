import type { ChildProcess } from 'node:child_process';

/** See cluster-servers.js. */
export function startClusterServers(
  masters: number,
  dir: string,
): Promise<{ ports: number[]; procs: ChildProcess[] }>;
