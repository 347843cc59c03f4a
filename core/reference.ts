/**
 * Docker's image reference grammar, following github.com/distribution/reference (regexp.go,
 * reference.go, normalize.go, helpers.go) and the digest rules of opencontainers/go-digest, so
 * that a name Docker accepts is accepted here and a name Docker rejects is rejected here.
 *
 *   reference        := name [ ":" tag ] [ "@" digest ]
 *   name             := [domain "/"] path-component ["/" path-component]*
 *   domain           := host [":" port-number]
 *   host             := domain-name | IPv4address | "[" IPv6address "]"
 *   path-component   := /[a-z0-9]+/ [separator /[a-z0-9]+/]*
 *   separator        := /[_.]|__|[-]+/
 *   tag              := /[\w][\w.-]{0,127}/
 *   digest           := algorithm ":" hex
 */
import { InvalidReferenceError } from './errors.ts';

export interface Reference {
  /** Registry host with optional port; `docker.io` for Docker Hub. */
  domain: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  path: string;
  tag?: string;
  digest?: string;
}

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const LOCALHOST = 'localhost';
const OFFICIAL_REPO_PREFIX = 'library/';
const DEFAULT_TAG = 'latest';
const REPOSITORY_NAME_MAX_LENGTH = 255;
const TAG_MAX_LENGTH = 128;

// The patterns are composed from the same pieces, in the same order, as regexp.go, so the two
// can be compared line by line. Both Go's regexp and V8 pick leftmost-first submatches, which is
// what makes the domain/path split below come out the same as Docker's.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
// Zone identifiers (`%eth0`) and IPv4-mapped forms are deliberately left out, as in Docker.
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainAndPort = `(?:${domainName}|${ipv6address})(?::[0-9]+)?`;
const namePattern = `(?:${domainAndPort}/)?${remoteName}`;
const tagPattern = '[\\w][\\w.-]{0,127}';
const digestAlgorithm = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*';
const digestPattern = `${digestAlgorithm}[:][0-9a-fA-F]{32,}`;

const REFERENCE = new RegExp(`^(${namePattern})(?::(${tagPattern}))?(?:@(${digestPattern}))?$`);
const NAME = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
const DOMAIN = new RegExp(`^${domainAndPort}$`);
const PATH_COMPONENT = new RegExp(`^${pathComponent}$`);
const TAG = new RegExp(`^${tagPattern}$`);
const DIGEST_ALGORITHM = new RegExp(`^${digestAlgorithm}$`);
const IDENTIFIER = /^[a-f0-9]{64}$/;
const LOWER_HEX = /^[a-f0-9]+$/;
const NAME_END = /[:@]/;

// go-digest only knows these algorithms, and only in lowercase hex of exactly this length.
const ENCODED_LENGTHS: ReadonlyMap<string, number> = new Map([
  ['sha256', 64],
  ['sha384', 96],
  ['sha512', 128],
]);

const TAG_RULE = 'a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}';
const DIGEST_RULE = 'a digest is <algorithm>:<hex>, e.g. sha256:<64 hex characters>';
const PATH_RULE = 'must be lowercase letters and digits, separated by ".", "_", "__" or "-"';
const DOMAIN_RULE =
  'a registry domain is a hostname, an IPv4 address or an [IPv6] address, with an optional :port';

function invalid(rule: string): InvalidReferenceError {
  return new InvalidReferenceError(`invalid reference format: ${rule}`);
}

/**
 * Parses a name as `docker pull` does (ParseNormalizedNamed): Docker Hub is the default
 * registry and `library/` the default namespace, so `busybox` becomes `docker.io/library/busybox`.
 * A reference may carry both a tag and a digest; both are kept.
 */
