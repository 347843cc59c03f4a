import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';
import { login, loginServer, logout } from '../../core/registry/login.ts';
import { action, type CliContext } from '../context.ts';

/** `berth login` and `berth logout`, writing the docker CLI's config.json (or its credential helper). */
export function addLoginCommands(program: Command, ctx: CliContext): void {
  program.addCommand(loginCommand(ctx));
  program.addCommand(logoutCommand(ctx));
}

interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
}

function loginCommand(ctx: CliContext): Command {
  return new Command('login')
    .description('Log in to a registry')
    .argument('[server]', 'registry (default: Docker Hub)')
    .option('-u, --username <username>', 'Username')
    .option('-p, --password <password>', 'Password')
    .option('--password-stdin', 'Take the password from stdin')
    .action(
      action(ctx, async (server: string | undefined, opts: LoginFlags) => {
        let { username, password } = opts;
        if (opts.password !== undefined) {
          process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
          if (opts.passwordStdin) throw new Error('--password and --password-stdin are mutually exclusive');
        }
        if (opts.passwordStdin) {
          if (!username) throw new Error('Must provide --username with --password-stdin');
          password = (await readAll()).replace(/[\r\n]+$/, '');
        }
        if (!username || password === undefined) {
          if (!process.stdin.isTTY) throw new Error('Cannot perform an interactive login from a non TTY device');
          username ||= (await askLine('Username: ')).trim();
          if (!username) throw new Error('Username is required');
          password ??= await askHidden('Password: ');
        }
        if (!password) throw new Error('Password is required');
        // Credentials are not the engine's state: no root is opened for them.
        await login(server, { username, password });
        ctx.out('Login Succeeded\n');
      }),
    );
}

function logoutCommand(ctx: CliContext): Command {
  return new Command('logout')
    .description('Log out from a registry')
    .argument('[server]', 'registry (default: Docker Hub)')
    .action(
      action(ctx, async (server: string | undefined) => {
        const result = await logout(server);
        const shown = loginServer(server).server;
        ctx.out(result.removed ? `Removing login credentials for ${shown}\n` : `Not logged in to ${shown}\n`);
      }),
    );
}

async function readAll(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

async function askLine(prompt: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await rl.question(prompt);
  } finally {
    rl.close();
  }
}

/** Reads a line from the terminal without echoing it. */
function askHidden(prompt: string): Promise<string> {
  process.stdout.write(prompt);
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    let text = '';
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stdout.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\x04') return finish();
        if (ch === '\x03') return finish(new Error('interrupted'));
        if (ch === '\x7f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}
