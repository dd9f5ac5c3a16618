import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { type HostPolicy, hostAllowed, parseAllowedHosts, parseHost } from '../../../src/local/http/hosts.js';

describe('Host rules', () => {
  it('parses Host headers: names, ports, IPv6 in brackets; refuses what is none of them', () => {
    expect(parseHost('Example.COM:8080')).toEqual({ name: 'example.com', port: 8080 });
    expect(parseHost('example.com', 80)).toEqual({ name: 'example.com', port: 80 });
    expect(parseHost('[::1]:8080')).toEqual({ name: '::1', port: 8080 });
    expect(parseHost('[::1]')).toEqual({ name: '::1' });
    for (const bad of ['', 'a:b:c', '[nope]:80', 'x:0', 'x:70000', 'a/b:80', 'x:', '::1']) {
      expect(parseHost(bad), bad).toBeUndefined();
    }
  });

  it('--allowed-hosts: names and name:port, comma-separated; a URL or junk is refused with a reason', () => {
    expect(parseAllowedHosts('thumbs.example.com, Proxy.local:8443,[::1]:9000')).toEqual([
      { name: 'thumbs.example.com' },
      { name: 'proxy.local', port: 8443 },
      { name: '::1', port: 9000 },
    ]);
    expect(() => parseAllowedHosts('https://thumbs.example.com/')).toThrow(/not a host name.*name alone/);
    expect(() => parseAllowedHosts('a,,b')).toThrow(/empty/);
    expect(() => parseAllowedHosts('white space')).toThrow(/not a host name/);
    expect(() => parseAllowedHosts('x:99999')).toThrow(/not a host name/);
  });

  const at = (localAddress: string, localPort = 8080) => ({ localAddress, localPort });
  const allowed = (host: string, policy: HostPolicy, local = at('127.0.0.1')) =>
    hostAllowed(parseHost(host, 80) as { name: string; port?: number }, local, policy);

  it('bound to loopback: its address and localhost, on its port only; any other name is refused', () => {
    const policy = { bound: '127.0.0.1', allowed: [] };
    expect(allowed('127.0.0.1:8080', policy)).toBe(true);
    expect(allowed('localhost:8080', policy)).toBe(true);
    expect(allowed('localhost:8081', policy)).toBe(false);
    expect(allowed('localhost', policy)).toBe(false);
    expect(allowed('evil.example:8080', policy)).toBe(false);
    // The loopback names are this machine whichever the connection came to (a tunnel, a proxy).
    expect(allowed('[::1]:8080', policy)).toBe(true);
    expect(allowed('[::1]:8081', policy)).toBe(false);
    expect(allowed('10.0.0.1:8080', policy)).toBe(false);
    expect(allowed('[::1]:8080', { bound: '::1', allowed: [] }, at('::1'))).toBe(true);
  });

  it('bound to every interface: the address the connection came to, localhost and the machine name', () => {
    const policy = { bound: '0.0.0.0', allowed: [] };
    expect(allowed('192.168.1.20:8080', policy, at('::ffff:192.168.1.20'))).toBe(true);
    expect(allowed('192.168.1.21:8080', policy, at('192.168.1.20'))).toBe(false);
    expect(allowed('127.0.0.1:8080', policy, at('192.168.1.20'))).toBe(true);
    expect(allowed('localhost:8080', policy, at('127.0.0.1'))).toBe(true);
    expect(allowed(`${hostname()}:8080`, policy, at('192.168.1.20'))).toBe(true);
    expect(allowed('nas.lan:8080', policy, at('192.168.1.20'))).toBe(false);
    // A name the user allows, with any port (a reverse proxy's), or only the port given.
    const proxied = { bound: '0.0.0.0', allowed: parseAllowedHosts('nas.lan,thumbs.example:443') };
    expect(allowed('nas.lan', proxied, at('192.168.1.20'))).toBe(true);
    expect(allowed('thumbs.example:443', proxied)).toBe(true);
    expect(allowed('thumbs.example', proxied)).toBe(false);
  });

  it('bound to a name: that name with its port', () => {
    const policy = { bound: 'thumbs.lan', allowed: [] };
    expect(allowed('thumbs.lan:8080', policy, at('192.168.1.20'))).toBe(true);
    expect(allowed('localhost:8080', policy, at('192.168.1.20'))).toBe(false);
    expect(allowed('127.0.0.1:8080', policy, at('192.168.1.20'))).toBe(false);
  });
});
