'''
Cases for $lib.inet.http.connect() and its inet:http:socket (runtime/websock.rs): runs them on
a reference cortex (in process) against a local aiohttp WebSocket server that behaves as the
one of stormhttp.rs (`ws_server`: echoes JSON messages; "info" answers the request's path,
query, X-Hehe header and frame kind; "close" closes; "notjson" answers bad JSON), and writes
websock_recorded.json, which stormhttp.rs replays. Queries return only values both servers make
alike (the error info of the reference also holds its traceback: only names and messages are
kept). Cases with "user" run as a user without permissions.

    $SYNAPSE_REF_PYTHON gen_websock.py
'''
import asyncio, json, os, tempfile
import aiohttp, aiohttp.web
import synapse.cortex as s_cortex
import synapse.lib.cell as s_cell
# a throwaway cortex: never refuse to boot on a full disk
s_cell.shutil.disk_usage = lambda path: s_cell.shutil._ntuple_diskusage(100, 0, 100)

CONNECT = '($ok, $sock) = $lib.inet.http.connect(`{$base}/sock`) '
QUERIES = [
 ('($ok, $sock) = $lib.inet.http.connect(`{$base}/sock`, headers=({"X-Hehe": "haha"}), params=({"a": 1})) '
  '$l = ([$ok, $lib.vars.type($sock)]) $l.append($sock.tx(({"a": 1, "b": [1, "two"], "c": null, "d": "é"}))) '
  '$l.append($sock.rx()) $l.append($sock.tx(info)) $l.append($sock.rx(timeout=(5))) return($l)', False),
 (CONNECT + '$r = $sock.rx(timeout=(1)) return(($r.0, $r.1.0, $r.1.1.mesg))', False),
 (CONNECT + '$sock.tx(hehe) $r = $sock.rx(timeout=5) return(($r.0, $r.1.0, $r.1.1.mesg))', False),
 (CONNECT + '$sock.tx(notjson) $r = $sock.rx() return(($r.0, $r.1.0))', False),
 (CONNECT + '$sock.tx(close) $r = $sock.rx() $s = $sock.rx() return(($r.0, $r.1.0, $r.1.1.mesg, $s))', False),
 (CONNECT + '$sock.tx(([1, 2])) $sock.tx(hehe) return(($sock.rx(), $sock.rx()))', False),
 ('$r = $lib.inet.http.connect(`{$closed}/x`) return(($r.0, $r.1.0))', False),
 ('$r = $lib.inet.http.connect(`{$http}/hello.txt`) return(($r.0, $r.1.0, $r.1.1.mesg.replace($http, BASE)))', False),
 ('return($lib.inet.http.connect($base, proxy=(1)))', False),
 (CONNECT + 'return($ok)', True),
 ('$r = $lib.inet.http.connect($base, proxy=$lib.false) return($r.0)', True),
 ('$r = $lib.inet.http.connect($base, proxy="socks5://127.0.0.1:9") return($r.0)', True),
]

async def sock(req):
    ws = aiohttp.web.WebSocketResponse()
    await ws.prepare(req)
    seen = {'path': req.path, 'query': req.query_string, 'hehe': req.headers.get('X-Hehe')}
    async for mesg in ws:
        if mesg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            continue
        kind = 'text' if mesg.type == aiohttp.WSMsgType.TEXT else 'binary'
        data = json.loads(mesg.data)
        if data == 'info':
            await ws.send_str(json.dumps({**seen, 'kind': kind}))
        elif data == 'close':
            await ws.close()
        elif data == 'notjson':
            await ws.send_str('{nope')
        elif kind == 'text':
            await ws.send_str(mesg.data)
        else:
            await ws.send_bytes(mesg.data)
    return ws

async def main():
    app = aiohttp.web.Application()
    app.router.add_route('GET', '/sock', sock)
    app.router.add_route('GET', '/', sock)
    app.router.add_route('GET', '/hello.txt', lambda r: aiohttp.web.Response(body=b'hello\nworld\n'))
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, '127.0.0.1', 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    base = f'ws://127.0.0.1:{port}'
    http = f'http://127.0.0.1:{port}'
    closed = 'ws://127.0.0.1:9'
    out = []
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(dirn) as core:
            visi = await core.auth.addUser('visi')
            for text, asuser in QUERIES:
                opts = {'vars': {'base': base, 'closed': closed, 'http': http}}
                if asuser:
                    opts['user'] = visi.iden
                try:
                    valu = await core.callStorm(text, opts=opts)
                    case = {'query': text, 'user': asuser, 'valu': valu}
                except Exception as e:
                    case = {'query': text, 'user': asuser, 'err': e.__class__.__name__}
                out.append(case)
    await runner.cleanup()

    def enc(v):
        if isinstance(v, (list, tuple)):
            return [enc(x) for x in v]
        if isinstance(v, dict):
            return {k: enc(x) for k, x in v.items()}
        if v is None or isinstance(v, (str, int, float, bool)):
            return v
        return {'$unknown': type(v).__name__}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'websock_recorded.json')
    with open(path, 'w') as fd:
        json.dump(enc(out), fd, indent=1, ensure_ascii=False)
        fd.write('\n')

if __name__ == '__main__':
    asyncio.run(main())
