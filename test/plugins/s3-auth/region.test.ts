/**
 * region.ts: the region a signature is scoped to. The built-in resolver reads it out of every AWS S3 endpoint form
 * (so a new region needs no map update); the region map (ATS's --v4-region-map format) overrides it on
 * dot-boundary suffixes; --region overrides everything.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseRegionMap, regionFromEndpoint, RegionResolver } from '../../../src/plugins/s3-auth/region.js';

/** A top-level file of the repository, found from this test whether it runs from dist/ or another build folder. */
function repoFile(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, name))) return join(dir, name);
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return join(process.cwd(), name);
}

function map(text: string) {
  return parseRegionMap(text, '/etc/remapd/region_map.config');
}

describe('regionFromEndpoint', () => {
  const cases: [string, string | null][] = [
    // Legacy global endpoint and its aliases: us-east-1.
    ['s3.amazonaws.com', 'us-east-1'],
    ['s3-external-1.amazonaws.com', 'us-east-1'],
    ['examplebucket.s3.amazonaws.com', 'us-east-1'],
    ['my.dotted.bucket.s3.amazonaws.com', 'us-east-1'],
    ['bucket.s3-external-1.amazonaws.com', 'us-east-1'],
    // A bucket named like a region on the global endpoint is still the global endpoint.
    ['eu-west-1.s3.amazonaws.com', 'us-east-1'],
    ['s3-eu-west-1.s3.amazonaws.com', 'us-east-1'],
    // Regional endpoints, path and virtual-hosted style.
    ['s3.eu-west-1.amazonaws.com', 'eu-west-1'],
    ['s3.us-east-1.amazonaws.com', 'us-east-1'],
    ['bucket.s3.eu-central-2.amazonaws.com', 'eu-central-2'],
    ['us-west-2.s3.eu-west-1.amazonaws.com', 'eu-west-1'],
    // Legacy dash forms.
    ['s3-us-west-1.amazonaws.com', 'us-west-1'],
    ['s3-ap-northeast-1.amazonaws.com', 'ap-northeast-1'],
    ['bucket.s3-eu-west-1.amazonaws.com', 'eu-west-1'],
    ['eu-west-1.s3-us-west-2.amazonaws.com', 'us-west-2'],
    // Dual-stack and FIPS.
    ['s3.dualstack.eu-west-1.amazonaws.com', 'eu-west-1'],
    ['bucket.s3.dualstack.us-east-1.amazonaws.com', 'us-east-1'],
    ['s3-fips.us-east-2.amazonaws.com', 'us-east-2'],
    ['bucket.s3-fips.dualstack.us-west-2.amazonaws.com', 'us-west-2'],
    ['s3-fips.dualstack.us-east-2.amazonaws.com', 'us-east-2'],
    // Website endpoints, both spellings.
    ['bucket.s3-website-us-west-2.amazonaws.com', 'us-west-2'],
    ['bucket.s3-website.eu-central-1.amazonaws.com', 'eu-central-1'],
    // Access points, dual-stack access points, Object Lambda.
    ['finance-docs-111122223333.s3-accesspoint.eu-west-1.amazonaws.com', 'eu-west-1'],
    ['finance-docs-111122223333.s3-accesspoint.dualstack.eu-west-1.amazonaws.com', 'eu-west-1'],
    ['my-olap-111122223333.s3-object-lambda.us-west-2.amazonaws.com', 'us-west-2'],
    // Interface VPC endpoints.
    ['bucket.vpce-1a2b3c4d-5e6f.s3.us-east-1.vpce.amazonaws.com', 'us-east-1'],
    ['bucket.vpce-1a2b3c4d-5e6f.s3.eu-west-1.vpce.amazonaws.com', 'eu-west-1'],
    ['accesspoint.vpce-1a2b3c4d-5e6f.s3.ap-south-1.vpce.amazonaws.com', 'ap-south-1'],
    // China.
    ['s3.cn-north-1.amazonaws.com.cn', 'cn-north-1'],
    ['bucket.s3.cn-northwest-1.amazonaws.com.cn', 'cn-northwest-1'],
    ['s3.dualstack.cn-north-1.amazonaws.com.cn', 'cn-north-1'],
    // GovCloud.
    ['s3.us-gov-west-1.amazonaws.com', 'us-gov-west-1'],
    ['s3-fips.us-gov-west-1.amazonaws.com', 'us-gov-west-1'],
    ['s3-us-gov-west-1.amazonaws.com', 'us-gov-west-1'],
    ['bucket.s3.us-gov-east-1.amazonaws.com', 'us-gov-east-1'],
    // A region that opens after this build: read from the host, no map update needed.
    ['s3.ap-southeast-7.amazonaws.com', 'ap-southeast-7'],
    ['bucket.s3.mx-central-1.amazonaws.com', 'mx-central-1'],
  ];

  for (const [host, region] of cases) {
    test(`${host} → ${region}`, () => {
      assert.equal(regionFromEndpoint(host), region);
    });
  }

  test('reads upper-case hosts and fully qualified hosts with a trailing dot', () => {
    assert.equal(regionFromEndpoint('Bucket.S3.EU-WEST-1.AmazonAWS.com'), 'eu-west-1');
    assert.equal(regionFromEndpoint('bucket.s3.eu-west-1.amazonaws.com.'), 'eu-west-1');
    assert.equal(regionFromEndpoint('S3.AMAZONAWS.COM.'), 'us-east-1');
  });

  test('a host that is not an AWS endpoint has no region', () => {
    for (const host of [
      'example.com',
      's3.example.com',
      's3.eu-west-1.example.com',
      'minio.local',
      '127.0.0.1',
      'localhost',
      'amazonaws.com',
      'notmys3.amazonaws.com',
      'evil-amazonaws.com',
      's3.amazonaws.com.evil.example',
      'storage.googleapis.com',
    ]) {
      assert.equal(regionFromEndpoint(host), null, host);
    }
  });
});

