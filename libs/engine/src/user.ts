/**
 * `-u`/`USER` as Docker reads it: `name`, `uid`, `name:group`, `uid:gid`, resolved against the
 * container's own /etc/passwd and /etc/group; supplementary groups from /etc/group.
 */
import { readFileInRoot } from './rootfs-files';
import { PaasError } from '@paas/errors';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

/** A USER the image's /etc/passwd and /etc/group cannot resolve. */
export class UserError extends PaasError {
  constructor(message: string) {
    super('invalid_params', message);
  }
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function parsePasswd(text: string | undefined): PasswdEntry[] {
  return (text ?? '').split('\n').flatMap((line) => {
    const [name, , uid, gid, , home] = line.split(':');
    if (!name || uid === undefined || gid === undefined || !/^\d+$/.test(uid) || !/^\d+$/.test(gid)) return [];
    return [{ name, uid: Number(uid), gid: Number(gid), home: home || '/' }];
  });
}

function parseGroup(text: string | undefined): Array<{ name: string; gid: number; members: string[] }> {
  return (text ?? '').split('\n').flatMap((line) => {
    const [name, , gid, members] = line.split(':');
    if (!name || gid === undefined || !/^\d+$/.test(gid)) return [];
    return [{ name, gid: Number(gid), members: (members ?? '').split(',').filter(Boolean) }];
  });
}

const MAX_ID = 2 ** 31 - 1;

export function resolveUser(rootfs: string, spec: string | undefined): ResolvedUser {
  // No user asked for: root, whether or not the image has a passwd file (as Docker does).
  if (spec === undefined || spec === '') {
    const root = parsePasswd(readFileInRoot(rootfs, '/etc/passwd')).find((p) => p.uid === 0);
    return { uid: 0, gid: root?.gid ?? 0, additionalGids: [], home: root?.home ?? '/root' };
  }
  const passwd = parsePasswd(readFileInRoot(rootfs, '/etc/passwd'));
  const groups = parseGroup(readFileInRoot(rootfs, '/etc/group'));
  const [userPart = '', groupPart] = spec.split(':', 2);

  let uid: number;
  let gid: number;
  let name: string | undefined;
  let home = '/';
  if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    if (uid > MAX_ID) throw new UserError(`uid ${userPart} is out of range`);
    const entry = passwd.find((p) => p.uid === uid);
    gid = entry?.gid ?? 0;
    name = entry?.name;
    home = entry?.home ?? '/';
  } else {
    const entry = passwd.find((p) => p.name === userPart);
    if (!entry) throw new UserError(`unable to find user ${userPart}: no matching entries in passwd file`);
    ({ uid, gid, name, home } = entry);
  }
  if (groupPart !== undefined && groupPart !== '') {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const group = groups.find((g) => g.name === groupPart);
      if (!group) throw new UserError(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = group.gid;
    }
  }
  const additionalGids = name ? groups.filter((g) => g.members.includes(name) && g.gid !== gid).map((g) => g.gid) : [];
  return { uid, gid, additionalGids, home };
}
