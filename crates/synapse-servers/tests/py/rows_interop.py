'''
The raw row and sync methods of the CoreApi (`iterFormRows`, `iterPropRows`, `iterUnivRows`,
`iterTagRows`, `iterTagPropRows`, `syncLayersEvents`, `syncIndexEvents`), driven by the
reference Python client against a running cortex (ours or the reference's).

    python rows_interop.py <host> <telepath port>

Prints one JSON document of what the methods returned (buids in hex, times and idens masked,
offsets reduced to their order, the edits of the logged batches sorted: Storm groups its
edits in batches of its own); the test runs it against both servers and compares.
Any failed check raises (non-zero exit).
'''
import sys
import json
import asyncio

import synapse.exc as s_exc
import synapse.telepath as s_telepath

WAIT = 60.0

STOR_TYPE_UTF8 = 1
STOR_TYPE_U32 = 4
STOR_TYPE_I64 = 9
STOR_TYPE_FQDN = 17
STOR_TYPE_IVAL = 12


def canon(valu, masks):
    if isinstance(valu, bytes):
        return valu.hex()
    if isinstance(valu, (list, tuple)):
        return [canon(v, masks) for v in valu]
    if isinstance(valu, dict):
        return {canon(k, masks): canon(v, masks) for k, v in sorted(valu.items())}
    if isinstance(valu, str):
        for iden, name in masks.items():
            valu = valu.replace(iden, name)
        return valu
    if isinstance(valu, int) and not isinstance(valu, bool) and valu > 1500000000000 and valu < 9000000000000:
        return 'time'
    return valu


async def rows(genr):
    return [item async for item in genr]


async def error(coro):
    try:
        await coro
    except s_exc.SynErr as e:
        return [e.__class__.__name__, e.get('mesg')]
    return None


def edits_only(events):
    '''syncLayersEvents items with offsets reduced to their order within each layer.'''
    out = []
    last = {}
    for offs, layr, styp, item, meta in events:
        assert offs >= last.get(layr, -1), (offs, last)
        last[layr] = offs
        out.append([layr, styp, item, sorted(meta.keys())])
    return out


