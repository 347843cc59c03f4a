import { describe, expect, it } from 'vitest';
import { resolveUser } from '../core/container/user.ts';

const passwd = ['root:x:0:0:root:/root:/bin/sh', 'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin', 'app:x:1000:1000::/home/app:/bin/sh', '# comment', 'broken'].join('\n');
const group = ['root:x:0:', 'daemon:x:1:', 'app:x:1000:', 'audio:x:29:app', 'video:x:44:daemon,app', 'staff:x:50:'].join('\n');

describe("resolving --user as runc does", () => {
  it.each([
    ['', { uid: 0, gid: 0, additionalGids: [], home: '/root' }],
    ['root', { uid: 0, gid: 0, additionalGids: [], home: '/root' }],
    ['app', { uid: 1000, gid: 1000, additionalGids: [29, 44], home: '/home/app' }],
    ['1000', { uid: 1000, gid: 1000, additionalGids: [29, 44], home: '/home/app' }],
    ['app:staff', { uid: 1000, gid: 50, additionalGids: [], home: '/home/app' }],
    ['app:44', { uid: 1000, gid: 44, additionalGids: [], home: '/home/app' }],
    ['4242', { uid: 4242, gid: 0, additionalGids: [], home: '/' }],
    ['4242:4343', { uid: 4242, gid: 4343, additionalGids: [], home: '/' }],
    ['daemon', { uid: 1, gid: 1, additionalGids: [44], home: '/usr/sbin' }],
  ])('%s', (spec, expected) => {
    expect(resolveUser(spec, passwd, group)).toEqual(expected);
  });

  it('works for numeric users when the image has no passwd or group file', () => {
    expect(resolveUser('1000:1000', undefined, undefined)).toEqual({ uid: 1000, gid: 1000, additionalGids: [], home: '/' });
    expect(resolveUser('', undefined, undefined)).toEqual({ uid: 0, gid: 0, additionalGids: [], home: '/' });
  });

  it.each([
    ['nobody', 'unable to find user nobody: no matching entries in passwd file'],
    ['app:nogroup', 'unable to find group nogroup: no matching entries in group file'],
    ['3000000000', 'uid 3000000000 is out of range'],
  ])('refuses %s', (spec, message) => {
    expect(() => resolveUser(spec, passwd, group)).toThrow(message);
  });
});
