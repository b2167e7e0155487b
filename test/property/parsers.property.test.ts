/**
 * Issue 9, property-based: configuration text from anywhere — random bytes, or random arrangements of the real
 * grammar's pieces — never crashes a parser: the answer is always a result with diagnostics (each with a file and
 * a line inside the text), never an exception. And canonicalisation is idempotent: what remapd sends, read again,
 * is sent unchanged (a signature computed on a path must not change if the path passes through twice).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseClients } from '../../src/plugins/s3-client-auth/clients-file.js';
import { normalizeQuery } from '../../src/plugins/s3-auth/canonical-query.js';
import { parseRegionMap } from '../../src/plugins/s3-auth/region.js';
import { normalizeGenericPath, normalizeS3Path } from '../../src/plugins/s3-auth/uri-encode.js';
import { parseStrategiesFile } from '../../src/pool/strategies-file.js';
import { parseRemapConfig } from '../../src/remap/parser.js';
import { RuleTable } from '../../src/remap/rule-table.js';

const RUNS = { numRuns: 400 };

/** Pieces of remap.config's real grammar, so random text reaches deep into the parser, not just its first check. */
const REMAP_TOKENS = [
  'map', 'regex_map', 'reverse_map', 'redirect', 'redirect_temporary', 'map_with_recv_port', 'map_with_referer',
  'http://a/', 'https://b.example.com:8443/x/', 'http://(.*)\\.example\\.com/', 'http://$1.origin/', 'http://[::1]:80/',
  'http://', '//', 'tunnel://x/', 'http://a:99999/', 'http://a b/',
  '@plugin=s3_auth.so', '@plugin=cache.so', '@plugin=header_rewrite.so', '@plugin=conf_remap.so', '@plugin=x.js', '@plugin=',
  '@pparam=--version=4', '@pparam=--access_key=A', '@pparam=--secret_key=S', '@pparam=', '@pparam=--config',
  '@action=allow', '@action=deny', '@method=GET', '@src_ip=10.0.0.0/8', '@src_ip=1.2.3.4-1.2.3.1', '@in_ip=::1', '@internal',
  '@strategy=s', '@volume=1', '@unknown=1',
  '.definefilter', '.deffilter', '.usefilter', '.unusefilter', '.deletefilter', '.include', 'f1', 'missing.config',
  '\\', '\\\n', '\n', ' ', '\t', '#', '"', "'", '"quoted value"', '$0', '$9', '(', ')', '*', 'ÿ', '\u0000', '\r\n',
];
const remapText = fc.oneof(
  fc.array(fc.constantFrom(...REMAP_TOKENS), { maxLength: 40 }).map((t) => t.join(' ')),
  fc.array(fc.constantFrom(...REMAP_TOKENS), { maxLength: 40 }).map((t) => t.join('')),
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
);

function lineCount(text: string): number {
  return text.split('\n').length;
}

describe('parsers never crash on random text', () => {
  test('remap.config (with .include of random text, and the rule table built from what parsed)', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(remapText, remapText, (main, included) => {
        const files: Record<string, string> = { '/cfg/remap.config': main, '/cfg/missing.config': included, '/cfg/f1': included };
        const parsed = parseRemapConfig('/cfg/remap.config', {
          readFile: (p) => {
            const text = files[p];
            if (text === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
            return text;
          },
        });
        for (const d of parsed.diagnostics) {
          assert.ok(d.file.startsWith('/cfg/'), d.file);
          assert.ok(d.line >= 0 && d.line <= Math.max(lineCount(main), lineCount(included)), `${d.file}:${d.line}`);
          assert.ok(d.message.length > 0);
        }
        new RuleTable(parsed.rules);
      }),
      RUNS,
    );
  });

  test('strategies.yaml', { timeout: 60_000 }, () => {
    const YAML_TOKENS = ['hosts:', 'groups:', 'strategies:', '- ', '  ', '&a', '*a', '<<: *a', 'host: h', 'protocol:', 'scheme: http', 'port: 80',
      'policy: consistent_hash', 'policy: x', 'strategy: s', 'weight: 1.5', 'health_check:', 'interval: 5s', '[', ']', '{', '}', ':', '#include x.yaml', '\n', '"', "'", '|', '>'];
    const text = fc.oneof(fc.array(fc.constantFrom(...YAML_TOKENS), { maxLength: 40 }).map((t) => t.join('')), fc.string({ maxLength: 300 }));
    fc.assert(
      fc.property(text, text, (main, included) => {
        const files: Record<string, string> = { '/cfg/strategies.yaml': main, '/cfg/x.yaml': included };
        parseStrategiesFile('/cfg/strategies.yaml', {
          readFile: (p) => {
            const t = files[p];
            if (t === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
            return t;
          },
        });
      }),
      RUNS,
    );
  });

  test('the clients file and the region map', () => {
    const INI_TOKENS = ['[AKID1]', '[', ']', 'secret_key = s', 'allow = *', 'allow = b/p*', 'methods = GET', 'expires = 1', '=', ';', '#', '\n', ' ', 'x'];
    const text = fc.oneof(fc.array(fc.constantFrom(...INI_TOKENS), { maxLength: 30 }).map((t) => t.join('')), fc.string({ maxLength: 200 }));
    fc.assert(
      fc.property(text, (t) => {
        const r = parseClients(t, '/cfg/clients.config');
        assert.ok(r.problems.length > 0 || r.clients.size > 0);
        for (const c of r.clients.values()) assert.ok(c.secretKey.length > 0 && c.allow.length > 0, 'a client is only taken whole');
        parseRegionMap(t, '/cfg/region_map.config');
      }),
      RUNS,
    );
  });
});

describe('canonicalisation is idempotent', () => {
  /** Raw paths as clients send them: any mix of escapes (valid or not), raw bytes, `+`, unicode. */
  const rawPath = fc
    .array(
      fc.oneof(
        fc.constantFrom('/', '+', '%', '%2', '%2F', '%2f', '%20', '%zz', '%C3%A9', '%c0%af', '%E2%82%AC', '%25', '~', '(', ')', '!', '*', "'", ' ', 'é', '日', '😀', 'a', 'Z', '0', '-', '.', '_'),
        fc.string({ maxLength: 3 }),
      ),
      { maxLength: 20 },
    )
    .map((parts) => `/${parts.join('')}`);
  const rawQuery = fc.array(fc.constantFrom('a', '=', '&', '+', '%', '%2B', '%20', '%zz', 'é', '!', '(', '*', "'", 'b=1', '&&', '=='), { maxLength: 15 }).map((p) => `?${p.join('')}`);

  test('normalizeS3Path (both readings of +) and normalizeGenericPath: f(f(x)) = f(x), and only escapes go out', () => {
    fc.assert(
      fc.property(rawPath, fc.boolean(), (p, plus) => {
        const once = normalizeS3Path(p, plus);
        assert.equal(normalizeS3Path(once, plus), once);
        assert.match(once, /^[A-Za-z0-9\-._~/%]*$/, 'only unreserved characters and escapes go out');
        const generic = normalizeGenericPath(p);
        assert.equal(normalizeGenericPath(generic), generic);
      }),
      RUNS,
    );
  });

  test('normalizeQuery: the query sent, read again, gives the same query and the same canonical form', () => {
    fc.assert(
      fc.property(rawQuery, fc.boolean(), (q, plus) => {
        const once = normalizeQuery(q, plus);
        const twice = normalizeQuery(once.search, plus);
        assert.equal(twice.search, once.search);
        assert.equal(twice.canonical, once.canonical);
      }),
      RUNS,
    );
  });
});
