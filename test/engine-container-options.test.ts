import { describe, expect, it } from 'vitest';
import { mergeEnv, parseMemory } from '../core/container/create.ts';
import { parseTime } from '../core/container/lifecycle/container-io.ts';
import { parseRestartPolicy, restartDelay, shouldRestart } from '../core/container/lifecycle/restart-policy.ts';
import { parseSignal } from '../core/container/lifecycle/signals.ts';

describe("Docker's run option syntax", () => {
  it('parses memory sizes as Docker does (binary units) and refuses bad ones', () => {
    expect(parseMemory('32m')).toBe(32 * 1024 * 1024);
    expect(parseMemory('1g')).toBe(1024 ** 3);
    expect(parseMemory('1.5k')).toBe(1536);
    expect(parseMemory('100')).toBe(100);
    expect(parseMemory('64MB')).toBe(64 * 1024 * 1024);
    expect(() => parseMemory('12q')).toThrow("invalid size: '12q'");
  });

  it('parses restart policies and applies them as Docker does', () => {
    expect(parseRestartPolicy('no')).toEqual({ Name: 'no' });
    expect(parseRestartPolicy('on-failure')).toEqual({ Name: 'on-failure', MaximumRetryCount: 0 });
    expect(parseRestartPolicy('on-failure:2')).toEqual({ Name: 'on-failure', MaximumRetryCount: 2 });
    expect(() => parseRestartPolicy('always:3')).toThrow("maximum retry count cannot be used with restart policy 'always'");
    expect(() => parseRestartPolicy('sometimes')).toThrow('invalid restart policy format');
    const twice = parseRestartPolicy('on-failure:2');
    expect([0, 1, 2].map((n) => shouldRestart(twice, 1, n, false))).toEqual([true, true, false]);
    expect(shouldRestart(twice, 0, 0, false)).toBe(false);
    expect(shouldRestart({ Name: 'always' }, 0, 99, false)).toBe(true);
    expect(shouldRestart({ Name: 'always' }, 0, 0, true)).toBe(false);
    expect(restartDelay(undefined, 0)).toBe(100);
    expect(restartDelay(100, 50)).toBe(200);
    expect(restartDelay(40_000, 50)).toBe(60_000);
    expect(restartDelay(800, 10_000)).toBe(100);
  });

  it('parses signals by name, short name and number', () => {
    expect(parseSignal('SIGTERM')).toEqual({ name: 'SIGTERM', number: 15 });
    expect(parseSignal('hup')).toEqual({ name: 'SIGHUP', number: 1 });
    expect(parseSignal('9')).toEqual({ name: 'SIGKILL', number: 9 });
    expect(() => parseSignal('NOPE')).toThrow('Invalid signal: NOPE');
  });

  it('merges env name by name and reads --since/--until times', () => {
    expect(mergeEnv(['A=1', 'B=2'], ['B=3', 'C=4'])).toEqual(['A=1', 'B=3', 'C=4']);
    const now = Date.parse('2026-01-01T00:10:00Z');
    expect(parseTime('10m', now)).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(parseTime('1h30m', now)).toBe(now - 90 * 60_000);
    expect(parseTime(1_700_000_000)).toBe(1_700_000_000_000);
    expect(parseTime('2026-01-01T00:00:00Z')).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(() => parseTime('yesterday')).toThrow('invalid value');
  });
});
