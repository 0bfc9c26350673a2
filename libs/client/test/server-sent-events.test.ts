import { describe, expect, it } from '@jest/globals';
import { readServerSentEvents, ServerSentEvent } from '../src/server-sent-events';

/** The body as the network might cut it: every split point of the encoded text is tried by the tests. */
async function* chunks(parts: string[]): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  for (const part of parts) yield encoder.encode(part);
}

async function parse(parts: string[]): Promise<ServerSentEvent[]> {
  const events: ServerSentEvent[] = [];
  for await (const event of readServerSentEvents(chunks(parts))) events.push(event);
  return events;
}

/** Every way of cutting `text` in two, so a CRLF or a multi-byte character split across chunks is covered. */
async function everySplit(text: string): Promise<ServerSentEvent[][]> {
  const results = [];
  for (let at = 0; at <= text.length; at++) results.push(await parse([text.slice(0, at), text.slice(at)]));
  return results;
}

describe('readServerSentEvents', () => {
  it('joins multi-line data with newlines', async () => {
    const body = 'event: log\nid: 7\ndata: first line\ndata: second line\ndata:\n\n';
    for (const events of await everySplit(body)) {
      expect(events).toEqual([{ event: 'log', id: '7', data: 'first line\nsecond line\n' }]);
    }
  });

  it('accepts CRLF and CR line ends, split anywhere', async () => {
    const body = 'data: a\r\ndata: b\r\n\r\nevent: end\rdata: c\r\r: comment\r\ndata: ü\n\n';
    for (const events of await everySplit(body)) {
      expect(events).toEqual([
        { event: 'message', data: 'a\nb' },
        { event: 'end', data: 'c' },
        { event: 'message', data: 'ü' },
      ]);
    }
  });

  it('drops exactly one space after the colon, keeps the id across events and skips data-less frames', async () => {
    const events = await parse(['id: 1\ndata:  indented\n\n', 'event: ping\n\n', 'data\n\n', 'id\ndata: x\n\n', 'data: unfinished']);
    expect(events).toEqual([
      { event: 'message', id: '1', data: ' indented' },
      { event: 'message', id: '1', data: '' },
      { event: 'message', id: '', data: 'x' },
    ]);
  });
});
