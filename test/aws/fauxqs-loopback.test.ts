import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { startFauxqsOnLoopback } from '../../src/aws/fauxqs-loopback.js';

/** The emulator must not be reachable from the network: fauxqs alone listens on 0.0.0.0. */
const externalAddress = Object.values(networkInterfaces())
  .flat()
  .find((address) => address && !address.internal && address.family === 'IPv4')?.address;

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('startFauxqsOnLoopback', () => {
  it('listens on 127.0.0.1 and gives queue URLs that parse', async () => {
    const listen = net.Server.prototype.listen;
    const server = await startFauxqsOnLoopback();
    try {
      expect(net.Server.prototype.listen).toBe(listen); // the patch is gone once started
      expect(await connects('127.0.0.1', server.port)).toBe(true);
      const { queueUrl } = server.createQueue('parse-me');
      expect(new URL(queueUrl).pathname).toBe('/000000000000/parse-me');
    } finally {
      await server.stop();
    }
  });

  it.skipIf(!externalAddress)('is not reachable on the machine’s other addresses', async () => {
    const server = await startFauxqsOnLoopback();
    try {
      expect(await connects(externalAddress as string, server.port)).toBe(false);
    } finally {
      await server.stop();
    }
  });
});
