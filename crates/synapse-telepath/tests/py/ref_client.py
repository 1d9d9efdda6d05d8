'''
Drive a telepath server with the REAL reference client (synapse.telepath 2.x) and check every
answer. Run by the Rust integration test `python_client` against the Rust Daemon:

    python ref_client.py tcp://127.0.0.1:<port> <unix socket path>

Prints "ok <check>" per check; exits 1 with a traceback on the first failure.
'''
import sys
import asyncio
import hashlib
import traceback

import synapse.exc as s_exc
import synapse.common as s_common
import synapse.telepath as s_telepath
import synapse.lib.coro as s_coro
import synapse.lib.link as s_link

BASE = sys.argv[1]
SOCK = sys.argv[2]
# Optional: TLS listeners of the server under test (SYN_CERT_DIR must hold make_certs.py's
# certs): one without and one with client certificates.
SSL = sys.argv[3] if len(sys.argv) > 3 else None
SSL_CERT = sys.argv[4] if len(sys.argv) > 4 else None

def url(user=None, passwd=None, path='/'):
    host = BASE[len('tcp://'):]
    if user is None:
        return f'tcp://{host}{path}'
    if passwd is None:
        return f'tcp://{user}@{host}{path}'
    return f'tcp://{user}:{passwd}@{host}{path}'

ROOT = url('root', 'secret')

def check(cond, mesg):
    if not cond:
        raise AssertionError(mesg)

async def consume(genr):
    return [item async for item in genr]

async def raises(exc, coro):
    try:
        await coro
    except exc as e:
        return e
    raise AssertionError(f'expected {exc.__name__}')

ECHO_ARGS = ('str', b'\x00\x01bytes', 1, -1, 127, 128, 255, 256, 65536, 4294967296,
             9223372036854775807, -9223372036854775808, 18446744073709551615,
             18446744073709551616, -9223372036854775809, 1.5, True, False, None,
             (1, 2), [3, 4], {'a': 1}, {1: 'intkey'})

async def check_calls():
    async with await s_telepath.openurl(ROOT) as prox:
        check(prox._getClasses()[0] == 'capture.VecAxonApi', prox._getClasses())
        check(prox._getSynVers() == (2, 256, 0), prox._getSynVers())
        check(prox._hasTeleFeat('tellready'), prox._features)
        check(prox._hasTeleMeth('genr'), 'genr missing from sharinfo')
        check(prox.methinfo['genr'].get('genr') is True, 'genr not flagged')
        check(await prox.getCellType() == 'vecaxon', 'getCellType')

        args, kwargs = await prox.echo(*ECHO_ARGS, kw1='x', kw2=[b'\xff'])
        expect = tuple(tuple(a) if isinstance(a, list) else a for a in ECHO_ARGS)
        check(args == expect, f'echo args {args!r}')
        check(kwargs == {'kw1': 'x', 'kw2': (b'\xff',)}, f'echo kwargs {kwargs!r}')
        check(type(args[1]) is bytes and type(args[0]) is str, 'bin vs str')
        check(type(args[15]) is float, 'float')

        # every msgpack type, nested, and odd strings (surrogatepass)
        odd = ('\ud83d', 'ünïcødé', '', b'', {}, (), {None: 1, 2.5: 'f', b'k': 'b'})
        back, _ = await prox.echo(*odd)
        check(back == odd, f'odd values {back!r}')

        big = b'\x07' * (5 * 1024 * 1024)
        (back,), _ = await prox.echo(big)
        check(back == big, 'big payload echo')
        byts = await prox.bytes(4 * 1024 * 1024)
        check(byts == b'\x07' * (4 * 1024 * 1024), 'big payload return')

        rets = await asyncio.gather(*[prox.echo(i) for i in range(64)])
        check([r[0][0] for r in rets] == list(range(64)), 'concurrent calls')
    print('ok calls')

async def check_errors():
    async with await s_telepath.openurl(ROOT) as prox:
        e = await raises(s_exc.BadArg, prox.raiseSynErr())
        check(e.get('mesg') == 'you passed a bad arg' and e.get('arg') == 'foo', e.errinfo)

        e = await raises(s_exc.SynErr, prox.raiseBuiltin())
        check(e.get('errx') == 'ValueError', e.errinfo)
        check(e.get('mesg') == 'a plain python ValueError', e.errinfo)

        e = await raises(s_exc.NoSuchMeth, prox.call('_secret'))
        check(e.get('mesg') == 'VecAxonApi has no method: _secret.', e.errinfo)
        check(e.get('name') == '_secret', e.errinfo)

        e = await raises(s_exc.NoSuchMeth, prox.noSuchMethod(1, x=2))
        check(e.get('mesg') == 'VecAxonApi has no method: noSuchMethod.', e.errinfo)

        e = await raises(s_exc.SynErr, prox.getCellType(1, 2, 3))
        check(e.get('errx') == 'TypeError', e.errinfo)
        check(e.get('mesg') == 'CellApi.getCellType() takes 1 positional argument but 4 were given', e.errinfo)
    print('ok errors')

