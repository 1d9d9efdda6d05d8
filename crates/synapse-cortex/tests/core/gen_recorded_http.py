'''
Cases for $lib.inet.http, $lib.axon and the wget command (runtime/httplib.rs, axonlib.rs): runs
them on a reference cortex (in process, with its local axon) against a local aiohttp server
whose routes stormhttp.rs serves too, and writes http_recorded.json, which stormhttp.rs replays.
Each query returns only values both servers make alike (the server URL masked as BASE).

    $SYNAPSE_REF_PYTHON gen_recorded_http.py
'''
import asyncio, gzip, json, os, tempfile
import aiohttp.web
import synapse.cortex as s_cortex
import synapse.lib.cell as s_cell
# a throwaway cortex: never refuse to boot on a full disk
s_cell.shutil.disk_usage = lambda path: s_cell.shutil._ntuple_diskusage(100, 0, 100)

KEYS = 'function keys(d) { $k = ([]) for ($n, $v) in $d { $k.append($n) } $k.sort() return($k) } '
QUERIES = [
 # $lib.inet.http
 '$r = $lib.inet.http.get(`{$base}/hello.txt`) return(($r.code, $r.reason, $r.body, $r.err, $lib.len($r.history), $r.headers."X-Test", $r.getRawHeaders()."Set-Cookie"))',
 '$r = $lib.inet.http.get(`{$base}/hello.txt`, params=({"q": "a b", "m": ([1, 2])})) return($r.url.replace($base, BASE))',
 '$r = $lib.inet.http.get(`{$base}/json`) return($r.json())',
 '$r = $lib.inet.http.get(`{$base}/missing`) return(($r.code, $r.reason, $r.body))',
 '$r = $lib.inet.http.get(`{$base}/redir`) $c = ([]) for $h in $r.history { $c.append(($h.code, $h.url.replace($base, BASE), $h.body)) } return(($r.code, $r.url.replace($base, BASE), $c))',
 '$r = $lib.inet.http.head(`{$base}/redir`) return(($r.code, $r.headers.Location, $r.body))',
 '$r = $lib.inet.http.get(`{$base}/redir`, allow_redirects=$lib.false) return(($r.code, $lib.len($r.history)))',
 '$r = $lib.inet.http.get(`{$base}/gz`) return(($r.code, $r.body))',
 '$r = $lib.inet.http.post(`{$base}/echo`, json=({"x": 1})).json() return(($r.method, $r.body, $r.headers."content-type", $r.headers."accept-encoding"))',
 '$r = $lib.inet.http.request(PUT, `{$base}/echo`, headers=({"X-Mine": 7}), body=hehe).json() return(($r.method, $r.body, $r.headers."x-mine"))',
 '$r = $lib.inet.http.post(`{$base}/echo`, body=$lib.base64.decode("aGk=")).json() return(($r.method, $r.body, $r.headers."content-type"))',
 '$r = $lib.inet.http.get(`{$closed}/x`) return(($r.code, $r.err.0, $r.body, $r.headers, $r.url.replace($closed, CLOSED)))',
 'return(($lib.inet.http.urlencode("http://go ogle.com/?a=b&c=~d"), $lib.inet.http.urldecode("http%3A%2F%2Fgo+ogle.com%zz"), $lib.inet.http.codereason(418), $lib.inet.http.codereason(413), $lib.inet.http.codereason(299)))',
 # $lib.axon
 KEYS + '$r = $lib.axon.wget(`{$base}/hello.txt`) return(($keys($r), $keys($r.request), $r.ok, $r.code, $r.reason, $r.size, $r.hashes, $r.url.replace($base, BASE), $r.original_url.replace($base, BASE), $r.request.method, $r.headers."X-Test"))',
 KEYS + '$r = $lib.axon.wget(`{$base}/redir`) $h = ([]) for $i in $r.history { $h.append(($keys($i), $i.code, $i.url.replace($base, BASE))) } return(($keys($r), $h))',
 KEYS + '$r = $lib.axon.wget(`{$base}/gz`) return(($r.size, $r.hashes.sha256))',
 KEYS + '$r = $lib.axon.wget(`{$base}/missing`) return(($r.ok, $r.code, $r.size))',
 KEYS + '$r = $lib.axon.wget(`{$closed}/x`) return(($keys($r), $r.ok, $r.code, $r.err.0))',
 KEYS + '$r = $lib.axon.wget(`{$base}/echo`, method=POST, json=({"y": 2})) for $o in $lib.axon.jsonlines($r.hashes.sha256) { return(($o.method, $o.body)) }',
 KEYS + '($s, $h) = $lib.axon.put($lib.base64.decode(aGVsbG8Kd29ybGQK)) $r = $lib.axon.wput($h, `{$base}/echo`) return(($keys($r), $r.ok, $r.code, $r.reason))',
 KEYS + '$r = $lib.axon.wput(0000000000000000000000000000000000000000000000000000000000000000, `{$base}/echo`) return(($keys($r), $r.ok, $r.code, $r.err.0))',
 '($s, $h) = $lib.axon.put($lib.base64.decode(YSxiCmMsImQgZSIKeyJ4IjogMX0K)) $l = ([]) for $x in $lib.axon.readlines($h) { $l.append($x) } $c = ([]) for $x in $lib.axon.csvrows($h) { $c.append($x) } return(($s, $h, $l, $c, $lib.axon.has($h), $lib.axon.size($h), $lib.axon.hashset($h), $lib.axon.read($h, offs=2, size=3)))',
 '$h = $lib.axon.put($lib.base64.decode(eyJ4IjogMX0KeyJ4IjogMn0K)).1 $l = ([]) for $x in $lib.axon.jsonlines($h) { $l.append($x) } return($l)',
 '$h = $lib.axon.put($lib.base64.decode(eHl6)).1 return(($lib.axon.del($h), $lib.axon.has($h)))',
 '$h = $lib.axon.put($lib.base64.decode(eHl6)).1 return($lib.axon.dels(($h, $h)))',
 'return($lib.axon.has($lib.null))',
 'return($lib.axon.put(hehe))',
 # urlfile and wget
 '$n = $lib.axon.urlfile(`{$base}/redir`) return(($n.form(), $n.value().0.replace($base, BASE), $n.value().1))',
 'yield $lib.axon.urlfile(`{$base}/redir`) -> file:bytes return((:name, :size, :md5, :sha1, :sha256, :mime))',
 '$n = $lib.axon.urlfile(`{$base}/redir`) $l = ([]) inet:urlredir $s = :src $d = :dst $l.append(($s.replace($base, BASE), $d.replace($base, BASE))) fini { $l.sort() return($l) }',
 'return($lib.axon.urlfile(`{$base}/missing`))',
 '$l = ([]) wget `{$base}/hello.txt` `{$base}/json` $l.append(($node.form(), $node.value().0.replace($base, BASE), $node.value().1)) fini { return($l) }',
 '$l = ([]) [inet:url=`{$base}/json` inet:url=`{$base}/missing`] | wget --no-headers $l.append($node.form()) fini { return($l) }',
 '$l = ([]) [inet:fqdn=vertex.link] | wget $l.append($node.form()) fini { return($l) }',
 'wget `{$base}/echo` | -> file:bytes for $o in $lib.axon.jsonlines(:sha256) { return(($o.headers."accept-language", $o.headers."user-agent")) }',
]