describe('parseRegionMap', () => {
  test('the shipped region_map.config (ATS\'s documented example) loads with no problems', () => {
    const file = repoFile('region_map.config');
    const { map: m, problems } = parseRegionMap(readFileSync(file, 'utf8'), file);
    assert.deepEqual(problems, []);
    assert.equal(m.file, file);
    assert.ok(m.entries.some((e) => e.host === 's3-us-west-1.amazonaws.com' && e.region === 'us-west-1'));
  });

  test('the shipped default line `: s3.amazonaws.com` names a host, and resolves to that host\'s region', () => {
    const file = repoFile('region_map.config');
    const { map: m } = parseRegionMap(readFileSync(file, 'utf8'), file);
    assert.equal(m.defaultRegion, 'us-east-1');
    const r = new RegionResolver({ map: m });
    assert.equal(r.resolve('bucket.s3-us-west-1.amazonaws.com'), 'us-west-1');
    assert.equal(r.resolve('minio.internal'), 'us-east-1');
  });

  test('reads `host : region`, lower-cases both and drops a leading dot', () => {
    const { map: m, problems } = map('Objects.Example.COM : EU-West-1\n.cdn.example.net:ap-south-1\n');
    assert.deepEqual(problems, []);
    assert.deepEqual(
      m.entries.map((e) => [e.host, e.region, e.line]),
      [
        ['objects.example.com', 'eu-west-1', 1],
        ['cdn.example.net', 'ap-south-1', 2],
      ],
    );
  });

  test('skips comments, trailing comments, blank lines and CRLF line ends', () => {
    const { map: m, problems } = map('# a comment\r\n\r\n   \r\nminio.example.com : eu-west-1  # trailing\r\n: us-west-2 # default\r\n');
    assert.deepEqual(problems, []);
    assert.deepEqual(m.entries.map((e) => [e.host, e.region, e.line]), [['minio.example.com', 'eu-west-1', 4]]);
    assert.equal(m.defaultRegion, 'us-west-2');
  });

  test('orders entries most specific first, whatever the file order', () => {
    const { map: m } = map('amazonaws.com : us-west-2\nexample.s3.amazonaws.com : eu-west-1\ns3.amazonaws.com : us-east-2\n');
    assert.deepEqual(m.entries.map((e) => e.host), ['example.s3.amazonaws.com', 's3.amazonaws.com', 'amazonaws.com']);
    const r = new RegionResolver({ map: m });
    assert.equal(r.resolve('b.example.s3.amazonaws.com'), 'eu-west-1');
    assert.equal(r.resolve('c.s3.amazonaws.com'), 'us-east-2');
    assert.equal(r.resolve('other.amazonaws.com'), 'us-west-2');
  });

  test('reports every malformed line with its line number and keeps the good ones', () => {
    const text = [
      'good.example.com : eu-west-1', // 1
      'no colon here', // 2
      'empty.example.com :', // 3
      'bad_host.example.com : us-east-1', // 4
      'two words : us-east-1', // 5
      ': us-west-2', // 6
      ': eu-west-1', // 7: a second default
      'x.example.com : not a region!', // 8
      'y.example.com : minio.example.com', // 9: a host whose region is unknown
      '  # fine', // 10
    ].join('\n');
    const { map: m, problems } = map(text);
    assert.deepEqual(
      problems.map((p) => p.line),
      [2, 3, 4, 5, 7, 8, 9],
    );
    assert.match(problems[0]!.message, /host : region/);
    assert.match(problems[1]!.message, /no region/);
    assert.match(problems[2]!.message, /bad_host\.example\.com.*not a host name/);
    assert.match(problems[3]!.message, /not a host name/);
    assert.match(problems[4]!.message, /second default/);
    assert.match(problems[5]!.message, /not a region name/);
    assert.match(problems[6]!.message, /cannot tell/);
    assert.deepEqual(m.entries.map((e) => e.host), ['good.example.com']);
    assert.equal(m.defaultRegion, 'us-west-2', 'the first default line counts');
  });
});