async def check_genrs():
    async with await s_telepath.openurl(ROOT) as prox:
        items = [i async for i in prox.genr(3)]
        check(items == [('item', 0), ('item', 1), ('item', 2)], items)
        check([i async for i in prox.genr(0)] == [], 'empty genr')

        items = []
        try:
            async for i in prox.genrFail(2):
                items.append(i)
        except s_exc.BadArg as e:
            check(e.get('count') == 2 and e.get('mesg') == 'genrFail after 2 items', e.errinfo)
        else:
            raise AssertionError('genrFail did not raise')
        check(items == [0, 1], items)

        e = await raises(s_exc.SynErr, consume(prox.genr()))
        check(e.get('errx') == 'TypeError', e.errinfo)
        check(e.get('mesg') == "VecAxonApi.genr() missing 1 required positional argument: 'n'", e.errinfo)

        genr = await prox.syncGenr(3)
        check([i async for i in genr] == [0, 10, 20], 'syncGenr')

        # early break: the client closes the pool link, the server cancels the generator
        items = []
        async for i in prox.slowGenr(100):
            items.append(i)
            if len(items) == 2:
                break
        check(items == [0, 1], items)

        # many items
        count = 0
        async for i in prox.bigGenr(20000):
            check(i == count, f'item {i} at {count}')
            count += 1
        check(count == 20000, count)

        # still usable
        check(await prox.getCellType() == 'vecaxon', 'after genrs')
    print('ok genrs')

async def check_shares():
    async with await s_telepath.openurl(ROOT) as prox:
        async with await prox.upload() as upfd:
            check(upfd.sharinfo['classes'][0] == 'synapse.axon.UpLoadShare', upfd.sharinfo)
            await upfd.write(b'hello ')
            await upfd.write(b'world')
            size, sha256 = await upfd.save()
            check(size == 11, size)
            check(sha256 == hashlib.sha256(b'hello world').digest(), sha256)
            e = await raises(s_exc.NoSuchMeth, prox.task(('_private', (), {}), name=upfd.iden))
            check(e.get('mesg') == 'UpLoadShare has no method: _private.', e.errinfo)
    print('ok shares')

async def check_handshakes():
    e = await raises(s_exc.AuthDeny, s_telepath.openurl(url('root', 'wrong')))
    check(e.get('mesg') == 'Invalid password' and e.get('username') == 'root', e.errinfo)
    e = await raises(s_exc.AuthDeny, s_telepath.openurl(url('locked', 'lockedpass')))
    check(e.get('mesg') == 'Invalid password', e.errinfo)
    e = await raises(s_exc.NoSuchUser, s_telepath.openurl(url('nobody', 'pass')))
    check(e.get('mesg') == 'No such user: nobody.', e.errinfo)
    e = await raises(s_exc.AuthDeny, s_telepath.openurl(url()))
    check(e.get('mesg') == 'Unable to find cell user (None)', e.errinfo)
    e = await raises(s_exc.NoSuchName, s_telepath.openurl(url('root', 'secret', '/nosuchshare')))
    check(e.get('name') == 'nosuchshare', e.errinfo)

    async with await s_telepath.openurl(url('root', 'secret', '/vecaxon')) as prox:
        check(await prox.getCellType() == 'vecaxon', 'named share')

    async with await s_telepath.openurl(f'unix://{SOCK}') as prox:
        user = await prox.getCellUser()
        check(user['name'] == 'root', user)

    async with await s_telepath.openurl(f'unix://{SOCK}:vecaxon') as prox:
        check(await prox.getCellType() == 'vecaxon', 'unix named share')
    print('ok handshakes')

