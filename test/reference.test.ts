import { describe, it, expect } from 'vitest';
import { InvalidReferenceError } from '../core/errors.ts';
import {
  familiarName,
  familiarString,
  parseReference,
  referenceString,
  repositoryName,
  validateDigest,
  withDefaultTag,
  type Reference,
} from '../core/reference.ts';

// Most rows come from distribution/reference's reference_test.go, normalize_test.go and
// regexp_test.go, run through ParseNormalizedNamed semantics (so `foo` gains docker.io/library).

const SHA256_F = `sha256:${'f'.repeat(64)}`;
const SHA512_F = `sha512:${'f'.repeat(128)}`;
const REDIS_DIGEST = 'sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c';
const BUSYBOX_DIGEST = 'sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa';
const LOCALHOST_DIGEST = 'sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912';
const HEX64 = '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a';

interface ValidCase {
  input: string;
  ref: Reference;
  familiar: string;
}

function valid(input: string, ref: Reference, familiar = input): ValidCase {
  return { input, ref, familiar };
}

const hub = (path: string, extra: Omit<Reference, 'domain' | 'path'> = {}): Reference => ({
  domain: 'docker.io',
  path,
  ...extra,
});

const validCases: ValidCase[] = [
  // Docker Hub normalisation
  valid('busybox', hub('library/busybox')),
  valid('busybox:latest', hub('library/busybox', { tag: 'latest' })),
  valid('index.docker.io/x', hub('library/x'), 'x'),
  valid('docker.io/library/foo', hub('library/foo'), 'foo'),
  valid('docker.io/foo', hub('library/foo'), 'foo'),
  valid('docker.io/library/foo/bar', hub('library/foo/bar'), 'library/foo/bar'),
  valid('library/ubuntu', hub('library/ubuntu'), 'ubuntu'),
  valid('fooo/bar', hub('fooo/bar')),
  valid('index.docker.io/fooo/bar', hub('fooo/bar'), 'fooo/bar'),
  valid('other/library', hub('other/library')),
  valid('store/foo/bar', hub('store/foo/bar')),
  valid('ubuntu-12.04-base', hub('library/ubuntu-12.04-base')),
  valid('dmcgowan/myapp:latest', hub('dmcgowan/myapp', { tag: 'latest' })),
  valid('docker.io/mcgowan/myapp:latest', hub('mcgowan/myapp', { tag: 'latest' }), 'mcgowan/myapp:latest'),
  // localhost is always a domain, but only when followed by a path
  valid('localhost:5000/a/b:t', { domain: 'localhost:5000', path: 'a/b', tag: 't' }),
  valid('localhost/foo', { domain: 'localhost', path: 'foo' }),
  valid('localhost', hub('library/localhost')),
  valid('localhost:5000', hub('library/localhost', { tag: '5000' })),
  valid(`localhost:8080@${LOCALHOST_DIGEST}`, hub('library/localhost', { tag: '8080', digest: LOCALHOST_DIGEST })),
  // hosts, ports and tags that look like ports
  valid('test.com:tag', hub('library/test.com', { tag: 'tag' })),
  valid('test.com:5000', hub('library/test.com', { tag: '5000' })),
  valid('test.com/repo:tag', { domain: 'test.com', path: 'repo', tag: 'tag' }),
  valid('test:5000/repo', { domain: 'test:5000', path: 'repo' }),
  valid(`test:5000/repo@${SHA256_F}`, { domain: 'test:5000', path: 'repo', digest: SHA256_F }),
  valid(`test:5000/repo:tag@${SHA256_F}`, { domain: 'test:5000', path: 'repo', tag: 'tag', digest: SHA256_F }),
  valid('test_com', hub('library/test_com')),
  valid('test_com/foo', hub('test_com/foo')),
  valid('test-com:8080/foo', { domain: 'test-com:8080', path: 'foo' }),
  valid('xn--n3h.com:18080/foo', { domain: 'xn--n3h.com:18080', path: 'foo' }),
  valid(`xn--7o8h.com/myimage:xn--7o8h.com@${SHA512_F}`, {
    domain: 'xn--7o8h.com',
    path: 'myimage',
    tag: 'xn--7o8h.com',
    digest: SHA512_F,
  }),
  valid('sub-dom1.foo.com/bar/baz/quux:some-long-tag', {
    domain: 'sub-dom1.foo.com',
    path: 'bar/baz/quux',
    tag: 'some-long-tag',
  }),
  valid('b.gcr.io/test.example.com/my-app:test.example.com', {
    domain: 'b.gcr.io',
    path: 'test.example.com/my-app',
    tag: 'test.example.com',
  }),
  valid('foo_bar.com:8080', hub('library/foo_bar.com', { tag: '8080' })),
  valid('foo/foo_bar.com:8080', hub('foo/foo_bar.com', { tag: '8080' })),
  valid('0101.com/foo', { domain: '0101.com', path: 'foo' }),
  valid('192.168.1.1', hub('library/192.168.1.1')),
  valid('192.168.1.1:5000/repo:5050', { domain: '192.168.1.1:5000', path: 'repo', tag: '5050' }),
  valid('192.168.0.1:8/debian', { domain: '192.168.0.1:8', path: 'debian' }),
  valid('192.168.1.1:75050/repo', { domain: '192.168.1.1:75050', path: 'repo' }),
  valid('127.0.0.1:5000/library/debian', { domain: '127.0.0.1:5000', path: 'library/debian' }),
  // IPv6
  valid('[2001:db8::1]/repo', { domain: '[2001:db8::1]', path: 'repo' }),
  valid('[2001:db8:1:2:3:4:5:6]/repo:tag', { domain: '[2001:db8:1:2:3:4:5:6]', path: 'repo', tag: 'tag' }),
  valid(`[2001:db8::1]:5000/repo:tag@${SHA256_F}`, {
    domain: '[2001:db8::1]:5000',
    path: 'repo',
    tag: 'tag',
    digest: SHA256_F,
  }),
  valid('[2001:db8::]:5000/repo', { domain: '[2001:db8::]:5000', path: 'repo' }),
  valid('[::1]:5000/repo', { domain: '[::1]:5000', path: 'repo' }),
  valid('[fe80::1]:5000/x', { domain: '[fe80::1]:5000', path: 'x' }),
  valid('[fc00:1:2:3:4:5:6:7]:5000/library/debian', { domain: '[fc00:1:2:3:4:5:6:7]:5000', path: 'library/debian' }),
  // uppercase is allowed in the domain (and makes a first component a domain), and in tags
  valid('Docker/docker', { domain: 'Docker', path: 'docker' }),
  valid('DOCKER/docker', { domain: 'DOCKER', path: 'docker' }),
  valid('Foo/bar', { domain: 'Foo', path: 'bar' }),
  valid('Asdf.com/foo/bar', { domain: 'Asdf.com', path: 'foo/bar' }),
  valid('lowercase:Uppercase', hub('library/lowercase', { tag: 'Uppercase' })),
  valid('test.com:8000/foo:TAG5', { domain: 'test.com:8000', path: 'foo', tag: 'TAG5' }),
  // separators
  valid('docker-rules/docker', hub('docker-rules/docker')),
  valid('docker---rules/docker', hub('docker---rules/docker')),
  valid('dock__er/docker', hub('dock__er/docker')),
  valid('d/docker', hub('d/docker')),
  valid('jess/t', hub('jess/t')),
  valid('registry.io/foo/project--id.module--name.ver---sion--name', {
    domain: 'registry.io',
    path: 'foo/project--id.module--name.ver---sion--name',
  }),
  valid('example.com/some_separator__underscore/myimage', {
    domain: 'example.com',
    path: 'some_separator__underscore/myimage',
  }),
  // hex-looking names that are not a bare 64-character ID
  valid('thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev', hub('library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev')),
  valid(`docker.io/${HEX64}`, hub(`library/${HEX64}`), HEX64),
  valid(HEX64.slice(0, 63), hub(`library/${HEX64.slice(0, 63)}`)),
  valid('dbcc1', hub('library/dbcc1')),
  // Docker's parser reads an image-ID-shaped digest as repository "sha256" with a hex tag
  valid(`sha256:${HEX64}`, hub('library/sha256', { tag: HEX64 })),
  // a first component that looks like a host but is not one stays part of the path, with no domain
  valid('foo_bar.com/app', { domain: '', path: 'foo_bar.com/app' }),
  // tags and digests together
  valid(`busybox:latest@${BUSYBOX_DIGEST}`, hub('library/busybox', { tag: 'latest', digest: BUSYBOX_DIGEST })),
  valid(`redis@${REDIS_DIGEST}`, hub('library/redis', { digest: REDIS_DIGEST })),
  valid(`dmcgowan/myapp@${REDIS_DIGEST}`, hub('dmcgowan/myapp', { digest: REDIS_DIGEST })),
  // length limits: the path (after normalisation) may be 255 characters, a tag 128
  valid(`${'a/'.repeat(127)}a:tag-puts-this-over-max`, hub(`${'a/'.repeat(127)}a`, { tag: 'tag-puts-this-over-max' })),
  valid(`example.com/${'a'.repeat(255)}:tag`, { domain: 'example.com', path: 'a'.repeat(255), tag: 'tag' }),
  valid('a'.repeat(247), hub(`library/${'a'.repeat(247)}`)),
  valid(`busybox:${'t'.repeat(128)}`, hub('library/busybox', { tag: 't'.repeat(128) })),
];

