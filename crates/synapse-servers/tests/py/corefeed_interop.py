'''
The Cortex feed APIs side by side: `addFeedData` / `getFeedFuncs` over telepath, the feed tool
(`synapse.tools.cortex.feed` and the deprecated `synapse.tools.feed`), and `$lib.feed` in Storm,
against the reference Cortex and ours, through the reference Python client.

    python corefeed_interop.py compare <our telepath port>

Boots a reference Cortex in a temporary directory (in this process), makes the same calls on
both and fails unless the results, the errors (by class) and the nodes they leave (ndef, props
without `.created`, tags, node data and `refs` edges) are the same; then runs
`python -m synapse.tools.feed` as a subprocess against ours and checks the nodes it added.
'''
import os
import json
import re
import sys
import asyncio
import tempfile

import synapse.exc as s_exc
import synapse.cortex as s_cortex
import synapse.telepath as s_telepath
import synapse.lib.cell as s_cell
import synapse.lib.output as s_output
import synapse.lib.msgpack as s_msgpack

import synapse.tools.cortex.feed as s_feed

# the reference refuses to boot on a disk over 95% full (this machine's disks often are)
s_cell.shutil.disk_usage = lambda path: s_cell.shutil._ntuple_diskusage(100, 0, 100)

ITEMS = [
    (('inet:fqdn', 'feed.vertex.link'), {
        'tags': {'test': (None, None), 'foo.bar': (1577836800000, 1609459200000)},
        'props': {'.seen': (1577836800000, 1577836800001), '.created': 10},
        'nodedata': {'hehe': {'haha': [1, 2]}},
        'edges': [('refs', ('inet:ipv4', '1.2.3.4'))],
    }),
    (('inet:ipv4', '1.2.3.4'), {'props': {'asn': 10, 'loc': 'us.va'}, 'tags': {'hehe': (None, None)}}),
    # a bad value: skipped
    (('inet:ipv4', 'not an ip'), {'tags': {'bad': (None, None)}}),
    # an unknown prop and a bad prop value: the node without them
    (('inet:fqdn', 'woot.com'), {'props': {'nope': 10, 'issuffix': 'wat'}}),
    (('inet:dns:a', ('woot.com', '5.6.7.8')), {'tags': {'dns': (None, None)}}),
    # an unknown form: skipped
    (('nope:nope', 'x'), {}),
]

LIFT = 'inet:fqdn inet:ipv4 inet:dns:a inet:asn'


def norm(text):
    text = re.sub(r'[0-9a-f]{32,64}', 'IDEN', text)
    return re.sub(r'\b1[67]\d{11}\b', 'TIME', text)


async def nodes(core, text=LIFT, opts=None):
    '''The nodes a query yields, comparable between cortexes (sorted).'''
    out = []
    async for mesg in core.storm(text, opts=opts):
        if mesg[0] == 'node':
            pode = mesg[1]
            props = {k: v for k, v in pode[1].get('props', {}).items() if k != '.created'}
            out.append((tuple(pode[0]), sorted(props.items()), sorted(pode[1].get('tags', {}).items())))
        elif mesg[0] == 'err':
            out.append(('err', mesg[1][0]))
    return sorted(out, key=repr)


async def extras(core, opts=None):
    '''Node data and edges of the fed nodes.'''
    return await core.callStorm('''
        inet:fqdn=feed.vertex.link
        $refs = $lib.list()
        for $n in { -(refs)> * } { $refs.append($n.ndef()) }
        return(($node.data.get(hehe), $refs))
    ''', opts=opts)


async def errname(coro):
    try:
        return ('ok', await coro)
    except s_exc.SynErr as e:
        return ('err', e.__class__.__name__)


async def messages(core, text, opts=None):
    '''The message kinds of a query (warn/err with the error class) and its nodes.'''
    out = []
    async for mesg in core.storm(text, opts=opts):
        if mesg[0] == 'warn':
            out.append(('warn',))
        elif mesg[0] == 'err':
            out.append(('err', mesg[1][0]))
        elif mesg[0] == 'print':
            out.append(('print', norm(mesg[1]['mesg'])))
        elif mesg[0] == 'node':
            out.append(('node', tuple(mesg[1][0]), sorted(mesg[1][1].get('tags', {}).items())))
    return out


