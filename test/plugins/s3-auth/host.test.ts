/**
 * host.ts: what V2 signing reads from the Host. The bucket rules are S3's ("Virtual hosting of buckets", HTTP Host
 * header bucket specification): a bare endpoint means path style; HOST ending in an S3 endpoint means the bucket
 * is everything in front of it (dots included — ATS cut at the first dot); any other host is a CNAME whose
 * lower-cased value is the bucket.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bucketFromHost, hostName } from '../../../src/plugins/s3-auth/host.js';

describe('bucketFromHost: recognised AWS S3 endpoints', () => {
  const VIRTUAL_HOSTED: [string, string][] = [
    ['johnsmith.s3.amazonaws.com', 'johnsmith'],
    ['my.dotted.bucket.s3.amazonaws.com', 'my.dotted.bucket'],
    ['johnsmith.net.s3.amazonaws.com', 'johnsmith.net'],
    ['bucket.s3-us-west-1.amazonaws.com', 'bucket'],
    ['johnsmith.eu.s3-eu-west-1.amazonaws.com', 'johnsmith.eu'],
    ['bucket.s3.eu-west-1.amazonaws.com', 'bucket'],
    ['bucket.s3.dualstack.eu-west-1.amazonaws.com', 'bucket'],
    ['bucket.s3-external-1.amazonaws.com', 'bucket'],
    ['bucket.s3.us-gov-west-1.amazonaws.com', 'bucket'],
    ['bucket.s3.cn-north-1.amazonaws.com.cn', 'bucket'],
    ['bucket.s3.amazonaws.com.cn', 'bucket'],
    ['a-b.c-d.s3.ap-southeast-2.amazonaws.com', 'a-b.c-d'],
  ];
  for (const [host, bucket] of VIRTUAL_HOSTED) {
    test(`${host} is bucket ${bucket}, with or without --virtual_host`, () => {
      assert.equal(bucketFromHost(host, false, null), bucket);
      assert.equal(bucketFromHost(host, true, null), bucket);
    });
  }

  const BARE = [
    's3.amazonaws.com',
    's3.eu-west-1.amazonaws.com',
    's3-us-west-1.amazonaws.com',
    's3-external-1.amazonaws.com',
    's3.dualstack.us-east-1.amazonaws.com',
    's3.cn-north-1.amazonaws.com.cn',
  ];
  for (const host of BARE) {
    test(`the bare endpoint ${host} is path style, even with --virtual_host`, () => {
      assert.equal(bucketFromHost(host, false, null), null);
      assert.equal(bucketFromHost(host, true, null), null);
    });
  }

  test('a host that only looks like an endpoint is not one', () => {
    assert.equal(bucketFromHost('bucket.s3.amazonaws.com.evil.test', false, null), null);
    assert.equal(bucketFromHost('bucket.xs3.amazonaws.com', false, null), null);
    assert.equal(bucketFromHost('bucket.ec2.amazonaws.com', false, null), null);
  });
});

describe('bucketFromHost: CNAME hosts', () => {
  test('with --virtual_host the whole host is the bucket', () => {
    assert.equal(bucketFromHost('static.johnsmith.net', true, null), 'static.johnsmith.net');
    assert.equal(bucketFromHost('images', true, null), 'images');
  });

  test('without --virtual_host a host that is not an S3 endpoint means path style', () => {
    assert.equal(bucketFromHost('static.johnsmith.net', false, null), null);
    assert.equal(bucketFromHost('rgw.internal', false, null), null);
  });

  // Bucket naming rules: "Bucket names must not be formatted as an IP address". A Host that is an address can only
  // be a path-style request to a store reached by address (s3rver, MinIO, RGW on 127.0.0.1:port).
  test('an IP address is never a bucket, even with --virtual_host', () => {
    assert.equal(bucketFromHost('127.0.0.1', true, null), null);
    assert.equal(bucketFromHost('10.1.2.3', true, null), null);
    assert.equal(bucketFromHost('::1', true, null), null);
    assert.equal(bucketFromHost('2001:db8::7', true, null), null);
  });
});

describe('bucketFromHost: --v2-endpoint for S3-compatible stores', () => {
  test('BUCKET.endpoint is bucket BUCKET, dotted names included', () => {
    assert.equal(bucketFromHost('media.rgw.example.net', false, 'rgw.example.net'), 'media');
    assert.equal(bucketFromHost('my.dotted.bucket.rgw.example.net', false, 'rgw.example.net'), 'my.dotted.bucket');
  });

  test('the endpoint itself is path style, even with --virtual_host', () => {
    assert.equal(bucketFromHost('rgw.example.net', false, 'rgw.example.net'), null);
    assert.equal(bucketFromHost('rgw.example.net', true, 'rgw.example.net'), null);
  });

  test('matches whole labels only: xrgw.example.net is not under rgw.example.net', () => {
    assert.equal(bucketFromHost('xrgw.example.net', false, 'rgw.example.net'), null);
    assert.equal(bucketFromHost('xrgw.example.net', true, 'rgw.example.net'), 'xrgw.example.net');
  });

  test('a host outside the endpoint falls back to the AWS and CNAME rules', () => {
    assert.equal(bucketFromHost('johnsmith.s3.amazonaws.com', false, 'rgw.example.net'), 'johnsmith');
    assert.equal(bucketFromHost('cdn.example.org', false, 'rgw.example.net'), null);
    assert.equal(bucketFromHost('cdn.example.org', true, 'rgw.example.net'), 'cdn.example.org');
  });

  test('an endpoint that is itself an AWS name wins over the AWS rule (the doc example us-west-1.s3.amazonaws.com)', () => {
    assert.equal(bucketFromHost('awsexamplebucket1.us-west-1.s3.amazonaws.com', false, 'us-west-1.s3.amazonaws.com'), 'awsexamplebucket1');
    assert.equal(bucketFromHost('awsexamplebucket1.us-west-1.s3.amazonaws.com', false, null), 'awsexamplebucket1.us-west-1');
  });
});

describe('bucketFromHost: spelling of the host', () => {
  test('a trailing dot (absolute DNS name) is ignored', () => {
    assert.equal(bucketFromHost('johnsmith.s3.amazonaws.com.', false, null), 'johnsmith');
    assert.equal(bucketFromHost('s3.amazonaws.com.', false, null), null);
    assert.equal(bucketFromHost('static.johnsmith.net.', true, null), 'static.johnsmith.net');
    assert.equal(bucketFromHost('media.rgw.example.net.', false, 'rgw.example.net'), 'media');
  });

  // Host names are case-insensitive (RFC 9110 §4.2.3) and S3 says of a CNAME host that "the bucket for the request
  // is the lowercase value of the Host header": the bucket S3 signs is lower-case however the Host was spelled.
  test('endpoint suffixes match in any case, and the bucket is lower-cased', () => {
    assert.equal(bucketFromHost('JohnSmith.S3.AmazonAWS.COM', false, null), 'johnsmith');
    assert.equal(bucketFromHost('My.Dotted.Bucket.S3.EU-WEST-1.amazonaws.com', false, null), 'my.dotted.bucket');
    assert.equal(bucketFromHost('S3.AMAZONAWS.COM', false, null), null);
    assert.equal(bucketFromHost('Static.JohnSmith.NET', true, null), 'static.johnsmith.net');
    assert.equal(bucketFromHost('Media.RGW.example.net', false, 'rgw.EXAMPLE.net'), 'media');
    assert.equal(bucketFromHost('RGW.example.NET', false, 'rgw.example.net'), null);
  });
});

describe('hostName (a Host field value without its port)', () => {
  test('a name, with and without a port', () => {
    assert.equal(hostName('johnsmith.s3.amazonaws.com'), 'johnsmith.s3.amazonaws.com');
    assert.equal(hostName('static.johnsmith.net:8080'), 'static.johnsmith.net');
    assert.equal(hostName('s3.amazonaws.com:443'), 's3.amazonaws.com');
  });

  test('an IPv4 address, with and without a port', () => {
    assert.equal(hostName('127.0.0.1'), '127.0.0.1');
    assert.equal(hostName('127.0.0.1:9000'), '127.0.0.1');
  });

  test('a bracketed IPv6 address loses its brackets and port', () => {
    assert.equal(hostName('[::1]'), '::1');
    assert.equal(hostName('[::1]:9000'), '::1');
    assert.equal(hostName('[2001:db8::7]:8443'), '2001:db8::7');
  });
});
