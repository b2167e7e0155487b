import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveSettings } from '../../src/settings.js';

test('operations settings have safe defaults: HTTP only, one process, a 10 s drain, text access log', () => {
  const s = resolveSettings();
  assert.equal(s.httpEnabled, true);
  assert.equal(s.tlsCertFile, null);
  assert.equal(s.workers, 1);
  assert.equal(s.drainTimeoutMs, 10_000);
  assert.equal(s.accessLogFormat, 'text');
  assert.equal(s.tlsListenHost, '127.0.0.1');
});

test('operations settings are checked together, every problem at once', () => {
  assert.throws(
    () => resolveSettings({ tlsCertFile: '/c.pem', workers: 0, drainTimeoutMs: 0, tlsListenPort: 70_000 }),
    (err: Error) =>
      /drainTimeoutMs must be a positive whole number/.test(err.message) &&
      /TLS listen port must be 0-65535/.test(err.message) &&
      /needs both a certificate \(--tls-cert\) and its key \(--tls-key\)/.test(err.message) &&
      /workers must be a positive whole number, not 0/.test(err.message),
  );
  assert.throws(() => resolveSettings({ httpEnabled: false }), /nothing to listen on/);
});
