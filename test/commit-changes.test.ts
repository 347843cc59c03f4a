/** `docker commit --change` and the committed image's config, as pure functions (moby's BuildFromConfig, merge, NewChildImage). */
import { describe, expect, it } from 'vitest';
import { applyChanges, type CommitConfig } from '../core/image/commit-changes.ts';
import { childImageConfig, mergeCommitConfig } from '../core/image/commit-config.ts';
import { shellWords } from '../core/image/commit-words.ts';
import type { ImageConfig } from '../core/image/models.ts';

const container: CommitConfig = {
  Cmd: ['sh'],
  Env: ['PATH=/bin', 'A=1'],
  Labels: { keep: 'yes' },
  ExposedPorts: { '22/tcp': {} },
  WorkingDir: '/work',
};

function commit(changes: string[]): CommitConfig {
  return mergeCommitConfig(applyChanges(container, changes), container);
}

describe('docker commit --change', () => {
  it('parses words as the Dockerfile shell lexer does', () => {
    const env = new Map([['A', '1']]);
    expect(shellWords(`a "b c" 'd $A' e\\ f $A \${A}x \${B:-dflt} \${A:+alt} "\\$A"`, env)).toEqual(['a', 'b c', 'd $A', 'e f', '1', '1x', 'dflt', 'alt', '$A']);
    expect(() => shellWords('"open', env)).toThrow('unexpected end of statement');
  });

  it('applies each instruction, completed from the container as moby merges', () => {
    const config = commit(['ENV B=$A C="x y"', 'ENV LEGACY value with spaces', 'LABEL new=1', 'EXPOSE 8000-8001/udp', 'WORKDIR sub', 'USER nobody', 'VOLUME ["/v"]', 'STOPSIGNAL 9']);
    expect(config).toMatchObject({
      Cmd: ['sh'],
      Env: ['PATH=/bin', 'A=1', 'B=1', 'C=x y', 'LEGACY=value with spaces'],
      Labels: { keep: 'yes', new: '1' },
      ExposedPorts: { '22/tcp': {}, '8000/udp': {}, '8001/udp': {} },
      WorkingDir: '/work/sub',
      User: 'nobody',
      Volumes: { '/v': {} },
      StopSignal: '9',
    });
  });

  it('joins the changes as one Dockerfile: continuations, comments; CMD before ENTRYPOINT survives it', () => {
    expect(commit(['# a comment', 'CMD ["a",\\', ' "b"]', 'ENTRYPOINT ["e"]'])).toMatchObject({ Cmd: ['a', 'b'], Entrypoint: ['e'] });
    expect(commit(['ENTRYPOINT e'])).toMatchObject({ Cmd: null, Entrypoint: ['/bin/sh', '-c', 'e'] });
    expect(commit(['CMD not json ['])).toMatchObject({ Cmd: ['/bin/sh', '-c', 'not json ['] });
    expect(commit([])).toEqual(container);
  });

  it("fails with Docker's errors", () => {
    expect(() => commit(['FROM x'])).toThrow('from is not a valid change command');
    expect(() => commit(['ENV'])).toThrow('ENV requires at least one argument');
    expect(() => commit(['ENV ONLY'])).toThrow('ENV must have two arguments');
    expect(() => commit(['ENV a=1 b'])).toThrow(`Syntax error - can't find = in "b". Must be of the form: name=value`);
    expect(() => commit(['EXPOSE 80/xtp'])).toThrow('invalid proto: xtp');
    expect(() => commit(['USER a b'])).toThrow('USER requires exactly one argument');
    expect(() => commit(['ONBUILD ONBUILD RUN x'])).toThrow('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
    expect(() => commit(['HEALTHCHECK --interval=0.1ms CMD true'])).toThrow('Interval "interval" cannot be less than 1ms');
    expect(() => commit(['HEALTHCHECK NONE x'])).toThrow('HEALTHCHECK NONE takes no arguments');
    expect(() => commit(['HEALTHCHECK SHELL x'])).toThrow('Unknown type "SHELL" in HEALTHCHECK (try CMD)');
  });

  it("builds the child image's config as NewChildImage does", () => {
    const base: ImageConfig = {
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [`sha256:${'1'.repeat(64)}`] },
      history: [{ created_by: 'base' }],
    };
    const child = childImageConfig(base, { config: container, containerConfig: container, containerId: 'abc', comment: 'msg', diffId: `sha256:${'2'.repeat(64)}`, created: '2026-01-01T00:00:00Z' });
    expect(child).toEqual({
      architecture: 'amd64',
      config: container,
      container: 'abc',
      container_config: container,
      created: '2026-01-01T00:00:00Z',
      history: [{ created_by: 'base' }, { created: '2026-01-01T00:00:00Z', created_by: 'sh', comment: 'msg' }],
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [`sha256:${'1'.repeat(64)}`, `sha256:${'2'.repeat(64)}`] },
    });
  });
});
