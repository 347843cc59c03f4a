import { Command } from 'commander';
import '../backends/register.ts';
import { addAttachCommand } from './commands/attach-command.ts';
import { addCommitCommand } from './commands/commit-command.ts';
import { addContainerCommands } from './commands/container-commands.ts';
import { addCpCommand } from './commands/cp-command.ts';
import { addEventsCommand } from './commands/events-command.ts';
import { addImageCommands } from './commands/image-commands.ts';
import { addLoginCommands } from './commands/login-commands.ts';
import { addRegistryCommands } from './commands/registry-commands.ts';
import { addSystemCommands } from './commands/system-commands.ts';
import { VERSION, versionCommand } from './commands/version-command.ts';
import { addVolumeCommands } from './commands/volume-commands.ts';
import { CliContext } from './context.ts';

/** The `berth` command: Docker's syntax over the berth library. */
const ctx = new CliContext();
const program = new Command('berth')
  .description('An embeddable container engine, with a Docker-compatible command line')
  .option('--root <dir>', 'Where berth keeps its state (default: $BERTH_ROOT, else /var/lib/berth as root)')
  .option('--backend <name>', 'What runs containers: auto, linux-native or wasi (default: $BERTH_BACKEND, else auto)')
  .version(`berth version ${VERSION}`, '-v, --version', 'Print version information and quit')
  .showHelpAfterError()
  // `berth run IMAGE ls -l`: what follows the image is the container's command, not berth's flags.
  .enablePositionalOptions()
  .hook('preAction', (cmd) => {
    const { root, backend } = cmd.opts<{ root?: string; backend?: string }>();
    ctx.root = root;
    ctx.backend = backend ?? process.env.BERTH_BACKEND;
  });

addImageCommands(program, ctx);
addContainerCommands(program, ctx);
addRegistryCommands(program, ctx);
addLoginCommands(program, ctx);
addVolumeCommands(program, ctx);
addSystemCommands(program, ctx);
addEventsCommand(program, ctx);
program.addCommand(versionCommand(ctx));
addCpCommand(program, ctx);
addCommitCommand(program, ctx);
addAttachCommand(program, ctx);

await program.parseAsync();
