/** A stream of output bytes as text, once it has ended (an absent stream is empty). */
export async function text(stream: AsyncIterable<Uint8Array> | undefined): Promise<string> {
  let out = '';
  for await (const chunk of stream ?? []) out += Buffer.from(chunk).toString();
  return out;
}
