import { BerthError } from '../errors.ts';

/** The identity a container process runs as: what runc's GetExecUser computes. */
export interface ExecUser {
  uid: number;
  gid: number;
  /** Supplementary groups: those of /etc/group that list the user by name. */
  additionalGids: number[];
  /** From /etc/passwd; "/" when the user has no entry. */
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const MAX_ID = 2 ** 31 - 1;

function numeric(value: string): number | undefined {
  return /^\d+$/.test(value) ? Number(value) : undefined;
}

function parsePasswd(text: string): PasswdEntry[] {
  return text.split('\n').flatMap((line) => {
    const [name, , uid, gid, , home] = line.trim().split(':');
    if (!name || line.startsWith('#') || numeric(uid ?? '') === undefined) return [];
    return [{ name, uid: Number(uid), gid: numeric(gid ?? '') ?? 0, home: home || '/' }];
  });
}

function parseGroup(text: string): GroupEntry[] {
  return text.split('\n').flatMap((line) => {
    const [name, , gid, members] = line.trim().split(':');
    if (!name || line.startsWith('#') || numeric(gid ?? '') === undefined) return [];
    return [{ name, gid: Number(gid), members: (members ?? '').split(',').filter(Boolean) }];
  });
}

function checkRange(id: number, what: string): number {
  if (id > MAX_ID) throw new BerthError('INVALID_USER', `${what} ${id} is out of range (maximum ${MAX_ID})`);
  return id;
}

/**
 * Resolves Docker's `--user` (`name`, `uid`, `name:group`, `uid:gid`, empty for root) against
 * the image's /etc/passwd and /etc/group contents (undefined when the image has none), with
 * runc's rules: a name must exist; a number need not; the user's supplementary groups apply
 * only when no group is given explicitly.
 */
export function resolveUser(spec: string, passwd: string | undefined, group: string | undefined): ExecUser {
  const colon = spec.indexOf(':');
  const userArg = colon < 0 ? spec : spec.slice(0, colon);
  const groupArg = colon < 0 ? '' : spec.slice(colon + 1);
  const uidArg = numeric(userArg);
  const gidArg = numeric(groupArg);
  const user: ExecUser = { uid: 0, gid: 0, additionalGids: [], home: '/' };

  const users = parsePasswd(passwd ?? '').filter((u) => (userArg === '' ? u.uid === 0 : uidArg !== undefined ? u.uid === uidArg : u.name === userArg));
  let matchedName: string | undefined;
  if (users.length > 0) {
    const [first] = users;
    matchedName = first!.name;
    Object.assign(user, { uid: first!.uid, gid: first!.gid, home: first!.home });
  } else if (userArg !== '') {
    if (uidArg === undefined) throw new BerthError('INVALID_USER', `unable to find user ${userArg}: no matching entries in passwd file`);
    user.uid = checkRange(uidArg, 'uid');
  }

  if (groupArg !== '' || matchedName !== undefined) {
    const groups = parseGroup(group ?? '').filter((g) =>
      groupArg === '' ? g.members.includes(matchedName!) : gidArg !== undefined ? g.gid === gidArg : g.name === groupArg,
    );
    if (groupArg !== '') {
      if (groups.length > 0) user.gid = groups[0]!.gid;
      else if (gidArg === undefined) throw new BerthError('INVALID_USER', `unable to find group ${groupArg}: no matching entries in group file`);
      else user.gid = checkRange(gidArg, 'gid');
    } else {
      user.additionalGids = groups.map((g) => g.gid);
    }
  }
  return user;
}

/**
 * Resolves `--user` against the files of a container's snapshot, as Docker does at start: the
 * snapshot's /etc/passwd and /etc/group, read without mounting it.
 */
export async function resolveUserInSnapshot(
  snapshotter: { readFile(key: string, path: string): Promise<Uint8Array | undefined> },
  key: string,
  spec: string,
): Promise<ExecUser> {
  const text = async (path: string) => {
    const bytes = await snapshotter.readFile(key, path);
    return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
  };
  return resolveUser(spec, await text('/etc/passwd'), await text('/etc/group'));
}
