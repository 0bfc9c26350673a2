import { createServer, Socket } from 'node:net';

/** A free TCP port on loopback, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error('could not read the port of a loopback listener'));
        return;
      }
      server.close(() => resolvePort(address.port));
    });
  });
}

function canConnect(port: number, host: string): Promise<boolean> {
  return new Promise((resolveConnect) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolveConnect(ok);
    };
    socket.setTimeout(500);
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host);
  });
}

/** Waits until something accepts TCP connections on the port, or fails after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, what: string, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await canConnect(port, host)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not accept connections on ${host}:${port} within ${timeoutMs} ms`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolveListen) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolveListen(false));
    // No host: the wildcard address, which clashes with a listener on any local address.
    server.listen(port, () => server.close(() => resolveListen(true)));
  });
}

/**
 * Fails at once, naming each port that is already taken and the variable that moves it, when any
 * of `ports` cannot be bound here.
 */
export async function assertPortsFree(ports: { port: number; variable: string }[]): Promise<void> {
  const taken: string[] = [];
  for (const { port, variable } of ports) {
    if (!(await canListen(port))) taken.push(`port ${port} is in use (set ${variable} to another port)`);
  }
  if (taken.length) throw new Error(`cannot start the stack: ${taken.join('; ')}`);
}
