/**
 * A real program nobody here wrote, run as a container: yosys (the Yosys Open SYnthesis Suite,
 * @yowasp/yosys's 30 MB WASI preview1 build) through the engine on the WASI backend, with its
 * data files (/share) in the image. It prints its version; synthesizes a Verilog counter read
 * from a bind mount into generic gates (`synth -noabc`), writing the netlist back into it; and
 * runs the full `synth`, whose ABC pass yosys runs in-process with stdout redirected into a
 * temporary file by fd_renumber (which the WASI shim got wrong: all output after it was lost),
 * on a counter copied in with cp, the netlist copied out.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../backends/register.ts';
import { Engine } from '../core/engine.ts';
import { makeTar, chunksOf, readTar } from './helpers/tar.ts';
import { yosysArchive, yowaspYosysVersion } from './helpers/yosys-image.ts';

const COUNTER = `module counter(input clk, input rst, output reg [3:0] count);
  always @(posedge clk)
    if (rst) count <= 4'd0;
    else count <= count + 4'd1;
endmodule
`;

let root: string;
let work: string;
let engine: Engine;

beforeAll(async () => {
  root = await mkdtemp('/var/tmp/berth-yosys-');
  work = await mkdtemp('/var/tmp/berth-yosys-work-');
  await writeFile(`${work}/counter.v`, COUNTER);
  engine = await Engine.open({ root, backend: 'wasi' });
  await engine.loadImages(chunksOf(await yosysArchive('yosys:test')));
});
afterAll(async () => {
  await engine?.close();
  await Promise.all([root, work].filter(Boolean).map((path) => rm(path, { recursive: true, force: true })));
});

async function text(stream: AsyncIterable<Uint8Array>): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += Buffer.from(chunk).toString();
  return out;
}

/** The members of the tar `docker cp` would give for `path` in the container. */
async function copyOut(id: string, path: string) {
  const chunks: Uint8Array[] = [];
  for await (const chunk of (await engine.archiveContainerPath(id, path)).tar) chunks.push(chunk);
  return readTar(Buffer.concat(chunks));
}

/** The statistics `stat` printed last: a cell count per type. */
function lastStat(stdout: string): string {
  return stdout.slice(stdout.lastIndexOf('Printing statistics'));
}

describe('yosys in a WASI container', () => {
  it('-V prints the version the package builds', async () => {
    const [major, minor] = (await yowaspYosysVersion()).split('.');
    await using container = await engine.runContainer({ image: 'yosys:test', cmd: ['-V'] });
    const [stdout, stderr, exit] = await Promise.all([text(container.stdout), text(container.stderr), container.wait()]);
    expect({ stderr, exit }).toEqual({ stderr: '', exit: { StatusCode: 0 } });
    expect(stdout).toMatch(new RegExp(`^Yosys ${major}\\.${minor}\\b`));
  });

  it('synthesizes a counter from a bind mount into gates, and writes the netlist back', async () => {
    const script = 'read_verilog /work/counter.v; synth -noabc -top counter; stat; write_verilog -noattr /work/netlist.v';
    await using container = await engine.runContainer({ image: 'yosys:test', cmd: ['-p', script], binds: [`${work}:/work`] });
    const [stdout, stderr, exit] = await Promise.all([text(container.stdout), text(container.stderr), container.wait()]);
    expect({ stderr, exit }).toEqual({ stderr: '', exit: { StatusCode: 0 } });
    // synth's techmap rules come from /share (+/techmap.v): without them it fails before stat.
    const stat = lastStat(stdout);
    expect(stat).toContain('=== counter ===');
    // Four flip-flops with a synchronous reset (the count), and the incrementer's gates.
    expect(stat).toMatch(/\$_SDFF_PP0_ +4\n/);
    expect(stat).toMatch(/\$_XOR_ +\d+\n/);
    expect(stdout).toContain('End of script.');
    const netlist = await readFile(`${work}/netlist.v`, 'utf8');
    expect(netlist).toMatch(/^module counter\(clk, rst, count\);/m);
    expect(netlist).toContain('always @(posedge clk)');
  });

  it('runs ABC in-process (stdout redirected by fd_renumber and back) on a counter copied in, and cleans up its temporary directory', async () => {
    const script = 'read_verilog /work/counter.v; synth -top counter; stat; write_verilog -noattr /work/netlist.v';
    const { Id: id } = await engine.createContainer({ image: 'yosys:test', cmd: ['-p', script] });
    try {
      await engine.extractToContainer(id, '/', chunksOf(await makeTar([{ name: 'work/counter.v', data: COUNTER }])));
      const container = await engine.startContainerAttached(id);
      const [stdout, stderr, exit] = await Promise.all([text(container.stdout), text(container.stderr), container.wait()]);
      expect({ stderr, exit }).toEqual({ stderr: '', exit: { StatusCode: 0 } });
      // ABC's own output, read back from the file it was redirected into, and what follows it.
      expect(stdout).toContain('ABC: + strash');
      expect(stdout).toContain('ABC RESULTS:');
      expect(lastStat(stdout)).toMatch(/\$_SDFF_PP0_ +4\n/);
      expect(stdout).toContain('End of script.');
      // yosys removes its yosys-abc-XXXXXX directory by listing it (fd_readdir) and unlinking.
      expect((await copyOut(id, '/tmp')).map((member) => member.name)).toEqual(['tmp/']);
      const [netlist] = await copyOut(id, '/work/netlist.v');
      expect(netlist!.data.toString()).toMatch(/^module counter\(clk, rst, count\);/m);
    } finally {
      await engine.removeContainer(id, { force: true });
    }
  });
});
