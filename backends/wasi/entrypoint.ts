import { BerthError, FsError } from '../../core/errors.ts';
import type { WasiFs } from './wasi-fs.ts';

/** `\0asm`: the first four bytes of every WebAssembly binary module. */
const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

/** Docker's PATH when the image sets none. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * A process that could not be started, as Docker reports it: the OCI runtime's message and
 * `exitCode` 127 (not found) or 126 (found, but cannot be run). `code` is the errno, as the
 * native backend's spawn errors carry it.
 */
export class ExecError extends BerthError {
  readonly exitCode: number;

  constructor(code: 'ENOENT' | 'ENOEXEC' | 'EACCES', exitCode: number, message: string) {
    super(code, message);
    this.exitCode = exitCode;
  }
}

export function isWasmModule(bytes: Uint8Array): boolean {
  return WASM_MAGIC.every((byte, i) => bytes[i] === byte);
}

/**
 * The module a process's argv[0] names in the container's filesystem: a path when it holds a
 * `/` (relative ones from `cwd`), else looked up in the PATH of `env` as execvp does. The file
 * is run if it starts with the WebAssembly magic, whatever its name (`/app.wasm`, `/hello`).
 */
export function resolveModule(fs: WasiFs, args: readonly string[], env: readonly string[], cwd: string): { path: string; bytes: Uint8Array } {
  const name = args[0];
  if (name === undefined || name === '') throw new ExecError('ENOENT', 127, 'exec: no command given: the image has no entrypoint and no command was given');
  const candidates = name.includes('/')
    ? [name.startsWith('/') ? name : `${cwd.replace(/\/$/, '')}/${name}`]
    : pathOf(env)
        .split(':')
        .filter((dir) => dir.startsWith('/'))
        .map((dir) => `${dir.replace(/\/$/, '')}/${name}`);
  for (const path of candidates) {
    let bytes: Uint8Array;
    try {
      if (fs.stat(path).type !== 'file') continue;
      bytes = fs.readFile(path);
    } catch (error) {
      if (error instanceof FsError) continue;
      throw error;
    }
    if (!isWasmModule(bytes)) {
      throw new ExecError('ENOEXEC', 126, `exec: "${name}": exec format error (${path} is not a WebAssembly module; the wasi backend runs only WASI preview1 modules)`);
    }
    // A copy: the container may rewrite the file while the module is compiled.
    return { path, bytes: bytes.slice() };
  }
  if (name.includes('/')) throw new ExecError('ENOENT', 127, `exec: "${name}": stat ${name}: no such file or directory`);
  throw new ExecError('ENOENT', 127, `exec: "${name}": executable file not found in $PATH`);
}

function pathOf(env: readonly string[]): string {
  const entry = [...env].reverse().find((e) => e.startsWith('PATH='));
  return entry === undefined ? DEFAULT_PATH : entry.slice('PATH='.length);
}
