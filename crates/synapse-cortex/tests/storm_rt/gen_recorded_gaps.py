'''
Storm gaps: node data carried on nodes (runtime/nodedata.rs: `$node.data.load`, set, pop,
`cacheget`/`cacheset`, node data lifts) and printing of Python-native lists and dicts
(runtime/pyvals.rs: `$lib.json.load` results, tuple literals). Runs them on the reference cortex and
writes recorded_gaps.json, which gaps.rs replays in process. Nodes are compared with their
node data (`nodedata` of the packed node).

    $SYNAPSE_REF_PYTHON gen_recorded_gaps.py
    REF_URL=tcp://root:secret@127.0.0.1:PORT/ $SYNAPSE_REF_PYTHON gen_recorded_gaps.py
'''
import asyncio, json, os, socket, subprocess, sys, tempfile
import synapse.telepath as s_telepath
def port():
    s = socket.socket(); s.bind(('127.0.0.1', 0)); p = s.getsockname()[1]; s.close(); return p
SETUP = [
 '[ inet:ipv4=1.2.3.4 :asn=10 +#mal.apt1 ] $node.data.set(foo, bar) $node.data.set(lst, (1, 2))',
 '[ inet:ipv4=5.6.7.8 ] $node.data.set(foo, baz)',
 '[ inet:fqdn=woot.com ]',
]
QUERIES = [
 # node data loaded onto the node
 'inet:ipv4=1.2.3.4 $node.data.load(foo)',
 'inet:ipv4=1.2.3.4 $node.data.load(nope)',
 'inet:ipv4=1.2.3.4 $node.data.load(foo) $node.data.load(lst)',
 'inet:ipv4 $node.data.load(foo)',
 'inet:ipv4=1.2.3.4 $node.data.load(foo) | [ +#x ]',
 'inet:ipv4=1.2.3.4 $node.data.load(foo) | spin | inet:ipv4=1.2.3.4',
 'inet:ipv4=1.2.3.4 $node.data.load(foo) { [ :asn=20 ] }',
 'inet:ipv4=1.2.3.4 $lib.print($node.data.load(foo))',
 'inet:ipv4=1.2.3.4 $node.data.get(foo)',
 'inet:ipv4=1.2.3.4 $node.data.set(baz, (1, 2))',
 'inet:ipv4=1.2.3.4 $node.data.pop(baz)',
 'inet:ipv4=1.2.3.4 $node.data.load(foo) $node.data.pop(foo) $node.data.set(foo, bar)',
 'inet:ipv4=1.2.3.4 $node.data.set(tmp, 1) $node.data.pop(tmp)',
 'inet:fqdn=woot.com $node.data.cacheset(c, hi)',
 'inet:fqdn=woot.com $lib.print($node.data.cacheget(c, asof="-1 day"))',
 'inet:fqdn=woot.com $lib.print($node.data.cacheget(c, asof="+1 day"))',
 'inet:fqdn=woot.com $lib.print($node.data.cacheget(nope))',
 'inet:fqdn=woot.com $node.data.load(c)',
 'inet:fqdn=woot.com $lib.print($node.data.get(c).data)',
 'yield $lib.lift.byNodeData(foo)',
 'inet:ipv4=5.6.7.8 $lib.print($node.data.list())',
 # printing Python-typed values
 '$lib.print($lib.json.load(\'[true, null, 1, "a", {"b": false}]\'))',
 '$lib.print($lib.json.load(\'{"a": true, "b": [null, 1.5]}\'))',
 '$lib.print($lib.json.load("true"))',
 '$lib.print($lib.json.load("null"))',
 '$lib.print($lib.json.load("[]"))',
 '$x = $lib.json.load("[true, false]") $lib.print(`{$x}`)',
 '$lib.print("{x}", x=$lib.json.load("[true, null]"))',
 '$lib.print(($lib.true, $lib.null))',
 '$lib.print(([$lib.true, $lib.false]))',
 '$lib.print(({"a": $lib.null, "b": $lib.true}))',
 '$lib.print($lib.list($lib.true, $lib.null, (1, "x")))',
 '$x = $lib.json.load(\'{"a": [true]}\') $lib.print($x.a)',
 '$x = $lib.json.load(\'[true, null]\') $x.append(1) $lib.print($x)',
 '$lib.print($lib.str.join(",", $lib.json.load(\'["a", "b"]\')))',
 '$x = $lib.json.load("[true]") $x.append("it\'s") $x.append("a\\\\b") $lib.print($x)',
 '$lib.print($lib.json.load(\'{"k": {"n": {}}}\'))',
 '$lib.print((1.0, 2.5, -0.0))',
 '$lib.warn($lib.json.load("[true]"))',
 '$x = ($lib.true, (1, $lib.null)) $lib.print($x)',
 '$lib.print(\'[true, {"a": null}]\'.json())',
 '$x = $lib.json.load(\'{"a": 1}\') $x.b = $lib.true $lib.print($x)',
 '$x = $lib.json.load(\'[1]\') $lib.print($lib.len($x)) $lib.print($x.0)',
 '$lib.print($lib.vars.type($lib.json.load("[1]")))',
 '$lib.print($lib.vars.type($lib.json.load(\'{"a": 1}\')))',
 '$lib.print($lib.vars.type((1, 2)))',
 '$x = $lib.json.load(\'{"a": [1, {"b": null}]}\') for ($k, $v) in $x { $lib.print($v) }',
 '$lib.print($lib.json.save($lib.json.load(\'[true, null]\')))',
 '$x = $lib.json.load(\'[true]\') $lib.print($lib.str.format("{v}", v=$x))',
]
def masktimes(valu):
    '''Times (of cacheset envelopes) differ between runs.'''
    if isinstance(valu, dict):
        return {k: masktimes(v) for k, v in valu.items()}
    if isinstance(valu, (list, tuple)):
        return [masktimes(v) for v in valu]
    if isinstance(valu, int) and not isinstance(valu, bool) and valu > 1500000000000:
        return 'time'
    return valu
def canon(mesg):
    '''The comparable part of a message (None to skip it).'''
    kind, info = mesg
    if kind == 'node':
        return ['node', info[0][0], info[0][1], masktimes(info[1].get('nodedata'))]
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
    for q in QUERIES:
        res = []
        async for m in proxy.storm(q):
            c = canon(m)
            if c is not None: res.append(c)
        out.append((q, res))
    await proxy.fini()
    return out
async def main():
    if os.environ.get('REF_URL'):
        # an already running reference cortex (fresh, root's password given in the URL)
        return write(await run(os.environ['REF_URL']))
    p = port()
    d = tempfile.mkdtemp()
    with open(os.path.join(d, 'cell.yaml'), 'w') as fd:
        fd.write('auth:passwd: secret\nlimit:disk:free: 1\n')
    # a nearly full disk must not stop the reference or its local axon and jsonstor
    for sub in ('axon', 'jsonstor'):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
        with open(os.path.join(d, sub, 'cell.yaml'), 'w') as fd:
            fd.write('limit:disk:free: 1\n')
    cmd = [sys.executable, '-m', 'synapse.servers.cortex', d, '--telepath', f'tcp://127.0.0.1:{p}/', '--https', '0']
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f'tcp://root:secret@127.0.0.1:{p}/'
    for i in range(3000):
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
    write(res)

def write(res):
    cases = [{'query': q, 'expect': mesgs} for q, (_, mesgs) in zip(QUERIES, res)]
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'recorded_gaps.json')
    with open(out, 'w') as fd:
        json.dump({'setup': SETUP, 'cases': cases}, fd, indent=1, sort_keys=True)

asyncio.run(main())
