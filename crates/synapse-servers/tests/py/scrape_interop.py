'''
Scraping in Storm, compared between the reference Cortex and ours with the reference client.

    python scrape_interop.py <our telepath url> <directory for the reference cortex>

Starts the reference Cortex in this process (in the given directory), runs the same queries (the `scrape` command, `$lib.scrape`, lookup and autoadd modes) against
both cortexes and compares what matters of their message streams: the nodes (ndefs and, for
scraped nodes, their `refs` edges), prints, warnings, errors and `look:miss` events. Any
difference raises (non-zero exit, the two streams on stderr). Prints the number of compared
queries.
'''
import sys
import json
import asyncio

import synapse.cortex as s_cortex
import synapse.telepath as s_telepath

TEXT = ('visit hxxp://evil[.]com/a?b=1 from 1.2.3.4 or [::1]:443, mail evil@bad[.]com '
        're CVE-2021-44228 and c:\\windows\\x.exe\n/etc/passwd here\n'
        'd41d8cd98f00b204e9800998ecf8427e 1BoatSLRHtKNngkdXEeobR76b53LETtpyT '
        'www.b\u00fccher.de foo[.]bar(.)com 999.1.1.1 ')

QUERIES = [
    ('[ inet:search:query=(q0,) :text=$text ]', {'text': TEXT}, None),
    ('inet:search:query=(q0,) | scrape :text', {}, None),
    ('inet:search:query=(q0,) | scrape :text --yield', {}, None),
    ('inet:search:query=(q0,) | scrape :text --refs --forms inet:fqdn,inet:ipv4 --yield', {}, None),
    ('inet:search:query=(q0,) | scrape :text --skiprefang --forms (inet:url, inet:fqdn) --yield', {}, None),
    ('inet:search:query=(q0,) -(refs)> * | uniq', {}, None),
    ('[ it:dev:str="see 5.6.7.8 and hxxps://x[.]org" ] | scrape --yield', {}, None),
    ('[ it:dev:str="only text" ] | scrape --refs', {}, None),
    ('scrape "runtsafe 9.9.9.9 and z.com" --yield', {}, None),
    ('scrape $text', {'text': 'no nodes yielded 8.8.4.4'}, None),
    ('for ($form, $valu, $info) in $lib.scrape.context($text) { $lib.print("{f} {v} {i}", f=$form, v=$valu, i=$info) }',
     {'text': TEXT}, None),
    ('for ($form, $valu) in $lib.scrape.ndefs($text) { $lib.print("{f} {v}", f=$form, v=$valu) }',
     {'text': TEXT + ' 1.2.3.4 EVIL.COM'}, None),
    ('for ($valu, $info) in $lib.scrape.genMatches($text, "(Name\\:\\s)(?P<valu>[a-z0-9]+)\\s") { $lib.print("{v} {i}", v=$valu, i=$info) }',
     {'text': 'Name: alice and Name: Bob2 and Name: x'}, None),
    ('for ($valu, $info) in $lib.scrape.genMatches($text, "(?P<valu>[a-z]+\\.[a-z]+)", fangs=(("[.]", "."),)) { $lib.print("{v} {i}", v=$valu, i=$info) }',
     {'text': 'see foo[.]bar and baz[.]qux'}, None),
    ('for ($valu, $info) in $lib.scrape.genMatches($text, "(?P<valu>[a-z]+@[a-z]+)", flags=(0)) { $lib.print("{v} {i}", v=$valu, i=$info) }',
     {'text': 'a@b C@D'}, None),
    ('$lib.print($lib.len($lib.scrape.ndefs("")))', {}, None),
    ('1.2.3.4 evil.com notanindicator CVE-2021-44228 d41d8cd98f00b204e9800998ecf8427e hxxp://evil[.]com/a', {}, 'lookup'),
    ('5.5.5.5 new.example.com | uniq', {}, 'lookup'),
    ('5.5.5.5 new.example.com cve-2020-0001 /etc/shadow', {}, 'autoadd'),
    ('5.5.5.5 new.example.com', {}, 'lookup'),
    ('scrape --help', {}, None),
]


def simple(mesg):
    kind, info = mesg
    if kind == 'node':
        return ['node', info[0]]
    if kind in ('print', 'warn'):
        return [kind, info.get('mesg')]
    if kind == 'err':
        return ['err', info[0]]
    if kind == 'look:miss':
        return ['look:miss', info.get('ndef')]
    return None


async def run(proxy, text, opts):
    out = []
    async for mesg in proxy.storm(text, opts=opts):
        item = simple(mesg)
        if item is not None:
            out.append(item)
    return json.loads(json.dumps(out))


async def main(oururl, refdirn):
    async with await s_cortex.Cortex.anit(refdirn) as core, core.getLocalProxy() as ref, \
            await s_telepath.openurl(oururl) as our:
        for text, svars, mode in QUERIES:
            opts = {'vars': svars}
            if mode is not None:
                opts['mode'] = mode
            want = await run(ref, text, opts)
            got = await run(our, text, opts)
            if want != got:
                print(f'query: {text} mode={mode}', file=sys.stderr)
                print(f'reference: {json.dumps(want)}', file=sys.stderr)
                print(f'ours:      {json.dumps(got)}', file=sys.stderr)
                raise AssertionError(f'streams differ for {text!r}')
        print(json.dumps({'queries': len(QUERIES)}))


if __name__ == '__main__':
    asyncio.run(main(sys.argv[1], sys.argv[2]))
