#!/usr/bin/env python
'''
Record what the reference scraper (Synapse 2.x synapse.lib.scrape.contextScrape) finds in a
varied corpus, for the table test in tests/scrape.rs.

The corpus is gathered from:
  * the string constants of the reference's scrape tests (test_lib_scrape.py,
    test_lib_stormlib_scrape.py),
  * a hand-written list of edge cases (defangs, brackets, unicode dots and dashes, paths,
    servers, IPv6, hashes, coins),
  * deterministic mutations of both (splices, defanging, case changes, truncations,
    unicode insertions).

Each output line is {"text": ..., "refang": bool, "first": bool, "out": [[form, valu, match,
offset], ...]} where valu is a string or a [coin, address] pair. Texts on which the reference
raises (it does on some inputs) are left out.

Usage:
    python gen_scrape_vectors.py OUT.jsonl.gz
'''
import os
import ast
import sys
import gzip
import json
import random

import synapse.lib.scrape as s_scrape
import synapse.tests as s_tests

HAND = [
    'visi@vertex.link and BOB@WOOT.COM',
    'hxxp://foo[.]com/bar hxxps[:]//a(.)b[.]org fxp://x[.]net',
    'HXXP[:]//EVIL[.]COM[dot]AU',
    'a[at]b[.]com a[@]c[.]co(.)uk',
    'see http://a.com. ok, http://b.com, and "http://c.com" \'http://d.com\'',
    '(http://a.com) [http://b.com] {http://c.com} <http://d.com> \u2018http://e.com\u2019 \u201chttp://f.com\u201d',
    'http://a.com\xa0b http://b.com\x1c http://c.com\u2003',
    'xhttp://foo.com notascheme://foo.com ftp://1.2.3.4:21/x',
    'http://, x http:// x http://',
    '\\\\server\\share\\path\\file.txt and "\\\\srv@SSL@443\\share\\x" \'\\\\1.2.3.4\\s\'',
    '\\\\fe80--1.ipv6-literal.net\\share \\\\srv@99999\\share\\a ',
    '/etc/passwd is here\n/usr/bin/env python\nnot/etc/x\n//etc/x\n///etc/x\n/nope/x',
    'C:\\Windows\\System32\\cmd.exe, and more\nab:\\windows\nc:\\CON\\x\nc:\\a.\\b\nd:\\ok\\..\\x',
    '1.2.3.4 1.2.3.4:80 1.2.3.4:0 1.2.3.4:65536 1.2.3.4.5 01.2.3.4 1.2.3.04 256.1.1.1 1.2.3',
    '::1 fe80::1 [::1]:443 [fe80::1]:8080 ::ffff:1.2.3.4 1:2:3:4:5:6:7:8 1:2:3:4:5:6:7:8:9 1::2::3',
    'aa:bb:cc:dd:ee:ff ff:: 0::1 ab:cd::ef:: 10.0.0.1: a:1.2.3.4',
    'd41d8cd98f00b204e9800998ecf8427e da39a3ee5e6b4b0d3255bfef95601890afd80709',
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 xd41d8cd98f00b204e9800998ecf8427e',
    'CVE-2021-44228 cve\u20112020\u20131234 CVE-2019-123 CVE-2019-12345678 xCVE-2021-1234',
    'CWE-79 cwe-123456789 CWE-1',
    'cpe:2.3:a:microsoft:internet_explorer:8.0.6001:beta:*:*:*:*:*:* cpe:2.3:o:linux:linux_kernel:*:*:*:*:*:*:*:*',
    'www.example.com EXAMPLE.COM sub.domain.co.uk foo.bar.notatld foo.com. bar.com.x baz.com.\n',
    'b\u00fccher.de \u0431\u0443\u043a\u0432\u044b.\u0440\u0444 xn--bcher-kva.de foo\u3002com foo\uff0ecom foo\uff61com',
    'emoji\U0001F600.com pound\u00a3.com dollar$.com math+sign1.com math\u207asign2.com a_b.com -a.com',
    'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com ' + '.'.join(['a'] * 12) + '.com',
    'a.b.c.d.e.f.g.h.i.j.com a.b.c.d.e.f.g.h.i.j.k.com',
    '1BoatSLRHtKNngkdXEeobR76b53LETtpyT 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq',
    '0x52908400098527886E0F7030069857D2E4169EE7 0x52908400098527886e0f7030069857d2e4169ee7 0X52908400098527886E0F7030069857D2E4169EE7',
    'bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh',
    'user@[1.2.3.4] a@b a@b.c a@b.com.zzzz a@b.com.net a.b+c@d-e.f_g.com',
    'tcp://1.2.3.4:80 socks5h://proxy.local:1080 aha://svc.loop.vertex.link',
    'mixed \u0130stanbul.com K\u212aelvin.com long\u017fs.com',
    '',
    '   ',
    'no indicators here at all',
]


