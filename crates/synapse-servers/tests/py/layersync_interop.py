'''
Layer telepath paths, pushes and pulls between `synapse-servers cortex` (ours) and a reference
Cortex, driven by the reference Python client.

    python layersync_interop.py setup  <host> <our port> <reference port>
    python layersync_interop.py verify <host> <our port> <reference port>

`setup`:
- the reference client opens our `*/layer/<iden>` and `*/view` paths (LayerApi, ViewApi) and
  checks `getIden`, `getEditIndx`, `syncNodeEdits` (forward, reverse, with and without wait),
  `syncNodeEdits2`, `storNodeEdits` (the `(buid, sode, edits)` results), the `CellApi` methods
  served there, the permission checks and `NoSuchPath` / `NoSuchLayer`;
- our Cortex pushes its default layer into another of its layers (`layer.push.add` through its
  own `*/layer/<iden>` URL), pulls the reference's default layer into a third layer
  (`$layr.addPull()`), and the reference pushes its layer into a fourth layer of ours (the
  reference's pusher calling our `storNodeEdits`);
- `layer.push.list` / `layer.pull.list` show them, `layer.pull.del` removes one.
`verify` (after our server restarted): the configurations survived, and new nodes still flow
through the push and the pull that remain. Waits poll with generous timeouts.
'''
import sys
import asyncio

import synapse.exc as s_exc
import synapse.telepath as s_telepath

WAIT = 120.0


async def poll(what, func):
    loop = asyncio.get_running_loop()
    end = loop.time() + WAIT
    while True:
        valu = await func()
        if valu:
            return valu
        assert loop.time() < end, f'timed out waiting for {what}'
        await asyncio.sleep(0.1)


async def count(core, layr, form):
    counts = await core.callStorm('return($lib.layer.get($l).getFormCounts())', opts={'vars': {'l': layr}})
    return counts.get(form, 0)


async def layers(core):
    return await core.callStorm('return($lib.globals.get(synctest))')


