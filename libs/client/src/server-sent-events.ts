/** One server-sent event: its `event` name (`message` when absent), the last event `id` and the `data`. */
export interface ServerSentEvent {
  event: string;
  id?: string;
  data: string;
}

/**
 * The events of a `text/event-stream` body, as they arrive, parsed as the HTML standard's event
 * stream interpretation says: lines end in CRLF, LF or CR; several `data:` lines make one event
 * whose data joins them with `\n`; one space after the colon is dropped (no more); a line without
 * a colon is a field with an empty value; `id` persists across events until changed; comments
 * and events without data are skipped; an unfinished event at the end of the body is dropped.
 */
export async function* readServerSentEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  const parser = new EventStreamParser();
  for await (const chunk of body) yield* parser.push(decoder.decode(chunk, { stream: true }));
  yield* parser.push(decoder.decode(), true);
}

class EventStreamParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private lastId: string | undefined;

  /** The events completed by `text` (`end`: the body is over, so a trailing CR ends its line). */
  *push(text: string, end = false): Generator<ServerSentEvent> {
    this.buffer += text;
    let start = 0;
    for (;;) {
      const lf = this.buffer.indexOf('\n', start);
      const cr = this.buffer.indexOf('\r', start);
      if (lf < 0 && cr < 0) break;
      const at = cr >= 0 && (lf < 0 || cr < lf) ? cr : lf;
      // A CR last in the buffer may be the first half of a CRLF that the next chunk completes.
      if (at === cr && at === this.buffer.length - 1 && !end) break;
      const line = this.buffer.slice(start, at);
      start = at + (at === cr && this.buffer[at + 1] === '\n' ? 2 : 1);
      const event = this.line(line);
      if (event) yield event;
    }
    this.buffer = this.buffer.slice(start);
  }

  private line(line: string): ServerSentEvent | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
    return undefined;
  }

  private dispatch(): ServerSentEvent | undefined {
    const data = this.data;
    const event = this.event || 'message';
    this.data = [];
    this.event = '';
    if (data.length === 0) return undefined;
    return { event, ...(this.lastId !== undefined ? { id: this.lastId } : {}), data: data.join('\n') };
  }
}
