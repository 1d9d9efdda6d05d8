'''
The reference Python client (synapse 2.x) against a running `synapse-servers cortex`.

    python cortex_interop.py setup  <host> <telepath port> <https port> <dirn> <model json>
    python cortex_interop.py verify <host> <telepath port> <https port> <dirn> <model json>
    python cortex_interop.py bulk   <host> <telepath port>
    python cortex_interop.py check  <host> <telepath port> <acked batches>
    python cortex_interop.py stormbulk  <host> <telepath port>
    python cortex_interop.py stormcheck <host> <telepath port> <acked batches>

`setup` exercises the CoreApi (addNodes, addNode, the model export against the reference's
own, norms, tag props, globals, feeds, layer edits, the local Axon, permissions) over
telepath and HTTPS, and leaves data behind; `verify` (after a restart) checks that it
survived. `bulk` adds batches of nodes forever, printing `ack N` once batch N was returned;
`check` verifies, after the server was killed, that every acknowledged batch is complete and
that no batch is there in part. `stormbulk` / `stormcheck` do the same with Storm queries
(`count()` of a query creating a batch of nodes): every batch whose query returned is complete
(the query after it may be there in part: a query is not one transaction). Any failed check raises (non-zero exit, traceback on stderr).
'''
import ssl
import sys
import json
import base64
import asyncio
import hashlib
import urllib.request
import urllib.error

import synapse.exc as s_exc
import synapse.common as s_common
import synapse.telepath as s_telepath

BATCH = 500


def https(port, path, method='GET', body=None, user='root', passwd='secret'):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f'https://127.0.0.1:{port}{path}', data=data, method=method)
    if user is not None:
        token = base64.b64encode(f'{user}:{passwd}'.encode()).decode()
        req.add_header('Authorization', f'Basic {token}')
    try:
        with urllib.request.urlopen(req, context=ctx) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


async def expect(exc, coro, mesg=None):
    try:
        await coro
    except exc as e:
        if mesg is not None:
            assert e.get('mesg') == mesg, (e.get('mesg'), mesg)
        return e
    raise AssertionError(f'expected {exc.__name__}')


def untuple(valu):
    if isinstance(valu, (list, tuple)):
        return [untuple(v) for v in valu]
    if isinstance(valu, dict):
        return {k: untuple(v) for k, v in valu.items()}
    return valu


async def node_idens(core):
    '''Idens of every node added (and not deleted) in the default layer, from its edit log.'''
    idens = set()
    async for offs, edits in core.syncLayerNodeEdits(0, wait=False):
        for buid, form, items in edits:
            for edit in items:
                if edit[0] == 0:
                    idens.add(s_common.ehex(buid))
                elif edit[0] == 1:
                    idens.discard(s_common.ehex(buid))
    return idens


def iden(form, valu):
    return s_common.ehex(s_common.buid((form, valu)))