INGEST = [
    (('inet:fqdn', 'ingest.com'), {'tags': {'ing': (None, None)}}),
    (('inet:ipv4', 'nope'), {}),
    (('nope:nope', 'x'), {}),
    (('inet:fqdn', 'ingest2.com'), {'tags': {'ing': (None, None)}}),
]
GENR = [
    (('inet:fqdn', 'genr.com'), {'tags': {'gen': (None, None)}}),
    (('inet:ipv4', 'nope'), {}),
    (('inet:ipv4', '9.9.9.9'), {}),
]

# (query, vars)
STORM = [
    ('$lib.print($lib.feed.list())', {}),
    # bad items are skipped with a warning, good ones are there after (not a bad property
    # value: its warning crashes the reference's Storm session, NotMsgpackSafe)
    ('$lib.feed.ingest(syn.nodes, $items) #ing', {'items': INGEST}),
    # genr yields the nodes
    ('yield $lib.feed.genr(syn.nodes, $items)', {'items': GENR}),
    ('for $n in $lib.feed.genr(syn.nodes, $items) { $lib.print($n.repr()) }', {'items': GENR}),
    ('$lib.print($lib.feed.ingest(syn.nodes, ()))', {}),
    ('$lib.print($lib.feed.ingest(syn.nodes, $lib.null))', {}),
    ('$lib.feed.ingest(nope.feed, ())', {}),
    ('yield $lib.feed.genr(nope.feed, ())', {}),
    # a literal list of packed nodes
    ('yield $lib.feed.genr(syn.nodes, (((inet:fqdn, lit.com), ({"tags": {"lit": (null, null)}})),))', {}),
    # edits made earlier in the query come first
    ('[inet:fqdn=before.com] $lib.feed.ingest(syn.nodes, $items) | spin | inet:fqdn=before.com',
     {'items': [(('inet:fqdn', 'before.com'), {'tags': {'after': (None, None)}})]}),
]

LOWPRIV = [
    '$lib.feed.ingest(syn.nodes, ())',
    'yield $lib.feed.genr(syn.nodes, ())',
]


async def tool(core, argv):
    outp = s_output.OutPutStr()
    ret = await s_feed.main(argv, outp=outp)
    lines = [re.sub(r'Took \[[^]]*\]', 'Took [X]', line).replace('/ref/', '/X/').replace('/our/', '/X/')
             for line in str(outp).splitlines()]
    return ret, lines


