'''
Storm packages on `synapse-servers cortex` through the reference Python client:

    python stormpkg_interop.py add    <our telepath port>
    python stormpkg_interop.py verify <our telepath port>

`add` adds a package with a module and a command (addStormPkg), runs them through storm(),
checks that bad package definitions fail with the reference's error classes, and loads a
second package and a nodes file over HTTP (`pkg.load`, `nodes.import`) from a small HTTP
server in this process. `verify` (after a restart) checks the packages are still loaded and
work, then removes them with delStormPkg.
'''
import sys
import json
import asyncio
import threading
import http.server

import synapse.exc as s_exc
import synapse.telepath as s_telepath
import synapse.lib.msgpack as s_msgpack

PKG = {
    'name': 'interop',
    'version': (0, 1, 2),
    'modules': [
        {'name': 'interop.mod', 'storm': 'function double(x) { return(($x * 2)) } $greeting = hello'},
    ],
    'commands': [
        {
            'name': 'interop.tag',
            'descr': 'Tag the inbound nodes.',
            'cmdargs': (('tag', {'help': 'The tag.'}), ('--times', {'type': 'int', 'default': 1})),
            'cmdconf': {'prefix': 'interop'},
            'storm': '$lib.print(`{$cmdconf.prefix} {$cmdopts.tag} {$cmdopts.times}`) [ +#$cmdopts.tag ]',
        },
    ],
    'onload': '$lib.globals.set(interop:onload, $lib.true)',
}

LOADED = {'name': 'fromhttp', 'version': '1.0.0',
          'commands': [{'name': 'fromhttp.hi', 'storm': '$lib.print(hi)'}]}

NODES = [
    (('inet:fqdn', 'imported.com'), {'tags': {'imp': (None, None)}}),
    (('inet:ipv4', 0x01020304), {'props': {'asn': 42}}),
]

BAD = [
    ({}, 'SchemaViolation'),
    ({'name': 'x', 'version': 'nope'}, 'SchemaViolation'),
    ({'name': 'x', 'version': '1.0.0', 'modules': [{'name': 'm', 'storm': '{{'}]}, 'BadSyntax'),
    ({'name': 'x', 'version': '1.0.0', 'synapse_version': '>=3.0.0'}, 'BadVersion'),
    ({'name': 'x', 'version': '1.0.0', 'inits': {'versions': [
        {'name': 'a', 'version': 1, 'query': ''}, {'name': 'b', 'version': 1, 'query': ''}]}}, 'BadPkgDef'),
]


def check(cond, mesg):
    if not cond:
        raise AssertionError(mesg)


async def storm(proxy, text):
    prints, nodes, errs = [], [], []
    async for mesg in proxy.storm(text):
        if mesg[0] == 'print':
            prints.append(mesg[1]['mesg'])
        elif mesg[0] == 'node':
            nodes.append(mesg[1][0])
        elif mesg[0] == 'err':
            errs.append(mesg[1][0])
    return prints, nodes, errs


class Handler(http.server.BaseHTTPRequestHandler):

    def do_GET(self):
        if self.path == '/pkg.json':
            body = json.dumps({'status': 'ok', 'result': LOADED}).encode()
        elif self.path == '/nodes.mpk':
            body = b''.join(s_msgpack.en(n) for n in NODES)
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


async def uses(proxy):
    valu = await proxy.callStorm('$m=$lib.import(interop.mod) return(($m.double(21), $m.greeting))')
    check(tuple(valu) == (42, 'hello'), f'module: {valu}')
    prints, nodes, errs = await storm(proxy, '[ inet:fqdn=vertex.link ] | interop.tag foo --times 3')
    check(errs == [], f'command errors: {errs}')
    check(prints == ['interop foo 3'], f'command prints: {prints}')
    check(len(nodes) == 1, f'command nodes: {nodes}')
    count = await proxy.count('#foo')
    check(count == 1, f'tagged: {count}')


async def add(port):
    async with await s_telepath.openurl(f'tcp://root:secret@127.0.0.1:{port}/') as proxy:
        await proxy.addStormPkg(PKG)
        pkg = await proxy.getStormPkg('interop')
        check(pkg['version'] == '0.1.2', f'version: {pkg}')
        check(pkg['commands'][0]['pkgname'] == 'interop', f'pkgname: {pkg}')
        await uses(proxy)
        for pdef, name in BAD:
            try:
                await proxy.addStormPkg(pdef)
            except s_exc.SynErr as e:
                check(type(e).__name__ == name, f'{pdef}: {type(e).__name__} {e}')
            else:
                raise AssertionError(f'accepted: {pdef}')
        for _ in range(100):
            if await proxy.callStorm('return($lib.globals.get(interop:onload))'):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError('the onload query did not run')

        httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            base = f'http://127.0.0.1:{httpd.server_address[1]}'
            prints, _, errs = await storm(proxy, f'pkg.load {base}/pkg.json')
            check(errs == [] and prints == ['Loaded Package: fromhttp @1.0.0'], f'pkg.load: {prints} {errs}')
            prints, _, errs = await storm(proxy, 'fromhttp.hi')
            check(prints == ['hi'], f'loaded command: {prints} {errs}')
            _, nodes, errs = await storm(proxy, f'nodes.import {base}/nodes.mpk')
            check(errs == [], f'nodes.import: {errs}')
            check(sorted(n[0] for n in nodes) == ['inet:fqdn', 'inet:ipv4'], f'imported: {nodes}')
            check(await proxy.count('inet:fqdn=imported.com +#imp') == 1, 'imported tag')
            check(await proxy.count('inet:ipv4=1.2.3.4 +:asn=42') == 1, 'imported prop')
        finally:
            httpd.shutdown()


async def verify(port):
    async with await s_telepath.openurl(f'tcp://root:secret@127.0.0.1:{port}/') as proxy:
        names = sorted(p['name'] for p in await proxy.getStormPkgs())
        check(names == ['fromhttp', 'interop'], f'packages after restart: {names}')
        await proxy.callStorm('inet:fqdn=vertex.link [ -#foo ]')
        await uses(proxy)
        await proxy.delStormPkg('interop')
        await proxy.delStormPkg('fromhttp')
        check(await proxy.getStormPkgs() == (), 'packages left')
        _, _, errs = await storm(proxy, 'interop.tag x')
        check(errs == ['NoSuchName'], f'removed command: {errs}')
        try:
            await proxy.delStormPkg('interop')
        except s_exc.SynErr as e:
            check(type(e).__name__ == 'NoSuchPkg', f'second delete: {e}')
        else:
            raise AssertionError('deleted twice')


if __name__ == '__main__':
    cmd, port = sys.argv[1], int(sys.argv[2])
    asyncio.run({'add': add, 'verify': verify}[cmd](port))
    print('ok')
