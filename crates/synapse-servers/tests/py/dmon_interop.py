'''
Storm dmons of a running `synapse-servers cortex`, driven by the reference Python client
through the CoreApi dmon methods.

    python dmon_interop.py setup  <host> <telepath port>
    python dmon_interop.py verify <host> <telepath port>

`setup` adds dmons with `addStormDmon` (one feeding a queue, one failing, one disabled),
checks their shapes, logs, errors and statuses, `bumpStormDmon`, `disableStormDmon`,
`enableStormDmon`, `delStormDmon`, the permissions (admin only) and `$lib.dmon`; `verify`
(after a restart) checks that the dmons survived, that the enabled ones run again and the
disabled one stays off. Waits poll with generous timeouts; nothing depends on timing. Any
failed check raises (non-zero exit).
'''
import sys
import asyncio

import synapse.exc as s_exc
import synapse.telepath as s_telepath

WAIT = 120.0

FEEDER = 'f' * 32
FAILER = 'e' * 32
SLEEPER = 'd' * 32

FEED = '''
    $q = $lib.queue.get(dmonq)
    $n = $lib.globals.get(feeds, (0))
    $lib.globals.set(feeds, ($n + 1))
    $q.put($n)
    [ inet:ipv4=$n ]
    $lib.print(`fed {$n}`)
    $lib.warn(`warned {$n}`)
'''


async def poll(what, func):
    '''Wait until `func()` returns a true value.'''
    loop = asyncio.get_running_loop()
    end = loop.time() + WAIT
    while True:
        valu = await func()
        if valu:
            return valu
        assert loop.time() < end, f'timed out waiting for {what}'
        await asyncio.sleep(0.1)


async def feeds(core):
    return await core.callStorm('return($lib.globals.get(feeds, (0)))')