async def compare_core(name, core, url, dirn, lowurl):
    res = {}
    res['funcs'] = await core.getFeedFuncs()
    res['add'] = await core.addFeedData('syn.nodes', ITEMS)
    res['nodes'] = await nodes(core)
    res['extras'] = await extras(core)
    res['nosuchname'] = await errname(core.addFeedData('nope.nope', ITEMS))
    res['nosuchview'] = await errname(core.addFeedData('syn.nodes', ITEMS, viewiden='f' * 32))
    res['badname'] = await errname(core.addFeedData('syn.nodes', ITEMS, viewiden=10))

    # into a fork: there, not in the default view
    fork = await core.callStorm('return($lib.view.get().fork().iden)')
    forkitems = [(('inet:fqdn', 'fork.com'), {'tags': {'fork': (None, None)}})]
    res['fork'] = await core.addFeedData('syn.nodes', forkitems, viewiden=fork)
    res['forknodes'] = await nodes(core, 'inet:fqdn=fork.com', opts={'view': fork})
    res['mainnodes'] = await nodes(core, 'inet:fqdn=fork.com')

    # the CoreApi has no view/layer management methods
    res['addView'] = await errname(core.addView({'layers': []}))
    res['addLayer'] = await errname(core.addLayer())
    res['listViews'] = await errname(core.listViews())
    res['delView'] = await errname(core.delView(fork))

    # permissions: feed:data.syn.nodes on the write layer is enough to add nodes
    user = await core.addUser('low', passwd='secret')
    async with await s_telepath.openurl(lowurl) as low:
        res['lowdeny'] = await errname(low.addFeedData('syn.nodes', ITEMS))
        res['lowstorm'] = [await messages(low, text) for text in LOWPRIV]
        await core.addUserRule(user['iden'], (True, ('feed:data', 'syn', 'nodes')))
        lowitems = [(('inet:fqdn', 'low.com'), {'tags': {'low': (None, None)}})]
        res['lowadd'] = await errname(low.addFeedData('syn.nodes', lowitems))
        res['lownodes'] = await nodes(core, 'inet:fqdn=low.com')
        res['lowgenr'] = await messages(low, 'yield $lib.feed.genr(syn.nodes, ((("inet:fqdn", "lowgenr.com"), ({})),))')

    # the feed tool: json and msgpack files, chunks, an offset, a view
    dirn = os.path.join(dirn, name)
    os.makedirs(dirn)
    jsonpath = os.path.join(dirn, 'items.json')
    with open(jsonpath, 'w') as fd:
        json.dump([[['inet:fqdn', f'json{i}.com'], {'tags': {'json': [None, None]}}] for i in range(5)], fd)
    mpkpath = os.path.join(dirn, 'items.nodes')
    with open(mpkpath, 'wb') as fd:
        for i in range(5):
            fd.write(s_msgpack.en((('inet:fqdn', f'mpk{i}.com'), {'tags': {'mpk': (None, None)}})))
    res['tool'] = await tool(core, ['--cortex', url, '--chunksize', '2', jsonpath, mpkpath])
    res['toolnodes'] = await nodes(core, '#json #mpk')
    res['tooloffset'] = await tool(core, ['--cortex', url, '--chunksize', '2', '--offset', '3',
                                          '--view', fork, mpkpath])
    res['toolfork'] = await nodes(core, '#mpk', opts={'view': fork})

    # $lib.feed in Storm
    res['storm'] = [await messages(core, text, opts={'vars': vars}) for text, vars in STORM]

    # $lib.feed.fromAxon over a msgpack file in the Axon
    async with await core.getAxonUpload() as upfd:
        for i in range(3):
            await upfd.write(s_msgpack.en((('inet:fqdn', f'axon{i}.com'), {'tags': {'axon': (None, None)}})))
        size, sha256 = await upfd.save()
    res['fromaxon'] = await messages(core, '$lib.print($lib.feed.fromAxon($sha)) #axon',
                                     opts={'vars': {'sha': sha256.hex()}})
    return res


async def compare(ourport):
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(os.path.join(dirn, 'core')) as refcore:
            refurl = refcore.getLocalUrl()
            oururl = f'tcp://root:secret@127.0.0.1:{ourport}/'
            async with await s_telepath.openurl(refurl) as ref:
                want = await compare_core('ref', ref, refurl, dirn, refcore.getLocalUrl(user='low'))
            async with await s_telepath.openurl(oururl) as our:
                have = await compare_core('our', our, oururl, dirn, f'tcp://low:secret@127.0.0.1:{ourport}/')

        bad = []
        for key, valu in want.items():
            if have.get(key) != valu:
                bad.append(f'{key}\n  reference: {valu!r}\n  ours:      {have.get(key)!r}')
        assert not bad, '\n'.join(bad)

        # the deprecated module name, as a separate process against ours
        path = os.path.join(dirn, 'proc.json')
        with open(path, 'w') as fd:
            json.dump([[['inet:fqdn', 'proc.com'], {'tags': {'proc': [None, None]}}]], fd)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, '-m', 'synapse.tools.feed', '--cortex', oururl, path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        stdout, stderr = await proc.communicate()
        assert proc.returncode == 0, (stdout, stderr)
        assert b'Added [1] items from [proc.json] - offset [1]' in stdout, stdout
        async with await s_telepath.openurl(oururl) as our:
            got = await nodes(our, 'inet:fqdn=proc.com')
            assert [(n[0], n[2]) for n in got] == [
                (('inet:fqdn', 'proc.com'), [('proc', (None, None))])], got


if __name__ == '__main__':
    asyncio.run(compare(int(sys.argv[2])))
