import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PortSpecError, clashes, exposedPorts, formatBinding, parsePortSpec, publishedPorts } from './ports';

const tcp = (hostPort: number, containerPort: number, hostIp = '0.0.0.0') => ({
  hostIp,
  hostPort,
  containerPort,
  protocol: 'tcp' as const,
});

describe('port specs (-p)', () => {
  it('parses every form docker run accepts', () => {
    assert.deepEqual(parsePortSpec('80'), [tcp(0, 80)]);
    assert.deepEqual(parsePortSpec('8080:80'), [tcp(8080, 80)]);
    assert.deepEqual(parsePortSpec('127.0.0.1:18080:80'), [tcp(18080, 80, '127.0.0.1')]);
    assert.deepEqual(parsePortSpec('127.0.0.1::80'), [tcp(0, 80, '127.0.0.1')]);
    assert.deepEqual(parsePortSpec('53:53/udp'), [
      { hostIp: '0.0.0.0', hostPort: 53, containerPort: 53, protocol: 'udp' },
    ]);
    assert.deepEqual(parsePortSpec('8000-8001:80-81/TCP'), [tcp(8000, 80), tcp(8001, 81)]);
    assert.deepEqual(parsePortSpec('80-81'), [tcp(0, 80), tcp(0, 81)]);
  });

  const bad: Array<[string, string]> = [
    ['x', 'invalid containerPort: x'],
    ['70000:80', 'invalid hostPort: 70000'],
    ['80:70000', 'invalid containerPort: 70000'],
    ['80:0', 'invalid containerPort: 0'],
    ['8080:', 'no port specified: 8080:<empty>'],
    ['80/sctpx', 'invalid proto: sctpx'],
    ['1.2.3:80:80', 'invalid IP address: 1.2.3'],
    ['8000-8002:80-81', 'invalid ranges specified for container and host Ports: 80-81 and 8000-8002'],
    ['81-80', 'invalid containerPort: 81-80'],
    ['a:b:c:d', 'invalid port format: a:b:c:d'],
  ];
  for (const [spec, message] of bad) {
    it(`refuses ${JSON.stringify(spec)} with docker's message`, () => {
      assert.throws(
        () => parsePortSpec(spec),
        (err: unknown) => err instanceof PortSpecError && err.message === message && err.exitCode === 125,
      );
    });
  }

  it('refuses IPv6 host addresses (the bridge is IPv4)', () => {
    assert.throws(() => parsePortSpec('[::1]:80:80'), /invalid IP address: ::1/);
  });
});

describe('exposed ports (-P)', () => {
  it('reads ExposedPorts keys and skips what it cannot publish', () => {
    assert.deepEqual(exposedPorts({ '80/tcp': {}, '53/udp': {}, '8080': {}, '9/sctp': {}, 'x/tcp': {} }), [
      { port: 53, protocol: 'udp' },
      { port: 80, protocol: 'tcp' },
      { port: 8080, protocol: 'tcp' },
    ]);
    assert.deepEqual(exposedPorts(undefined), []);
  });

  it('publishes every exposed port that -p does not already name, on a free port', () => {
    const ports = publishedPorts([tcp(8080, 80)], true, { '80/tcp': {}, '443/tcp': {} });
    assert.deepEqual(ports, [tcp(8080, 80), tcp(0, 443)]);
    assert.deepEqual(publishedPorts([], false, { '80/tcp': {} }), []);
  });

  it('formats and compares bindings as docker ps and the allocator need', () => {
    assert.equal(formatBinding(tcp(18080, 80, '127.0.0.1')), '127.0.0.1:18080->80/tcp');
    assert.equal(clashes(tcp(80, 1), tcp(80, 2, '127.0.0.1')), true, '0.0.0.0 covers every address');
    assert.equal(clashes(tcp(80, 1, '127.0.0.1'), tcp(80, 2, '127.0.0.2')), false);
    assert.equal(clashes(tcp(80, 1), { ...tcp(80, 1), protocol: 'udp' }), false);
  });
});
