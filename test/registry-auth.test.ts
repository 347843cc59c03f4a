import { describe, expect, it } from 'vitest';
import { parseChallenge } from '../core/registry/auth.ts';
import { registryEndpoint } from '../core/registry/endpoints.ts';

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