async def setup(url, visiurl):
    async with await s_telepath.openurl(url) as core:
        root = await core.callStorm('return($lib.user.iden)')
        await core.callStorm('$lib.queue.add(dmonq)')
        await core.callStorm('$lib.auth.users.add(visi, passwd=secret)')

        ddef = await core.addStormDmon({'iden': FEEDER, 'user': root, 'storm': FEED, 'name': 'feeder'})
        assert ddef['iden'] == FEEDER and ddef['enabled'] is True and ddef['err'] is False, ddef
        assert ddef['count'] == 0 and ddef['name'] == 'feeder', ddef

        await poll('three feeds', lambda: core.callStorm('return(($lib.queue.get(dmonq).size() >= 3))'))
        assert await core.count('inet:ipv4') >= 3

        ddef = await core.getStormDmon(FEEDER)
        assert ddef['status'] in ('running', 'sleeping'), ddef
        assert ddef['count'] >= 2, ddef
        dmons = await core.getStormDmons()
        assert [d['iden'] for d in dmons] == [FEEDER], dmons

        logs = await core.getStormDmonLog(FEEDER)
        assert logs[0][1] == ('print', {'mesg': 'fed 0'}), logs
        assert logs[1][1] == ('warn', {'mesg': 'warned 0'}), logs
        assert isinstance(logs[0][0], int), logs

        # errors: the status, the err flag and the log; it is restarted
        ddef = await core.addStormDmon({'iden': FAILER, 'user': root, 'name': 'failer',
                                        'storm': '$n = $lib.globals.get(fails, (0)) $lib.globals.set(fails, ($n + 1)) $lib.raise(Oops, boom)'})
        await poll('two failures', lambda: core.callStorm('return(($lib.globals.get(fails, (0)) >= 2))'))
        ddef = await core.getStormDmon(FAILER)
        assert ddef['err'] is True, ddef
        assert ddef['status'].startswith("error: StormRaise: errname='Oops'"), ddef
        logs = await core.getStormDmonLog(FAILER)
        assert logs[0][1][0] == 'err' and logs[0][1][1]['err'] == 'StormRaise', logs
        assert logs[0][1][1]['errinfo']['mesg'] == 'boom', logs

        # a disabled one, then enable/disable/bump
        ddef = await core.addStormDmon({'iden': SLEEPER, 'user': root, 'enabled': False,
                                        'storm': '$lib.globals.set(slept, $lib.true) $lib.time.sleep(3600)'})
        assert ddef['status'] == 'initialized' and ddef['enabled'] is False, ddef
        assert await core.bumpStormDmon(SLEEPER) is False
        assert await core.disableStormDmon(SLEEPER) is False
        assert await core.enableStormDmon(SLEEPER) is True
        assert await core.enableStormDmon(SLEEPER) is False
        await poll('the sleeper', lambda: core.callStorm('return($lib.globals.get(slept))'))
        assert await core.bumpStormDmon(SLEEPER) is True
        assert await core.disableStormDmon(SLEEPER) is True
        ddef = await core.getStormDmon(SLEEPER)
        assert ddef['status'] == 'stopped' and ddef['enabled'] is False, ddef
        await core.callStorm('$lib.globals.pop(slept)')

        # errors of the API
        try:
            await core.addStormDmon({'iden': FEEDER, 'user': root, 'storm': ''})
            raise Exception('DupIden expected')
        except s_exc.DupIden:
            pass
        try:
            await core.addStormDmon({'storm': ''})
            raise Exception('SchemaViolation expected')
        except s_exc.SchemaViolation as e:
            assert e.get('mesg') == "data must contain ['user'] properties", e
        try:
            await core.addStormDmon({'iden': 'c' * 32, 'user': root, 'storm': 'inet:ipv4='})
            raise Exception('BadSyntax expected')
        except s_exc.BadSyntax:
            pass
        try:
            await core.delStormDmon('c' * 32)
            raise Exception('NoSuchIden expected')
        except s_exc.NoSuchIden as e:
            assert e.get('mesg') == f'No storm daemon exists with iden {"c" * 32}.', e
        assert await core.getStormDmon('c' * 32) is None
        assert await core.getStormDmonLog('c' * 32) == ()

        # a throwaway one from Storm, deleted through the API
        iden = await core.callStorm('return($lib.dmon.add(${ $lib.time.sleep(3600) }, name=tmp).iden)')
        assert (await core.getStormDmon(iden))['name'] == 'tmp'
        assert await core.delStormDmon(iden) is None
        assert await core.getStormDmon(iden) is None

        msgs = await core.storm('dmon.list').list()
        lines = [m[1]['mesg'] for m in msgs if m[0] == 'print']
        assert lines[0] == 'Storm daemon list:', lines
        assert len(lines) == 4, lines
        assert lines[3] == f'    {SLEEPER}:  (                    ): stopped', lines

        tasks = [t for t in await core.ps() if t['name'] == 'storm:dmon']
        assert sorted(t['info']['iden'] for t in tasks) == sorted([FEEDER, FAILER]), tasks

    async with await s_telepath.openurl(visiurl) as visi:
        for meth, args in (('getStormDmons', ()), ('getStormDmon', (FEEDER,)), ('addStormDmon', ({},)),
                           ('delStormDmon', (FEEDER,)), ('getStormDmonLog', (FEEDER,)),
                           ('bumpStormDmon', (FEEDER,)), ('enableStormDmon', (FEEDER,)),
                           ('disableStormDmon', (FEEDER,))):
            try:
                await getattr(visi, meth)(*args)
                raise Exception(f'AuthDeny expected from {meth}')
            except s_exc.AuthDeny:
                pass
    print('ok')


async def verify(url):
    async with await s_telepath.openurl(url) as core:
        dmons = await core.getStormDmons()
        # loaded in iden order, as the reference's
        assert [d['iden'] for d in dmons] == [SLEEPER, FAILER, FEEDER], dmons
        before = await feeds(core)
        await poll('a feed after the restart', lambda: core.callStorm(f'return(($lib.globals.get(feeds, (0)) > {before}))'))
        ddef = await core.getStormDmon(SLEEPER)
        assert ddef['enabled'] is False and ddef['status'] == 'initialized', ddef
        assert await core.callStorm('return($lib.globals.get(slept))') is None
        logs = await core.getStormDmonLog(FEEDER)
        assert logs and logs[0][1][0] == 'print', logs
        await poll('the failer failing again', lambda: core.callStorm(f'return($lib.dmon.get({FAILER}).err)'))
        assert await core.delStormDmon(FEEDER) is None
        assert await core.delStormDmon(FAILER) is None
        assert [d['iden'] for d in await core.getStormDmons()] == [SLEEPER]
        tasks = [t for t in await core.ps() if t['name'] == 'storm:dmon']
        assert tasks == [], tasks
    print('ok')


def main(argv):
    cmd, host, port = argv[:3]
    url = f'tcp://root:secret@{host}:{port}/'
    visiurl = f'tcp://visi:secret@{host}:{port}/'
    if cmd == 'setup':
        asyncio.run(setup(url, visiurl))
    elif cmd == 'verify':
        asyncio.run(verify(url))
    else:
        raise Exception(f'unknown command {cmd}')


if __name__ == '__main__':
    main(sys.argv[1:])
