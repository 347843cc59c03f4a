import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hasCommand } from './harness.ts';

/** Whether a dockerd answers the docker CLI (at `host`, else where DOCKER_HOST or the default socket says). */
export function dockerReachable(host?: string): boolean {
  try {
    execFileSync('docker', [...(host ? ['-H', host] : []), 'version', '--format', '{{.Server.Version}}'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Why Docker cannot be a peer here, or undefined when a dockerd answers. */
export function dockerUnavailable(): string | undefined {
  if (!hasCommand('docker')) return 'docker is not installed';
  if (!dockerReachable()) return 'no dockerd is reachable (start one with `dockerd --iptables=false &` to include it)';
  return undefined;
}

/** The docker CLI's output (trimmed); throws with its stderr on failure. */
export function docker(args: string[], options: { host?: string; timeout?: number } = {}): string {
  return execFileSync('docker', [...(options.host ? ['-H', options.host] : []), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: options.timeout ?? 120_000,
  }).trim();
}

export interface Dockerd {
  host: string;
  stop(): Promise<void>;
}

/**
 * A dockerd of the benchmark's own, with private data and exec roots under `dir` and no
 * iptables or bridge (it must not touch the host's network), answering at `host`; stop() ends
 * it (and the containerd it supervises).
 */
export async function startDockerd(dir: string, extraArgs: string[] = []): Promise<Dockerd> {
  await mkdir(dir, { recursive: true });
  const host = `unix://${join(dir, 'docker.sock')}`;
  const child: ChildProcess = spawn(
    'dockerd',
    [
      '--iptables=false',
      '--bridge=none',
      ...extraArgs,
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      join(dir, 'dockerd.pid'),
      '--host',
      host,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`dockerd exited with ${child.exitCode}: ${stderr.trim()}`);
    if (dockerReachable(host)) return { host, stop };
    await sleep(100);
  }
  await stop();
  throw new Error(`dockerd did not answer within 30 s: ${stderr.trim()}`);
}
