import { digestOf, parseDigest, type Digest } from '../digest.ts';
import { DigestMismatchError } from '../errors.ts';
import { MAX_METADATA_BLOB } from '../content/content-store.ts';
import { isIndexType, isManifestType, MediaType } from '../image/media-types.ts';
import { unexpectedStatus, type RegistryClient, type RegistryResponse } from './registry-client.ts';
import { ManifestUnknownError, RegistryError } from './registry-errors.ts';

/** What berth asks for when it resolves a reference: both kinds of index and of manifest. */
const MANIFEST_ACCEPT = [MediaType.OciIndex, MediaType.DockerManifestList, MediaType.OciManifest, MediaType.DockerManifest].join(', ');

export interface FetchedManifest {
  digest: Digest;
  /** The media type the registry sent, when it is a manifest or index type. */
  mediaType?: string;
  bytes: Uint8Array;
}

/**
 * The distribution API (OCI distribution-spec) for one repository of a registry: manifests,
 * blobs, uploads, tags. Each method is one exchange; pulling and pushing are built on them.
 */
export class RegistryRepository {
  private readonly scopes: string[];

  constructor(
    readonly client: RegistryClient,
    /** The repository path, `library/busybox`. */
    readonly path: string,
    access: 'pull' | 'push',
  ) {
    this.scopes = [`repository:${path}:${access === 'push' ? 'pull,push' : 'pull'}`];
  }

  /** `127.0.0.1:5000/foo`, for messages. */
  get name(): string {
    return `${this.client.endpoint.domain}/${this.path}`;
  }

  /**
   * A manifest or index by tag or digest, verified against the digest asked for (or the one
   * the registry states). `shown` is the reference as messages print it.
   */
  async getManifest(reference: string, shown: string): Promise<FetchedManifest> {
    const response = await this.client.request(`/v2/${this.path}/manifests/${reference}`, { headers: { accept: MANIFEST_ACCEPT }, scopes: this.scopes });
    if (response.status === 404) {
      await response.discard();
      // Docker's words, for `docker pull` of a tag the registry lacks.
      throw new ManifestUnknownError(`manifest for ${shown} not found: manifest unknown: manifest unknown`);
    }
    if (response.status !== 200) throw await unexpectedStatus(response, `fetch manifest for ${shown}`);
    const bytes = await response.bytes(MAX_METADATA_BLOB);
    const expected = reference.includes(':') ? reference : response.headers.get('docker-content-digest') ?? undefined;
    const algorithm = expected ? parseDigest(expected).algorithm : 'sha256';
    const digest = digestOf(bytes, algorithm);
    if (expected && digest !== expected) {
      throw new DigestMismatchError(`manifest for ${shown} from ${this.client.endpoint.domain}: digest mismatch: expected ${expected}, content has ${digest}`);
    }
    const type = response.headers.get('content-type')?.split(';')[0]?.trim();
    return { digest, bytes, mediaType: isIndexType(type) || isManifestType(type) ? type : undefined };
  }

  /**
   * The blob's bytes; the caller verifies them. With `offset` above 0, asks for the rest from
   * there (`Range: bytes=<offset>-`): a registry that serves ranges answers 206, one that does
   * not 200 with the whole blob; the caller tells them apart.
   */
  async getBlob(digest: Digest, signal?: AbortSignal, offset = 0): Promise<RegistryResponse> {
    const headers = offset > 0 ? { range: `bytes=${offset}-` } : undefined;
    const response = await this.client.request(`/v2/${this.path}/blobs/${digest}`, { scopes: this.scopes, signal, headers });
    if (response.status === 200 || (offset > 0 && response.status === 206)) return response;
    throw await unexpectedStatus(response, `fetch blob ${digest} from ${this.name}`);
  }

  /** The size of a blob the repository has, or undefined. */
  async headBlob(digest: Digest): Promise<number | undefined> {
    const response = await this.client.request(`/v2/${this.path}/blobs/${digest}`, { method: 'HEAD', scopes: this.scopes });
    await response.discard();
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw await unexpectedStatus(response, `check blob ${digest} in ${this.name}`);
    return Number(response.headers.get('content-length') ?? -1);
  }

