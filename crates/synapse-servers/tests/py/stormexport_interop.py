'''
Storm exports and user notifications side by side, through the reference Python client:
`exportStorm` (telepath and the `/api/v1/storm/export` HTTPS endpoint), `$lib.export.toaxon`,
an export of one Cortex fed into the other (both ways), `$lib.json.schema`, and the user
notification methods (`addUserNotif`, `getUserNotif`, `iterUserNotifs`, `delUserNotif`,
`watchAllUserNotifs`) with `$lib.notifications`, against a reference Cortex booted in this
process and ours.

    python stormexport_interop.py compare <our telepath port> <our https port>

Fails unless the results, the errors (by class) and the nodes are the same (`.created` and
notification indexes aside: ours count from 0, the reference's are Nexus offsets).
'''
import os
import ssl
import json
import sys
import base64
import asyncio
import tempfile
import urllib.request

import synapse.exc as s_exc
import synapse.cortex as s_cortex
import synapse.telepath as s_telepath
import synapse.lib.cell as s_cell
import synapse.lib.msgpack as s_msgpack

# the reference refuses to boot on a disk over 95% full (this machine's disks often are)
s_cell.shutil.disk_usage = lambda path: s_cell.shutil._ntuple_diskusage(100, 0, 100)

SETUP = '''
    $lib.model.ext.addTagProp(score, (int, ({})), ({}))
    [ inet:fqdn=woot.com +#foo.bar=(2020, 2021) +#baz:score=10 .seen=2020 ]
    [ +(refs)> { [ inet:ipv4=1.2.3.4 +#baz ] } ]
    $node.data.set(hehe, haha)
    [ <(refs)+ { [ inet:ipv4=5.6.7.8 ] } ]
'''
QUERY = 'inet:fqdn=woot.com inet:ipv4'


def nocreated(pode):
    pode = s_msgpack.deepcopy(pode)
    for key in ('props', 'reprs'):
        pode[1].get(key, {}).pop('.created', None)
    return pode


async def errname(coro):
    try:
        return ('ok', await coro)
    except s_exc.SynErr as e:
        return ('err', e.__class__.__name__)


async def genrerr(genr):
    try:
        return ('ok', [item async for item in genr])
    except s_exc.SynErr as e:
        return ('err', e.__class__.__name__)


def https_export(port, body, passwd='secret'):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    data = json.dumps(body).encode()
    req = urllib.request.Request(f'https://127.0.0.1:{port}/api/v1/storm/export', data=data, method='POST')
    token = base64.b64encode(f'root:{passwd}'.encode()).decode()
    req.add_header('Authorization', f'Basic {token}')
    try:
        with urllib.request.urlopen(req, context=ctx) as resp:
            byts = resp.read()
            ctype = resp.headers.get('Content-Type')
            return resp.status, ctype, [nocreated(item) for _, item in s_msgpack.Unpk().feed(byts)]
    except urllib.error.HTTPError as e:
        return e.code, None, json.loads(e.read()).get('code')


async def nodeset(core, text=QUERY):
    out = []
    async for pode in core.exportStorm(text):
        pode = nocreated(pode)
        out.append((tuple(pode[0]), sorted(pode[1]['props'].items()), sorted(pode[1]['tags'].items()),
                    sorted(pode[1]['tagprops'].items()), sorted(pode[1].get('edges', ()))))
    return sorted(out, key=repr)


