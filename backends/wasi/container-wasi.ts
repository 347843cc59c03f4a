import { WASI, wasi, type Fd } from '@bjorn3/browser_wasi_shim';
import { filetypeOf } from './filestat.ts';
import { UnionDirectoryFd } from './union-fds.ts';
import { nowNs } from './worker-protocol.ts';

/**
 * browser_wasi_shim's WASI with the workarounds berth needs for 0.4.2 (the latest release):
 * - debug logging is on unless `debug: false` is passed: always passed;
 * - path_open appends descriptors and fd_close never frees a number: the lowest free number is
 *   reused, as POSIX requires;
 * - fd_renumber fails with EBADF when `to` is not open, and renumbering a descriptor onto itself
 *   loses it: here, as in the preview1 component adapter and wasmer, `to` need not be open (what
 *   it held is closed), and onto itself is a no-op. yosys moves stdout aside, a file onto 1 and
 *   stdout back around its in-process ABC: with the shim, all output after it was lost;
 * - fd_readdir asks the descriptor for one entry per cookie, and the shim's directories list all
 *   entries for each (quadratic): here a directory is listed once per pass and served linearly;
 * - path_symlink is ENOTSUP, and path_readlink fails with EBADF when the buffer is short (readlink
 *   truncates); path_rename and path_link move inode objects between the shim's in-memory
 *   directories: all four go to the union;
 * - args_sizes_get counts UTF-16 code units, not UTF-8 bytes: a non-ASCII argument overflows the
 *   buffer wasi-libc allocates for args_get;
 * - poll_oneoff sleeps in a busy loop: here in Atomics.wait, so a sleeping container costs no CPU
 *   (and worker.terminate() still ends it).
 * It also keeps `usage` current for the main thread's stats (wasi-runner.ts' WasiUsage): [0] the
 * memory's size at every WASI call, [1] the nanoseconds slept in poll_oneoff, [2] when the
 * current sleep began (nowNs), 0 while awake.
 * Filestat offsets: see filestat.ts. New directories' parent pointers are a bug of the shim's
 * in-memory tree, which berth does not use: the union resolves `..` itself.
 */
export class ContainerWasi extends WASI {
  constructor(
    args: string[],
    env: string[],
    fds: Fd[],
    private readonly usage: BigInt64Array = new BigInt64Array(3),
  ) {
    super(args, env, fds, { debug: false });
    const imports = this.wasiImport;
    const memory = () => this.inst.exports.memory.buffer;
    const text = (ptr: number, length: number) => new TextDecoder().decode(new Uint8Array(memory(), ptr, length));
    const directory = (fd: number) => {
      const entry = this.fds[fd];
      return entry instanceof UnionDirectoryFd ? entry : undefined;
    };

    imports.path_open = (fd: number, dirflags: number, pathPtr: number, pathLength: number, oflags: number, rightsBase: bigint, rightsInheriting: bigint, fdflags: number, openedPtr: number) => {
      const dir = this.fds[fd];
      if (dir === undefined) return wasi.ERRNO_BADF;
      const { ret, fd_obj } = dir.path_open(dirflags, text(pathPtr, pathLength), oflags, rightsBase, rightsInheriting, fdflags);
      if (ret !== 0 || fd_obj === null) return ret;
      const opened = this.allocateFd(fd_obj);
      new DataView(memory()).setUint32(openedPtr, opened, true);
      return 0;
    };

    imports.fd_renumber = (fd: number, to: number) => {
      const from = this.fds[fd];
      // A number is an i32 here: one past 2^31 arrives negative.
      if (from === undefined || to < 0 || to >= MAX_FDS) return wasi.ERRNO_BADF;
      if (fd === to) return 0;
      // What `to` was is closed, as dup2 closes it; a failure there does not stop the renumbering.
      this.fds[to]?.fd_close();
      this.fds[to] = from;
      delete this.fds[fd];
      return 0;
    };

    imports.fd_readdir = (fd: number, buf: number, bufLength: number, cookie: bigint, usedPtr: number) => {
      const dir = directory(fd);
      if (dir === undefined) return this.fds[fd] === undefined ? wasi.ERRNO_BADF : wasi.ERRNO_NOTDIR;
      const { ret, entries } = dir.entries(cookie);
      if (ret !== 0) return ret;
      const bytes = new Uint8Array(memory(), buf, bufLength);
      const encoder = new TextEncoder();
      let used = 0;
      for (let index = Number(cookie); index < entries.length && used < bufLength; index++) {
        const entry = entries[index]!;
        const name = encoder.encode(entry.name);
        // A dirent that does not fit is written truncated: the caller sees a full buffer and
        // asks again from this entry's cookie with a larger one.
        const record = new Uint8Array(24 + name.length);
        const head = new DataView(record.buffer);
        head.setBigUint64(0, BigInt(index + 1), true);
        head.setBigUint64(8, BigInt(entry.ino), true);
        head.setUint32(16, name.length, true);
        head.setUint8(20, filetypeOf(entry.type));
        record.set(name, 24);
        const fits = Math.min(record.length, bufLength - used);
        bytes.set(record.subarray(0, fits), used);
        used += fits;
      }
      new DataView(memory()).setUint32(usedPtr, used, true);
      return 0;
    };

    imports.path_symlink = (targetPtr: number, targetLength: number, fd: number, pathPtr: number, pathLength: number) => {
      const dir = directory(fd);
      if (dir === undefined) return wasi.ERRNO_BADF;
      return dir.symlink(text(targetPtr, targetLength), text(pathPtr, pathLength));
    };

    imports.path_readlink = (fd: number, pathPtr: number, pathLength: number, buf: number, bufLength: number, usedPtr: number) => {
      const dir = directory(fd);
      if (dir === undefined) return wasi.ERRNO_BADF;
      const { ret, data } = dir.path_readlink(text(pathPtr, pathLength));
      if (ret !== 0 || data === null) return ret;
      const target = new TextEncoder().encode(data).subarray(0, bufLength);
      new Uint8Array(memory()).set(target, buf);
      new DataView(memory()).setUint32(usedPtr, target.length, true);
      return 0;
    };

    imports.path_rename = (fd: number, fromPtr: number, fromLength: number, newFd: number, toPtr: number, toLength: number) => {
      const from = directory(fd);
      const to = directory(newFd);
      if (from === undefined || to === undefined) return wasi.ERRNO_BADF;
      return from.rename(text(fromPtr, fromLength), to.resolve(text(toPtr, toLength)));
    };

    imports.path_link = (fd: number, lookupFlags: number, fromPtr: number, fromLength: number, newFd: number, toPtr: number, toLength: number) => {
      const from = directory(fd);
      const to = directory(newFd);
      if (from === undefined || to === undefined) return wasi.ERRNO_BADF;
      return from.link(text(fromPtr, fromLength), lookupFlags, to.resolve(text(toPtr, toLength)));
    };

    imports.args_sizes_get = (countPtr: number, sizePtr: number) => {
      const view = new DataView(memory());
      view.setUint32(countPtr, this.args.length, true);
      view.setUint32(sizePtr, this.args.reduce((sum, arg) => sum + new TextEncoder().encode(arg).length + 1, 0), true);
      return 0;
    };

    imports.poll_oneoff = (inPtr: number, outPtr: number, count: number, eventsPtr: number) => this.pollOneoff(inPtr, outPtr, count, eventsPtr);
    imports.sched_yield = () => 0;

    // Memory grows only by memory.grow, which cannot be observed from outside; a module that
    // grew it does so to use it, and using it mostly ends in a WASI call (a write, an exit).
    for (const [name, call] of Object.entries(imports) as [string, (...args: unknown[]) => unknown][]) {
      imports[name] = (...args: unknown[]) => {
        this.recordMemory();
        return call(...args);
      };
    }
  }