export function parseReference(s: string): Reference {
  // A bare 64-hex string is an image ID, and taking it as a repository name would let
  // `docker run <id>` silently pull an unrelated image from Docker Hub.
  if (IDENTIFIER.test(s)) {
    throw invalid(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain, remainder] = splitDockerDomain(s);
  // Docker checks case before the grammar so that `Busybox` gets a message saying what is wrong
  // instead of a bare "invalid reference format". Docker cuts the name at the first ":" only;
  // cutting at "@" too keeps a digest out of the message without changing what is accepted.
  const nameEnd = remainder.search(NAME_END);
  const remote = nameEnd === -1 ? remainder : remainder.slice(0, nameEnd);
  if (remote.toLowerCase() !== remote) {
    throw invalid(`repository name (${remote}) must be lowercase`);
  }

  const match = REFERENCE.exec(`${domain}/${remainder}`);
  if (match === null) throw diagnose(s);
  const [, name = '', tag, digest] = match;

  // The domain comes from the grammar, not from splitDockerDomain: a first component such as
  // `foo_bar.com` looks like a host to the splitter but is not one, and Docker then keeps the
  // whole name as a path with no domain.
  const nameMatch = NAME.exec(name);
  const refDomain = nameMatch?.[1] ?? '';
  const path = nameMatch?.[2] ?? name;
  if (path.length > REPOSITORY_NAME_MAX_LENGTH) {
    throw invalid(`repository name must not be more than ${REPOSITORY_NAME_MAX_LENGTH} characters`);
  }
  if (digest !== undefined) validateDigest(digest);

  const ref: Reference = { domain: refDomain, path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** Docker's TagNameOnly: a reference with neither tag nor digest means `:latest`. */
export function withDefaultTag(ref: Reference): Reference {
  if (ref.tag !== undefined || ref.digest !== undefined) return ref;
  return { ...ref, tag: DEFAULT_TAG };
}

/** The canonical form, e.g. `docker.io/library/busybox:latest`. */
export function referenceString(ref: Reference): string {
  return withSuffix(repositoryName(ref), ref);
}

/** The short form Docker shows to users (FamiliarString), e.g. `busybox:latest`. */
export function familiarString(ref: Reference): string {
  return withSuffix(familiarName(ref), ref);
}

/** The canonical repository without tag or digest, e.g. `docker.io/library/busybox`. */
export function repositoryName(ref: Reference): string {
  return ref.domain === '' ? ref.path : `${ref.domain}/${ref.path}`;
}

/** The repository as Docker shows it (FamiliarName): `busybox`, `foo/bar`, `localhost:5000/a`. */
export function familiarName(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  // Only a single-component official name is shortened: `library/foo/bar` must keep its prefix
  // or it would read back as the user repository `foo/bar`.
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = ref.path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return ref.path;
}

/** Checks a digest as go-digest's Parse does: sha256, sha384 or sha512, lowercase hex. */
export function validateDigest(digest: string): void {
  const problem = digestProblem(digest);
  if (problem !== undefined) throw invalid(`invalid digest "${digest}": ${problem}`);
}

function withSuffix(name: string, ref: Reference): string {
  let s = name;
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

function splitDockerDomain(name: string): [domain: string, remainder: string] {
  const slash = name.indexOf('/');
  if (slash === -1) return [DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name];
  const first = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  let domain: string;
  let remainder: string;
  if (first === LEGACY_DEFAULT_DOMAIN) {
    [domain, remainder] = [DEFAULT_DOMAIN, rest];
  } else if (looksLikeDomain(first)) {
    [domain, remainder] = [first, rest];
  } else {
    [domain, remainder] = [DEFAULT_DOMAIN, name];
  }
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) {
    remainder = OFFICIAL_REPO_PREFIX + remainder;
  }
  return [domain, remainder];
}

// Docker's guess at whether a first component names a registry: a dot or a port suggests a host
// name, and uppercase cannot be a Docker Hub namespace, so it must be a host too.
function looksLikeDomain(component: string): boolean {
  return (
    component === LOCALHOST ||
    component.includes('.') ||
    component.includes(':') ||
    component.toLowerCase() !== component
  );
}

function tagProblem(tag: string): string | undefined {
  if (tag.length > TAG_MAX_LENGTH) {
    return `tag "${abbreviate(tag)}" is longer than ${TAG_MAX_LENGTH} characters`;
  }
  if (!TAG.test(tag)) return `invalid tag "${tag}" (${TAG_RULE})`;
  return undefined;
}

function digestProblem(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  if (colon <= 0 || colon === digest.length - 1) return DIGEST_RULE;
  const algorithm = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  const length = ENCODED_LENGTHS.get(algorithm);
  if (length === undefined) {
    if (!DIGEST_ALGORITHM.test(algorithm)) return DIGEST_RULE;
    return `unsupported digest algorithm "${algorithm}" (use sha256, sha384 or sha512)`;
  }
  if (encoded.length !== length) return `${algorithm} digests have ${length} hex characters`;
  if (!LOWER_HEX.test(encoded)) return `${algorithm} digests are lowercase hex [a-f0-9]`;
  return undefined;
}

/**
 * Works out which rule a rejected reference broke. Docker itself only says "invalid reference
 * format" here; naming the part at fault saves the user from guessing. Only runs on failure.
 */
function diagnose(s: string): InvalidReferenceError {
  let rest = s;
  // Neither names nor tags may contain "@", so the first one starts the digest.
  const at = s.indexOf('@');
  if (at !== -1) {
    const digest = s.slice(at + 1);
    const problem = digestProblem(digest);
    if (problem !== undefined) return invalid(`invalid digest "${digest}": ${problem}`);
    rest = s.slice(0, at);
  }
  // A ":" after the last "/" (and after any IPv6 "]") can only start a tag; one before it
  // belongs to a domain.
  const colon = rest.indexOf(':', Math.max(rest.lastIndexOf('/'), rest.lastIndexOf(']')) + 1);
  if (colon !== -1) {
    const name = rest.slice(0, colon);
    const tag = rest.slice(colon + 1);
    const problem = tagProblem(tag);
    if (problem === undefined) return invalid(nameProblem(name) ?? 'invalid reference');
    // With a bad tag and a good name the tag is at fault; otherwise the ":" may not have been
    // meant as a tag at all (`[fc00::1]`), so judge the whole thing as a name.
    return invalid(nameProblem(name) === undefined ? problem : (nameProblem(rest) ?? problem));
  }
  return invalid(nameProblem(rest) ?? 'invalid reference');
}

function nameProblem(name: string): string | undefined {
  if (name === '') return 'repository name must have at least one component';
  let path = name;
  const slash = name.indexOf('/');
  if (slash !== -1) {
    const first = name.slice(0, slash);
    if (looksLikeDomain(first)) {
      if (DOMAIN.test(first)) {
        path = name.slice(slash + 1);
      } else if (!PATH_COMPONENT.test(first.toLowerCase())) {
        return `invalid registry domain "${first}" (${DOMAIN_RULE})`;
      }
    }
  }
  for (const component of path.split('/')) {
    if (component === '') {
      return `invalid repository name (${name}): path components are separated by a single "/" and cannot be empty`;
    }
    if (PATH_COMPONENT.test(component)) continue;
    if (PATH_COMPONENT.test(component.toLowerCase())) {
      return `repository name (${name}) must be lowercase`;
    }
    if (slash === -1 && DOMAIN.test(component)) {
      return `"${component}" is a registry domain with no repository path after it`;
    }
    return `invalid repository name (${name}): path component "${component}" ${PATH_RULE}`;
  }
  return undefined;
}

function abbreviate(s: string): string {
  return s.length > 32 ? `${s.slice(0, 32)}...` : s;
}