async def compare_core(core, httpsport, lowurl, lowiden, rootiden):
    res = {}
    await core.callStorm(SETUP)
    res['export'] = [nocreated(p) for p in [p async for p in core.exportStorm(QUERY)]]
    res['export.repr'] = [nocreated(p) for p in [p async for p in core.exportStorm(QUERY, opts={'repr': True})]]
    res['export.bad'] = await genrerr(core.exportStorm('inet:fqdn |'))
    res['export.view'] = await genrerr(core.exportStorm('inet:fqdn', opts={'view': 'ff' * 16}))
    res['http'] = await asyncio.to_thread(https_export, httpsport, {'query': QUERY})
    res['http.opts'] = await asyncio.to_thread(
        https_export, httpsport, {'query': 'inet:fqdn=$x', 'opts': {'vars': {'x': 'woot.com'}}})
    res['http.bad'] = await asyncio.to_thread(https_export, httpsport, {'query': 'inet:fqdn |'})
    res['toaxon'] = await core.callStorm(f'return($lib.export.toaxon("{QUERY}").0)')
    res['schema'] = await core.callStorm('''
        $s = $lib.json.schema(({"type": "object", "properties": {"x": {"type": "integer", "default": 3}}}))
        return(($s.validate(({})), $s.validate(({"x": "y"}))))
    ''')

    # notifications
    first = await core.addUserNotif(lowiden, 'hehe', {'a': 1})
    second = await core.addUserNotif(lowiden, 'haha', [1, 2])
    third = await core.addUserNotif(rootiden, 'hehe', None)
    mesg = await core.getUserNotif(first)
    res['notif.get'] = (mesg[0] == lowiden, mesg[2], mesg[3], type(mesg[1]).__name__)
    res['notif.iter'] = [(i == first, i == second, m[2], m[3]) async for i, m in core.iterUserNotifs(lowiden)]
    res['notif.size'] = len([x async for x in core.iterUserNotifs(lowiden, size=1)])
    res['notif.root'] = [m[2] async for i, m in core.iterUserNotifs(rootiden)]
    async with await s_telepath.openurl(lowurl) as low:
        res['notif.lowadd'] = await errname(low.addUserNotif(lowiden, 'x'))
        res['notif.lowget'] = await errname(low.getUserNotif(first))
        res['notif.lowiter'] = await genrerr(low.iterUserNotifs(lowiden))
        res['notif.lowstorm'] = await low.callStorm('''
            $l = ([]) for ($i, $m) in $lib.notifications.list() { $l.append(($m.2, $m.3)) } return($l)
        ''')
        res['notif.lowdeny'] = await errname(low.callStorm('return($lib.notifications.get($n))',
                                                           opts={'vars': {'n': third}}))
    await core.delUserNotif(first)
    res['notif.del'] = [m[2] async for i, m in core.iterUserNotifs(lowiden)]

    # watchAllUserNotifs: what arrives after it starts
    seen = []

    async def watch():
        async for indx, mesg in core.watchAllUserNotifs():
            seen.append((mesg[2], mesg[3]))
            if len(seen) == 2:
                return

    task = asyncio.create_task(watch())
    await asyncio.sleep(0.5)
    await core.addUserNotif(rootiden, 'live', 1)
    await core.addUserNotif(lowiden, 'live', 2)
    await asyncio.wait_for(task, timeout=10)
    res['notif.watch'] = seen
    return res


async def compare(ourport, ourhttps):
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(os.path.join(dirn, 'core')) as refcore:
            await refcore.auth.rootuser.setPasswd('secret')
            refhttps = (await refcore.addHttpsPort(0, host='127.0.0.1'))[1]
            low = await refcore.auth.addUser('low')
            await low.setPasswd('secret')
            refurl = refcore.getLocalUrl()
            oururl = f'tcp://root:secret@127.0.0.1:{ourport}/'
            async with await s_telepath.openurl(refurl) as ref:
                want = await compare_core(ref, refhttps, refcore.getLocalUrl(user='low'), low.iden,
                                          refcore.auth.rootuser.iden)
            async with await s_telepath.openurl(oururl) as our:
                ouruser = await our.addUser('low', passwd='secret')
                rootiden = (await our.getCellUser())['iden']
                have = await compare_core(our, ourhttps, f'tcp://low:secret@127.0.0.1:{ourport}/',
                                          ouruser['iden'], rootiden)

            bad = []
            for key, valu in want.items():
                if have.get(key) != valu:
                    bad.append(f'{key}\n  reference: {valu!r}\n  ours:      {have.get(key)!r}')
            assert not bad, '\n'.join(bad)

            # an export of each fed into the other: the same nodes, tags, props and edges
            async with await s_telepath.openurl(refurl) as ref, await s_telepath.openurl(oururl) as our:
                ourpodes = [p async for p in our.exportStorm(QUERY)]
                refpodes = [p async for p in ref.exportStorm(QUERY)]
                await ref.callStorm('inet:fqdn=woot.com inet:ipv4 | delnode --force')
                await our.callStorm('inet:fqdn=woot.com inet:ipv4 | delnode --force')
                assert await ref.count(QUERY) == 0
                await ref.addFeedData('syn.nodes', ourpodes)
                await our.addFeedData('syn.nodes', refpodes)
                fromours = await nodeset(ref)
                fromref = await nodeset(our)
                assert fromours == fromref, (fromours, fromref)
                assert len(fromours) == 3, fromours
                assert any(item[4] for item in fromours), fromours


if __name__ == '__main__':
    asyncio.run(compare(int(sys.argv[2]), int(sys.argv[3])))