interface InvalidCase {
  input: string;
  /** A substring of the message naming the rule that was broken. */
  rule: string;
}

function invalid(input: string, rule: string): InvalidCase {
  return { input, rule };
}

const LOWERCASE = 'must be lowercase';
const PATH_COMPONENT = 'must be lowercase letters and digits, separated by';
const EMPTY_COMPONENT = 'cannot be empty';
const NO_NAME = 'repository name must have at least one component';
const BAD_DOMAIN = 'invalid registry domain';
const BARE_DOMAIN = 'is a registry domain with no repository path';
const TOO_LONG = 'repository name must not be more than 255 characters';
const SHA256_LENGTH = 'sha256 digests have 64 hex characters';
const DIGEST_SHAPE = 'a digest is <algorithm>:<hex>';
const TAG_SHAPE = '(a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})';

const invalidCases: InvalidCase[] = [
  invalid('', NO_NAME),
  invalid(':justtag', NO_NAME),
  invalid(`@${SHA256_F}`, NO_NAME),
  // digests
  invalid(`repo@sha256:${'f'.repeat(34)}`, SHA256_LENGTH),
  invalid('repo@sha256:abc', 'invalid digest "sha256:abc": sha256 digests have 64 hex characters'),
  invalid('registry.com:8080/myapp@sha256:badbadbadbad', SHA256_LENGTH),
  invalid(`busybox@sha512:${'f'.repeat(64)}`, 'sha512 digests have 128 hex characters'),
  invalid(`busybox@sha256:${'F'.repeat(64)}`, 'sha256 digests are lowercase hex'),
  invalid(`validname@invaliddigest:${'f'.repeat(64)}`, 'unsupported digest algorithm "invaliddigest"'),
  invalid(`busybox@md5:${'f'.repeat(32)}`, 'unsupported digest algorithm "md5"'),
  invalid('registry.com:8080/myapp@bad', DIGEST_SHAPE),
  invalid('registry.com:8080/myapp@2bad', DIGEST_SHAPE),
  invalid('busybox@', DIGEST_SHAPE),
  invalid(`busybox@:${'f'.repeat(64)}`, DIGEST_SHAPE),
  invalid(`busybox@-sha:${'f'.repeat(64)}`, DIGEST_SHAPE),
  invalid('[fe80::1%@invalidzone]:5000/repo', 'invalid digest'),
  // case
  invalid('Busybox', 'invalid reference format: repository name (library/Busybox) must be lowercase'),
  invalid('Uppercase:tag', 'repository name (library/Uppercase) must be lowercase'),
  invalid('test:5000/Uppercase/lowercase:tag', 'repository name (Uppercase/lowercase) must be lowercase'),
  invalid('docker/Docker', 'repository name (docker/Docker) must be lowercase'),
  invalid('docker.io/docker/Docker', 'repository name (docker/Docker) must be lowercase'),
  invalid(`Busybox@${SHA256_F}`, 'repository name (library/Busybox) must be lowercase'),
  invalid('Foo_Bar/app', 'repository name (Foo_Bar/app) must be lowercase'),
  invalid('Foo/FarB', LOWERCASE),
  // path components
  invalid('aa/asdf$$^/aa', 'path component "asdf$$^"'),
  invalid('a^a', 'path component "a^a"'),
  invalid('foo bar', 'path component "foo bar"'),
  invalid('-foo', PATH_COMPONENT),
  invalid('-docker', PATH_COMPONENT),
  invalid('-docker/docker', 'path component "-docker"'),
  invalid('docker-/docker', 'path component "docker-"'),
  invalid('-docker-/docker', PATH_COMPONENT),
  invalid('____/____', PATH_COMPONENT),
  invalid('_docker/_docker', PATH_COMPONENT),
  invalid('docker_/docker_', PATH_COMPONENT),
  // a first component with a "." is taken as a registry domain, as Docker does
  invalid('dock..er/docker', 'invalid registry domain "dock..er"'),
  invalid('dock_.er/docker', BAD_DOMAIN),
  invalid('dock-.er/docker', BAD_DOMAIN),
  invalid('foo/bar-', 'path component "bar-"'),
  invalid('foo/-bar', 'path component "-bar"'),
  invalid('a-/a/a/a', PATH_COMPONENT),
  invalid('foo.com/a-/a/a', 'path component "a-"'),
  invalid('example.com/__underscore/myimage', 'path component "__underscore"'),
  invalid('example.com/..dots/myimage', PATH_COMPONENT),
  invalid('example.com/.dots/myimage', PATH_COMPONENT),
  invalid('example.com/nodouble..dots/myimage', PATH_COMPONENT),
  invalid('docker///docker', EMPTY_COMPONENT),
  invalid('docker.io/docker///docker', EMPTY_COMPONENT),
  invalid('docker/', EMPTY_COMPONENT),
  invalid('a/a/a/a/', EMPTY_COMPONENT),
  invalid('foo.com/', EMPTY_COMPONENT),
  // domains
  invalid('https://github.com/docker/docker', 'invalid registry domain "https:"'),
  invalid('-docker.io/docker/docker', 'invalid registry domain "-docker.io"'),
  invalid('docker./docker', BAD_DOMAIN),
  invalid('.docker/docker', BAD_DOMAIN),
  invalid('do__cker:8080/docker', BAD_DOMAIN),
  invalid('bad_hostname.com:8080/myapp:tag', BAD_DOMAIN),
  invalid('foo_bar.com:8080/app', BAD_DOMAIN),
  invalid('localhost:http/name', 'invalid registry domain "localhost:http"'),
  invalid('foo.com:http/bar', BAD_DOMAIN),
  invalid('fc00::1:5000/debian', BAD_DOMAIN),
  invalid('[fe80::1%eth0]:5000/debian', 'invalid registry domain "[fe80::1%eth0]:5000"'),
  invalid('[2001:db8:3:4::192.0.2.33]:5000/debian', BAD_DOMAIN),
  invalid('[fd00:1:2::3]75050/x', BAD_DOMAIN),
  invalid('[fc00::1]', `"[fc00::1]" ${BARE_DOMAIN}`),
  invalid('[fc00::1]:5000', BARE_DOMAIN),
  invalid('[2001:db8::1]:tag', BARE_DOMAIN),
  // image IDs
  invalid(HEX64, `invalid repository name (${HEX64}), cannot specify 64-byte hexadecimal strings`),
  // lengths
  invalid(`${Array(4).fill('this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255').join('_')}/docker`, TOO_LONG),
  invalid(`domain/${'a'.repeat(256)}:tag`, TOO_LONG),
  invalid(`example.com/${'a'.repeat(256)}`, TOO_LONG),
  invalid('a'.repeat(248), TOO_LONG),
  invalid(`busybox:${'t'.repeat(129)}`, `tag "${'t'.repeat(32)}..." is longer than 128 characters`),
  // tags
  invalid('busybox:a$b', `invalid tag "a$b" ${TAG_SHAPE}`),
  invalid('busybox:-foo', 'invalid tag "-foo"'),
  invalid('busybox:.foo', 'invalid tag ".foo"'),
  invalid('busybox:', 'invalid tag ""'),
  invalid('registry.com:8080/myapp:invalid~tag', 'invalid tag "invalid~tag"'),
  invalid(`busybox:a:b@${SHA256_F}`, 'invalid tag "a:b"'),
];

