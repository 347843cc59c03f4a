/** `berth events` of the real CLI bundle: Docker's line format, filters, --format, and past events from another process. */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxArchive } from './helpers/busybox-archive.ts';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
let root: string;

function berth(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, BERTH_ROOT: root, TZ: 'UTC' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  root = mkdtempSync('/var/tmp/berth-cli-events-');
  await writeFile(join(root, 'busybox.tar'), await busyboxArchive());
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('berth events', () => {
  it("prints what other berth processes did, as the docker CLI prints events", async () => {
    const since = String(Math.floor(Date.now() / 1000));
    expect((await berth(['load', '-i', join(root, 'busybox.tar')])).code).toBe(0);
    expect((await berth(['run', '--rm', '--name', 'ev', '-l', 'tier=web', 'busybox', 'true'])).code).toBe(0);
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const all = await berth(['events', '--since', since, '--until', until]);
    expect(all.code).toBe(0);
    const lines = all.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z image load sha256:[0-9a-f]{64} \(name=sha256:[0-9a-f]{64}\)$/);
    const container = lines.filter((l) => / container /.test(l)).map((l) => l.split(' ')[2]);
    expect(container).toEqual(['create', 'start', 'die', 'destroy']);
    expect(lines.find((l) => / container die /.test(l))).toMatch(/ \(exitCode=0, image=busybox, name=ev, tier=web\)$/);

    const filtered = await berth(['events', '--since', since, '--until', until, '--filter', 'event=die', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}']);
    expect(filtered).toEqual({ code: 0, stdout: 'container die ev\n', stderr: '' });
    const json = await berth(['events', '--since', since, '--until', until, '--filter', 'type=container', '--format', '{{json .}}']);
    expect(JSON.parse(json.stdout.split('\n')[0]!)).toMatchObject({ Type: 'container', Action: 'create', scope: 'local' });
    expect((await berth(['events', '--filter', 'nope=1', '--until', until])).stderr).toBe("Error: invalid filter 'nope'\n");
  });
});
