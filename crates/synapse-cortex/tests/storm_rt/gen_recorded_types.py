'''
Cases for the tier-1 `$lib` functions and Storm type methods of typesmore.rs (time formats,
toUTC and ticker, hex sign extension, iters.zip, text, bytes unpack/gzip/xor, node data cache,
getByLayer, view set/addNode/getEdges/getFormCounts, layer getStorNode(s)/liftByProp/liftByTag/
edits/getPropCount/getTagCount/getEdges/getFormCounts, wipeLayer): runs them on the reference
cortex and writes recorded_types.json, which types.rs replays in process. Values that differ
between cortexes (idens, times) are kept out of the printed text by the queries themselves.

    $SYNAPSE_REF_PYTHON gen_recorded_types.py
    REF_URL=tcp://root:secret@127.0.0.1:PORT/ $SYNAPSE_REF_PYTHON gen_recorded_types.py
'''
import asyncio, json, os, socket, subprocess, sys, tempfile
import synapse.telepath as s_telepath
def port():
    s = socket.socket(); s.bind(('127.0.0.1', 0)); p = s.getsockname()[1]; s.close(); return p
SETUP = [
 '[ inet:ipv4=1.2.3.4 :asn=10 +#mal.apt1 ] $node.data.set(foo, bar)',
 '[ inet:fqdn=woot.com +#mal +(refs)> { inet:ipv4=1.2.3.4 } ]',
 '[ inet:ipv4=5.6.7.8 +(refs)> { inet:fqdn=woot.com } ]',
]
QUERIES = [
 '$lib.print($lib.time.formats)',
 '$lib.print($lib.time.formats.iso8601)',
 '$lib.print($lib.time.format(0, $lib.time.formats.rfc2822))',
 '$lib.print($lib.time.toUTC(2020-01-01, US/Eastern))',
 '$lib.print($lib.time.toUTC(20200701, America/New_York))',
 '$lib.print($lib.time.toUTC(0, US/Eastern))',
 '$r=$lib.time.toUTC("2020-11-01 01:30", US/Eastern) $lib.print($r.0) $lib.print($r.1.err) $lib.print($r.1.errmsg) $lib.print($r.1.errinfo)',
 '$r=$lib.time.toUTC(2020, Nope/Zone) $lib.print($r.0) $lib.print($r.1.errmsg)',
 'for $x in $lib.time.ticker(0.01, count=3) { $lib.print($x) }',
 'for $x in $lib.time.ticker(0.01, 2) { $lib.print($lib.vars.type($x)) }',
 '$lib.print($lib.hex.fromint(255, 4))',
 '$lib.print($lib.hex.fromint(-1, 2, signed=$lib.true))',
 '$lib.print($lib.hex.fromint(-128, 1, $lib.true))',
 '$lib.print($lib.hex.fromint(256, 1))',
 '$lib.print($lib.hex.fromint(-1, 1))',
 '$lib.print($lib.hex.signext(ff, 4))',
 '$lib.print($lib.hex.signext(7f, 6))',
 '$lib.print($lib.hex.trimext(ffff))',
 '$lib.print($lib.hex.trimext(00007f))',
 '$lib.print($lib.hex.trimext(ff7f))',
 '$lib.print($lib.hex.trimext(zz))',
 'for $x in $lib.iters.zip((1,2,3), (a,b)) { $lib.print($x) $lib.print($lib.vars.type($x)) }',
 '$lib.print($lib.model.tagprop(nope))',
 '$lib.print($lib.len($lib.user.iden))',
 '$lib.print($lib.vars.type($lib.user.iden))',
 '$t=$lib.text(a, b) $t.add(c) $t.add("{x}!", x=1) $lib.print($t.str())',
 '$lib.print($lib.text(a, b))',
 '$b=$lib.hex.decode(01000000) $lib.print($b.unpack("<I"))',
 '$b=$lib.hex.decode(0100ff00) $lib.print($b.unpack("<HbB"))',
 '$b=$lib.hex.decode(0102030405060708) $lib.print($b.unpack(">I", offset=4))',
 '$b=$lib.hex.decode(01000000) $lib.print($b.unpack(">I", offset=1))',
 '$b=$lib.hex.decode(01000000) $lib.print($b.unpack("<Z"))',
 '$b=$lib.hex.decode(3f800000) $lib.print($b.unpack(">f?xx"))',
 '$lib.print($lib.base64.decode("aGVsbG8=").gzip().gunzip())',
 '$lib.print($lib.base64.decode("aGVsbG8=").gzip().slice(0, 2))',
 '$lib.print($lib.base64.decode("aGVsbG8=").bzip().bunzip())',
 '$lib.print($lib.base64.decode("aGVsbG8=").bzip().slice(0, 3))',
 '$lib.print($lib.hex.decode(0102).gunzip())',
 '$b=$lib.hex.decode(3f80000001) $lib.print($b.unpack(">f?"))',
 '$b=$lib.hex.decode(0100000002000000) $lib.print($b.unpack("<2i"))',
 '$b=$lib.hex.decode(6869) $lib.print($b.unpack("2s"))',
 '$lib.print($lib.hex.encode($lib.hex.decode(0102ff).xor(ab)))',
 '$lib.print($lib.hex.decode(0102).xor(""))',
 'inet:ipv4=1.2.3.4 $node.data.cacheset(c, ({"x": [1, 2]})) $lib.print($node.data.cacheget(c, asof=-1day))',
 'inet:ipv4=1.2.3.4 $lib.print($node.data.cacheget(c, asof="+1 day"))',
 'inet:ipv4=1.2.3.4 $lib.print($node.data.cacheget(nope))',
 'inet:ipv4=1.2.3.4 $d=$node.getByLayer() $lib.print($lib.dict.keys($d)) $lib.print($lib.dict.keys($d.props)) $lib.print($lib.dict.keys($d.tags)) $lib.print(($d.ndef = $lib.layer.get().iden)) $lib.print(($d.props.asn = $lib.layer.get().iden))',
 '$lib.print($lib.view.get().set(name, foo)) $lib.print($lib.view.get().get(name))',
 '$lib.print($lib.view.get().set(nope, x))',
 '$n=$lib.view.get().addNode(inet:ipv4, 9.9.9.9, props=({"asn": 20})) $lib.print($n.repr()) $lib.print($n.props.asn)',
 'inet:ipv4=9.9.9.9 $lib.print(:asn)',
 'for $e in $lib.view.get().getEdges() { $lib.print($e) }',
 'for $e in $lib.view.get().getEdges(verb=refs) { $lib.print($e.1) }',
 'for $e in $lib.layer.get().getEdges() { $lib.print($e) }',
 '$lib.print($lib.layer.get().getStorNode($lib.hex.decode(aa)))',
 '$lib.print($lib.layer.get().getStorNode(abcd))',
 'inet:fqdn=woot.com $s=$lib.layer.get().getStorNode($node.iden()) $lib.print($s.valu) $lib.print($s.form) $lib.print($s.tags)',
 '$lib.print($lib.layer.get().getStorNode($lib.guid(x)))',
 'for ($buid, $sode) in $lib.layer.get().getStorNodes() { $lib.print(`{$lib.hex.encode($buid)} {$sode.form}`) }',
 'for $x in $lib.layer.get().liftByProp(inet:ipv4) { $lib.print($x.repr()) }',
 'for $x in $lib.layer.get().liftByProp(inet:ipv4:asn, 10) { $lib.print($x.repr()) }',
 'for $x in $lib.layer.get().liftByProp(inet:ipv4:asn, 15, ">") { $lib.print($x.repr()) }',
 'for $x in $lib.layer.get().liftByProp(inet:fqdn:domain) { $lib.print($x.repr()) }',
 'for $x in $lib.layer.get().liftByProp(nope:nope) { $lib.print($x.repr()) }',
 'for $x in $lib.layer.get().liftByTag(mal) { $lib.print($x.repr()) }',
 'for $x in $lib.layer.get().liftByTag(mal, inet:fqdn) { $lib.print($x.repr()) }',
 'for $x in $lib.layer.get().liftByTag(mal, nope:form) { $lib.print($x.repr()) }',
 '$n=(0) for $x in $lib.layer.get().edits(wait=$lib.false, size=(2)) { $n=($n+1) } $lib.print($n)',
 '$n=(0) for $x in $lib.layer.get().edits(offs=(1000000), wait=$lib.false) { $n=($n+1) } $lib.print($n)',
 'for $x in $lib.layer.get().edits(wait=$lib.false) { $lib.print($lib.vars.type($x.0)) break }',
 '$lib.print($lib.layer.get().getPropCount(inet:ipv4:asn))',
 '$lib.print($lib.layer.get().getPropCount(inet:ipv4))',
 '$lib.print($lib.layer.get().getPropCount(inet:ipv4, maxsize=1))',
 '$lib.print($lib.layer.get().getPropCount(nope:nope))',
 '$lib.print($lib.layer.get().getTagCount(mal))',
 '$lib.print($lib.layer.get().getTagCount(mal, formname=inet:ipv4))',
 '$lib.print($lib.layer.get().getTagCount(nope))',
 '$lib.print($lib.layer.get().getFormCounts())',
 'for ($k, $v) in $lib.view.get().getFormCounts() { $lib.print(`{$k}={$v}`) }',
 '$q=${ inet:ipv4 } $lib.print($q.size())',
 '$q=${ inet:ipv4 } $lib.print($q.size(limit=2))',
 '$lib.view.get().wipeLayer() $lib.print($lib.layer.get().getFormCounts())',
 'inet:ipv4',
]
def canon(mesg):
    '''The comparable part of a message (None to skip it).'''
    kind, info = mesg
    if kind == 'node':
        return ['node', info[0][0], info[0][1]]
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
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'recorded_types.json')
    with open(out, 'w') as fd:
        json.dump({'setup': SETUP, 'cases': cases}, fd, indent=1, sort_keys=True)

asyncio.run(main())