function parseError(input: string): InvalidReferenceError {
  try {
    parseReference(input);
  } catch (err) {
    if (err instanceof InvalidReferenceError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

const label = (s: string): string => (s.length > 60 ? `${s.slice(0, 57)}...` : s);

describe('parseReference', () => {
  it.each(validCases.map((c) => [label(c.input), c] as const))('accepts %s', (_, c) => {
    expect(parseReference(c.input)).toStrictEqual(c.ref);
  });

  it.each(invalidCases.map((c) => [label(c.input), c] as const))('rejects %s', (_, c) => {
    const err = parseError(c.input);
    expect(err.code).toBe('INVALID_REFERENCE');
    expect(err.message.startsWith('invalid reference format')).toBe(true);
    expect(err.message).toContain(c.rule);
  });

  it('keeps both the tag and the digest', () => {
    const ref = parseReference(`busybox:latest@${BUSYBOX_DIGEST}`);
    expect(referenceString(ref)).toBe(`docker.io/library/busybox:latest@${BUSYBOX_DIGEST}`);
    expect(familiarString(ref)).toBe(`busybox:latest@${BUSYBOX_DIGEST}`);
  });

  // Catastrophic backtracking would show up as this test hanging until vitest's timeout;
  // speed itself is measured in bench/, never asserted here.
  it('rejects adversarial input', () => {
    const inputs = [
      'a'.repeat(100_000) + '!',
      'a.'.repeat(50_000) + '!',
      'a-'.repeat(50_000) + '!',
      'a/'.repeat(50_000) + '!',
      `${'a1.'.repeat(30_000)}com:${'9'.repeat(10_000)}/x!`,
    ];
    for (const input of inputs) expect(() => parseReference(input)).toThrow(InvalidReferenceError);
  });
});

describe('string forms', () => {
  it.each(validCases.map((c) => [label(c.input), c] as const))('round-trips %s', (_, c) => {
    const ref = parseReference(c.input);
    expect(parseReference(referenceString(ref))).toStrictEqual(ref);
    expect(familiarString(ref)).toBe(c.familiar);
    // The familiar form of docker.io/library/<64 hex> is a bare ID, which Docker refuses to
    // read back as a name.
    if (ref.path !== `library/${HEX64}`) expect(parseReference(familiarString(ref))).toStrictEqual(ref);
  });

  it.each([
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest', 'busybox', 'docker.io/library/busybox'],
    ['foo/bar:1', 'docker.io/foo/bar:1', 'foo/bar:1', 'foo/bar', 'docker.io/foo/bar'],
    ['localhost:5000/a/b:t', 'localhost:5000/a/b:t', 'localhost:5000/a/b:t', 'localhost:5000/a/b', 'localhost:5000/a/b'],
    [`localhost:5000/a/b:t@${SHA256_F}`, `localhost:5000/a/b:t@${SHA256_F}`, `localhost:5000/a/b:t@${SHA256_F}`, 'localhost:5000/a/b', 'localhost:5000/a/b'],
    [`redis@${REDIS_DIGEST}`, `docker.io/library/redis@${REDIS_DIGEST}`, `redis@${REDIS_DIGEST}`, 'redis', 'docker.io/library/redis'],
    ['docker.io/library/foo/bar', 'docker.io/library/foo/bar:latest', 'library/foo/bar:latest', 'library/foo/bar', 'docker.io/library/foo/bar'],
    ['Foo/bar', 'Foo/bar:latest', 'Foo/bar:latest', 'Foo/bar', 'Foo/bar'],
  ])('%s with the default tag', (input, full, familiar, name, repository) => {
    const ref = withDefaultTag(parseReference(input));
    expect(referenceString(ref)).toBe(full);
    expect(familiarString(ref)).toBe(familiar);
    expect(familiarName(ref)).toBe(name);
    expect(repositoryName(ref)).toBe(repository);
  });
});

describe('withDefaultTag', () => {
  it('adds latest only when there is neither tag nor digest', () => {
    expect(withDefaultTag(parseReference('busybox')).tag).toBe('latest');
    expect(withDefaultTag(parseReference('busybox:1.36')).tag).toBe('1.36');
    expect(withDefaultTag(parseReference(`busybox@${BUSYBOX_DIGEST}`))).toStrictEqual(
      hub('library/busybox', { digest: BUSYBOX_DIGEST }),
    );
  });

  it('does not modify its argument', () => {
    const ref = parseReference('busybox');
    withDefaultTag(ref);
    expect(ref).toStrictEqual(hub('library/busybox'));
  });
});

describe('tags and validateDigest', () => {
  it.each(['latest', 'TAG5', '_x', '1.36.1-musl', 'a'.repeat(128)])('accepts tag %s', (tag) => {
    expect(parseReference(`busybox:${tag}`).tag).toBe(tag);
  });

  it.each([
    ['-x', 'invalid tag "-x"'],
    ['a'.repeat(129), 'is longer than 128 characters'],
  ])('rejects tag %s', (tag, rule) => {
    expect(() => parseReference(`busybox:${tag}`)).toThrow(InvalidReferenceError);
    expect(() => parseReference(`busybox:${tag}`)).toThrow(rule);
  });

  it.each([SHA256_F, SHA512_F, `sha384:${'0'.repeat(96)}`])('accepts digest %s', (digest) => {
    expect(() => validateDigest(digest)).not.toThrow();
  });

  it.each([
    ['sha256:abc', SHA256_LENGTH],
    [`sha256:${'A'.repeat(64)}`, 'lowercase hex'],
    [`sha256:${'g'.repeat(64)}`, 'lowercase hex'],
    [`SHA256:${'a'.repeat(64)}`, 'unsupported digest algorithm "SHA256"'],
    [`md5:${'a'.repeat(32)}`, 'unsupported digest algorithm "md5"'],
    ['foo', DIGEST_SHAPE],
    [`1sha:${'a'.repeat(64)}`, DIGEST_SHAPE],
  ])('rejects digest %s', (digest, rule) => {
    expect(() => validateDigest(digest)).toThrow(InvalidReferenceError);
    expect(() => validateDigest(digest)).toThrow(rule);
  });
});

