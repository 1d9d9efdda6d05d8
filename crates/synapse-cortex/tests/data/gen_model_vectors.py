'''
Record type normalization vectors from the reference Synapse (2.256) for the Rust model tests.

Usage: $SYNAPSE_REF_PYTHON gen_model_vectors.py OUTFILE

For every type of the model, a list of inputs (generic ones, the type's documented example,
and hand written valid/invalid inputs per base type) is normalized by the reference's own
type objects inside a temporary Cortex. Each vector records the norm, the info subs/adds, the
repr and the error class/message. "now" is pinned to FIXED_NOW so relative times are exact.

Values are JSON with tagged escapes for what JSON cannot carry:
  {"$b": hex} bytes, {"$f": "nan"|"inf"|"-inf"} floats, {"$i": "123"} ints beyond 64 bits,
  {"$d": [[k, v], ...]} dicts (order and key types kept).
'''
import sys
import json
import math
import asyncio
import tempfile

import synapse.exc as s_exc
import synapse.common as s_common
import synapse.cortex as s_cortex
import synapse.lib.types as s_types

FIXED_NOW = 1700000000123

def enc(v):
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        if -2**63 <= v < 2**64:
            return v
        return {'$i': str(v)}
    if isinstance(v, float):
        if math.isnan(v):
            return {'$f': 'nan'}
        if math.isinf(v):
            return {'$f': 'inf' if v > 0 else '-inf'}
        return v
    if isinstance(v, bytes):
        return {'$b': v.hex()}
    if isinstance(v, (list, tuple)):
        return [enc(x) for x in v]
    if isinstance(v, dict):
        return {'$d': [[enc(k), enc(x)] for k, x in v.items()]}
    return {'$repr': repr(v)}

GENERIC = ['', 'foo', 'FOO bar', 0, 1, -1, 10, True, False, 1.5, None, [], ['a', 'b'], b'\x01\x02']