def hello(req):
    resp = aiohttp.web.Response(body=b'hello\nworld\n', headers={'X-Test': 'yup'})
    resp.headers.add('Set-Cookie', 'a=1')
    resp.headers.add('Set-Cookie', 'b=2')
    return resp

async def echo(req):
    body = await req.read()
    info = {'method': req.method, 'query': req.query_string, 'body': body.decode('utf8', 'replace'),
            'headers': {k.lower(): v for k, v in req.headers.items()}}
    return aiohttp.web.Response(body=json.dumps(info).encode())

async def main():
    app = aiohttp.web.Application()
    app.router.add_route('*', '/hello.txt', hello)
    app.router.add_route('*', '/json', lambda r: aiohttp.web.Response(body=b'{"a": 1, "b": [1, "two"]}'))
    app.router.add_route('*', '/echo', echo)
    app.router.add_route('*', '/redir', lambda r: aiohttp.web.Response(status=302, headers={'Location': '/hop'}))
    app.router.add_route('*', '/hop', lambda r: aiohttp.web.Response(status=301, headers={'Location': 'hello.txt'}))
    app.router.add_route('*', '/gz', lambda r: aiohttp.web.Response(body=gzip.compress(b'hello\nworld\n'), headers={'Content-Encoding': 'gzip'}))
    app.router.add_route('*', '/missing', lambda r: aiohttp.web.Response(status=404, body=b'nope'))
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, '127.0.0.1', 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    base = f'http://127.0.0.1:{port}'
    closed = 'http://127.0.0.1:9'
    out = []
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(dirn) as core:
            for text in QUERIES:
                opts = {'vars': {'base': base, 'closed': closed}}
                mesgs = await core.stormlist(text, opts={**opts, 'show': ('warn', 'err', 'return')} )
                warns = [m[1]['mesg'] for m in mesgs if m[0] == 'warn']
                try:
                    valu = await core.callStorm(text, opts=opts)
                    case = {'query': text, 'valu': valu, 'warns': warns}
                except Exception as e:
                    case = {'query': text, 'err': e.__class__.__name__, 'warns': warns}
                out.append(case)
    await runner.cleanup()

    def enc(v):
        if isinstance(v, bytes):
            return {'$bytes': v.hex()}
        if isinstance(v, (list, tuple)):
            return [enc(x) for x in v]
        if isinstance(v, dict):
            return {k: enc(x) for k, x in v.items()}
        if v is None or isinstance(v, (str, int, float, bool)):
            return v
        return {'$unknown': type(v).__name__}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'http_recorded.json')
    with open(path, 'w') as fd:
        json.dump(enc(out), fd, indent=1)
        fd.write('\n')

if __name__ == '__main__':
    asyncio.run(main())
