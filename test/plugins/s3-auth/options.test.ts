/**
 * s3_auth's options (options.ts, and the files the plugin factory reads in s3-auth.ts): ATS-compatible forms and
 * names, every bad combination reported at load and all at once, the --config file, and the problems of the
 * region map and key files named by file:line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PluginArgumentError, RemapdError } from '../../../src/errors.js';
import { createLogger } from '../../../src/observability/logger.js';
import type { ClientRequestInfo, OriginRequest, PluginContext, RemapPlugin, RuleInfo } from '../../../src/plugins/api.js';
import { DEFAULT_SIGNED_PAYLOAD_MAX } from '../../../src/plugins/s3-auth/constants.js';
import { readOptions, type S3AuthOptions } from '../../../src/plugins/s3-auth/options.js';
import { createS3AuthPlugin } from '../../../src/plugins/s3-auth/s3-auth.js';
import { deriveSigningKey, scopeString } from '../../../src/plugins/s3-auth/sigv4.js';
import { HeaderList } from '../../../src/proxy/header-list.js';
import { Txn } from '../../../src/proxy/transaction.js';

interface FakeContext extends PluginContext {
  readonly warnings: string[];
  readonly dependencies: string[];
}

function fakeContext(configDir = '/etc/remapd'): FakeContext {
  const warnings: string[] = [];
  const dependencies: string[] = [];
  return {
    file: join(configDir, 'remap.config'),
    line: 7,
    configDir,
    warn: (m) => warnings.push(m),
    dependsOn: (p) => dependencies.push(p),
    logger: createLogger({ level: 'error', write: () => {} }),
    warnings,
    dependencies,
  };
}

/** A fresh folder under the OS temp dir, removed after the test. */
function tempFolder(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'remapd-s3opts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function optionsOf(args: string[], context: PluginContext = fakeContext()): S3AuthOptions {
  const read = readOptions(args, context);
  assert.ok('options' in read, `expected no problems, got ${JSON.stringify(read)}`);
  return read.options;
}

function problemsOf(args: string[], context: PluginContext = fakeContext()): string[] {
  const read = readOptions(args, context);
  assert.ok('problems' in read, 'expected problems');
  return read.problems;
}

const V4 = ['--version=4', '--access_key=AK', '--secret_key=SK'];
const SCOPE = '20130524/us-east-1/s3/aws4_request';
const KEY_B64 = deriveSigningKey('SK', { date: '20130524', region: 'us-east-1', service: 's3' }).toString('base64');

/** The argv a rule gives the factory: from-URL and to-URL first (ATS TSRemapNewInstance). */
function argv(...params: string[]): string[] {
  return ['http://cdn.example.com/', 'http://minio.internal:9000/', ...params];
}

