/** Runs the real CLI bundle (dist/cli.js, built by test/global-setup.ts) as a user would, on a state root. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export type CliResult = { code: number | null; stdout: string; stderr: string };

/** `berth ARGS` with BERTH_ROOT=root, `input` on its stdin; resolves with its exit code and output. */
export function runBerth(root: string, args: string[], input?: string, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { env: { ...process.env, BERTH_ROOT: root, ...env }, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
    child.stdin!.on('error', () => {});
    child.stdin!.end(input);
  });
}

/** `berth ARGS` that must succeed silently on stderr; its stdout. */
export async function berthOk(root: string, args: string[], input?: string): Promise<string> {
  const r = await runBerth(root, args, input);
  expect(r.stderr, `berth ${args.join(' ')}`).toBe('');
  expect(r.code, `berth ${args.join(' ')}`).toBe(0);
  return r.stdout;
}
