'''
Exercise an Axon with the reference's Python client (telepath and HTTPS) and print what it
saw as one JSON object. The Rust integration test runs this against the reference Axon and
against `synapse-servers axon` and compares the two outputs.

Usage: python axon_client.py TELEPATH_URL HTTPS_PORT WORKDIR
'''
import os
import ssl
import sys
import json
import base64
import asyncio
import hashlib
import subprocess
import http.client

import synapse.exc as s_exc
import synapse.telepath as s_telepath

import msgpack

out = {}


def sha(byts):
    return hashlib.sha256(byts).digest()


def enc(valu):
    '''JSON-able form of a result (bytes as hex, tuples as lists).'''
    if isinstance(valu, bytes):
        return {'hex': valu.hex()}
    if isinstance(valu, (list, tuple)):
        return [enc(v) for v in valu]
    if isinstance(valu, dict):
        return {str(k): enc(v) for k, v in valu.items()}
    return valu


def errinfo(e, mesg=True):
    info = {'class': type(e).__name__}
    if isinstance(e, s_exc.SynErr):
        if e.get('errx') is not None:
            info['errx'] = e.get('errx')
        if mesg:
            info['mesg'] = e.get('mesg')
    return info


async def trycall(name, coro, mesg=True):
    try:
        out[name] = enc(await coro)
    except Exception as e:
        out[name] = {'error': errinfo(e, mesg=mesg)}


async def trygenr(name, genr, mesg=True, lens=False):
    items = []
    try:
        async for item in genr:
            items.append(len(item) if lens else enc(item))
        out[name] = items
    except Exception as e:
        out[name] = {'items': items, 'error': errinfo(e, mesg=mesg)}


def https(port, method, path, body=None, headers=None, user='root', passwd='secret'):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection('127.0.0.1', port, context=ctx, timeout=120)
    hdrs = dict(headers or {})
    if user is not None:
        auth = base64.b64encode(f'{user}:{passwd}'.encode()).decode()
        hdrs['Authorization'] = f'Basic {auth}'
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    keep = ('content-type', 'content-length', 'content-range', 'accept-ranges',
            'content-disposition', 'www-authenticate')
    info = {
        'status': resp.status,
        'headers': {k.lower(): v for k, v in resp.getheaders() if k.lower() in keep},
    }
    ctype = info['headers'].get('content-type', '')
    if not data:
        info['empty'] = True
    elif ctype.startswith('application/json'):
        info['json'] = json.loads(data)
    elif ctype.startswith('text/html'):
        info['html'] = True
    else:
        info['body'] = data.hex()
    return info