function refusal(params: string[], context: PluginContext = fakeContext()): string {
  try {
    createS3AuthPlugin(argv(...params), context, { now: () => new Date('2013-05-24T00:00:00Z') });
  } catch (err) {
    assert.ok(err instanceof PluginArgumentError, `expected a PluginArgumentError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('the plugin accepted its arguments');
}

/** Runs the plugin's sendRequest hook on a GET to `host` and returns the Authorization it set. */
async function authorizationFor(plugin: RemapPlugin, host: string): Promise<string> {
  const rule: RuleInfo = { type: 'map', file: '/etc/remapd/remap.config', line: 7, id: 'remap.config:7', fromUrl: 'http://cdn.example.com/', toUrl: `http://${host}/` };
  const client: ClientRequestInfo = {
    method: 'GET',
    target: '/k',
    httpVersion: '1.1',
    headers: new HeaderList(['Host', 'cdn.example.com']),
    scheme: 'http',
    host: 'cdn.example.com',
    port: 80,
    remoteAddress: '127.0.0.1',
    remotePort: 50000,
    localAddress: '127.0.0.1',
    localPort: 8080,
  };
  const req: OriginRequest = { method: 'GET', scheme: 'http', host, port: 80, path: '/k', search: '', headers: new HeaderList(['host', host]), body: null, bodyLength: null };
  await plugin.sendRequest!(new Txn(1, rule, client, req), req);
  return req.headers.get('authorization') ?? '(none)';
}

describe('readOptions: forms and names', () => {
  test('`--k=v` and `--k v` give the same options', () => {
    assert.deepEqual(
      optionsOf(['--version', '4', '--access_key', 'AK', '--secret_key', 'S/K+=', '--region', 'eu-west-1']),
      optionsOf(['--version=4', '--access_key=AK', '--secret_key=S/K+=', '--region=eu-west-1']),
    );
  });

  test('names may be spelled with `-` or `_`', () => {
    const o = optionsOf([
      '--version=4',
      '--access-key=AK',
      '--secret-key=SK',
      '--session-token=T',
      '--v4_include_headers=range',
      '--v4-exclude-headers=accept',
      '--v4_payload=signed',
      '--v4-payload-max=1K',
      '--virtual-host',
      '--literal_plus',
    ]);
    assert.equal(o.accessKey, 'AK');
    assert.equal(o.secretKey, 'SK');
    assert.equal(o.sessionToken, 'T');
    assert.equal(o.includeHeaders, 'range');
    assert.equal(o.excludeHeaders, 'accept');
    assert.equal(o.payload, 'signed');
    assert.equal(o.payloadMax, 1024);
    assert.equal(o.virtualHost, true);
    assert.equal(o.literalPlus, true);
  });

  test('keeps everything after the first `=`, so base64 values survive', () => {
    assert.equal(optionsOf(['--version=4', '--access_key=AK', '--secret_key=abc/def+==']).secretKey, 'abc/def+==');
  });

  test('defaults: service s3, unsigned payload, 16 MiB limit, `+` is a space, no region, no token', () => {
    const o = optionsOf(V4);
    assert.equal(o.service, 's3');
    assert.equal(o.payload, 'unsigned');
    assert.equal(o.payloadMax, DEFAULT_SIGNED_PAYLOAD_MAX);
    assert.equal(o.literalPlus, false);
    assert.equal(o.virtualHost, false);
    assert.equal(o.region, null);
    assert.equal(o.sessionToken, null);
    assert.equal(o.regionMapFile, null);
    assert.equal(o.expiration, null);
  });

  test('a flag takes true/false spellings, and refuses anything else', () => {
    assert.equal(optionsOf([...V4, '--virtual_host=false']).virtualHost, false);
    assert.equal(optionsOf([...V4, '--virtual_host=yes']).virtualHost, true);
    assert.deepEqual(problemsOf([...V4, '--virtual_host=maybe']), ['--virtual_host takes no value, or true/false (got "maybe")']);
  });

  test('refuses an unknown option, a stray argument and an option missing its value', () => {
    assert.deepEqual(problemsOf([...V4, '--colour=blue']), ['unknown option --colour']);
    assert.deepEqual(problemsOf([...V4, 'stray']), ['unexpected argument "stray" (options look like --name=value)']);
    assert.deepEqual(problemsOf(['--version=4', '--access_key=AK', '--secret_key']), ['option --secret_key needs a value', 'no credentials: give --secret_key, or a scoped key (--signing_key with --key_scope, or --signing_key_file), or --credentials=env|aws']);
  });

  test('relative file paths resolve against the folder of remap.config', () => {
    const o = optionsOf([...V4, '--v4-region-map=maps/region_map.config'], fakeContext('/srv/remapd'));
    assert.equal(o.regionMapFile, '/srv/remapd/maps/region_map.config');
    assert.equal(optionsOf([...V4, '--v4-region-map=/abs/map.config']).regionMapFile, '/abs/map.config');
  });
});

describe('readOptions: --version', () => {
  test('2, 4, awsv2 and awsv4 are accepted, in any case', () => {
    const version = (v: string) => optionsOf([`--version=${v}`, '--access_key=AK', '--secret_key=SK']).version;
    assert.equal(version('2'), 2);
    assert.equal(version('awsv2'), 2);
    assert.equal(version('4'), 4);
    assert.equal(version('awsv4'), 4);
    assert.equal(version('AWSv4'), 4);
  });

  test('without --version it is 2, as in ATS, and marked as not explicit', () => {
    const o = optionsOf(['--access_key=AK', '--secret_key=SK']);
    assert.equal(o.version, 2);
    assert.equal(o.versionExplicit, false);
    assert.equal(optionsOf(V4).versionExplicit, true);
  });

  test('anything else is a problem', () => {
    assert.deepEqual(problemsOf(['--version=3', '--access_key=AK', '--secret_key=SK']), ['unknown --version "3" (use 2, 4, awsv2 or awsv4)']);
    assert.deepEqual(problemsOf(['--version=v4', '--access_key=AK', '--secret_key=SK']), ['unknown --version "v4" (use 2, 4, awsv2 or awsv4)']);
  });
});

describe('readOptions: every bad combination is a problem', () => {
  test('no access key', () => {
    assert.deepEqual(problemsOf(['--version=4', '--secret_key=SK']), ['no --access_key given']);
    assert.deepEqual(problemsOf(['--version=4', '--access_key=', '--secret_key=SK']), ['no --access_key given']);
  });

  test('no credentials', () => {
    assert.deepEqual(problemsOf(['--version=4', '--access_key=AK']), [
      'no credentials: give --secret_key, or a scoped key (--signing_key with --key_scope, or --signing_key_file), or --credentials=env|aws',
    ]);
  });

  test('a secret and a signing key together', () => {
    assert.deepEqual(problemsOf([...V4, `--signing_key=${KEY_B64}`, `--key_scope=${SCOPE}`]), [
      'give only one of --secret_key, --signing_key: they are alternative ways to sign',
    ]);
    assert.deepEqual(problemsOf([...V4, '--signing_key_file=keys']), ['give only one of --secret_key, --signing_key_file: they are alternative ways to sign']);
  });

  test('a signing key without its scope, and a scope without a signing key', () => {
    assert.deepEqual(problemsOf(['--version=4', '--access_key=AK', `--signing_key=${KEY_B64}`]), ['--signing_key needs --key_scope YYYYMMDD/region/service/aws4_request']);
    assert.deepEqual(problemsOf([...V4, `--key_scope=${SCOPE}`]), ['--key_scope is only used with --signing_key']);
  });

  test('a scoped key with Signature V2', () => {
    assert.deepEqual(problemsOf(['--version=2', '--access_key=AK', `--signing_key=${KEY_B64}`, `--key_scope=${SCOPE}`]), [
      'scoped signing keys exist only in Signature V4 (set --version 4)',
    ]);
    assert.deepEqual(problemsOf(['--access_key=AK', '--signing_key_file=keys']), ['scoped signing keys exist only in Signature V4 (set --version 4)']);
  });

  test('a bad region', () => {
    assert.deepEqual(problemsOf([...V4, '--region=EU_WEST_1']), ['--region "EU_WEST_1" is not a region name']);
  });

  test('a bad service', () => {
    assert.deepEqual(problemsOf([...V4, '--service=S3!']), ['--service "S3!" is not a service name']);
  });

  test('a bad payload mode', () => {
    assert.deepEqual(problemsOf([...V4, '--v4-payload=hashed']), ['--v4-payload must be "unsigned" or "signed" (got "hashed")']);
  });

  test('an unsigned payload for a service other than s3', () => {
    assert.deepEqual(problemsOf([...V4, '--service=execute-api', '--v4-payload=unsigned']), [
      '--v4-payload=unsigned is an S3 feature; service "execute-api" needs signed payloads',
    ]);
    assert.equal(optionsOf([...V4, '--service=execute-api']).payload, 'signed', 'other services sign their payload by default');
  });

  test('a bad size', () => {
    for (const bad of ['lots', '0', '1.5M', '-1', '10T']) {
      assert.deepEqual(problemsOf([...V4, `--v4-payload-max=${bad}`]), [`--v4-payload-max "${bad}" is not a size (bytes, or with K/M/G)`], bad);
    }
  });

  test('sizes in bytes, K, M and G (powers of 1024)', () => {
    const max = (v: string) => optionsOf([...V4, `--v4-payload-max=${v}`]).payloadMax;
    assert.equal(max('1000'), 1000);
    assert.equal(max('64K'), 65536);
    assert.equal(max('16M'), 16 * 1024 * 1024);
    assert.equal(max('16MiB'), 16 * 1024 * 1024);
    assert.equal(max('2 mb'), 2 * 1024 * 1024);
    assert.equal(max('1G'), 1024 ** 3);
  });

  test('a bad expiration', () => {
    assert.deepEqual(problemsOf([...V4, '--expiration=soon']), ['expiration "soon" is not epoch seconds']);
  });

  test('all problems are reported together', () => {
    assert.deepEqual(
      problemsOf(['--version=5', `--signing_key=${KEY_B64}`, '--region=Mars', '--service=a b', '--v4-payload=maybe', '--v4-payload-max=big', '--bogus']),
      [
        'unknown option --bogus',
        'unknown --version "5" (use 2, 4, awsv2 or awsv4)',
        'no --access_key given',
        '--signing_key needs --key_scope YYYYMMDD/region/service/aws4_request',
        'scoped signing keys exist only in Signature V4 (set --version 4)',
        '--region "Mars" is not a region name',
        '--service "a b" is not a service name',
        '--v4-payload must be "unsigned" or "signed" (got "maybe")',
        '--v4-payload-max "big" is not a size (bytes, or with K/M/G)',
      ],
    );
  });
});

describe('readOptions: --config file', () => {
  test('reads ini key=value lines with `#` comments, relative to the folder of remap.config', (t) => {
    const dir = tempFolder(t);
    writeFileSync(join(dir, 's3_auth_v4.config'), '# credentials for the bucket\n\naccess_key=FILEKEY\nsecret_key = FILE/SECRET+==\nversion=4\nv4-region-map=region_map.config\nvirtual_host\n');
    const context = fakeContext(dir);
    const o = optionsOf(['--config', 's3_auth_v4.config'], context);
    assert.equal(o.accessKey, 'FILEKEY');
    assert.equal(o.secretKey, 'FILE/SECRET+==');
    assert.equal(o.version, 4);
    assert.equal(o.virtualHost, true);
    assert.equal(o.regionMapFile, join(dir, 'region_map.config'));
    assert.deepEqual(context.dependencies, [join(dir, 's3_auth_v4.config')], 'the file is a dependency, for reloads');
    assert.deepEqual(context.warnings, []);
  });

  test('values from the file win over @pparam', (t) => {
    const dir = tempFolder(t);
    writeFileSync(join(dir, 's3.config'), 'access_key=FROM_FILE\nregion=eu-west-1\n');
    const o = optionsOf(['--access_key=FROM_PPARAM', '--config=s3.config', '--region=us-west-2', '--secret_key=SK', '--version=4'], fakeContext(dir));
    assert.equal(o.accessKey, 'FROM_FILE');
    assert.equal(o.region, 'eu-west-1');
    assert.equal(o.secretKey, 'SK', 'what the file does not set comes from @pparam');
  });

  test('unknown keys are warned about with file:line and ignored', (t) => {
    const dir = tempFolder(t);
    const file = join(dir, 's3.config');
    writeFileSync(file, 'access_key=AK\n# note\ncolour=blue\nsecret_key=SK\nversion=4\nconfig=other.config\n');
    const context = fakeContext(dir);
    optionsOf(['--config=s3.config'], context);
    assert.deepEqual(context.warnings, [`${file}:3: unknown key "colour" ignored`, `${file}:6: unknown key "config" ignored`]);
  });

  test('a key without a value is a problem naming file:line', (t) => {
    const dir = tempFolder(t);
    const file = join(dir, 's3.config');
    writeFileSync(file, 'version=4\naccess_key=AK\nsecret_key=\n');
    assert.deepEqual(problemsOf(['--config=s3.config'], fakeContext(dir)), [
      `${file}:3: secret_key needs a value`,
      'no credentials: give --secret_key, or a scoped key (--signing_key with --key_scope, or --signing_key_file), or --credentials=env|aws',
    ]);
  });

  test('an unreadable file is an error naming its path', (t) => {
    const dir = tempFolder(t);
    const context = fakeContext(dir);
    const problems = problemsOf([...V4, '--config=missing.config'], context);
    assert.deepEqual(problems, [`cannot read config file ${join(dir, 'missing.config')}: ENOENT`]);
    assert.deepEqual(context.dependencies, [join(dir, 'missing.config')], 'a reload can pick it up once it exists');
  });
});

describe('createS3AuthPlugin: checks at load', () => {
  test('refuses with every option problem in one message', () => {
    assert.equal(refusal(['--version=4', '--region=Mars', '--service=a b']), 'no --access_key given; no credentials: give --secret_key, or a scoped key (--signing_key with --key_scope, or --signing_key_file), or --credentials=env|aws; --region "Mars" is not a region name; --service "a b" is not a service name');
  });

  test('warns that V2 is legacy when --version is not given', () => {
    const context = fakeContext();
    createS3AuthPlugin(argv('--access_key=AK', '--secret_key=SK'), context);
    assert.equal(context.warnings.length, 1);
    assert.match(context.warnings[0]!, /no --version given.*V2 is legacy/);
  });

  test('does not warn with an explicit --version=4', () => {
    const context = fakeContext();
    createS3AuthPlugin(argv(...V4), context);
    assert.deepEqual(context.warnings, []);
  });

  test('warns when the credentials\' expiration has passed', () => {
    const context = fakeContext();
    const now = new Date('2013-05-24T00:00:00Z');
    createS3AuthPlugin(argv(...V4, `--expiration=${now.getTime() / 1000 - 1}`), context, { now: () => now });
    assert.deepEqual(context.warnings, ["s3_auth: the credentials' expiration (2013-05-23T23:59:59.000Z) has passed"]);
    const later = fakeContext();
    createS3AuthPlugin(argv(...V4, `--expiration=${now.getTime() / 1000 + 3600}`), later, { now: () => now });
    assert.deepEqual(later.warnings, []);
  });

  test('a missing --v4-region-map is an error naming the file', (t) => {
    const dir = tempFolder(t);
    const context = fakeContext(dir);
    assert.equal(refusal([...V4, '--v4-region-map=region_map.config'], context), `cannot read region map ${join(dir, 'region_map.config')}: ENOENT`);
    assert.deepEqual(context.dependencies, [join(dir, 'region_map.config')]);
  });

  test('each malformed region map line is an error naming file:line', (t) => {
    const dir = tempFolder(t);
    const file = join(dir, 'region_map.config');
    writeFileSync(file, '# map\nno colon\nminio.internal : eu-west-1\nbad host : us-east-1\n');
    assert.equal(
      refusal([...V4, '--v4-region-map=region_map.config'], fakeContext(dir)),
      `${file}:2: expected "host : region" or ": default-region"; ${file}:4: "bad host" is not a host name`,
    );
  });

  test('a bad --signing_key or --key_scope is refused', () => {
    assert.equal(
      refusal(['--version=4', '--access_key=AK', '--signing_key=AAAA', '--key_scope=20130524/us-east-1/s3']),
      '--signing_key: signing key decodes to 3 bytes; a V4 signing key has 32; --key_scope: key scope "20130524/us-east-1/s3" is not YYYYMMDD/region/service/aws4_request',
    );
  });

  test('a signing key scoped to another service than --service is refused', () => {
    assert.equal(
      refusal(['--version=4', '--access_key=AK', `--signing_key=${KEY_B64}`, '--key_scope=20130524/us-east-1/iam/aws4_request']),
      'the signing key is scoped to service "iam" but --service is "s3"',
    );
  });

  test('signing key file problems name file:line; a missing or empty file is refused', (t) => {
    const dir = tempFolder(t);
    const file = join(dir, 'keys');
    writeFileSync(file, `# keys\n${SCOPE} ${KEY_B64}\n${SCOPE}\n20130230/us-east-1/s3/aws4_request ${KEY_B64}\n`);
    const context = fakeContext(dir);
    assert.equal(
      refusal(['--version=4', '--access_key=AK', '--signing_key_file=keys'], context),
      `${file}:3: expected "YYYYMMDD/region/service/aws4_request BASE64KEY"; ${file}:4: key scope "20130230/us-east-1/s3/aws4_request" has an invalid date`,
    );
    assert.deepEqual(context.dependencies, [file]);

    writeFileSync(file, '# nothing yet\n');
    assert.equal(refusal(['--version=4', '--access_key=AK', '--signing_key_file=keys'], fakeContext(dir)), `${file}: holds no signing keys`);
    assert.equal(
      refusal(['--version=4', '--access_key=AK', '--signing_key_file=nokeys'], fakeContext(dir)),
      `cannot read signing key file ${join(dir, 'nokeys')}: ENOENT`,
    );
  });
});

describe('createS3AuthPlugin: the region of a scoped key', () => {
  const now = () => new Date('2013-05-24T00:00:00Z');
  const euKey = deriveSigningKey('SK', { date: '20130524', region: 'eu-west-1', service: 's3' }).toString('base64');
  const euScope = '20130524/eu-west-1/s3/aws4_request';

  test('with no --region and no map, the key\'s region is used: an S3-compatible host names none', async () => {
    const plugin = createS3AuthPlugin(argv('--version=4', '--access_key=AK', `--signing_key=${euKey}`, `--key_scope=${euScope}`), fakeContext(), { now });
    assert.match(await authorizationFor(plugin, 'minio.internal'), /Credential=AK\/20130524\/eu-west-1\/s3\/aws4_request,/);
  });

  test('the keys of a key file agreeing on one region give that region', async (t) => {
    const dir = tempFolder(t);
    const lines = ['20130524', '20130525'].map((date) => {
      const s = { date, region: 'eu-west-1', service: 's3' };
      return `${scopeString(s)} ${deriveSigningKey('SK', s).toString('base64')}`;
    });
    writeFileSync(join(dir, 'keys'), `${lines.join('\n')}\n`);
    const plugin = createS3AuthPlugin(argv('--version=4', '--access_key=AK', '--signing_key_file=keys'), fakeContext(dir), { now });
    assert.match(await authorizationFor(plugin, 'minio.internal'), /Credential=AK\/20130524\/eu-west-1\/s3\/aws4_request,/);
  });

  test('--region wins over the key\'s region, and then there is no key for the scope: a 500 when signing', async () => {
    const plugin = createS3AuthPlugin(
      argv('--version=4', '--access_key=AK', `--signing_key=${euKey}`, `--key_scope=${euScope}`, '--region=us-west-2'),
      fakeContext(),
      { now },
    );
    await assert.rejects(
      authorizationFor(plugin, 'minio.internal'),
      (err: unknown) => err instanceof RemapdError && err.code === 'ERR_SIGNING_KEY' && err.status === 500 && /20130524\/us-west-2\/s3\/aws4_request/.test(err.detail ?? ''),
    );
  });
});

test('a bad value from the --config file is reported at that file\'s line', (t) => {
  const dir = tempFolder(t);
  writeFileSync(join(dir, 's3.config'), '# credentials\naccess_key=AK\nsecret_key=SK\nversion=5\nregion=Not A Region\n');
  const problems = problemsOf(['--config', 's3.config'], fakeContext(dir));
  const file = join(dir, 's3.config');
  assert.ok(problems.includes(`${file}:4: unknown --version "5" (use 2, 4, awsv2 or awsv4)`), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith(`${file}:5: --region "Not A Region"`)), problems.join('\n'));
});
