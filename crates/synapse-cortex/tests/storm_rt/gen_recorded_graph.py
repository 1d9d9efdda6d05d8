'''
Cases for the subgraph projection (`graph` command and `graph` option), `once` and `tag.prune`:
runs them on the reference cortex and writes recorded_graph.json, which graph.rs replays in
process. Nodes are compared with their tags, path metadata and `path.edges` (sorted), in order.

    $SYNAPSE_REF_PYTHON gen_recorded_graph.py
'''
import asyncio, json, os, socket, subprocess, sys, tempfile
import synapse.telepath as s_telepath
def port():
    s = socket.socket(); s.bind(('127.0.0.1', 0)); p = s.getsockname()[1]; s.close(); return p
SETUP = [
 '[ inet:ipv4=1.2.3.4 :asn=10 +#mal.apt1.x +#mal.apt2 +#other.tag ]',
 '[ inet:dns:a=(woot.com, 1.2.3.4) inet:dns:a=(vertex.link, 1.2.3.4) ]',
 '[ inet:fqdn=woot.com +(refs)> { inet:ipv4=1.2.3.4 } ]',
 '[ meta:note=* :text=hi +(about)> { inet:fqdn=woot.com } ]',
]
QUERIES = [
 ('inet:fqdn=woot.com | graph', {}),
 ('inet:fqdn=woot.com | graph --refs', {}),
 ('inet:fqdn=woot.com | graph --refs --degrees 2', {}),
 ('inet:fqdn=woot.com | graph --degrees 2 --pivot { -> * } --pivot { <- * }', {}),
 ('inet:ipv4 | graph --degrees 3 --pivot { <- * } --filter { -inet:fqdn }', {}),
 ('inet:ipv4 | graph --degrees 3 --pivot { <- * } --filter { -inet:fqdn } --yield-filtered', {}),
 ('inet:ipv4 | graph --form-pivot inet:ipv4 { <- * } --form-filter inet:dns:a { +:fqdn=woot.com }', {}),
 ('inet:ipv4 | graph --form-pivot * { <- * } --no-edges', {}),
 ('inet:fqdn=woot.com', {'graph': True}),
 ('inet:ipv4', {'graph': {'degrees': 1, 'pivots': ['<- *'], 'existing': []}}),
 ('inet:ipv4 | graph --refs --no-filter-input --filter { -inet:ipv4 }', {}),
 ('inet:ipv4 | graph --refs --filter { -inet:ipv4 }', {}),
 ('inet:ipv4 | once foo', {}),
 ('inet:ipv4 | once foo', {}),
 ('inet:ipv4 | once foo --asof now', {}),
 ('inet:ipv4 | once foo --asof -1day', {}),
 ('inet:ipv4 | once bar | [ +#once ]', {}),
 ('inet:ipv4 | tag.prune mal.apt1.x', {}),
 ('inet:ipv4 | tag.prune mal.apt2', {}),
 ('inet:ipv4 | tag.prune other.tag nope', {}),
 ('inet:ipv4 | tag.prune', {}),
 ('$t=mal inet:ipv4 | tag.prune $node.value()', {}),
]
def canon(mesg):
    '''The comparable part of a message (None to skip it).'''
    kind, info = mesg
    if kind == 'node':
        (form, valu), inf = info
        path = inf.get('path', {})
        edges = sorted(json.dumps(e, sort_keys=True) for e in path.get('edges', []))
        return ['node', form, valu, sorted(inf.get('tags', {}).keys()), {k: v for k, v in path.items() if k != 'edges'}, edges]
    if kind in ('print', 'warn'):
        return [kind, info.get('mesg')]
    if kind == 'err':
        return ['err', info[0], info[1].get('mesg')]
    return None
async def run(url):
    proxy = await s_telepath.openurl(url)
    out = []
    for q in SETUP:
        async for m in proxy.storm(q): pass
    for q, opts in QUERIES:
        res = []
        async for m in proxy.storm(q, opts=opts):
            c = canon(m)
            if c is not None: res.append(c)
        out.append((q, res))
    await proxy.fini()
    return out
async def main():
    p = port()
    d = tempfile.mkdtemp()
    with open(os.path.join(d, 'cell.yaml'), 'w') as fd:
        fd.write('auth:passwd: secret\n')
    cmd = [sys.executable, '-m', 'synapse.servers.cortex', d, '--telepath', f'tcp://127.0.0.1:{p}/']
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f'tcp://root:secret@127.0.0.1:{p}/'
    for i in range(600):
        try:
            pr = await s_telepath.openurl(url)
            await pr.fini()
            break
        except Exception:
            await asyncio.sleep(0.2)
    try:
        res = await run(url)
    finally:
        proc.terminate()
        proc.wait()
    cases = [{'query': q, 'opts': opts, 'expect': mesgs} for (q, opts), (_, mesgs) in zip(QUERIES, res)]
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'recorded_graph.json')
    with open(out, 'w') as fd:
        json.dump({'setup': SETUP, 'cases': cases}, fd, indent=1, sort_keys=True)

asyncio.run(main())
