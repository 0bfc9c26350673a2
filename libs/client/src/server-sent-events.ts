/** One server-sent event: its `event` name (`message` when absent), `id` and `data` fields. */
export interface ServerSentEvent {
  event: string;
  id?: string;
  data: string;
}

/** The events of a `text/event-stream` body, as they arrive (comments and data-less frames skipped). */
export async function* readServerSentEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = new Map<string, string>();
      for (const line of frame.split('\n')) {
        if (!line || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
      }
      const data = fields.get('data');
      if (data !== undefined) yield { event: fields.get('event') ?? 'message', id: fields.get('id'), data };
    }
  }
}