async def check_raw():
    host, port = BASE[len('tcp://'):].rsplit(':', 1)
    port = int(port)

    # wrong major version
    link = await s_link.connect(host, port)
    await link.tx(('tele:syn', {'auth': ('root', {'passwd': 'secret'}), 'vers': (2, 0), 'name': ''}))
    mesg = await link.rx()
    check(mesg[0] == 'tele:syn', mesg)
    check(mesg[1]['retn'][0] is False and mesg[1]['retn'][1][0] == 'BadMesgVers', mesg)
    check(mesg[1]['retn'][1][1]['vers'] == (2, 0), mesg)
    check(mesg[1]['retn'][1][1]['myvers'] == (3, 0), mesg)
    check('sess' not in mesg[1], mesg)
    await link.fini()

    # unknown session on a link without a handshake
    link = await s_link.connect(host, port)
    await link.tx(('t2:init', {'todo': ('getCellType', (), {}), 'name': None, 'sess': 'f' * 32}))
    mesg = await link.rx()
    check(mesg[0] == 't2:fini' and mesg[1]['retn'][1][0] == 'NoSuchObj', mesg)
    check(mesg[1]['retn'][1][1]['name'] is None, mesg)
    # an unknown message type is dropped and the link keeps working
    await link.tx(('foo:bar', {}))
    await link.tx(('t2:init', {'todo': ('getCellType', (), {}), 'name': None, 'sess': 'f' * 32}))
    mesg = await link.rx()
    check(mesg[0] == 't2:fini', mesg)
    await link.fini()

    # the old protocol on the handshake link
    link = await s_link.connect(host, port)
    await link.tx(('tele:syn', {'auth': ('root', {'passwd': 'secret'}), 'vers': (3, 0), 'name': ''}))
    mesg = await link.rx()
    check(mesg[1]['retn'] == (True, None), mesg)
    await link.tx(('task:init', {'task': 'a' * 32, 'todo': ('getCellType', (), {}), 'name': None}))
    mesg = await link.rx()
    check(mesg == ('task:fini', {'task': 'a' * 32, 'retn': (True, 'vecaxon')}), mesg)
    await link.tx(('task:init', {'task': 'b' * 32, 'todo': ('_secret', (), {}), 'name': None}))
    mesg = await link.rx()
    check(mesg[1]['retn'][1][0] == 'NoSuchMeth', mesg)
    await link.tx(('task:init', {'task': 'c' * 32, 'todo': ('genr', (2,), {}), 'name': None}))
    mesg = await link.rx()
    check(mesg[0] == 'task:fini' and mesg[1]['type'] == 'genr', mesg)
    iden = mesg[1]['retn'][1]
    datas = [await link.rx() for _ in range(3)]
    check(datas == [
        ('share:data', {'share': iden, 'data': (True, ('item', 0))}),
        ('share:data', {'share': iden, 'data': (True, ('item', 1))}),
        ('share:data', {'share': iden, 'data': None}),
    ], datas)
    await link.fini()
    print('ok raw')

def sync_use():
    # the reference's sync helpers: a plain thread, no event loop of its own
    with s_telepath.openurl(ROOT) as prox:
        check(prox.getCellType() == 'vecaxon', 'sync call')
        check(list(prox.genr(2)) == [('item', 0), ('item', 1)], 'sync genr')

async def check_sync():
    await s_coro.executor(sync_use)
    print('ok sync')

async def check_tls():
    if SSL is None:
        return
    hostport = SSL[len('ssl://'):]
    async with await s_telepath.openurl(f'ssl://root:secret@{hostport}/?hostname=testhost') as prox:
        check(await prox.getCellType() == 'vecaxon', 'tls call')
        check([i async for i in prox.genr(2)] == [('item', 0), ('item', 1)], 'tls genr')
        user = await prox.getCellUser()
        check(user['name'] == 'root', user)

    # the certificate's CN must be the expected hostname
    e = await raises(s_exc.BadCertHost, s_telepath.openurl(f'ssl://root:secret@{hostport}/?hostname=otherhost'))

    # a client certificate (users/visi@testhost) authenticates without a password
    hostport = SSL_CERT[len('ssl://'):]
    async with await s_telepath.openurl(f'ssl://visi@{hostport}/?hostname=testhost') as prox:
        user = await prox.getCellUser()
        check(user['name'] == 'visi', user)
    print('ok tls')

async def main():
    for func in (check_calls, check_errors, check_genrs, check_shares, check_handshakes, check_raw, check_sync, check_tls):
        try:
            await func()
        except Exception:
            print(f'FAIL {func.__name__}')
            traceback.print_exc()
            return 1
    return 0

if __name__ == '__main__':
    sys.exit(asyncio.run(main()))