describe('RegionResolver', () => {
  const m = map('s3.eu-west-1.amazonaws.com : us-west-1\ns3.amazonaws.com : eu-central-1\nminio.example.com : eu-north-1\n: ap-south-1\n').map;

  test('--region wins over everything', () => {
    const r = new RegionResolver({ region: 'ca-central-1', map: m });
    for (const host of ['minio.example.com', 'b.s3.eu-west-1.amazonaws.com', 's3.us-west-2.amazonaws.com', 'localhost']) {
      assert.equal(r.resolve(host), 'ca-central-1', host);
    }
  });

  test('a map entry wins over the built-in resolver', () => {
    const r = new RegionResolver({ map: m });
    assert.equal(r.resolve('b.s3.eu-west-1.amazonaws.com'), 'us-west-1');
    assert.equal(r.resolve('bucket.s3.amazonaws.com'), 'eu-central-1');
    assert.equal(r.resolve('minio.example.com'), 'eu-north-1');
  });

  test('map entries match on dot boundaries only: notmys3.amazonaws.com is not under s3.amazonaws.com', () => {
    const r = new RegionResolver({ map: m });
    assert.equal(r.resolve('notmys3.amazonaws.com'), 'ap-south-1');
    assert.equal(r.resolve('otherminio.example.com'), 'ap-south-1');
  });

  test('the built-in resolver wins over the map default', () => {
    const r = new RegionResolver({ map: m });
    assert.equal(r.resolve('s3.ap-southeast-2.amazonaws.com'), 'ap-southeast-2');
  });

  test('the map default applies when nothing else names a region', () => {
    assert.equal(new RegionResolver({ map: m }).resolve('storage.internal'), 'ap-south-1');
  });

  test('us-east-1 applies when there is no map and the host is not an AWS endpoint', () => {
    assert.equal(new RegionResolver({}).resolve('storage.internal'), 'us-east-1');
    assert.equal(new RegionResolver({ map: map('a.example.com : eu-west-1\n').map }).resolve('storage.internal'), 'us-east-1');
  });

  test('matches map entries whatever the case of the host', () => {
    assert.equal(new RegionResolver({ map: m }).resolve('MINIO.Example.COM'), 'eu-north-1');
  });

  test('a fully qualified host with a trailing dot matches the map like the same host without it', () => {
    assert.equal(new RegionResolver({ map: m }).resolve('minio.example.com.'), 'eu-north-1');
  });

  test('answers the same for a host asked again', () => {
    const r = new RegionResolver({ map: m });
    assert.equal(r.resolve('s3.us-west-2.amazonaws.com'), 'us-west-2');
    assert.equal(r.resolve('s3.us-west-2.amazonaws.com'), 'us-west-2');
  });
});
