'''
The reference Python client and cryo tools (synapse 2.x) against a running
`synapse-servers cryotank`.

    python cryotank_interop.py setup  <host> <telepath port>
    python cryotank_interop.py verify <host> <telepath port>
    python cryotank_interop.py refmake|onours|refback|oursback <host> <telepath port>

`setup` exercises the CryoApi and TankApi methods, waits, permissions, bad input and the
`synapse.tools.cryo.list` / `synapse.tools.cryo.cat` tools, and leaves data behind; `verify`
(after a restart) checks that it survived and that writing goes on at the next offsets. Both
print a JSON summary on stdout. Any failed check raises (non-zero exit, traceback on stderr).

The other four check that a directory moves between the servers: `refmake` (on the reference)
fills tank `old`; `onours` (on ours) reads it, adds to it and makes tank `new`; `refback` (on
the reference again) reads all of `old` and sees nothing of `new` (our layout); `oursback`
(on ours) still reads both.
'''
import sys
import json
import asyncio
import subprocess

import synapse.exc as s_exc
import synapse.telepath as s_telepath
import synapse.lib.msgpack as s_msgpack

FIRST = [{'a': 1}, ('x', 2), 'str', 3, None, b'byts']


async def expect(exc, coro, mesg=None):
    try:
        await coro
    except exc as e:
        if mesg is not None:
            assert e.get('mesg') == mesg, (e.get('mesg'), mesg)
        return e
    raise AssertionError(f'expected {exc.__name__}')


async def genr(agen):
    return [item async for item in agen]


