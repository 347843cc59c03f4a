import { constants } from 'node:os';
import { InvalidArgumentError } from '../../errors.ts';

/** Docker's signal syntax: "SIGTERM", "TERM", "term", "15". */
export function parseSignal(signal: string | number): { name: NodeJS.Signals; number: number } {
  const table = constants.signals as Record<string, number>;
  if (typeof signal === 'number' || /^\d+$/.test(signal)) {
    const number = Number(signal);
    const name = Object.keys(table).find((n) => table[n] === number);
    if (!name) throw new InvalidArgumentError(`Invalid signal: ${signal}`);
    return { name: name as NodeJS.Signals, number };
  }
  const upper = signal.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  const number = table[name];
  if (number === undefined) throw new InvalidArgumentError(`Invalid signal: ${signal}`);
  return { name: name as NodeJS.Signals, number };
}