  /**
   * Starts an upload, or mounts the blob from another repository of the registry when `mount`
   * is given and the registry can (201); a registry that cannot starts an upload instead.
   */
  async startUpload(mount?: { digest: Digest; from: string }): Promise<{ mounted: true } | { mounted: false; location: URL }> {
    const url = this.client.url(`/v2/${this.path}/blobs/uploads/`);
    const scopes = [...this.scopes];
    if (mount) {
      url.searchParams.set('mount', mount.digest);
      url.searchParams.set('from', mount.from);
      scopes.push(`repository:${mount.from}:pull`);
    }
    const response = await this.client.request(url, { method: 'POST', headers: { 'content-length': '0' }, scopes });
    if (mount && response.status === 201) {
      await response.discard();
      return { mounted: true };
    }
    if (response.status !== 202) throw await unexpectedStatus(response, `start an upload to ${this.name}`);
    await response.discard();
    return { mounted: false, location: this.location(response) };
  }

  /** Sends a whole blob in the closing PUT (the monolithic upload). */
  async finishUpload(location: URL, digest: Digest, body?: Uint8Array): Promise<void> {
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-length': String(body?.byteLength ?? 0) };
    const response = await this.client.request(url, { method: 'PUT', headers, body: body ?? new Uint8Array(), scopes: this.scopes });
    if (response.status !== 201) throw await unexpectedStatus(response, `upload blob ${digest} to ${this.name}`);
    await response.discard();
  }

  /** Sends one chunk of a chunked upload; returns where the next one goes. */
  async uploadChunk(location: URL, offset: number, chunk: Uint8Array): Promise<URL> {
    const headers = {
      'content-type': 'application/octet-stream',
      'content-length': String(chunk.byteLength),
      'content-range': `${offset}-${offset + chunk.byteLength - 1}`,
    };
    const response = await this.client.request(location, { method: 'PATCH', headers, body: chunk, scopes: this.scopes });
    if (response.status !== 202) throw await unexpectedStatus(response, `upload a chunk to ${this.name}`);
    await response.discard();
    return this.location(response);
  }

  /** Puts a manifest or index under a tag or its digest; returns the digest the registry reports. */
  async putManifest(reference: string, mediaType: string, bytes: Uint8Array): Promise<Digest | undefined> {
    const headers = { 'content-type': mediaType, 'content-length': String(bytes.byteLength) };
    const response = await this.client.request(`/v2/${this.path}/manifests/${reference}`, { method: 'PUT', headers, body: bytes, scopes: this.scopes });
    if (response.status !== 201) throw await unexpectedStatus(response, `put manifest ${reference} to ${this.name}`);
    await response.discard();
    return response.headers.get('docker-content-digest') ?? undefined;
  }

  /** Every tag of the repository, following the registry's pagination. */
  async listTags(): Promise<string[]> {
    const tags: string[] = [];
    let url: URL | undefined = this.client.url(`/v2/${this.path}/tags/list`);
    while (url) {
      const response: RegistryResponse = await this.client.request(url, { scopes: this.scopes });
      if (response.status === 404) {
        await response.discard();
        throw new RegistryError(`repository ${this.name} not found: name unknown`, { status: 404 });
      }
      if (response.status !== 200) throw await unexpectedStatus(response, `list tags of ${this.name}`);
      const body = (await response.json()) as { tags?: unknown };
      if (Array.isArray(body.tags)) for (const t of body.tags) if (typeof t === 'string') tags.push(t);
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(response.headers.get('link') ?? '')?.[1];
      url = next ? new URL(next, url) : undefined;
    }
    return tags;
  }

  /** Deletes a manifest by digest (the registry must allow deletes). */
  async deleteManifest(digest: Digest): Promise<void> {
    const response = await this.client.request(`/v2/${this.path}/manifests/${digest}`, { method: 'DELETE', scopes: this.scopes });
    if (response.status === 404) throw new ManifestUnknownError(`manifest ${digest} not found in ${this.name}: manifest unknown`);
    if (response.status !== 202) throw await unexpectedStatus(response, `delete manifest ${digest} from ${this.name}`);
    await response.discard();
  }

  private location(response: RegistryResponse): URL {
    const location = response.headers.get('location');
    if (!location) throw new RegistryError(`${this.name}: the registry sent no upload location`);
    return new URL(location, response.url);
  }
}