async def main(url, port, workdir):

    async with await s_telepath.openurl(url) as axon:

        info = await axon.getCellInfo()
        out['features'] = {k: info['features'].get(k) for k in ('byterange', 'unpack')}
        out['celltype'] = await axon.getCellType()

        asdf = sha(b'asdfasdf')
        zero = b'\x00' * 32
        await trycall('put', axon.put(b'asdfasdf'))
        await trycall('put.again', axon.put(b'asdfasdf'))
        await trycall('has', axon.has(asdf))
        await trycall('has.zero', axon.has(zero))
        await trycall('has.short', axon.has(b'abc'))
        await trycall('size', axon.size(asdf))
        await trycall('size.zero', axon.size(zero))
        await trygenr('get', axon.get(asdf))
        await trygenr('get.range', axon.get(asdf, 2, 3))
        await trygenr('get.range.kw', axon.get(asdf, offs=6, size=100))
        await trygenr('get.past', axon.get(asdf, 20, 3))
        await trygenr('get.offs.only', axon.get(asdf, offs=1), mesg=False)
        await trygenr('get.neg', axon.get(asdf, -1, 3))
        await trygenr('get.size0', axon.get(asdf, 0, 0))
        await trygenr('get.missing', axon.get(zero))

        async with await axon.upload() as upfd:
            await upfd.write(b'part1')
            await upfd.write(b'part2')
            out['upload.1'] = enc(await upfd.save())
            await upfd.write(b'second')
            out['upload.2'] = enc(await upfd.save())
            out['upload.empty'] = enc(await upfd.save())

        async with await axon.upload() as upfd:
            await upfd.write(b'never saved')
        await trycall('has.unsaved', axon.has(sha(b'never saved')))

        await trycall('puts', axon.puts([b'visi', b'hehehaha']))
        await trycall('wants', axon.wants([zero, asdf, b'\x01' * 32]))
        await trycall('hashset', axon.hashset(asdf))
        await trycall('hashset.missing', axon.hashset(zero))
        await trycall('metrics', axon.metrics())
        await trygenr('hashes', axon.hashes(0))
        await trygenr('hashes.2', axon.hashes(2))
        await trygenr('hashes.wait', axon.hashes(100, wait=True, timeout=0.2))
        hist = [x async for x in axon.history(0)]
        out['history.count'] = len(hist)
        out['history.items'] = sorted((enc(item) for _, item in hist), key=json.dumps)
        out['history.none'] = len([x async for x in axon.history(0, tock=1)])

        await trycall('del', axon.del_(sha(b'visi')))
        await trycall('del.again', axon.del_(sha(b'visi')))
        await trycall('dels', axon.dels([sha(b'hehehaha'), sha(b'visi')]))
        await trygenr('hashes.after.del', axon.hashes(0))
        await trycall('readd', axon.put(b'visi'))
        await trygenr('hashes.after.readd', axon.hashes(0))
        await trycall('metrics.after', axon.metrics())

        text = b'first\r\nsecond\rthird\n\nbad\xffbyte\nlast'
        await axon.put(text)
        texthex = sha(text).hex()
        await trygenr('readlines', axon.readlines(texthex))
        await trygenr('readlines.replace', axon.readlines(texthex, errors='replace'))
        await trygenr('readlines.strict', axon.readlines(texthex, errors='strict'), mesg=False)
        await trygenr('readlines.bytes', axon.readlines(sha(text)))
        await trygenr('readlines.missing', axon.readlines('00' * 32))

        text2 = b'line\n' * 5000 + b'bad\xff\n' + b'after\n'
        await axon.put(text2)
        await trygenr('readlines.strict.window', axon.readlines(sha(text2).hex(), errors='strict'), lens=True)

        jsonl = b'{"a": 1}\n\n  {"b": [2, "x", null, true, 1.5]}\n'
        await axon.put(jsonl)
        await trygenr('jsonlines', axon.jsonlines(sha(jsonl).hex()))
        badjson = b'{"a": 1}\n{nope\n'
        await axon.put(badjson)
        await trygenr('jsonlines.bad', axon.jsonlines(sha(badjson).hex()), mesg=False)

        csvtext = b'a,b\n1,"2,3"\n\n"multi\nline","q""q"\nlast,row'
        await axon.put(csvtext)
        await trygenr('csvrows', axon.csvrows(sha(csvtext)))
        tsv = b'a\tb\n c\t d\n'
        await axon.put(tsv)
        await trygenr('csvrows.tab', axon.csvrows(sha(tsv), dialect='excel-tab'))
        await trygenr('csvrows.delim', axon.csvrows(sha(tsv), delimiter='\t', skipinitialspace=True))
        await trygenr('csvrows.dialect', axon.csvrows(sha(csvtext), dialect='newp'))
        await trygenr('csvrows.param', axon.csvrows(sha(csvtext), newp=1))
        await trygenr('csvrows.delimlen', axon.csvrows(sha(csvtext), delimiter='ab'))
        nums = b'1,"x",2.5\n'
        await axon.put(nums)
        await trygenr('csvrows.nonnumeric', axon.csvrows(sha(nums), quoting=2))
        await trygenr('csvrows.strict', axon.csvrows(sha(b'"a"b\n'), strict=True))
        await axon.put(b'"a"b\n')
        await trygenr('csvrows.strict2', axon.csvrows(sha(b'"a"b\n'), strict=True))

        mpk = b''.join(msgpack.packb(x) for x in (1, 'two', [3, {'four': b'4'}]))
        await axon.put(mpk)
        await trygenr('mpk', axon.iterMpkFile(sha(mpk).hex()))

        await trycall('unpack', axon.unpack(asdf, '>I', offs=2))
        await trycall('unpack.multi', axon.unpack(asdf, '<hH2s?c'))
        await trycall('unpack.native', axon.unpack(asdf, '@bi'))
        await trycall('unpack.short', axon.unpack(asdf, '>Q', offs=4))
        await trycall('unpack.past', axon.unpack(asdf, '>I', offs=100))
        await trycall('unpack.badfmt', axon.unpack(asdf, 'Z'))
        await trycall('unpack.notstr', axon.unpack(asdf, 1))
        await trycall('unpack.big', axon.unpack(asdf, '2000000s'))
        await trycall('unpack.missing', axon.unpack(zero, '>I'))
        await trycall('unpack.negoffs', axon.unpack(asdf, '>I', offs=-1))

        # Chunking of a blob larger than one 16 MiB chunk.
        big = bytes(range(256)) * (41943045 // 256) + b'x' * (41943045 % 256)
        bigsha = sha(big)
        async with await axon.upload() as upfd:
            for offs in range(0, len(big), 10_000_000):
                await upfd.write(big[offs:offs + 10_000_000])
            out['big.save'] = enc(await upfd.save())
        await trygenr('big.get', axon.get(bigsha), lens=True)
        await trygenr('big.range', axon.get(bigsha, 16777213, 20971520), lens=True)
        await trygenr('big.boundary', axon.get(bigsha, 16777216, 5))
        got = b''.join([b async for b in axon.get(bigsha, 16777215, 2)])
        out['big.cross'] = got.hex()

        # Permissions of a plain user.
        await axon.addUser('visi')
        udef = await axon.getUserDefByName('visi')
        await axon.setUserPasswd(udef['iden'], 'secret')

    visiurl = url.replace('root:secret', 'visi:secret')
    async with await s_telepath.openurl(visiurl) as visi:
        await trycall('perm.has', visi.has(asdf))
        await trycall('perm.put', visi.put(b'x'))
        await trycall('perm.upload', visi.upload())
        await trycall('perm.del', visi.del_(asdf))
        await trygenr('perm.get', visi.get(asdf))
        await trygenr('perm.hashes', visi.hashes(0))

    async with await s_telepath.openurl(url.rstrip('/') + '/axon') as named:
        out['named.metrics'] = enc(await named.metrics())

    # HTTPS.
    data = b'hello http world'
    hexsha = sha(data).hex()
    out['http.put'] = https(port, 'PUT', '/api/v1/axon/files/put', body=data)
    out['http.post'] = https(port, 'POST', '/api/v1/axon/files/put', body=b'posted')
    out['http.has'] = https(port, 'GET', f'/api/v1/axon/files/has/sha256/{hexsha}')
    out['http.has.no'] = https(port, 'GET', f'/api/v1/axon/files/has/sha256/{"00" * 32}')
    out['http.has.bad'] = https(port, 'GET', '/api/v1/axon/files/has/sha256/newp')
    path = f'/api/v1/axon/files/by/sha256/{hexsha}'
    out['http.get'] = https(port, 'GET', path)
    out['http.get.upper'] = https(port, 'GET', path.upper().replace('/API/V1/AXON/FILES/BY/SHA256', '/api/v1/axon/files/by/sha256'))
    for rng in ('bytes=2-5', 'bytes=6-', 'bytes=0-1,4-5', 'bytes=10-100', 'bytes=100-', 'bytes=5-2',
                'bytes=-5', 'items=1-2', 'bytes=0-15', 'bytes=15-15'):
        out[f'http.range {rng}'] = https(port, 'GET', path, headers={'Range': rng})
    out['http.head'] = https(port, 'HEAD', path)
    out['http.head.range'] = https(port, 'HEAD', path, headers={'Range': 'bytes=2-5'})
    missing = f'/api/v1/axon/files/by/sha256/{"00" * 32}'
    out['http.get.missing'] = https(port, 'GET', missing)
    out['http.head.missing'] = https(port, 'HEAD', missing)
    out['http.get.invalid'] = https(port, 'GET', '/api/v1/axon/files/by/sha256/newp')
    out['http.head.invalid'] = https(port, 'HEAD', '/api/v1/axon/files/by/sha256/newp')
    out['http.del.invalid'] = https(port, 'DELETE', '/api/v1/axon/files/by/sha256/newp')
    out['http.noauth'] = https(port, 'GET', path, user=None)
    out['http.badpass'] = https(port, 'GET', path, passwd='wrong')
    out['http.invalid.noauth'] = https(port, 'GET', '/api/v1/axon/files/by/sha256/newp', user=None)
    for method, rpath in (('PUT', '/api/v1/axon/files/put'), ('GET', path),
                          ('GET', f'/api/v1/axon/files/has/sha256/{hexsha}'),
                          ('DELETE', path), ('POST', '/api/v1/axon/files/del')):
        out[f'http.perm {method} {rpath}'] = https(port, method, rpath, body=b'', user='visi')
    out['http.dels'] = https(port, 'POST', '/api/v1/axon/files/del',
                             body=json.dumps({'sha256s': [hexsha.upper(), '00' * 32]}).encode())
    out['http.dels.schema'] = https(port, 'POST', '/api/v1/axon/files/del',
                                    body=json.dumps({'sha256s': ['newp']}).encode())
    out['http.dels.json'] = https(port, 'POST', '/api/v1/axon/files/del', body=b'{nope')
    out['http.del'] = https(port, 'DELETE', f'/api/v1/axon/files/by/sha256/{sha(b"posted").hex()}')
    out['http.del.again'] = https(port, 'DELETE', f'/api/v1/axon/files/by/sha256/{sha(b"posted").hex()}')

    # The reference's command line tools.
    src = os.path.join(workdir, 'pf.txt')
    with open(src, 'wb') as fd:
        fd.write(b'pushed by pushfile\n' * 1000)
    outdir = os.path.join(workdir, 'pulled')

    def tool(*args):
        proc = subprocess.run([sys.executable, '-m', *args], capture_output=True, text=True, timeout=120)
        return {'code': proc.returncode, 'stdout': proc.stdout.splitlines()}

    out['tool.pushfile'] = tool('synapse.tools.pushfile', '-a', url, src)
    out['tool.pushfile.again'] = tool('synapse.tools.pushfile', '-a', url, src)
    pfsha = hashlib.sha256(b'pushed by pushfile\n' * 1000).hexdigest()
    out['tool.pullfile'] = tool('synapse.tools.pullfile', '-a', url, '-o', outdir, '-l', pfsha, '-l', '00' * 32)
    with open(os.path.join(outdir, pfsha), 'rb') as fd:
        out['tool.pullfile.bytes'] = hashlib.sha256(fd.read()).hexdigest()

    print(json.dumps(out, sort_keys=True))


if __name__ == '__main__':
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