async def main(host, port):
    url = f'tcp://root:secret@{host}:{port}/'
    out = {}
    async with await s_telepath.openurl(url) as core:
        await core.addTagProp('score', ('int', {}), {})
        layr = await core.callStorm('return($lib.layer.get().iden)')
        view = await core.callStorm('return($lib.view.get().iden)')
        masks = {layr: 'layr', view: 'view'}

        for text in ('[ inet:ipv4=1.2.3.4 :asn=20 .seen=(2020, 2021) +#foo.bar=(2020, 2021) +#baz +#foo:score=10 ]',
                     '[ inet:ipv4=5.6.7.8 :asn=10 +#foo.bar +#foo:score=3 ]',
                     '[ inet:fqdn=woot.com +#foo.bar .seen=2019 ]',
                     '[ inet:asn=10 :name=ten ]'):
            await core.callStorm(text)

        out['form'] = await rows(core.iterFormRows(layr, 'inet:ipv4'))
        out['form.st'] = await rows(core.iterFormRows(layr, 'inet:ipv4', stortype=STOR_TYPE_U32))
        out['form.start'] = await rows(core.iterFormRows(layr, 'inet:ipv4', stortype=STOR_TYPE_U32,
                                                         startvalu=0x02000000))
        out['form.fqdn'] = await rows(core.iterFormRows(layr, 'inet:fqdn', stortype=STOR_TYPE_FQDN))
        out['form.nope'] = await rows(core.iterFormRows(layr, 'inet:nope'))
        out['prop'] = await rows(core.iterPropRows(layr, 'inet:ipv4', 'asn'))
        out['prop.st'] = await rows(core.iterPropRows(layr, 'inet:ipv4', 'asn', stortype=STOR_TYPE_I64))
        out['prop.start'] = await rows(core.iterPropRows(layr, 'inet:ipv4', 'asn', stortype=STOR_TYPE_I64,
                                                         startvalu=15))
        out['prop.name'] = await rows(core.iterPropRows(layr, 'inet:asn', 'name', stortype=STOR_TYPE_UTF8))
        out['univ'] = await rows(core.iterUnivRows(layr, '.seen'))
        out['univ.ival'] = await rows(core.iterUnivRows(layr, '.seen', stortype=STOR_TYPE_IVAL))
        out['univ.nope'] = await rows(core.iterUnivRows(layr, '.nope'))
        out['tag'] = await rows(core.iterTagRows(layr, 'foo.bar'))
        out['tag.form'] = await rows(core.iterTagRows(layr, 'foo.bar', form='inet:ipv4'))
        out['tag.parent'] = await rows(core.iterTagRows(layr, 'foo'))
        tagrows = out['tag.form']
        out['tag.start'] = await rows(core.iterTagRows(layr, 'foo.bar', form='inet:ipv4',
                                                       starttupl=(tagrows[-1][0], 'inet:ipv4')))
        out['tag.start.other'] = await rows(core.iterTagRows(layr, 'foo.bar', form='inet:ipv4',
                                                             starttupl=(tagrows[0][0], 'inet:fqdn')))
        out['tag.nope'] = await rows(core.iterTagRows(layr, 'nope'))
        out['tagprop'] = await rows(core.iterTagPropRows(layr, 'foo', 'score'))
        out['tagprop.form'] = await rows(core.iterTagPropRows(layr, 'foo', 'score', form='inet:ipv4',
                                                              stortype=STOR_TYPE_I64))
        out['tagprop.start'] = await rows(core.iterTagPropRows(layr, 'foo', 'score', stortype=STOR_TYPE_I64,
                                                               startvalu=5))

        out['err.layer'] = await error(rows(core.iterFormRows('f' * 32, 'inet:ipv4')))
        out['err.layer.tag'] = await error(rows(core.iterTagRows('f' * 32, 'foo')))

        # a user without permissions, then with layer.read
        visi = await core.callStorm('return($lib.auth.users.add(visi, passwd=secret).iden)')
        masks[visi] = 'visi'
        async with await s_telepath.openurl(f'tcp://visi:secret@{host}:{port}/') as vcore:
            out['err.perm'] = await error(rows(vcore.iterFormRows(layr, 'inet:ipv4')))
            out['err.perm.sync'] = await error(rows(vcore.syncLayersEvents({}, wait=False)))
            await core.callStorm(f'auth.user.addrule visi layer.read.{layr}')
            out['perm.read'] = len(await rows(vcore.iterFormRows(layr, 'inet:ipv4')))
            await core.callStorm(f'auth.user.delrule visi layer.read.{layr}')
            await core.callStorm(f'auth.user.addrule visi layer.lift')
            out['perm.lift'] = len(await rows(vcore.iterPropRows(layr, 'inet:ipv4', 'asn')))

        events = await rows(core.syncLayersEvents({}, wait=False))
        # Storm commits its edits in batches of its own choosing: compare the edits, sorted.
        synced = edits_only(events)
        assert all(styp == 0 and meta == ['time', 'user'] for (_, styp, _, meta) in synced), synced
        out['sync'] = sorted(canon([buid, form, edit], masks)
                             for (_, _, nodeedits, _) in synced for (buid, form, edits) in nodeedits for edit in edits)
        last = events[-1][0]
        out['sync.resume'] = edits_only(await rows(core.syncLayersEvents({layr: last}, wait=False)))
        out['index'] = [[canon(l, masks), s, i] for (o, l, s, i) in await rows(core.syncIndexEvents(
            {'forms': ['inet:fqdn'], 'props': ['inet:ipv4:asn', 'name'], 'tags': ['baz'],
             'tagprops': ['foo:score']}, wait=False))]
        out['index.tagprop'] = [i for (o, l, s, i) in await rows(core.syncIndexEvents(
            {'tagprops': ['score']}, offsdict={layr: last}, wait=False))]

        # live: edits, then an added and a deleted layer
        live = []
        genr = core.syncLayersEvents({layr: last + 1}, wait=True).__aiter__()

        async def pull(count):
            while len(live) < count:
                live.append(await genr.__anext__())

        await core.callStorm('[ inet:ipv4=9.9.9.9 ]')
        await asyncio.wait_for(pull(1), WAIT)
        newl = await core.callStorm('return($lib.layer.add().iden)')
        masks[newl] = 'newlayr'
        await asyncio.wait_for(pull(2), WAIT)
        await core.callStorm(f'$lib.layer.del({newl})')
        await asyncio.wait_for(pull(3), WAIT)
        await genr.aclose()
        out['live'] = [[l, s, i, sorted(m)] for (o, l, s, i, m) in live]

        out = canon(out, masks)
    print(json.dumps(out, sort_keys=True))


if __name__ == '__main__':
    host, port = sys.argv[1], sys.argv[2]
    asyncio.run(main(host, port))