def tool(name, *args, stdin=None):
    proc = subprocess.run([sys.executable, '-m', f'synapse.tools.cryo.{name}', *args],
                          input=stdin, capture_output=True)
    assert proc.returncode == 0, (name, args, proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


async def setup(host, port):
    url = f'tcp://root:secret@{host}:{port}/'
    async with await s_telepath.openurl(url) as cryo:

        assert cryo._getClasses()[0] == 'synapse.cryotank.CryoApi', cryo._getClasses()
        assert await cryo.getCellType() == 'cryocell'
        assert await cryo.list() == ()

        iden = await cryo.init('foo')
        assert len(iden) == 32 and await cryo.init('foo') == iden

        assert await cryo.puts('foo', FIRST) == 6
        assert await cryo.puts('foo', ['six', 'seven']) == 2
        assert await cryo.last('foo') == (7, 'seven')
        assert await genr(cryo.slice('foo', 2, 3)) == [(2, 'str'), (3, 3), (4, None)]
        assert await genr(cryo.slice('foo', 0)) == list(enumerate(FIRST + ['six', 'seven']))
        assert await genr(cryo.slice('foo', 100)) == []
        assert await genr(cryo.rows('foo', 5, 2)) == [(5, b'\xc4\x04byts'), (6, b'\xa3six')]

        metrics = await genr(cryo.metrics('foo', 0))
        assert [m[0] for m in metrics] == [0, 1]
        assert list(metrics[0][1].keys()) == ['indx', 'size', 'count', 'time', 'took', 'orig']
        assert {k: metrics[0][1][k] for k in ('indx', 'size', 'count', 'orig')} == {'indx': 6, 'size': 20, 'count': 6, 'orig': 0}
        assert {k: metrics[1][1][k] for k in ('indx', 'size', 'count', 'orig')} == {'indx': 8, 'size': 10, 'count': 2, 'orig': 6}

        ((name, info),) = await cryo.list()
        assert name == 'foo'
        assert (info['iden'], info['indx'], info['metrics']) == (iden, 8, 2)
        assert list(info['stat'].keys()) == ['psize', 'depth', 'branch_pages', 'leaf_pages', 'overflow_pages', 'entries']
        assert info['stat']['entries'] == 8

        # A waiting slice gets what another client adds, then ends after the idle timeout.
        async def late():
            await asyncio.sleep(0.3)
            async with await s_telepath.openurl(url) as other:
                assert await other.puts('foo', ['late']) == 1
        task = asyncio.create_task(late())
        assert await genr(cryo.slice('foo', 7, wait=True, timeout=1)) == [(7, 'seven'), (8, 'late')]
        await task

        # The tank API at cryotank/<name>.
        async with await s_telepath.openurl(url + 'cryotank/foo') as tank:
            assert tank._getClasses()[0] == 'synapse.cryotank.TankApi'
            assert await tank.iden() == iden
            assert await tank.puts([1, 2]) == 2
            assert await genr(tank.slice(8, 10)) == [(8, 'late'), (9, 1), (10, 2)]
            assert len(await genr(tank.metrics(0))) == 4
            await expect(s_exc.NoSuchMeth, tank.last(), 'TankApi has no method: last.')
        await expect(s_exc.NoSuchPath, s_telepath.openurl(url + 'cryotank/a/b'))
        async with await s_telepath.openurl(url + 'cryotank') as alias:
            assert await alias.getCellIden() == await cryo.getCellIden()

        # Bad input: clear errors, nothing stored.
        await expect(s_exc.BadArg, cryo.puts('foo', 5))
        await expect(s_exc.BadArg, genr(cryo.slice('foo', -1)))
        await expect(s_exc.BadArg, genr(cryo.slice('foo', 0, size='x')))
        await expect(s_exc.BadArg, cryo.init(5), 'SafeKeyVal key names must be strings, got int.')
        await expect(s_exc.BadArg, cryo.init('bad', conf={'nope': 1}))
        assert await cryo.last('foo') == (10, 2)
        assert [n for n, _ in await cryo.list()] == ['foo']

        # Permissions.
        low = await cryo.addUser('lowuser', passwd='secret')
        lowurl = f'tcp://lowuser:secret@{host}:{port}/'
        async with await s_telepath.openurl(lowurl) as lowc:
            who = f"User 'lowuser' ({low['iden']})"
            await expect(s_exc.AuthDeny, lowc.init('mine'), f'{who} must have permission cryo.tank.add on object cryo (cryo).')
            await expect(s_exc.AuthDeny, lowc.puts('foo', [1]), f'{who} must have permission cryo.tank.put on object {iden} (tank).')
            await expect(s_exc.AuthDeny, genr(lowc.slice('foo', 0)), f'{who} must have permission cryo.tank.read on object {iden} (tank).')
            await expect(s_exc.AuthDeny, lowc.delete('foo'), 'User is not an admin [lowuser]')
            assert await lowc.list() == ()
            await cryo.addUserRule(low['iden'], (True, ('cryo', 'tank', 'add')), gateiden='cryo')
            mine = await lowc.init('mine')
            assert await lowc.puts('mine', ['m0', 'm1']) == 2
            assert [n for n, _ in await lowc.list()] == ['mine']
            gate = await cryo.getAuthGate(mine)
            assert any(u['iden'] == low['iden'] and u['admin'] for u in gate['users']), gate

        # The reference's tools.
        out = tool('list', url).decode()
        assert out.splitlines()[0] == url, out
        assert f"    foo: {{'iden': '{iden}', 'indx': 11, 'metrics': 4," in out, out
        out = tool('cat', url + 'cryotank/foo', '--size', '3').decode()
        assert out.splitlines() == ["(0, {'a': 1})", "(1, ('x', 2))", "(2, 'str')"], out
        out = tool('cat', url + 'cryotank/foo', '--offset', '1', '--size', '2', '--jsonl').decode()
        assert out.splitlines() == ['["x",2]', '"str"'], out
        tool('cat', url + 'cryotank/ingested', '--ingest', '--jsonl', stdin=b'{"x": 1}\n[1, 2]\n')
        packed = s_msgpack.en({'y': 2}) + s_msgpack.en('z')
        tool('cat', url + 'cryotank/ingested', '--ingest', '--msgpack', stdin=packed)
        out = tool('cat', url + 'cryotank/ingested', '--msgpack')
        items = [item for _, item in s_msgpack.Unpk().feed(out)]
        assert items == [{'x': 1}, (1, 2), {'y': 2}, 'z'], out

        info = {name: info for name, info in await cryo.list()}
        print(json.dumps({'foo': iden, 'mine': mine, 'indx': {name: i['indx'] for name, i in info.items()}}))


async def verify(host, port):
    url = f'tcp://root:secret@{host}:{port}/'
    async with await s_telepath.openurl(url) as cryo:
        info = {name: info for name, info in await cryo.list()}
        assert sorted(info) == ['foo', 'ingested', 'mine'], info
        assert info['foo']['indx'] == 11 and info['foo']['metrics'] == 4
        assert await genr(cryo.slice('foo', 0, 6)) == list(enumerate(FIRST))
        assert await genr(cryo.slice('ingested', 0)) == [(0, {'x': 1}), (1, (1, 2)), (2, {'y': 2}), (3, 'z')]
        assert await cryo.puts('foo', ['after']) == 1
        assert await cryo.last('foo') == (11, 'after')
        async with await s_telepath.openurl(f'tcp://lowuser:secret@{host}:{port}/cryotank/mine') as tank:
            assert await genr(tank.slice(0)) == [(0, 'm0'), (1, 'm1')]
        print(json.dumps({'foo': info['foo']['iden'], 'mine': info['mine']['iden']}))


OLD = [{'n': i, 'pad': 'x' * (i % 50)} for i in range(1500)]
NEW = [('new', i) for i in range(1200)]


async def refmake(host, port):
    async with await s_telepath.openurl(f'tcp://root:secret@{host}:{port}/') as cryo:
        assert await cryo.puts('old', OLD) == len(OLD)


async def onours(host, port):
    async with await s_telepath.openurl(f'tcp://root:secret@{host}:{port}/') as cryo:
        assert await genr(cryo.slice('old', 0)) == list(enumerate(OLD))
        assert await genr(cryo.slice('old', 1234, 3)) == [(i, OLD[i]) for i in range(1234, 1237)]
        assert await cryo.puts('old', ['ours1', 'ours2']) == 2
        assert await cryo.puts('new', NEW) == len(NEW)
        info = {name: info for name, info in await cryo.list()}
        assert info['old']['stat']['entries'] == len(OLD) + 2, info
        assert info['new']['stat']['entries'] == len(NEW), info


async def refback(host, port):
    async with await s_telepath.openurl(f'tcp://root:secret@{host}:{port}/') as cryo:
        assert await genr(cryo.slice('old', 0)) == list(enumerate(OLD + ['ours1', 'ours2']))
        # the reference does not read the layout of tanks we make
        assert await genr(cryo.slice('new', 0)) == []


async def oursback(host, port):
    async with await s_telepath.openurl(f'tcp://root:secret@{host}:{port}/') as cryo:
        assert await genr(cryo.slice('old', 1499)) == [(1499, OLD[1499]), (1500, 'ours1'), (1501, 'ours2')]
        assert await genr(cryo.slice('new', 0)) == list(enumerate(NEW))
        assert await cryo.last('new') == (len(NEW) - 1, NEW[-1])


def main(argv):
    cmd, host, port = argv[0], argv[1], int(argv[2])
    func = {'setup': setup, 'verify': verify, 'refmake': refmake, 'onours': onours,
            'refback': refback, 'oursback': oursback}[cmd]
    asyncio.run(func(host, port))


if __name__ == '__main__':
    main(sys.argv[1:])