def strings_of(path):
    with open(path, 'r', encoding='utf8') as fd:
        tree = ast.parse(fd.read())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) >= 3:
            out.append(node.value)
    return out


def mutate(rng, texts):
    text = rng.choice(texts)
    op = rng.randrange(8)
    if op == 0 and len(texts) > 1:
        other = rng.choice(texts)
        return text[:rng.randrange(len(text) + 1)] + rng.choice([' ', '\n', '', ',', '.']) + other[rng.randrange(len(other) + 1):]
    if op == 1:
        return text.replace('.', rng.choice(['[.]', '(.)', '[dot]', '\u3002', '.]', '[.']), rng.randrange(1, 4))
    if op == 2:
        return text.replace('http', rng.choice(['hxxp', 'HXXP', 'http[s]', 'hxxp[s]'])).replace('://', rng.choice(['[://]', '[:]//', '://', '(:)//']))
    if op == 3:
        return text.upper() if rng.random() < 0.5 else text.lower()
    if op == 4:
        i = rng.randrange(len(text) + 1)
        return text[:i] + rng.choice(['\u00e9', '\u2013', '\u00a0', '$', '@', '/', '\\', ':', '[', ']', '\U0001F600', '\u0660', '_']) + text[i:]
    if op == 5:
        i, j = sorted((rng.randrange(len(text) + 1), rng.randrange(len(text) + 1)))
        return text[i:j]
    if op == 6:
        return text.replace(' ', rng.choice(['\t', '\n', ',', ';', '|', '\u3000', '']))
    return text + rng.choice([' ', '.', '..', '. ', ',', '\n', '>', ')', ']'])


def record(fd, text, refang, first):
    try:
        out = []
        for info in s_scrape.contextScrape(text, refang=refang, first=first):
            valu = info['valu']
            if isinstance(valu, tuple):
                valu = list(valu)
            out.append([info['form'], valu, info['match'], info['offset']])
    except Exception:
        return 0
    fd.write(json.dumps({'text': text, 'refang': refang, 'first': first, 'out': out}) + '\n')
    return 1


def main(argv):
    testdir = os.path.dirname(s_tests.__file__)
    base = list(HAND)
    for name in ('test_lib_scrape.py', 'test_lib_stormlib_scrape.py'):
        base.extend(strings_of(os.path.join(testdir, name)))
    # the big test blobs also as single lines
    lines = [line for text in base for line in text.split('\n') if line.strip()]
    rng = random.Random(2256)
    muts = [mutate(rng, base + lines) for _ in range(3000)]
    count = 0
    with gzip.open(argv[0], 'wt', encoding='utf8') as fd:
        for text in base + muts:
            count += record(fd, text, True, False)
            count += record(fd, text, False, False)
        for text in base + lines:
            count += record(fd, text, True, True)
    print(f'{count} vectors', file=sys.stderr)


if __name__ == '__main__':
    main(sys.argv[1:])
