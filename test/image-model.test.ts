import { describe, expect, it } from 'vitest';
import { digestOf } from '../core/digest.ts';
import { MediaType } from '../core/image/media-types.ts';
import { parseImageConfig, parseManifestOrIndex, type Descriptor } from '../core/image/models.ts';
import { matchRank, normalizePlatform, parsePlatform, selectManifest } from '../core/image/platform.ts';

const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const d = (s: string) => digestOf(s);
const config = { mediaType: MediaType.OciConfig, digest: d('config'), size: 10 };
const layer = { mediaType: MediaType.OciLayerGzip, digest: d('layer'), size: 20 };
const manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] };

describe('manifest and index parsing', () => {
  it('parses OCI and Docker manifests and indexes', () => {
    expect(parseManifestOrIndex(enc(manifest), d('m')).kind).toBe('manifest');
    const docker = { ...manifest, mediaType: MediaType.DockerManifest, config: { ...config, mediaType: MediaType.DockerConfig } };
    expect(parseManifestOrIndex(enc(docker), d('m'), MediaType.DockerManifest).kind).toBe('manifest');
    const index = { schemaVersion: 2, mediaType: MediaType.DockerManifestList, manifests: [] };
    expect(parseManifestOrIndex(enc(index), d('i')).kind).toBe('index');
  });

  it('infers the type of a document without mediaType (umoci writes none)', () => {
    const { mediaType: _, ...bare } = manifest;
    expect(parseManifestOrIndex(enc(bare), d('m'))).toMatchObject({ kind: 'manifest', mediaType: MediaType.OciManifest });
    expect(parseManifestOrIndex(enc({ schemaVersion: 2, manifests: [] }), d('i'))).toMatchObject({ kind: 'index' });
  });

  it.each([
    ['not JSON', '{"schemaVersion": 2,', 'is not valid JSON'],
    ['not an object', '[1,2]', 'expected a JSON object'],
    ['missing config', { schemaVersion: 2, mediaType: MediaType.OciManifest, layers: [] }, 'it has no config'],
    ['unknown media type', { ...manifest, mediaType: 'application/x-nope' }, 'unknown media type application/x-nope'],
    ['unknown layer type', { ...manifest, layers: [{ ...layer, mediaType: 'text/plain' }] }, 'layer 0'],
    ['unknown config type', { ...manifest, config: { ...config, mediaType: 'text/plain' } }, 'config of unknown media type'],
    ['wrong digest', { ...manifest, config: { ...config, digest: 'sha256:1234' } }, 'config.digest'],
    ['negative size', { ...manifest, layers: [{ ...layer, size: -1 }] }, 'layers.0.size'],
    ['schema version 1', { ...manifest, schemaVersion: 1 }, 'schemaVersion'],
  ])('refuses a manifest with %s', (_, doc, message) => {
    expect(() => parseManifestOrIndex(enc(doc), d('m'))).toThrow(expect.objectContaining({ code: 'INVALID_MANIFEST', message: expect.stringContaining(message) }));
  });

  it('refuses a document whose type disagrees with its descriptor', () => {
    expect(() => parseManifestOrIndex(enc(manifest), d('m'), MediaType.OciIndex)).toThrow(/declares media type .* but its descriptor says/);
  });

  it('checks the config against the manifest', () => {
    const cfg = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } };
    expect(() => parseImageConfig(enc(cfg), d('c'), manifest as never)).toThrow(/lists 0 layer diffIDs, but its manifest has 1 layers/);
    expect(() => parseImageConfig(enc({ os: 'linux' }), d('c'))).toThrow(/architecture/);
    expect(parseImageConfig(enc({ ...cfg, rootfs: { type: 'layers', diff_ids: [d('x')] } }), d('c'), manifest as never).os).toBe('linux');
  });
});

describe('platforms', () => {
  it('normalises names as containerd does', () => {
    expect(normalizePlatform({ os: 'Linux', architecture: 'x86_64' })).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(normalizePlatform({ os: 'linux', architecture: 'aarch64', variant: 'v8' })).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(normalizePlatform({ os: 'linux', architecture: 'armhf' })).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(normalizePlatform({ os: 'wasip1', architecture: 'wasm32' })).toEqual({ os: 'wasi', architecture: 'wasm' });
  });

  it('parses Docker --platform strings and rejects bad ones', () => {
    expect(parsePlatform('linux/arm/v6')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v6' });
    expect(() => parsePlatform('linux')).toThrow(/expected os\/arch/);
    expect(() => parsePlatform('linux//v7')).toThrow(/expected os\/arch/);
  });

  it('matches WASI under both spellings', () => {
    expect(matchRank({ os: 'wasi', architecture: 'wasm' }, { os: 'wasip1', architecture: 'wasm32' })).toBe(0);
    expect(matchRank({ os: 'wasip1', architecture: 'wasm32' }, { os: 'wasi', architecture: 'wasm' })).toBe(0);
    expect(matchRank({ os: 'linux', architecture: 'amd64' }, { os: 'wasi', architecture: 'wasm' })).toBeUndefined();
  });

  it('lets newer arm variants run older ones, not the reverse', () => {
    expect(matchRank({ os: 'linux', architecture: 'arm', variant: 'v7' }, { os: 'linux', architecture: 'arm', variant: 'v6' })).toBe(1);
    expect(matchRank({ os: 'linux', architecture: 'arm', variant: 'v6' }, { os: 'linux', architecture: 'arm', variant: 'v7' })).toBeUndefined();
  });

  it('selects the best manifest of an index in order of preference', () => {
    const entry = (os: string, architecture: string, variant?: string): Descriptor => ({
      mediaType: MediaType.OciManifest,
      digest: d(`${os}/${architecture}/${variant}`),
      size: 1,
      platform: { os, architecture, ...(variant ? { variant } : {}) },
    });
    const attestation: Descriptor = { mediaType: MediaType.OciManifest, digest: d('att'), size: 1 };
    const manifests = [attestation, entry('linux', 'arm', 'v6'), entry('linux', 'arm', 'v7'), entry('wasip1', 'wasm32'), entry('linux', 'amd64')];
    expect(selectManifest(manifests, [{ os: 'linux', architecture: 'amd64' }, { os: 'wasi', architecture: 'wasm' }])).toBe(manifests[4]);
    expect(selectManifest(manifests, [{ os: 'linux', architecture: 'riscv64' }, { os: 'wasi', architecture: 'wasm' }])).toBe(manifests[3]);
    expect(selectManifest(manifests, [{ os: 'linux', architecture: 'arm', variant: 'v7' }])).toBe(manifests[2]);
    expect(selectManifest(manifests, [{ os: 'windows', architecture: 'amd64' }])).toBeUndefined();
  });
});
