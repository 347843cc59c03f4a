import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseReference, referenceString, withDefaultTag } from '../core/reference.ts';
import { parseChallenge } from '../core/registry/auth.ts';
import { credentialsKey, dockerConfigCredentials } from '../core/registry/docker-config.ts';
import { registryEndpoint } from '../core/registry/endpoints.ts';
import { loginServer } from '../core/registry/login.ts';
import { tempDir } from './helpers/tar.ts';

describe('WWW-Authenticate challenges', () => {
  it('parses a bearer challenge with quoted parameters', () => {
    expect(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' },
    });
  });

  it('parses a basic challenge, unquoted values and escapes', () => {
    expect(parseChallenge('Basic realm="Registry \\"Realm\\""')).toEqual({ scheme: 'basic', params: { realm: 'Registry "Realm"' } });
    expect(parseChallenge('Bearer realm=https://h/token, service=h')).toEqual({ scheme: 'bearer', params: { realm: 'https://h/token', service: 'h' } });
  });
});

describe('registry endpoints', () => {
  it('uses plain http for loopback and insecure registries, https otherwise, and registry-1 for Docker Hub', () => {
    expect(registryEndpoint('docker.io').baseUrl).toBe('https://registry-1.docker.io');
    expect(registryEndpoint('localhost:5000').baseUrl).toBe('http://localhost:5000');
    expect(registryEndpoint('127.1.2.3:80').baseUrl).toBe('http://127.1.2.3:80');
    expect(registryEndpoint('[::1]:5000').baseUrl).toBe('http://[::1]:5000');
    expect(registryEndpoint('ghcr.io').baseUrl).toBe('https://ghcr.io');
    expect(registryEndpoint('reg.lan:5000', ['reg.lan:5000']).baseUrl).toBe('http://reg.lan:5000');
    expect(registryEndpoint('128.0.0.1').baseUrl).toBe('https://128.0.0.1');
  });
});

describe('Docker Hub', () => {
  const NAMES = ['x', 'docker.io/x', 'docker.io/library/x', 'index.docker.io/x', 'index.docker.io/library/x'];

  it('names one repository, one endpoint and one credentials key however a reference spells it', () => {
    for (const name of NAMES) {
      const ref = parseReference(name);
      expect({ name, domain: ref.domain, path: ref.path }).toEqual({ name, domain: 'docker.io', path: 'library/x' });
      expect(referenceString(withDefaultTag(ref))).toBe('docker.io/library/x:latest');
      expect(registryEndpoint(ref.domain).baseUrl).toBe('https://registry-1.docker.io');
      expect(credentialsKey(ref.domain)).toBe('https://index.docker.io/v1/');
    }
    for (const registry of [undefined, 'docker.io', 'index.docker.io', 'registry-1.docker.io', 'https://index.docker.io/v1/']) {
      expect(loginServer(registry)).toEqual({ domain: 'docker.io', server: 'https://index.docker.io/v1/' });
    }
  });

  it('finds the credentials docker login stored under https://index.docker.io/v1/, and a helper named for it', async () => {
    const dir = await tempDir('berth-docker-config-');
    try {
      const auth = Buffer.from('hub-user:hub-s3cret').toString('base64');
      await writeFile(join(dir.path, 'config.json'), JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth } } }));
      const credentials = dockerConfigCredentials(dir.path);
      expect(await credentials(parseReference('index.docker.io/x').domain)).toEqual({ username: 'hub-user', password: 'hub-s3cret' });
      // A helper keyed by Docker Hub's URL (as the docker CLI looks it up) is asked, under that URL.
      await writeFile(join(dir.path, 'config.json'), JSON.stringify({ credHelpers: { 'https://index.docker.io/v1/': 'berth-absent-helper' } }));
      await expect(credentials('docker.io')).rejects.toMatchObject({
        code: 'CREDENTIAL_HELPER',
        message: 'credential helper docker-credential-berth-absent-helper failed for https://index.docker.io/v1/: not found in PATH',
      });
    } finally {
      await dir.cleanup();
    }
  });
});