  /** Stores the module's current memory size in `usage[0]`. */
  recordMemory(): void {
    const memory = this.inst?.exports.memory as WebAssembly.Memory | undefined;
    if (memory !== undefined) Atomics.store(this.usage, 0, BigInt(memory.buffer.byteLength));
  }

  /** The lowest free descriptor number. */
  private allocateFd(fd: Fd): number {
    let number = this.fds.findIndex((entry) => entry === undefined);
    if (number === -1) number = this.fds.length;
    this.fds[number] = fd;
    return number;
  }

  /**
   * Clock subscriptions sleep until the earliest deadline and report it; fd subscriptions are
   * reported ready at once (reads and writes here do not block for long).
   */
  private pollOneoff(inPtr: number, outPtr: number, count: number, eventsPtr: number): number {
    if (count === 0) return wasi.ERRNO_INVAL;
    const view = () => new DataView(this.inst.exports.memory.buffer);
    const subscriptions = Array.from({ length: count }, (_, index) => wasi.Subscription.read_bytes(view(), inPtr + index * 48));
    let ready = subscriptions.filter((s) => s.eventtype !== wasi.EVENTTYPE_CLOCK);
    if (ready.length === 0) {
      const waits = subscriptions.map((s) => {
        if ((s.flags & wasi.SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME) === 0) return s.timeout;
        const now = s.clockid === wasi.CLOCKID_REALTIME ? BigInt(Date.now()) * 1_000_000n : BigInt(Math.round(performance.now() * 1e6));
        return s.timeout - now;
      });
      let first = 0;
      waits.forEach((wait, index) => {
        if (wait < waits[first]!) first = index;
      });
      const sleepNs = waits[first]!;
      if (sleepNs > 0n) {
        const started = nowNs();
        Atomics.store(this.usage, 2, started);
        Atomics.wait(sleeper, 0, 0, Number(sleepNs) / 1e6);
        Atomics.add(this.usage, 1, nowNs() - started);
        Atomics.store(this.usage, 2, 0n);
      }
      ready = [subscriptions[first]!];
    }
    ready.forEach((s, index) => new wasi.Event(s.userdata, wasi.ERRNO_SUCCESS, s.eventtype).write_bytes(view(), outPtr + index * 32));
    view().setUint32(eventsPtr, ready.length, true);
    return 0;
  }
}

/**
 * The descriptor numbers fd_renumber may use: Linux's default RLIMIT_NOFILE, past which dup2
 * fails with EBADF too. Descriptors live in an array searched for the lowest free number.
 */
const MAX_FDS = 1024;

/** Never notified: Atomics.wait on it is a plain sleep. */
const sleeper = new Int32Array(new SharedArrayBuffer(4));
