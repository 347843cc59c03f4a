import { BerthError, InvalidArgumentError, NotFoundError } from '../errors.ts';

/** Docker's default (and berth's only) volume driver. */
export const LOCAL_DRIVER = 'local';

/** The label Docker 23+ puts on volumes created without a name; `volume prune` removes only those unless `--all`. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

/** Docker's RestrictedNamePattern, which the local driver applies because the name becomes a directory. */
const VALID_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** The options the local driver knows (moby's volume/local validOpts). */
const KNOWN_OPTIONS = ['type', 'o', 'device', 'size'];
/** An option that needs others (moby's mandatoryOpts), in the order Docker checks them. */
const REQUIRED_WITH: Record<string, string[]> = { device: ['type'], type: ['device'], o: ['device', 'type'] };

/** Go's %q for the names in Docker's messages. */
export function goQuote(text: string): string {
  return JSON.stringify(text).replace(/\\u00([0-9a-f]{2})/g, '\\x$1');
}

/** The local driver's validateName, wrapped as Docker's volume store wraps a failed create. */
export function validateVolumeName(name: string): void {
  if (name.length === 1) throw new InvalidArgumentError(`create ${name}: volume name is too short, names should be at least two alphanumeric characters`);
  if (!VALID_NAME.test(name)) {
    throw new InvalidArgumentError(
      `create ${name}: ${goQuote(name)} includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}

/** Docker's lookup of a volume driver: only `local` exists here (berth has no volume plugins). */
export function validateDriver(name: string, driver: string): void {
  if (driver !== LOCAL_DRIVER) throw new NotFoundError(`create ${name}: error looking up volume plugin ${driver}: plugin ${goQuote(driver)} not found`);
}

/**
 * The local driver's options, checked as Docker checks them. Valid options are then refused:
 * they make Docker mount a device (tmpfs, nfs...) at the volume's _data while containers use
 * it, shared by all of them and unmounted after the last. That needs a mount in the host's
 * namespace reference-counted across berth processes, which berth does not do yet; a
 * per-container mount would not share the data, so it is not offered in its place.
 */
export function validateOptions(name: string, options: Record<string, string>): void {
  const keys = Object.keys(options);
  if (keys.length === 0) return;
  for (const key of keys) if (!KNOWN_OPTIONS.includes(key)) throw new InvalidArgumentError(`create ${name}: invalid option: ${goQuote(key)}`);
  if ('size' in options) {
    // Docker without quota support (berth has none) refuses any size.
    throw new InvalidArgumentError(`create ${name}: quota size requested but no quota support`);
  }
  for (const [key, needs] of Object.entries(REQUIRED_WITH)) {
    if (!(key in options)) continue;
    for (const need of needs) if (!(need in options)) throw new InvalidArgumentError(`create ${name}: missing required option: ${goQuote(need)}`);
  }
  const described = keys.map((k) => `${k}=${options[k]}`).join(' ');
  throw new BerthError(
    'UNSUPPORTED',
    `create ${name}: berth's local driver does not mount devices into volumes yet (${described}); for a tmpfs, give the container --tmpfs PATH[:OPTIONS] instead`,
  );
}
