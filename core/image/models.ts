import { z } from 'zod';
import { isDigest, type Digest } from '../digest.ts';
import { InvalidManifestError } from '../errors.ts';
import { isConfigType, isIndexType, isManifestType, layerType, MediaType } from './media-types.ts';

// Schemas are loose objects: unknown fields are kept, so a manifest re-serialised by berth
// loses nothing. Blobs are always stored as the original bytes anyway.

const digestSchema = z.string().refine(isDigest, { message: 'not a valid sha256/sha512 digest' });

export const platformSchema = z.looseObject({
  architecture: z.string().min(1),
  os: z.string().min(1),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
});
export type Platform = z.infer<typeof platformSchema>;

export const descriptorSchema = z.looseObject({
  mediaType: z.string().min(1),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  platform: platformSchema.optional(),
  artifactType: z.string().optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

const manifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  annotations: z.record(z.string(), z.string()).optional(),
  subject: descriptorSchema.optional(),
});
export type ImageManifest = z.infer<typeof manifestSchema>;

const indexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ImageIndex = z.infer<typeof indexSchema>;

const containerConfigSchema = z.looseObject({
  User: z.string().optional(),
  ExposedPorts: z.record(z.string(), z.unknown()).nullish(),
  Env: z.array(z.string()).nullish(),
  Entrypoint: z.array(z.string()).nullish(),
  Cmd: z.array(z.string()).nullish(),
  Volumes: z.record(z.string(), z.unknown()).nullish(),
  WorkingDir: z.string().optional(),
  Labels: z.record(z.string(), z.string()).nullish(),
  StopSignal: z.string().optional(),
});

const historySchema = z.looseObject({
  created: z.string().optional(),
  created_by: z.string().optional(),
  author: z.string().optional(),
  comment: z.string().optional(),
  empty_layer: z.boolean().optional(),
});

const configSchema = z.looseObject({
  created: z.string().optional(),
  author: z.string().optional(),
  architecture: z.string().min(1),
  os: z.string().min(1),
  'os.version': z.string().optional(),
  variant: z.string().optional(),
  config: containerConfigSchema.nullish(),
  rootfs: z.looseObject({
    type: z.literal('layers'),
    diff_ids: z.array(digestSchema),
  }),
  history: z.array(historySchema).optional(),
});
export type ImageConfig = z.infer<typeof configSchema>;
export type ContainerConfig = z.infer<typeof containerConfigSchema>;

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new InvalidManifestError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const where = issue.path.length ? issue.path.join('.') : 'document';
  throw new InvalidManifestError(`${what} is not valid: ${where}: ${issue.message}`);
}

export type ManifestOrIndex =
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest }
  | { kind: 'index'; mediaType: string; index: ImageIndex };

/**
 * Parses a manifest or an index. `declaredType` is the media type of the descriptor that
 * pointed at it; when the document states its own type, the two must agree.
 */
export function parseManifestOrIndex(bytes: Uint8Array, digest: Digest, declaredType?: string): ManifestOrIndex {
  const what = `manifest ${digest}`;
  const json = parseJson(bytes, what);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidManifestError(`${what} is not valid: expected a JSON object`);
  }
  const own = (json as { mediaType?: unknown }).mediaType;
  if (own !== undefined && typeof own !== 'string') throw new InvalidManifestError(`${what} is not valid: mediaType must be a string`);
  if (own !== undefined && declaredType !== undefined && own !== declaredType) {
    throw new InvalidManifestError(`${what} declares media type ${own}, but its descriptor says ${declaredType}`);
  }
  const mediaType = own ?? declaredType ?? ('manifests' in json ? MediaType.OciIndex : MediaType.OciManifest);
  if (isIndexType(mediaType)) {
    return { kind: 'index', mediaType, index: check(indexSchema, json, what) };
  }
  if (!isManifestType(mediaType)) {
    throw new InvalidManifestError(`${what} has unknown media type ${mediaType}: expected an OCI or Docker manifest or index`);
  }
  if (!('config' in json)) throw new InvalidManifestError(`${what} is not valid: it has no config`);
  const manifest = check(manifestSchema, json, what);
  if (!isConfigType(manifest.config.mediaType)) {
    throw new InvalidManifestError(`${what} has a config of unknown media type ${manifest.config.mediaType}`);
  }
  for (const [i, layer] of manifest.layers.entries()) {
    if (!layerType(layer.mediaType)) {
      throw new InvalidManifestError(`${what}: layer ${i} (${layer.digest}) has unknown media type ${layer.mediaType}`);
    }
  }
  return { kind: 'manifest', mediaType, manifest };
}

/** Parses an image config and checks it against the manifest's layers. */
export function parseImageConfig(bytes: Uint8Array, digest: Digest, manifest?: ImageManifest): ImageConfig {
  const what = `image config ${digest}`;
  const config = check(configSchema, parseJson(bytes, what), what);
  if (manifest && config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new InvalidManifestError(
      `${what} lists ${config.rootfs.diff_ids.length} layer diffIDs, but its manifest has ${manifest.layers.length} layers`,
    );
  }
  return config;
}

/** Validates a descriptor that comes from outside (an archive's index.json, a user). */
export function parseDescriptor(value: unknown, what: string): Descriptor {
  return check(descriptorSchema, value, what);
}

export function parseIndexDocument(bytes: Uint8Array, what: string): ImageIndex {
  return check(indexSchema, parseJson(bytes, what), what);
}

export function parseJsonDocument(bytes: Uint8Array, what: string): unknown {
  return parseJson(bytes, what);
}