CURATED = {
    'int': ['0x10', '0o10', '0b11', '-5', '010', '1e3', '  42  ', '1_000', '9223372036854775807',
            '9223372036854775808', '-9223372036854775809', 2**63, -2**63, 2.9, -2.9, '', 'zz', '+7', '0x', '00'],
    'float': ['1.5', '1e3', 'nan', 'inf', '-inf', '  2.5 ', 3, -0.0, 'x', 1e20, 1e-7, '1_0.5', float('nan')],
    'str': ['  Hello  ', 'The Vertex   Project', 123, 1.5, 1e20, True, 'ÄÖÜ', 'a\tb\nc'],
    'bool': ['true', 'false', 'yes', 'no', 'on', 'off', 't', 'f', 'y', 'n', '1', '0', '0x10', 'x', 'TRUE', 2, 0, True, False],
    'time': ['2020', '2020-01', '2020-01-02', '20200102', '2020-01-02 03:04:05', '2020-01-02T03:04:05.123Z',
             '2020-01-02T03:04:05+01:00', '2020-01-02T03:04:05-0500', '2020-01-02 03:04:05 EST',
             '2020/01/02 03:04:05.123456', '2020-01-02T03:04:05.1234567', 'now', '?', '-1 day', '+1 hour',
             '-3 days', '2020 +1 day', '2020-01-01 -1 day', '1577836800000', 1577836800000, -1, 0,
             253402300799999, 253402300800000, 0x7fffffffffffffff, 'Tue, 2 Jan 2020 03:04:05', '2 Jan 2020 03:04:05',
             '2020-02-30', '2020-13-01', '2019-02-29', '2020-02-29', '12', '20200102030405999', '202001020304',
             '2020010203', '  2020-01-02  ', '1969-12-31 23:59:59.999', '0001-01-01', '9999-12-31 23:59:59.999',
             '2020-01-02T03:04:05+24:00', '2020 PST', '2020-01-02 03:04 PDT', '+1 days', '-1 fortnight', 'junk',
             '2020-01-02 03:04:05.999999', '1970', '+5 minutes', '-2 hours', '2021-03-04T05:06:07.89Z', 1.5,
             '2020-01-02T03:04:05+0130', '2020-01-02 03:04:05 +05:30', '2020-01-02 03:04:05Z', '2020-01-02 03:04:05 utc',
             '2020-01-02 03:04:05 GMT', 'Thu, 02 Jan 2020 03:04:05 GMT', 'Thu, 02 Jan 2020 03:04:05 +0000',
             '02 Jan 2020 03:04:05 -0500', 'Mon, 31 Feb 2020 03:04:05', '2020-01-02 03:04:05 -1 day', '2020/1/2',
             '2020-1-2 3:4:5', '20200102T030405Z', '2020-01-02T03:04:05.000001Z', '2020-06-01 12:00 EDT', '2020 -1 hour',
             'now -1 day', '-1day', '- 1 day', '+1 min', '-1 secs', '+-1 day', '2038-01-19 03:14:08', '1900-01-01',
             '2020-01-02 03:04:05.123456789', 'N', '10000', '0000', '123456', '2020-00-01', '2020-01-00'],
    'ival': ['2020', ['2020', '2021'], ['2020', '?'], ['now', '+1 day'], '2020,2021', ['2021', '2020'], 1577836800000,
             ['2020', '2020'], '?', ['2020'], ['2020', '-1 day'], ['2020', '+-1 day'], ['?', '?'], [1, 2], 'now', 'junk'],
    'duration': ['1:00:00', '2D', '1 day', '10s', '10', '1:30', '1D 01:00:00.5', '01:02:03.004', 3600000, '', '1:2:3:4', 'x'],
    'guid': ['*', 'A' * 32, 'a' * 32, 'xyz', ['a', 'b'], [1, 'a'], ['a'], 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa', [], [1, [2, 3]]],
    'hex': ['0xff', 'FF', 'ff:ee', 'f', 'xyz', '', 255, -1, 65535, b'\xff\x00', '0X10'],
    'loc': ['US.CA.Los Angeles', 'us..ca', '  US . CA  ', 'us', ''],
    'syn:tag': ['foo.bar', '#foo.bar', 'Foo Bar.BAZ', 'foo..bar', 'foo.bar.', 'foo', ['foo', 'bar'], '', 'a.b.c.d', 'foo bar'],
    'syn:tag:part': ['Foo Bar', '', '!!', 'a-b'],
    'taxonomy': ['cyber.int_overflow', 'foo.bar.', 'Foo Bar.Baz', ['a', 'b'], '.a.b.', '', 'a..b'],
    'taxon': ['Foo Bar', '', 'a.b'],
    'hugenum': ['1.5', '1.50', '10', '0.000000000000000000000001', '0.0000000000000000000000015', '-5',
                '730750818665451459101842', '730750818665451459101843', '-730750818665451459101843', 'x', '1e+5',
                '1,000.25', 1.25, 10, '0x10', '1.1234567890123456789012345678'],
    'velocity': ['10 mph', '10 kph', '5 knots', '1c', '10 m/s', '10 km/h', '-1 mph', '10', 'x', '10 furlongs', 10, -10, '', '10 ft/min'],
    'data': [{'a': 1}, [1, 2], 'x', 1, None, b'\x00', {'a': b'x'}, 1.5, float('nan')],
    'inet:ipv4': ['1.2.3.4', '010.1.1.1', '1.2.3', '1.2', '1', '0x01020304', '1.2.3.4/24', '256.1.1.1', '1[.]2[.]3[.]4',
                  '127.0.0.1', '10.0.0.1', '224.0.0.1', '169.254.1.1', '100.64.0.1', '240.0.0.1', '192.0.2.1',
                  '8.8.8.8', 16909060, -1, 2**32, '', ' 1.2.3.4', 'x'],
    'inet:ipv6': ['2001:db8::0:1', '::1', '::ffff:1.2.3.4', '1.2.3.4', 'fe80::1', 'ff02::1', 'ff05::2', 'ff0e::1', 'ff07::1',
                  '2001:4860::8888', 'fc00::1', '::', '1::2::3', '12345::', 'x', 1, 2**128 - 1, '2001:DB8::A', 'fe80::1%eth0',
                  '2001:db8:0:0:1:0:0:1', '1:2:3:4:5:6:7:8', '::ffff:1.2.3.256'],
    'inet:cidr4': ['1.2.3.4/24', '1.2.3.4/32', '1.2.3.4/0', '1.2.3.4/33', '1.2.3.4', '1.2.3.4/x'],
    'inet:cidr6': ['2001:db8::/32', '2001:db8::1/32', '::/0', 'x/1', '2001:db8::'],
    'inet:fqdn': ['vertex.link', 'WWW.Vertex.Link.', 'tést.de', 'xn--tst-bma.de', '1.2.3.4', 'a_b.com', '-a.com', '',
                  'a..b', 'straße.de', '☃.net', 'vertex[.]link', 'vertex。link', 'localhost', 'a' * 64 + '.com',
                  'foo bar.com', 'bücher.EXAMPLE', '1.2.3', 'ⓐⓑⓒ.com', '*.com', 'ＶＥＲＴＥＸ.ｌｉｎｋ', 'ß.com',
                  'xn--zca.com', 'ς.gr', 'a.' * 130 + 'com', '日本語.jp', 'عربي.eg', 'd‌b.com', '-.com', 'a--b.com',
                  'ab--c.com', 'xn--.com', '.', '..', 'vertex.link.', ' vertex.link ', 'vertex(.)link', 'vertex\tlink'],
    'inet:email': ['visi@vertex.link', 'Visi@Vertex.Link', 'visi+foo@vertex.link', 'visi', 'a@b@c', '@vertex.link', 'visi@'],
    'inet:url': ['http://www.vertex.link/foo/bar?x=1', 'HTTPS://Vertex.Link', 'http://1.2.3.4:8080/a', 'http://[::1]:80/x',
                 'ftp://user:pass@host.com/', 'file:///etc/passwd', 'file:///c:/windows', 'file:c:/foo', 'vertex.link',
                 'http://', 'http://user@vertex.link', 'http://vertex.link:99999', 'https://[2001:db8::1]/', 'http://+:80/x',
                 '\\\\server\\share\\path\\file.txt', 'file://///server/share', 'http://%41@vertex.link', 'tcp://1.2.3.4:5'],
    'inet:server': ['1.2.3.4:80', 'tcp://1.2.3.4:80', 'udp://1.2.3.4:53', '[::1]:80', '::1', 'host://foo:80', 'gre://1.2.3.4',
                    'gre://1.2.3.4:80', 'http://1.2.3.4', 'TCP://1.2.3.4', '1.2.3.4', '[x]:1', '1.2.3.4:99999'],
    'inet:rfc2822:addr': ['"Visi Kenshoto" <visi@vertex.link>', 'visi@vertex.link', 'Visi <visi@vertex.link>', '', 'Visi'],
    'inet:http:cookie': ['foo=bar; path=/', 'foo', ' a=b ', 'a=b=c'],
    'inet:dns:name': ['vertex.link', '4.3.2.1.in-addr.arpa', '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa',
                      '1.2.3.4', '::1', '1234', 'Foo.Bar', 'x.in-addr.arpa', '1.2.3'],
    'inet:mac': ['AA:BB:CC:DD:EE:FF', 'aa:bb:cc', 'aabbccddeeff'],
    'inet:port': [80, '80', 65535, 65536, -1, 'http'],
    'inet:asn': [10, '10', 'x'],
    'inet:ipv4range': ['1.2.3.0-1.2.3.255', '1.2.3.0/24', ['1.2.3.4', '1.2.3.5'], ['1.2.3.5', '1.2.3.4'], 'x'],
    'inet:ipv6range': ['::1-::2', '2001:db8::/126', ['::2', '::1']],
    'inet:web:acct': ['twitter.com/visi', ['twitter.com', 'visi'], 'twitter.com', 'a/b/c'],
    'inet:dns:a': [['vertex.link', '1.2.3.4'], 'vertex.link,1.2.3.4', ['vertex.link'], ['1.2.3.4', 'vertex.link']],
    'inet:dns:aaaa': [['vertex.link', '::1']],
    'inet:flow': ['*', [1, 2]],
    'hash:md5': ['D41D8CD98F00B204E9800998ECF8427E', 'xyz', 255, 'd41d8cd98f00b204e9800998ecf8427'],
    'hash:sha256': ['a' * 64, 'a' * 63],
    'file:bytes': ['a' * 64, 'sha256:' + 'A' * 64, 'guid:' + 'a' * 32, 'guid:xyz', '*', 'hex:0102', 'hex:zz',
                   'base64:aGVsbG8=', 'base64:!!', 'foo', 'md5:abc', ['a', 1], b'hello', 'sha256:abc'],
    'file:path': ['/bin/../bin/ls', 'C:\\Windows\\System32\\cmd.exe', '/', '.', '..', 'foo/./bar/', '', '/a/b.tar.gz', '../../x'],
    'file:base': ['Foo.EXE', 'foo/bar', 'noext', 'a.b.c'],
    'geo:latlong': ['10.5,-20.25', [10, 20], '91,0', '0,181', '0,-180', 'x', [1, 2, 3], '0,180'],
    'geo:dist': ['10 km', '5 mi', '5 miles', '1.5 m', '10', 10, '-1 km', '3 feet', 100, 1000000, 12345, 'x'],
    'geo:area': ['1 sq.km', '10 sq.m', '5', 100, 'x', '2 km²'],
    'it:semver': ['1.2.3', 'v1.2', '1.2.3-alpha.1+build.5', '1.2.3-01', 'wowsoft_1.2', '1', '', 'x', 1099513724931, -1, 2**61,
                  '1.2.3.4.5'],
    'it:sec:cpe': ['cpe:2.3:a:vertex:synapse:2.0:*:*:*:*:*:*:*', 'cpe:/a:vertex:synapse:2.0', 'cpe:2.3:a:vertex',
                   'cpe:/a:microsoft:internet_explorer:8.0.6001:beta', 'cpe:/a:foo%21:bar', 'x', 'cpe:2.3:a:b:c:d:e:f:g:h:i:j:k:l',
                   'cpe:/a:vendor:product:1.0:update:~edition~swed~tsw~thw~other'],
    'it:sec:cpe:v2_2': ['cpe:/a:vertex:synapse:2.0', 'cpe:2.3:a:vertex:synapse:2.0:*:*:*:*:*:*:*', 'x', ['a', 'b', 'c']],
    'it:sec:cve': ['CVE-2021-1234', 'cve–2021–1234', 'cve-21-1'],
    'cvss:v2': ['(AV:L/AC:L/Au:M/C:P/I:C/A:N)', 'AV:L/AC:L/Au:M/C:P/I:C/A:N/E:ND', 'AV:L', 'AV:X/AC:L/Au:M/C:P/I:C/A:N',
                'AV:L/AV:L', 'CVSS2#AV:L/AC:L/Au:M/C:P/I:C/A:N', 'junk'],
    'cvss:v3': ['AV:N/AC:H/PR:L/UI:R/S:U/C:L/I:L/A:L', 'CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:U/C:L/I:L/A:L/E:X',
                'CVSS:3.0/AV:N/AC:H/PR:L/UI:R/S:U/C:L/I:L/A:L', 'AV:N', 'FOO:1'],
    'tel:phone': ['+1 (703) 555-1212', '17035551212', 17035551212, '442071234567', '0044 20 7123 4567', 'x', 0, '86 10 1234'],
    'tel:mob:imei': [49015420323751, 490154203237518, 490154203237519, '490154203237518', 123],
    'tel:mob:imsi': [310150123456789, 1234567890123456, '310150123456789'],
    'ndef': [['inet:fqdn', 'vertex.link'], ['inet:ipv4', '1.2.3.4'], ['newp:newp', 'x'], ['inet:fqdn'], 'x'],
    'nodeprop': [['inet:ipv4:asn', '10'], 'inet:ipv4:asn=10', ['newp:newp', 1], ['inet:ipv4:asn']],
    'edge': [[['inet:fqdn', 'a.com'], ['inet:ipv4', 1]], [['inet:fqdn', 'a.com']]],
    'timeedge': [[['inet:fqdn', 'a.com'], ['inet:ipv4', 1], '2020'], [['inet:fqdn', 'a.com'], ['inet:ipv4', 1]]],
    'range': [[1, 2], '1-2', [2, 1], [1]],
    'comp': [[1, 2]],
    'array': [[1, 2]],
    'econ:price': ['1.50', '1,000', '-3.25', 'abc'],
    'mass': ['10kg', '10 lbs', '5', '1 stone', '2 furlongs', '1.5 mg'],
    'transport:direction': ['370', '-10', '360', '45.5'],
    'ps:name': ['Kenshoto,  Visi', '  Visi   Kenshoto '],
    'ou:name': ['  The Vertex   Project '],
    'syn:user': ['a' * 32, '*', 'newp'],
    'syn:role': ['a' * 32, '*', 'newp'],
    'econ:pay:pan': ['4111111111111111', '41111'],
    'inet:ssl:jarmhash': ['0' * 62, 'x'],
    'iso:oid': ['1.2.840.113549', '3.1'],
    'it:mitre:attack:technique': ['T1234', 'T1234.001', 'X1'],
    'inet:web:hashtag': ['#foo', 'foo', '#a b'],
    'transport:sea:mmsi': ['123456789', 'x123456789'],
    'it:os:windows:sid': ['S-1-5-21-1004336348-1177238915-682003330-512', 'S-1-x'],
}

DEFAULTS = ['*', 'foo', 10, '2020', 'foo.bar', '1.2.3.4', 'vertex.link', 'visi@vertex.link', 'http://vertex.link/',
            'a' * 64, '1.2.3.4/24', '2001:db8::/32', '123456789', 'GB82WEST12345698765432', 'DEUTDEFF', 'ABCDE',
            't13d1516h2_8daaf6152771_b186095e22b6', 't130200_1301_234ea6891581', ['foo', 'bar'],
            [['inet:fqdn', 'vertex.link'], ['inet:fqdn', 'vertex.link']]]

PROPS = {
    'ps:contact:emails': [['A@b.com', 'a@b.com', 'c@d.com'], 'x', ['x']],
    'ou:org:names': [['B', 'a', 'b', ' A ']],
    'risk:vuln:cwes': [['CWE-1', 'CWE-2']],
    'it:mitre:attack:group:techniques': ['T1234,T1000, T1234', ['T1']],
    'inet:dns:answer:time': ['2020', 'now'],
    'ou:campaign:goals': [['*']],
    'inet:whois:rec:registrant': ['Visi'],
}

# (type, cmpr, right-hand value, left-hand inputs normalized by the type)
CMPRS = [
    ('inet:ipv4', '=', '1.0.0.0/8', ['1.2.3.4', '2.0.0.0', '0.255.255.255']),
    ('inet:ipv4', '=', '1.2.3.4-1.2.3.6', ['1.2.3.4', '1.2.3.6', '1.2.3.7']),
    ('inet:ipv4', '<', '1.2.3.4', ['1.2.3.3', '1.2.3.4']),
    ('inet:ipv4', '>=', '1.2.3.4', ['1.2.3.3', '1.2.3.4']),
    ('inet:ipv4', 'range=', ('1.0.0.0', '2.255.255.255'), ['1.2.3.4', '3.0.0.0']),
    ('inet:ipv4', 'in=', ('1.2.3.4', '5.6.7.8'), ['1.2.3.4', '1.2.3.5']),
    ('inet:ipv4', '~=', '^1\\.2', ['1.2.3.4', '2.1.3.4']),
    ('inet:ipv4', '^=', '1.2', ['1.2.3.4', '2.1.3.4']),
    ('inet:ipv6', '=', '2001:db8::/32', ['2001:db8::1', '2001:db9::1']),
    ('inet:ipv6', '<', '::5', ['::4', '::6']),
    ('inet:ipv6', '=', '::1-::3', ['::2', '::4']),
    ('inet:fqdn', '=', '*.link', ['vertex.link', 'link', 'vertex.com']),
    ('inet:fqdn', '=', '', ['vertex.link']),
    ('inet:fqdn', '~=', 'VER', ['vertex.link', 'woot.com']),
    ('inet:fqdn', '^=', 'vert', ['vertex.link', 'woot.com']),
    ('inet:fqdn', '!=', 'vertex.link', ['vertex.link', 'woot.com']),
    ('str', '^=', 'foo', ['foobar', 'barfoo']),
    ('str', 'range=', ('b', 'd'), ['a', 'b', 'c', 'd', 'e']),
    ('ou:name', '=', ' The Vertex ', ['the vertex', 'vertex']),
    ('loc', '^=', 'us.ca', ['us.ca', 'us.ca.la', 'us.cal', 'us']),
    ('int', '>', 10, [9, 10, 11]),
    ('int', 'range=', (1, 3), [0, 1, 3, 4]),
    ('int', 'in=', (1, '0x10'), [16, 2]),
    ('float', '<=', '1.5', [1.5, 1.6]),
    ('time', '=', '2020*', ['2020-06-01', '2021']),
    ('time', '<', '2021*', ['2021-06-01', '2022']),
    ('time', '<=', '2021', ['2021', '2021-01-02']),
    ('time', 'range=', ('2020', '+1 day'), ['2020-01-01 12:00', '2020-01-03']),
    ('time', 'range=', ('2020-01-02', '-1 day'), ['2020-01-01 12:00', '2020-01-03']),
    ('time', '@=', '2020', ['2020', '2021']),
    ('time', '@=', ('2020', '2021'), ['2020-06-01', '2021-06-01']),
    ('ival', '@=', '2020-06-01', [('2020', '2021'), ('2021', '2022')]),
    ('ival', '@=', ('2020', '2021'), [('2019', '2020-01-02'), ('2021', '2022')]),
    ('ival', '=', ('2020', '2021'), [('2020', '2021'), '2020']),
    ('taxonomy', '^=', 'foo', ['foo.bar.', 'foobar.']),
    ('taxonomy', '^=', 'foo.', ['foo.bar.', 'foobar.']),
    ('hugenum', '>', '1.5', ['1.6', '1.5']),
    ('hugenum', '=', '1.50', ['1.5', '2']),
    ('hugenum', 'range=', ('1', '2'), ['1.5', '3']),
    ('guid', '^=', 'aa', ['a' * 32, 'b' * 32]),
    ('hash:md5', '^=', 'D4', ['d41d8cd98f00b204e9800998ecf8427e']),
    ('syn:tag', '^=', 'foo', ['foo.bar', 'bar']),
    ('inet:url', '=', '', ['http://vertex.link']),
    ('geo:latlong', 'near=', ('0,0', '200 km'), [(1, 1), (10, 10)]),
    ('inet:asn', '<', 'x', [1]),
    ('ival', 'range=', (1, 2), [(1, 2)]),
    ('inet:fqdn', '<', 'a', ['b']),
]

# (type, cmpr, value) for index lift operations
LIFTS = [
    ('inet:ipv4', '=', '1.2.3.0/24'), ('inet:ipv4', '=', '1.2.3.4-1.2.3.8'), ('inet:ipv4', '=', '1.2.3.4'),
    ('inet:ipv4', '<', '1.2.3.4'), ('inet:ipv4', 'range=', ('1.2.3.4', '1.2.3.5')), ('inet:ipv4', '^=', '1'),
    ('inet:ipv6', '=', '2001:db8::/126'), ('inet:ipv6', '=', '::1-::2'), ('inet:ipv6', '>', '::1'),
    ('inet:fqdn', '=', '*.vertex.link'), ('inet:fqdn', '=', '*vertex.link'), ('inet:fqdn', '=', '*'),
    ('inet:fqdn', '=', 'a*b'), ('inet:fqdn', '=', ''), ('inet:fqdn', '^=', 'a'), ('inet:fqdn', '~=', 'a'),
    ('str', '^=', 'Foo'), ('ou:name', '^=', '  The'), ('ou:name', 'range=', ('A', 'b')), ('str', '~=', 'x'),
    ('tel:phone', '=', '1703*'), ('loc', '=', 'us.ca.*'), ('loc', '^=', 'US.CA'), ('guid', '^=', 'AB'),
    ('guid', '^=', 'abc'), ('hash:md5', '=', 'D41D*'), ('hash:md5', '^=', '0xD4'), ('time', '=', '2020*'),
    ('time', '<=', '2020*'), ('time', '@=', ('2020', '2021')), ('time', '@=', '2020'), ('time', 'range=', ('2020', '+1 day')),
    ('ival', '@=', ('2020', '2021')), ('ival', '@=', '2020'), ('ival', 'range=', (1, 2)), ('int', '>', '10'),
    ('int', 'in=', (1, 2)), ('int', '?=', 'x'), ('int', '?=', '5'), ('taxonomy', '^=', 'foo'), ('taxonomy', '^=', 'foo.'),
    ('hugenum', '>=', '1.5'), ('geo:latlong', 'near=', ('0,0', '1 km')), ('int', 'near=', 1), ('syn:tag', '^=', 'foo'),
]

# Random strings over type-relevant alphabets (fixed seed) to probe parser edge cases.
FUZZ = {
    'time': ('0123456789-:/ T.+Zz', 4, 24),
    'inet:ipv4': ('0123456789.x', 1, 16),
    'inet:ipv6': ('0123456789abcdef:.', 2, 24),
    'inet:fqdn': ('ab.-_1 A', 1, 12),
    'inet:url': ('ab:/.@?1[]%', 4, 24),
    'inet:server': ('tcp:/1.2[]:', 3, 20),
    'inet:email': ('ab@.+-1', 2, 12),
    'int': ('0123456789xob_-+ ', 1, 10),
    'hex': ('0123456789abcdefx: ', 1, 10),
    'file:path': ('ab./\\ ', 1, 12),
    'duration': ('0123456789D:. ', 1, 12),
    'hugenum': ('0123456789.,-e+ ', 1, 14),
    'geo:dist': ('0123456789. kmcfet', 1, 12),
    'it:semver': ('0123456789.-+vab', 1, 12),
    'syn:tag': ('ab. _#', 1, 10),
    'loc': ('ab. ', 1, 10),
    'tel:phone': ('0123456789+() -', 1, 14),
    'velocity': ('0123456789. mphk/s', 1, 12),
    'ival': ('0123456789-,? +day', 4, 20),
    'bool': ('truefalsyn01 ', 1, 6),
    'float': ('0123456789.e-+in', 1, 10),
    'taxonomy': ('ab. _', 1, 10),
}

def fuzzinputs():
    import random
    rand = random.Random(1)
    for tname, (alpha, lo, hi) in FUZZ.items():
        seen = set()
        for _ in range(200):
            text = ''.join(rand.choice(alpha) for _ in range(rand.randint(lo, hi)))
            if text not in seen:
                seen.add(text)
                yield tname, text

def nondet(valu):
    return valu == '*' or (isinstance(valu, (list, tuple)) and '*' in valu)

def totuple(v):
    # Values arrive from telepath as tuples (msgpack use_list=False).
    if isinstance(v, list):
        return tuple(totuple(x) for x in v)
    return v

async def record(core, vectors, tname, typeobj, valu, propname=None):
    vect = {'type': tname, 'input': enc(valu)}
    valu = totuple(valu)
    if propname:
        vect['prop'] = propname
    try:
        norm, info = typeobj.norm(valu)
    except s_exc.SynErr as e:
        vect['error'] = [e.__class__.__name__, e.get('mesg')]
        vectors.append(vect)
        return None
    except Exception as e:
        vect['error'] = [e.__class__.__name__, str(e)]
        vect['pyexc'] = True
        vectors.append(vect)
        return None

    vect['norm'] = enc(norm)
    vect['subs'] = enc(info.get('subs', {}))
    vect['adds'] = [[a[0], enc(a[1])] for a in info.get('adds', ())]
    if 'toks' in info:
        vect['toks'] = list(info['toks'])
    if nondet(valu):
        vect['random'] = True
    try:
        vect['repr'] = enc(typeobj.repr(norm))
    except Exception as e:
        vect['reprerr'] = [e.__class__.__name__, str(e)]
    vectors.append(vect)
    return norm

async def main(path):
    s_common.now = lambda: FIXED_NOW
    vectors = []
    samples = {}
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(dirn) as core:
            modl = core.model
            ctors = {}
            for name, typeobj in modl.types.items():
                bases = typeobj.info.get('bases', ())
                ctor = bases[1] if len(bases) > 1 else name
                ctors[name] = ctor

            for name in sorted(modl.types):
                typeobj = modl.types[name]
                inputs = list(GENERIC)
                ex = typeobj.info.get('ex')
                if ex is not None:
                    inputs.insert(0, ex)
                inputs.extend(CURATED.get(name, ()))
                if name != ctors[name]:
                    inputs.extend(CURATED.get(ctors[name], ())[:8])
                for valu in inputs:
                    await record(core, vectors, name, typeobj, valu)

            for tname, valu in fuzzinputs():
                await record(core, vectors, tname, modl.type(tname), valu)

            for propname, inputs in PROPS.items():
                prop = modl.prop(propname)
                for valu in inputs:
                    await record(core, vectors, prop.type.name, prop.type, valu, propname=propname)

            # One sample value per form that the reference accepts (comps built from field samples).
            def sample(typeobj, depth=0):
                if isinstance(typeobj, s_types.Comp) and depth < 4:
                    fields = typeobj.opts.get('fields') or ()
                    valu = tuple(sample(typeobj.tcache[name], depth + 1) for name, _ in fields)
                    try:
                        typeobj.norm(valu)
                        return valu
                    except Exception:
                        pass
                cands = []
                ex = typeobj.info.get('ex')
                if ex is not None:
                    cands.append(ex)
                cands.extend(CURATED.get(typeobj.name, ()))
                cands.extend(CURATED.get(ctors.get(typeobj.name), ()))
                cands.extend(DEFAULTS)
                for cand in cands:
                    try:
                        typeobj.norm(totuple(cand))
                    except Exception:
                        continue
                    return cand
                return None

            for formname in sorted(modl.forms):
                cand = sample(modl.form(formname).type)
                if cand is not None:
                    samples[formname] = enc(cand)

            cmprs = []
            for tname, cmpr, rhs, lhss in CMPRS:
                typeobj = modl.type(tname)
                vect = {'type': tname, 'cmpr': cmpr, 'rhs': enc(rhs)}
                cmprs.append(vect)
                ctor = typeobj.getCmprCtor(cmpr)
                if ctor is None:
                    vect['error'] = 'NoSuchCmpr'
                    continue
                try:
                    func = ctor(totuple(rhs))
                except s_exc.SynErr as e:
                    vect['error'] = e.__class__.__name__
                    continue
                vect['results'] = [[enc(lhs), func(typeobj.norm(totuple(lhs))[0])] for lhs in lhss]

            lifts = []
            for tname, cmpr, valu in LIFTS:
                typeobj = modl.type(tname)
                vect = {'type': tname, 'cmpr': cmpr, 'valu': enc(valu)}
                try:
                    vect['lifts'] = [[c, enc(v), st] for (c, v, st) in typeobj.getStorCmprs(cmpr, totuple(valu))]
                except s_exc.SynErr as e:
                    vect['error'] = e.__class__.__name__
                lifts.append(vect)

    with open(path, 'w') as fd:
        json.dump({'now': FIXED_NOW, 'vectors': vectors, 'form_samples': samples, 'cmprs': cmprs, 'lifts': lifts}, fd, indent=None, separators=(',', ':'))
        fd.write('\n')

if __name__ == '__main__':
    asyncio.run(main(sys.argv[1]))
