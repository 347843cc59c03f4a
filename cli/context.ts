import { Engine, type EngineOptions } from '../core/engine.ts';
import { BerthError, NotFoundError } from '../core/errors.ts';

/** What every command needs: the engine (opened on first use) and Docker-style error output. */
export class CliContext {
  private engine?: Promise<Engine>;
  root?: string;
  /** `--backend`; Engine.open checks the name. */
  backend?: string;

  open(): Promise<Engine> {
    this.engine ??= Engine.open({ root: this.root, ...(this.backend ? { backend: this.backend as EngineOptions['backend'] } : {}) });
    return this.engine;
  }

  out(text: string): void {
    process.stdout.write(text);
  }

  /** Prints an error as the docker CLI does and records a failing exit status. */
  fail(err: unknown, exitCode = 1): void {
    process.stderr.write(`Error: ${errorMessage(err)}\n`);
    process.exitCode = exitCode;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof BerthError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

export function isNotFound(err: unknown): boolean {
  return err instanceof NotFoundError;
}

/** Wraps a command action so that a thrown error becomes Docker's `Error: ...` and exit 1. */
export function action<A extends unknown[]>(ctx: CliContext, fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      ctx.fail(err);
    }
  };
}