async def setup(host, port, refport):
    ours = f'tcp://root:secret@{host}:{port}'
    refs = f'tcp://root:secret@{host}:{refport}'
    async with await s_telepath.openurl(ours) as core, await s_telepath.openurl(refs) as ref:

        base = await core.callStorm('return($lib.layer.get().iden)')
        refbase = await ref.callStorm('return($lib.layer.get().iden)')
        l2, l3, l4 = [await core.callStorm('return($lib.layer.add().iden)') for _ in range(3)]
        await core.callStorm('$lib.globals.set(synctest, $x)', opts={'vars': {'x': (base, l2, l3, l4, refbase)}})

        await core.callStorm('[ inet:ipv4=1.2.3.4 inet:ipv4=5.6.7.8 +#seen ]')

        # the LayerApi of our default layer, through the reference client
        async with await s_telepath.openurl(f'{ours}/*/layer') as layr:
            assert await layr.getIden() == base
            indx = await layr.getEditIndx()
            assert isinstance(indx, int) and indx > 0, indx
            items = [item async for item in layr.syncNodeEdits(0, wait=False)]
            assert len(items) == indx, (len(items), indx)
            assert items[0][0] == 0
            edits = [e for _, batch in items for e in batch if e[1] == 'inet:ipv4']
            buid, form, nedits = edits[0]
            assert isinstance(buid, bytes) and len(buid) == 32
            back = [item async for item in layr.syncNodeEdits(indx - 1, reverse=True)]
            assert [o for o, _ in back] == list(range(indx - 1, -1, -1)), back
            items2 = [item async for item in layr.syncNodeEdits2(0, wait=False)]
            assert len(items2[0]) == 3 and items2[0][2]['user'], items2[0]
            # the CellApi methods are served there too
            info = await layr.getCellInfo()
            assert info['cell']['type'] == 'cortex', info['cell']
            assert (await layr.getCellUser())['name'] == 'root'
            with_meth = False
            try:
                await layr.addNode('inet:ipv4', 1)
            except s_exc.NoSuchMeth:
                with_meth = True
            assert with_meth

        # storNodeEdits into another layer of ours: the (buid, sode, edits) results
        async with await s_telepath.openurl(f'{ours}/*/layer/{l4}') as layr:
            assert await layr.getIden() == l4
            retn = await layr.storNodeEdits(edits[:1], None)
            assert len(retn) == 1, retn
            rbuid, sode, redits = retn[0]
            assert rbuid == buid
            assert sode['form'] == 'inet:ipv4' and sode['valu'][0] in (0x01020304, 0x05060708), sode
            assert redits, redits
            assert await count(core, l4, 'inet:ipv4') == 1
            # nothing changes: the node comes back with no edits, as the reference's
            again = await layr.storNodeEdits(edits[:1], None)
            assert len(again) == 1 and again[0][0] == buid and again[0][2] == (), again
            assert again[0][1]['valu'] == sode['valu'], again

        # unknown paths and layers
        for path, err in (('*/layer/' + 'a' * 32, s_exc.NoSuchLayer), ('*/nope', s_exc.NoSuchPath)):
            try:
                async with await s_telepath.openurl(f'{ours}/{path}'):
                    pass
                raise AssertionError(f'{path} opened')
            except err:
                pass

        # permissions: a user without layer perms
        await core.callStorm('$lib.auth.users.add(visi, passwd=secret)')
        async with await s_telepath.openurl(f'tcp://visi:secret@{host}:{port}/*/layer/{l2}') as layr:
            try:
                await layr.storNodeEdits(edits[:1], None)
                raise AssertionError('visi wrote')
            except s_exc.AuthDeny:
                pass
            try:
                [item async for item in layr.syncNodeEdits(0, wait=False)]
                raise AssertionError('visi read')
            except s_exc.AuthDeny:
                pass

        # the ViewApi
        async with await s_telepath.openurl(f'{ours}/*/view') as view:
            assert await view.getCellIden() == await core.callStorm('return($lib.view.get().iden)')
            assert await view.getEditSize() == indx

        # push our default layer into l2 through our own LayerApi
        q = f'layer.push.add {base} "{ours}/*/layer/{l2}"'
        msgs = await core.storm(q).list()
        prints = [m[1]['mesg'] for m in msgs if m[0] == 'print']
        errs = [m for m in msgs if m[0] == 'err']
        assert not errs, errs
        assert prints and prints[0].startswith('Layer push added: '), prints
        await poll('the push', lambda: count(core, l2, 'inet:ipv4'))
        assert await count(core, l2, 'inet:ipv4') == 2

        # pull the reference's layer into l3
        await ref.callStorm('[ inet:fqdn=vertex.link inet:fqdn=woot.com ]')
        pdef = await core.callStorm('return($lib.layer.get($l).addPull($u))',
                                    opts={'vars': {'l': l3, 'u': f'{refs}/*/layer'}})
        assert pdef['url'].endswith('/*/layer') and pdef['queue:size'] == 10000, pdef
        async def four():
            return await count(core, l3, 'inet:fqdn') == 4

        await poll('the pull', four)

        # the reference pushes its layer into l4 of ours (its pusher calls our storNodeEdits)
        await ref.callStorm('$lib.layer.get().addPush($u)', opts={'vars': {'u': f'{ours}/*/layer/{l4}'}})

        async def fqdns_in_l4():
            return await count(core, l4, 'inet:fqdn') >= 3

        await poll('the reference push', fqdns_in_l4)

        # listing and removing
        text = '\n'.join(m[1]['mesg'] for m in await core.storm(f'layer.push.list {base}').list() if m[0] == 'print')
        assert 'Push Iden' in text and f'/*/layer/{l2}' in text and ':secret@' in text, text
        text = '\n'.join(m[1]['mesg'] for m in await core.storm(f'layer.pull.list {l2}').list() if m[0] == 'print')
        assert 'No pulls configured.' in text, text
        extra = await core.callStorm('return($lib.layer.get($l).addPull($u).iden)',
                                     opts={'vars': {'l': l2, 'u': f'{refs}/*/layer'}})
        msgs = await core.storm(f'layer.pull.del {l2} {extra}').list()
        assert 'Layer pull deleted.' in [m[1]['mesg'] for m in msgs if m[0] == 'print'], msgs
        pulls = await core.callStorm('return($lib.layer.get($l).get(pulls))', opts={'vars': {'l': l2}})
        assert pulls == {}, pulls

        # only admins of the layer may add pushes
        async with await s_telepath.openurl(f'tcp://visi:secret@{host}:{port}') as visi:
            try:
                await visi.callStorm('$lib.layer.get().addPush(tcp://127.0.0.1:1/)')
                raise AssertionError('visi pushed')
            except s_exc.AuthDeny as e:
                assert e.get('mesg') == '$layer.addPush() requires admin privs on the layer.', e


async def verify(host, port, refport):
    ours = f'tcp://root:secret@{host}:{port}'
    refs = f'tcp://root:secret@{host}:{refport}'
    async with await s_telepath.openurl(ours) as core, await s_telepath.openurl(refs) as ref:
        base, l2, l3, l4, refbase = await layers(core)
        pushs = await core.callStorm('return($lib.layer.get($l).get(pushs))', opts={'vars': {'l': base}})
        assert len(pushs) == 1, pushs
        pulls = await core.callStorm('return($lib.layer.get($l).get(pulls))', opts={'vars': {'l': l3}})
        assert len(pulls) == 1, pulls

        # the push resumes where it was
        await core.callStorm('[ inet:ipv4=9.9.9.9 ]')

        async def three():
            return await count(core, l2, 'inet:ipv4') == 3

        await poll('the push after a restart', three)

        # so does the pull
        await ref.callStorm('[ inet:fqdn=after.restart ]')

        async def pulled():
            return await count(core, l3, 'inet:fqdn') == 6

        await poll('the pull after a restart', pulled)


def main(argv):
    cmd, host, port, refport = argv
    func = {'setup': setup, 'verify': verify}[cmd]
    asyncio.run(func(host, int(port), int(refport)))
    print('ok')


if __name__ == '__main__':
    main(sys.argv[1:])
