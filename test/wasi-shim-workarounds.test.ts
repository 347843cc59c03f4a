/**
 * browser_wasi_shim 0.4.2's bugs that berth works around (issue 6): each case shows the plain
 * shim failing and berth's override passing. The behaviours through a real module are in
 * wasi-fs.test.ts and wasi-run.test.ts (readdir of 20k entries, `..` of new directories,
 * symlinks, a last line without newline).
 */
import { File, OpenFile, PreopenDirectory, WASI, wasi } from '@bjorn3/browser_wasi_shim';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { ContainerWasi } from '../backends/wasi/container-wasi.ts';
import { UnionFilestat } from '../backends/wasi/filestat.ts';
import { runToolbox, unionOf } from './helpers/wasi-toolbox.ts';

/** A WASI object wired to a bare memory, to call its imports directly. */
function withMemory<T extends WASI>(instance: T): { shim: T; view: DataView; bytes: Uint8Array } {
  const memory = new WebAssembly.Memory({ initial: 1 });
  instance.inst = { exports: { memory } };
  return { shim: instance, view: new DataView(memory.buffer), bytes: new Uint8Array(memory.buffer) };
}

function preopen(): PreopenDirectory {
  return new PreopenDirectory('/', new Map([['f', new File(new Uint8Array([1, 2, 3]))]]));
}

afterEach(() => vi.restoreAllMocks());

