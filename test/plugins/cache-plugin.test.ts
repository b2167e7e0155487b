/**
 * cache.so's arguments (readCachePolicy): both option forms, durations, TTL lists, negative caching, the
 * heuristic, flags, and every problem reported at load, all at once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HEURISTICALLY_CACHEABLE } from '../../src/cache/freshness.js';
import { DEFAULT_POLICY } from '../../src/cache/policy.js';
import { PluginArgumentError } from '../../src/errors.js';
import type { PluginContext } from '../../src/plugins/api.js';
import { cachePlugin, parseDuration, readCachePolicy } from '../../src/plugins/cache/cache-plugin.js';

/** Asserts that `args` are refused with a PluginArgumentError whose message names each of `parts`. */
function refuses(args: string[], ...parts: string[]): void {
  assert.throws(
    () => readCachePolicy(args),
    (err: unknown) => {
      assert.ok(err instanceof PluginArgumentError, String(err));
      for (const part of parts) assert.ok(err.message.includes(part), `${JSON.stringify(part)} in ${JSON.stringify(err.message)}`);
      return true;
    },
  );
}

describe('readCachePolicy: defaults and option forms', () => {
  test('no arguments is the default policy', () => {
    const p = readCachePolicy([]);
    assert.equal(p.enabled, true);
    assert.deepEqual([...p.ttlByStatus], []);
    assert.deepEqual([...p.negativeStatuses].sort(), [404, 410]);
    assert.equal(p.negativeTtl, 60);
    assert.equal(p.heuristicFraction, 0.1);
    assert.equal(p.heuristicMin, 3600);
    assert.equal(p.heuristicMax, 86400);
    assert.equal(p.staleWhileRevalidate, 0);
    assert.equal(p.staleIfError, 0);
    assert.equal(p.ignoreQuery, false);
    assert.equal(p.storeSetCookie, false);
  });

  test('--name=value and --name value are the same', () => {
    assert.deepEqual(readCachePolicy(['--stale-if-error=1d']), readCachePolicy(['--stale-if-error', '1d']));
    assert.equal(readCachePolicy(['--negative-ttl', '30s', '--stale-while-revalidate', '2m']).staleWhileRevalidate, 120);
  });

  test('underscores in a name read as dashes', () => {
    assert.equal(readCachePolicy(['--stale_if_error=10']).staleIfError, 10);
    assert.equal(readCachePolicy(['--ignore_query']).ignoreQuery, true);
  });

  test('returns a frozen policy and leaves the defaults alone', () => {
    const p = readCachePolicy(['--ttl=200:1h', '--negative-statuses=403']);
    assert.equal(Object.isFrozen(p), true);
    assert.deepEqual([...DEFAULT_POLICY.ttlByStatus], []);
    assert.deepEqual([...DEFAULT_POLICY.negativeStatuses].sort(), [404, 410]);
  });

  test('the plugin factory reads the @pparam values after the two URLs', () => {
    const plugin = cachePlugin(['http://from.test/', 'http://to.test/', '--off'], {} as PluginContext) as { cachePolicy?: unknown };
    assert.deepEqual(plugin.cachePolicy, readCachePolicy(['--off']));
  });
});

describe('readCachePolicy: durations', () => {
  test('seconds, or with s/m/h/d, in any case', () => {
    assert.equal(parseDuration('90'), 90);
    assert.equal(parseDuration('90s'), 90);
    assert.equal(parseDuration('5m'), 300);
    assert.equal(parseDuration('2h'), 7200);
    assert.equal(parseDuration('1d'), 86400);
    assert.equal(parseDuration('1D'), 86400);
    assert.equal(parseDuration('0'), 0);
  });

  test('anything else is not a duration', () => {
    for (const bad of ['', 'h', '1w', '1.5h', '-1', '1h30m', 'soon', '99999999999999999999d']) {
      assert.equal(parseDuration(bad), null, JSON.stringify(bad));
    }
  });

  test('each duration option takes a duration', () => {
    const p = readCachePolicy([
      '--negative-ttl=30s',
      '--heuristic-min=10m',
      '--heuristic-max=2d',
      '--stale-while-revalidate=1m',
      '--stale-if-error=1d',
    ]);
    assert.equal(p.negativeTtl, 30);
    assert.equal(p.heuristicMin, 600);
    assert.equal(p.heuristicMax, 172800);
    assert.equal(p.staleWhileRevalidate, 60);
    assert.equal(p.staleIfError, 86400);
  });

  test('a bad duration is refused, naming the option and the value', () => {
    refuses(['--stale-if-error=forever'], '--stale-if-error', '"forever"');
  });
});

