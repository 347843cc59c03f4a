import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

// What the memory benchmark reads from /proc: processes, their parents and argv, their memory,
// and which one listens on a unix socket.

/** A process's (or a set's) resident memory, KiB. */
export interface Memory {
  /** VmRSS: every page mapped, shared ones counted in full in each process that maps them. */
  rssKiB: number;
  /** Pss: each shared page divided among the processes that map it, so a set's sum is what it really uses. */
  pssKiB: number;
}

export const NO_MEMORY: Memory = { rssKiB: 0, pssKiB: 0 };

export const addMemory = (a: Memory, b: Memory): Memory => ({ rssKiB: a.rssKiB + b.rssKiB, pssKiB: a.pssKiB + b.pssKiB });
export const subtractMemory = (a: Memory, b: Memory): Memory => ({ rssKiB: a.rssKiB - b.rssKiB, pssKiB: a.pssKiB - b.pssKiB });
export const divideMemory = (a: Memory, n: number): Memory => ({ rssKiB: a.rssKiB / n, pssKiB: a.pssKiB / n });

function kib(text: string, field: string, file: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
  if (!match) throw new Error(`${file} has no ${field} line`);
  return Number(match[1]);
}

/** VmRSS from /proc/<pid>/status and Pss from /proc/<pid>/smaps_rollup (Linux 4.14+). */
export function processMemory(pid: number): Memory {
  const status = `/proc/${pid}/status`;
  const rollup = `/proc/${pid}/smaps_rollup`;
  return { rssKiB: kib(readFileSync(status, 'utf8'), 'VmRSS', status), pssKiB: kib(readFileSync(rollup, 'utf8'), 'Pss', rollup) };
}

export function totalMemory(pids: number[]): Memory {
  return pids.map(processMemory).reduce(addMemory, NO_MEMORY);
}

interface ProcessEntry {
  pid: number;
  ppid: number;
  comm: string;
  argv: string[];
}

/** The parent and command name (comm) of `pid`, from /proc/<pid>/stat. */
function readStat(pid: number | string): { ppid: number; comm: string } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The comm is in parentheses and may itself hold spaces and parentheses: the fields follow the last ')'.
  const close = stat.lastIndexOf(')');
  return { ppid: Number(stat.slice(close + 2).split(' ')[1]), comm: stat.slice(stat.indexOf('(') + 1, close) };
}

/** Every process now, read from /proc; one that exits while it is being read is left out. */
function processes(): ProcessEntry[] {
  const out: ProcessEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').slice(0, -1);
      out.push({ pid: Number(name), ...readStat(name), argv });
    } catch {
      // Gone between readdir and read.
    }
  }
  return out;
}

/** `pid` and all its descendants. */
export function processTree(pid: number): number[] {
  const all = processes();
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const p of all) if (p.ppid === tree[i]) tree.push(p.pid);
  return tree;
}

/** The processes whose argv satisfies `match`. */
export function findProcesses(match: (argv: string[]) => boolean): number[] {
  return processes()
    .filter((p) => match(p.argv))
    .map((p) => p.pid);
}

/** The children of `pid` whose command name (comm) is `comm`. */
export function childrenNamed(pid: number, comm: string): number[] {
  return processes()
    .filter((p) => p.ppid === pid && p.comm === comm)
    .map((p) => p.pid);
}

/** /run and /var/run are one directory; /proc/net/unix says whichever the socket was bound as. */
const canonicalRun = (path: string) => path.replace(/^\/var\/run\//, '/run/');

/**
 * The process that listens on the unix socket `path`: the socket's inode from /proc/net/unix,
 * then the process holding a descriptor of it. Undefined when none is found.
 */
export function listeningProcess(path: string): number | undefined {
  const wanted = canonicalRun(path);
  const inodes = new Set<string>();
  for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path
    const fields = line.trim().split(/\s+/);
    if (fields[7] !== undefined && canonicalRun(fields[7]) === wanted) inodes.add(fields[6]!);
  }
  if (inodes.size === 0) return undefined;
  for (const { pid } of processes()) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (target.startsWith('socket:[') && inodes.has(target.slice(8, -1))) return pid;
      }
    } catch {
      // Gone, or its descriptors changed while being read.
    }
  }
  return undefined;
}

/** The parent of `pid` and its command name. */
export function parentOf(pid: number): { pid: number; comm: string } {
  const { ppid } = readStat(pid);
  return { pid: ppid, comm: readStat(ppid).comm };
}
