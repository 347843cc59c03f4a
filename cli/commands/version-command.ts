import { Command } from 'commander';
import { defaultRoot } from '../../core/engine.ts';
import { formatPlatform, hostPlatform } from '../../core/image/platform.ts';
import { action, type CliContext } from '../context.ts';
import { renderTemplate } from '../format/template.ts';

import { ENGINE_VERSION as VERSION } from '../../core/system/engine-version.ts';

export { VERSION };

/** berth has no daemon, so `version` has Docker's Client section and no Server section. */
export function versionCommand(ctx: CliContext): Command {
  return new Command('version')
    .description('Show the berth version information')
    .option('-f, --format <template>', 'Format output using a Go template')
    .action(
      action(ctx, async (opts: { format?: string }) => {
        const info = {
          Client: {
            Version: VERSION,
            NodeVersion: process.version,
            Os: process.platform,
            Arch: hostPlatform().architecture,
            Root: ctx.root ?? defaultRoot(),
          },
        };
        if (opts.format) {
          ctx.out(`${renderTemplate(opts.format, info)}\n`);
          return;
        }
        const c = info.Client;
        ctx.out(
          [
            'Client: berth',
            ` Version:           ${c.Version}`,
            ` Node.js version:   ${c.NodeVersion}`,
            ` OS/Arch:           ${formatPlatform(hostPlatform())}`,
            ` Root:              ${c.Root}`,
            '',
          ].join('\n'),
        );
      }),
    );
}
