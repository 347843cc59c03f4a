import { Command } from 'commander';
import '../backends/register.ts';
import { addContainerCommands } from './commands/container-commands.ts';
import { addImageCommands } from './commands/image-commands.ts';
import { addLoginCommands } from './commands/login-commands.ts';
import { addRegistryCommands } from './commands/registry-commands.ts';
import { VERSION, versionCommand } from './commands/version-command.ts';
import { CliContext } from './context.ts';

/** The `berth` command: Docker's syntax over the berth library. */
const ctx = new CliContext();
const program = new Command('berth')
  .description('An embeddable container engine, with a Docker-compatible command line')
  .option('--root <dir>', 'Where berth keeps its state (default: $BERTH_ROOT, else /var/lib/berth as root)')
  .version(`berth version ${VERSION}`, '-v, --version', 'Print version information and quit')
  .showHelpAfterError()
  // `berth run IMAGE ls -l`: what follows the image is the container's command, not berth's flags.
  .enablePositionalOptions()
  .hook('preAction', (cmd) => {
    ctx.root = cmd.opts<{ root?: string }>().root;
  });

addImageCommands(program, ctx);
addContainerCommands(program, ctx);
addRegistryCommands(program, ctx);
addLoginCommands(program, ctx);
program.addCommand(versionCommand(ctx));

await program.parseAsync();