describe('browser_wasi_shim workarounds', () => {
  test('filestat: times at offsets 40/48/56, so the size survives a non-zero atime', () => {
    const view = new DataView(new ArrayBuffer(64));
    const plain = new wasi.Filestat(1n, wasi.FILETYPE_REGULAR_FILE, 300n);
    plain.atim = plain.mtim = 1_700_000_000_123_456_789n;
    plain.write_bytes(view, 0);
    expect(view.getBigUint64(32, true)).not.toBe(300n);

    const fixed = UnionFilestat.from({ type: 'file', ino: 1, nlink: 1, size: 300, mtimeMs: 1_700_000_000_000 });
    fixed.write_bytes(view, 0);
    expect(view.getBigUint64(32, true)).toBe(300n);
    expect(view.getBigUint64(48, true)).toBe(1_700_000_000_000_000_000n);
  });

  test('debug logging stays off (the shim turns it on when options are omitted)', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const plain = withMemory(new WASI(['a'], [], []));
    plain.shim.wasiImport.args_sizes_get!(0, 4);
    expect(log).toHaveBeenCalled();
    log.mockClear();
    const ours = withMemory(new ContainerWasi(['a'], [], []));
    ours.shim.wasiImport.args_sizes_get!(0, 4);
    expect(log).not.toHaveBeenCalled();
  });

  test('a closed descriptor number is reused, lowest first', () => {
    const open = (shim: WASI, bytes: Uint8Array, view: DataView) => {
      bytes.set(new TextEncoder().encode('f'), 100);
      expect(shim.wasiImport.path_open!(3, 0, 100, 1, 0, 0n, 0n, 0, 200)).toBe(0);
      return view.getUint32(200, true);
    };
    const fds = () => [new OpenFile(new File([])), new OpenFile(new File([])), new OpenFile(new File([])), preopen()];
    const plain = withMemory(new WASI([], [], fds(), { debug: false }));
    const first = open(plain.shim, plain.bytes, plain.view);
    plain.shim.wasiImport.fd_close!(first);
    expect(open(plain.shim, plain.bytes, plain.view)).toBe(first + 1);

    const ours = withMemory(new ContainerWasi([], [], fds()));
    const again = open(ours.shim, ours.bytes, ours.view);
    expect(again).toBe(4);
    ours.shim.wasiImport.fd_close!(again);
    expect(open(ours.shim, ours.bytes, ours.view)).toBe(4);
  });

  test('fd_renumber onto a closed number moves the descriptor there (the shim: EBADF), onto itself does nothing', () => {
    // yosys's redirection of stdout into a file around its in-process ABC (passes/techmap/abc.cc):
    // open the file (a) and a placeholder (b), move stdout onto b, the file onto 1, then b back.
    const redirect = (shim: WASI, bytes: Uint8Array, view: DataView) => {
      const open = () => {
        bytes.set(new TextEncoder().encode('log'), 100);
        expect(shim.wasiImport.path_open!(3, 0, 100, 3, 0, 0n, 0n, 0, 200)).toBe(0);
        return view.getUint32(200, true);
      };
      const write = (text: string) => {
        const data = new TextEncoder().encode(text);
        bytes.set(data, 300);
        view.setUint32(400, 300, true);
        view.setUint32(404, data.length, true);
        return shim.wasiImport.fd_write!(1, 400, 1, 408);
      };
      const [file, placeholder] = [open(), open()];
      return [
        shim.wasiImport.fd_renumber!(1, placeholder),
        shim.wasiImport.fd_renumber!(file, 1),
        write('to the file'),
        shim.wasiImport.fd_renumber!(placeholder, 1),
        shim.wasiImport.fd_renumber!(1, 1),
        write('to stdout'),
      ];
    };
    const setup = () => {
      const stdout = new File([]);
      const log = new File([]);
      const fds = [new OpenFile(new File([])), new OpenFile(stdout), new OpenFile(new File([])), new PreopenDirectory('/', new Map([['log', log]]))];
      return { stdout, log, fds };
    };
    const text = (file: File) => new TextDecoder().decode(file.data);

    const before = setup();
    const plain = withMemory(new WASI([], [], before.fds, { debug: false }));
    expect(redirect(plain.shim, plain.bytes, plain.view)).toEqual([0, wasi.ERRNO_BADF, wasi.ERRNO_BADF, wasi.ERRNO_BADF, wasi.ERRNO_BADF, wasi.ERRNO_BADF]);
    expect([text(before.log), text(before.stdout)]).toEqual(['', '']);
    const self = withMemory(new WASI([], [], setup().fds, { debug: false }));
    expect(self.shim.wasiImport.fd_renumber!(1, 1)).toBe(0);
    expect(self.shim.fds[1]).toBeUndefined();

    const after = setup();
    const ours = withMemory(new ContainerWasi([], [], after.fds));
    expect(redirect(ours.shim, ours.bytes, ours.view)).toEqual([0, 0, 0, 0, 0, 0]);
    expect([text(after.log), text(after.stdout)]).toEqual(['to the file', 'to stdout']);
    // The numbers the renumbering freed are reused; a descriptor that is not open, or a number
    // past the limit (dup2's EBADF), is refused.
    expect(ours.shim.wasiImport.path_open!(3, 0, 100, 3, 0, 0n, 0n, 0, 200)).toBe(0);
    expect(ours.view.getUint32(200, true)).toBe(4);
    expect(ours.shim.wasiImport.fd_renumber!(9, 1)).toBe(wasi.ERRNO_BADF);
    expect(ours.shim.wasiImport.fd_renumber!(1, 1 << 20)).toBe(wasi.ERRNO_BADF);
    expect(ours.shim.wasiImport.fd_renumber!(1, -1)).toBe(wasi.ERRNO_BADF);
  });

  test('args sizes count UTF-8 bytes (the shim counts UTF-16 units and wasi-libc\'s buffer overflows)', async () => {
    const plain = withMemory(new WASI(['€€'], [], [], { debug: false }));
    plain.shim.wasiImport.args_sizes_get!(0, 4);
    expect(plain.view.getUint32(4, true)).toBe(3);
    const ours = withMemory(new ContainerWasi(['€€'], [], []));
    ours.shim.wasiImport.args_sizes_get!(0, 4);
    expect(ours.view.getUint32(4, true)).toBe(7);

    const long = '€'.repeat(3000);
    const run = await runToolbox(await unionOf([]), ['echo', long, 'end']);
    expect(run.stdout).toBe(`${long} end\n`);
  });

  test('poll_oneoff sleeps without spinning: a sleeping module is killed at once', async () => {
    // Covered end to end by wasi-run.test.ts (kill of `sleep 600`); here the import itself.
    const ours = withMemory(new ContainerWasi([], [], []));
    // One relative monotonic clock subscription of 50 ms at 0; the event goes to 64.
    ours.view.setBigUint64(0, 7n, true);
    ours.view.setUint8(8, wasi.EVENTTYPE_CLOCK);
    ours.view.setUint32(16, wasi.CLOCKID_MONOTONIC, true);
    ours.view.setBigUint64(24, 50_000_000n, true);
    const cpuBefore = process.cpuUsage();
    expect(ours.shim.wasiImport.poll_oneoff!(0, 64, 1, 128)).toBe(0);
    const cpu = process.cpuUsage(cpuBefore);
    expect(ours.view.getUint32(128, true)).toBe(1);
    expect(ours.view.getBigUint64(64, true)).toBe(7n);
    expect(cpu.user).toBeLessThan(40_000);
  });
});