describe('readCachePolicy: --ttl', () => {
  test('a list of STATUS:DURATION', () => {
    const p = readCachePolicy(['--ttl=200:1h,404:1m, 301:1d']);
    assert.deepEqual([...p.ttlByStatus].sort(([a], [b]) => a - b), [
      [200, 3600],
      [301, 86400],
      [404, 60],
    ]);
  });

  test('repeated --ttl options add up; a later status wins', () => {
    const p = readCachePolicy(['--ttl=200:1h', '--ttl', '404:1m,200:5m']);
    assert.equal(p.ttlByStatus.get(200), 300);
    assert.equal(p.ttlByStatus.get(404), 60);
  });

  test('any is every heuristically cacheable status', () => {
    const p = readCachePolicy(['--ttl=any:5m']);
    assert.deepEqual([...p.ttlByStatus.keys()].sort((a, b) => a - b), [...HEURISTICALLY_CACHEABLE].sort((a, b) => a - b));
    for (const ttl of p.ttlByStatus.values()) assert.equal(ttl, 300);
  });

  test('any then a status overrides that status only', () => {
    const p = readCachePolicy(['--ttl=any:5m,404:10s']);
    assert.equal(p.ttlByStatus.get(404), 10);
    assert.equal(p.ttlByStatus.get(200), 300);
  });

  test('a bad item is refused', () => {
    refuses(['--ttl=200'], '--ttl', '"200" is not STATUS:DURATION');
    refuses(['--ttl=abc:1h'], '--ttl', '"abc" is not an HTTP status');
    refuses(['--ttl=600:1h'], '"600" is not an HTTP status');
    refuses(['--ttl=200:later'], '--ttl', '"later"');
  });
});

describe('readCachePolicy: negative caching and the heuristic', () => {
  test('--negative-statuses replaces the list', () => {
    assert.deepEqual([...readCachePolicy(['--negative-statuses=404,403,410']).negativeStatuses].sort(), [403, 404, 410]);
  });

  test('--negative-statuses none turns negative caching off', () => {
    assert.equal(readCachePolicy(['--negative-statuses=none']).negativeStatuses.size, 0);
    assert.equal(readCachePolicy(['--negative-statuses', 'none']).negativeStatuses.size, 0);
  });

  test('--negative-statuses refuses what is not a status', () => {
    refuses(['--negative-statuses=404,nope'], '--negative-statuses', '"nope"');
  });

  test('--heuristic is a percentage, with or without %', () => {
    assert.equal(readCachePolicy(['--heuristic=20']).heuristicFraction, 0.2);
    assert.equal(readCachePolicy(['--heuristic=20%']).heuristicFraction, 0.2);
    assert.equal(readCachePolicy(['--heuristic=12.5%']).heuristicFraction, 0.125);
    assert.equal(readCachePolicy(['--heuristic=0']).heuristicFraction, 0);
    assert.equal(readCachePolicy(['--heuristic=100%']).heuristicFraction, 1);
  });

  test('--heuristic refuses more than 100% and what is not a number', () => {
    refuses(['--heuristic=150'], '--heuristic', '"150"');
    refuses(['--heuristic=ten'], '--heuristic', '"ten"');
    refuses(['--heuristic=-5'], '--heuristic', '"-5"');
  });

  test('--heuristic-min larger than --heuristic-max is refused, also against the default max', () => {
    refuses(['--heuristic-min=2h', '--heuristic-max=1h'], '--heuristic-min is larger than --heuristic-max');
    refuses(['--heuristic-min=2d'], '--heuristic-min is larger than --heuristic-max');
    assert.equal(readCachePolicy(['--heuristic-min=1h', '--heuristic-max=1h']).heuristicMax, 3600);
  });
});

describe('readCachePolicy: flags', () => {
  test('--off turns the cache off for the rule; --on turns it on', () => {
    assert.equal(readCachePolicy(['--off']).enabled, false);
    assert.equal(readCachePolicy(['--on']).enabled, true);
    assert.equal(readCachePolicy(['--off', '--on']).enabled, true);
    assert.equal(readCachePolicy(['--on', '--off']).enabled, false);
  });

  test('a flag may say true or false explicitly', () => {
    assert.equal(readCachePolicy(['--off=false']).enabled, true);
    assert.equal(readCachePolicy(['--off=yes']).enabled, false);
    assert.equal(readCachePolicy(['--on=0']).enabled, false);
    assert.equal(readCachePolicy(['--ignore-query=no']).ignoreQuery, false);
  });

  test('--ignore-query and --cache-set-cookie', () => {
    const p = readCachePolicy(['--ignore-query', '--cache-set-cookie']);
    assert.equal(p.ignoreQuery, true);
    assert.equal(p.storeSetCookie, true);
  });

  test('a flag does not take the next argument as its value', () => {
    refuses(['--off', 'true'], 'unexpected argument "true"');
  });

  test('a flag with another value is refused', () => {
    refuses(['--off=maybe'], '--off takes no value');
  });
});

describe('readCachePolicy: every problem at once', () => {
  test('reports each problem in one PluginArgumentError', () => {
    refuses(
      ['--bogus', 'stray', '--ttl=999:1h', '--negative-ttl=soon', '--off=maybe', '--heuristic=200', '--stale-if-error'],
      'unknown option --bogus',
      'unexpected argument "stray"',
      '"999" is not an HTTP status',
      '--negative-ttl: "soon"',
      '--off takes no value',
      '--heuristic: "200"',
      '--stale-if-error needs a value',
    );
  });

  test('a value option at the end, or followed by another option, needs a value', () => {
    refuses(['--ttl'], '--ttl needs a value');
    refuses(['--ttl', '--off'], '--ttl needs a value');
  });
});