async def setup(host, port, hport, dirn, modelpath):
    url = f'tcp://root:secret@{host}:{port}/'
    async with await s_telepath.openurl(url) as core:

        assert await core.getCellType() == 'cortex'
        info = await core.getCellInfo()
        assert info['cell']['axon:ready'] is True, info['cell']
        assert 'synapse.cortex.CoreApi' in core.sharinfo['classes'], core.sharinfo['classes']

        # the model export is the reference's
        with open(modelpath) as fd:
            want = json.load(fd)
        assert untuple(await core.getModelDict()) == want
        defs = await core.getModelDefs()
        assert defs[0][0] == 'all'
        assert await core.getFormsByPrefix('inet:dns:a') == ('inet:dns:a', 'inet:dns:aaaa', 'inet:dns:answer')

        norm, info = await core.getPropNorm('inet:url', 'HTTP://Vertex.LINK:80/a')
        assert norm == 'http://vertex.link:80/a'
        assert info['subs']['port'] == 80
        await expect(s_exc.NoSuchProp, core.getPropNorm('inet:nope', 'x'), 'The property inet:nope does not exist.')
        await expect(s_exc.BadTypeValu, core.getTypeNorm('inet:ipv4', 'nope'))

        # addNodes: podes as the reference packs them, invalid items skipped
        await core.addTagProp('score', ('int', {}), {'doc': 'A test score.'})
        await expect(s_exc.DupPropName, core.addTagProp('score', ('int', {}), {}))
        nodes = [
            (('inet:ipv4', '1.2.3.4'), {'props': {'asn': 10}, 'tags': {'foo.bar': (1577836800000, 1609459200000)},
                                        'tagprops': {'rep.vt': {'score': 10}}}),
            (('inet:ipv4', 'bad'), {}),
            (('inet:dns:a', ('vertex.link', '8.8.8.8')), {'tags': {'rep.vt': (None, None)}}),
        ]
        podes = [p async for p in core.addNodes(nodes)]
        assert len(podes) == 2, podes
        (form, valu), pinfo = podes[0]
        assert (form, valu) == ('inet:ipv4', 16909060)
        assert pinfo['iden'] == '20153b758f9d5eaaa38e4f4a65c36da797c3e59e549620fa7c4895e1a920991f'
        assert pinfo['tags'] == {'foo': (None, None), 'foo.bar': (1577836800000, 1609459200000),
                                 'rep': (None, None), 'rep.vt': (None, None)}, pinfo['tags']
        assert pinfo['props']['asn'] == 10 and pinfo['props']['type'] == 'unicast'
        assert pinfo['tagprops'] == {'rep.vt': {'score': 10}}
        assert pinfo['nodedata'] == {}
        assert podes[1][0] == ('inet:dns:a', ('vertex.link', 134744072))

        pode = await core.addNode('inet:fqdn', 'woot.com')
        assert pode[1]['props']['zone'] == 'woot.com'

        await core.addFeedData('syn.nodes', [(('inet:fqdn', 'feed.vertex.link'), {'tags': {'test': (None, None)}})])
        assert iden('inet:fqdn', 'feed.vertex.link') in await node_idens(core)

        assert await core.setStormVar('persisted', {'x': 1}) == {'x': 1}

        # the local axon
        async with await core.getAxonUpload() as upload:
            await upload.write(b'asdf')
            await upload.write(b'qwer')
            size, sha256 = await upload.save()
        assert size == 8 and sha256 == hashlib.sha256(b'asdfqwer').digest()
        byts = b''.join([b async for b in core.getAxonBytes(s_common.ehex(sha256))])
        assert byts == b'asdfqwer'

        # permissions
        visi = await core.addUser('visi', passwd='secret')
        views = [k for k, v in (await core.getCellUser())['authgates'].items()]
        assert len(views) == 2

    async with await s_telepath.openurl(f'tcp://visi:secret@{host}:{port}/') as vcore:
        vinfo = await vcore.getCellUser()
        e = await expect(s_exc.AuthDeny, s_common.aspin(vcore.addNodes([(('inet:ipv4', '5.5.5.5'), {})])))
        mesg = e.get('mesg')
        assert mesg.startswith(f"User 'visi' ({vinfo['iden']}) must have permission node.add.inet:ipv4 on object "), mesg
        assert mesg.endswith(' (layer).'), mesg
        layriden = mesg.split(' on object ')[1].split(' ')[0]
        await expect(s_exc.AuthDeny, vcore.getStormVar('persisted'))
        await expect(s_exc.AuthDeny, vcore.getAxonUpload())

    async with await s_telepath.openurl(url) as core:
        await core.addUserRule(visi['iden'], (True, ('node', 'add', 'inet:ipv4')), gateiden=layriden)

    async with await s_telepath.openurl(f'tcp://visi:secret@{host}:{port}/') as vcore:
        podes = [p async for p in vcore.addNodes([(('inet:ipv4', '5.5.5.5'), {})])]
        assert len(podes) == 1

    # the reference's Storm CLI against our cortex
    import subprocess
    proc = subprocess.run([sys.executable, '-m', 'synapse.tools.storm', url,
                           '[inet:fqdn=cli.vertex.link +#test] $lib.print(hi) $lib.warn(uhoh)'],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert 'hi' in lines and 'WARNING: uhoh' in lines, lines
    assert 'inet:fqdn=cli.vertex.link' in lines and '        :zone = vertex.link' in lines, lines
    assert '        #test' in lines and lines[-1].startswith('complete. 1 nodes in '), lines
    proc = subprocess.run([sys.executable, '-m', 'synapse.tools.storm', url, 'inet:fqdn='],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and 'Syntax Error: ' in proc.stdout, proc.stdout
    async with await s_telepath.openurl(url) as core:
        assert await core.count('inet:fqdn=cli.vertex.link') == 1
        assert await core.callStorm('return($lib.globals.get(persisted))') == {'x': 1}

    # https
    status, body = https(hport, '/api/v1/model')
    assert status == 200 and body['result']['forms']['inet:ipv4']['name'] == 'inet:ipv4'
    assert body['result']['tagprops']['score']['stortype'] == 9
    status, body = https(hport, '/api/v1/model', user=None)
    assert status == 401 and body['code'] == 'NotAuthenticated'
    status, body = https(hport, '/api/v1/model/norm', 'POST', {'prop': 'inet:email', 'value': 'Visi@Vertex.LINK'})
    assert body == {'status': 'ok', 'result': {'norm': 'visi@vertex.link', 'info': {'subs': {'fqdn': 'vertex.link', 'user': 'visi'}}}}, body
    status, body = https(hport, '/api/v1/feed', 'POST', {'name': 'syn.nodes', 'items': [[['inet:fqdn', 'feedhttp.vertex.link'], {'tags': {'test': [None, None]}}]]})
    assert (status, body) == (200, {'status': 'ok', 'result': None}), body
    status, body = https(hport, '/api/v1/feed', 'POST', {'name': 'newp', 'items': []})
    assert status == 400 and body['code'] == 'NoSuchFunc'
    status, body = https(hport, '/api/v1/core/info')
    assert status == 200 and body['result']['version'] == [2, 256, 0]

    print(json.dumps({'visi': visi['iden'], 'sha256': s_common.ehex(sha256), 'layer': layriden}))


async def verify(host, port, hport, dirn, modelpath):
    async with await s_telepath.openurl(f'tcp://root:secret@{host}:{port}/') as core:
        idens = await node_idens(core)
        for form, valu in (('inet:ipv4', 16909060), ('inet:dns:a', ('vertex.link', 134744072)),
                           ('inet:fqdn', 'woot.com'), ('inet:fqdn', 'feed.vertex.link'),
                           ('inet:fqdn', 'feedhttp.vertex.link'), ('inet:ipv4', 0x05050505),
                           ('inet:asn', 10), ('syn:tag', 'foo.bar')):
            assert iden(form, valu) in idens, (form, valu)
        assert await core.getStormVar('persisted') == {'x': 1}
        model = await core.getModelDict()
        assert model['tagprops']['score']['type'] == ('int', {})
        byts = b''.join([b async for b in core.getAxonBytes(hashlib.sha256(b'asdfqwer').hexdigest())])
        assert byts == b'asdfqwer'
        visi = await core.getUserDefByName('visi')
    async with await s_telepath.openurl(f'tcp://visi:secret@{host}:{port}/') as vcore:
        podes = [p async for p in vcore.addNodes([(('inet:ipv4', '6.6.6.6'), {})])]
        assert len(podes) == 1
    print(json.dumps({'visi': visi['iden'], 'nodes': len(idens)}))


def batch_defs(batch):
    return [(('inet:ipv4', batch * BATCH + i), {'tags': {f'crash.b{batch}': (None, None)}}) for i in range(BATCH)]


async def bulk(host, port):
    async with await s_telepath.openurl(f'tcp://root:secret@{host}:{port}/') as core:
        batch = 0
        while True:
            podes = [p async for p in core.addNodes(batch_defs(batch))]
            assert len(podes) == BATCH, len(podes)
            print(f'ack {batch}', flush=True)
            batch += 1


async def check(host, port, acked):
    async with await s_telepath.openurl(f'tcp://root:secret@{host}:{port}/') as core:
        idens = await node_idens(core)
        batch = 0
        complete = 0
        while True:
            want = [iden('inet:ipv4', batch * BATCH + i) for i in range(BATCH)]
            have = sum(1 for i in want if i in idens)
            if have == 0 and batch > acked:
                break
            if batch == acked + 1 and have < BATCH:
                # The call in flight at the kill: its first slices may have been committed,
                # in order, and nothing after them.
                assert all(i in idens for i in want[:have]), f'batch {batch}: not a prefix'
                assert not any(iden('inet:ipv4', (batch + 1) * BATCH + i) in idens for i in range(BATCH))
                break
            assert have == BATCH, f'batch {batch} has {have} of {BATCH} nodes'
            complete += 1
            batch += 1
        assert complete > acked, (complete, acked)
        print(json.dumps({'complete': complete, 'acked': acked}))


# $lib.range(stop, start)
Q_STORMBULK = 'for $i in $lib.range($b, $a) { [ inet:ipv4=$i +#$tag ] }'


async def stormbulk(host, port):
    async with await s_telepath.openurl(f'tcp://root:secret@{host}:{port}/') as core:
        batch = 0
        while True:
            opts = {'vars': {'a': batch * BATCH, 'b': (batch + 1) * BATCH, 'tag': f'crash.s{batch}'}}
            count = await core.count(Q_STORMBULK, opts=opts)
            assert count == BATCH, count
            print(f'ack {batch}', flush=True)
            batch += 1


async def stormcheck(host, port, acked):
    async with await s_telepath.openurl(f'tcp://root:secret@{host}:{port}/') as core:
        idens = await node_idens(core)
        for batch in range(acked + 1):
            want = [iden('inet:ipv4', batch * BATCH + i) for i in range(BATCH)]
            have = sum(1 for i in want if i in idens)
            assert have == BATCH, f'acknowledged batch {batch} has {have} of {BATCH} nodes'
            tagged = await core.count(f'#crash.s{batch}')
            assert tagged == BATCH, f'acknowledged batch {batch} has {tagged} of {BATCH} tags'
        print(json.dumps({'acked': acked}))


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd in ('setup', 'verify'):
        host, port, hport, dirn, modelpath = sys.argv[2:7]
        asyncio.run(globals()[cmd](host, int(port), int(hport), dirn, modelpath))
    elif cmd == 'bulk':
        asyncio.run(bulk(sys.argv[2], int(sys.argv[3])))
    elif cmd == 'check':
        asyncio.run(check(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    elif cmd == 'stormbulk':
        asyncio.run(stormbulk(sys.argv[2], int(sys.argv[3])))
    elif cmd == 'stormcheck':
        asyncio.run(stormcheck(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
