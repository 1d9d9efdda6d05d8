'''
Cases for the flow and generator commands (runtime/flow.rs, runtime/gen.rs: batch, parallel,
background, storm.exec, copyto, colorize, gen.*, $lib.gen) and for how $lib.print shows
nested values: runs them on a reference cortex (in process) and writes recorded_flow.json, which flow.rs
replays in process. Nodes are compared by form, value, props (without .created) and tag names; view and layer
idens and times in messages are masked.

    $SYNAPSE_REF_PYTHON gen_recorded_flow.py
'''
import asyncio, json, os, re, tempfile
import synapse.cortex as s_cortex
import synapse.lib.cell as s_cell
# a throwaway cortex: never refuse to boot on a full disk
s_cell.shutil.disk_usage = lambda path: s_cell.shutil._ntuple_diskusage(100, 0, 100)
SHA = 'a' * 64
SETUP = [
 '[ inet:ipv4=1.1.1.1 inet:ipv4=1.1.1.2 inet:ipv4=1.1.1.3 inet:ipv4=2.2.2.2 inet:ipv4=10.0.0.1 ]',
 '[ inet:fqdn=alpha.com inet:fqdn=beta.com ]',
 '[ (inet:asn=100 :name=hundred) (inet:asn=200) ]',
 '[ (inet:ipv4=1.1.1.1 :asn=100 +#mal) (inet:ipv4=1.1.1.2 :asn=200) ]',
]
FORK = '$main=$lib.view.get().iden $f=$lib.view.get().fork() '
QUERIES = [
 # batch
 'inet:ipv4 | batch $lib.false --size 2 { $lib.print($lib.len($nodes)) }',
 'inet:ipv4 | batch $lib.false { $lib.print($lib.len($nodes)) }',
 'inet:ipv4 | batch $lib.true --size 3 { for $n in $nodes { $lib.print($n.repr()) } }',
 'inet:ipv4 | batch $lib.true --size 2 { inet:fqdn }',
 'inet:ipv4 | batch $lib.false --size 4 { inet:fqdn=alpha.com $y=$node.repr() } | $lib.print($y)',
 'batch $lib.false { $lib.print(none) }',
 'inet:ipv4 | batch $lib.false --size 20000 { }',
 'inet:ipv4 | batch $node { }',
 'inet:ipv4 | batch $lib.false --size 2 { $lib.print($nodex) }',
 'inet:ipv4 | batch $lib.false --size 5 { [ +#batched ] }',
 'batch --help',
 # parallel
 'parallel --size 3 { $lib.print(hi) }',
 '$x=5 parallel --size 2 { $lib.print($x) }',
 'inet:ipv4 | parallel --size 1 { [ +#par ] }',
 'inet:ipv4 | parallel { +:asn } | count',
 'inet:ipv4=1.1.1.1 | parallel { $lib.print($node.repr()) }',
 'inet:ipv4 | parallel --size $node.value() { }',
 'inet:ipv4 | parallel { $lib.raise(Oops, boom) }',
 'parallel { $nope }',
 # background
 'inet:ipv4 | background { $lib.print(bg) }',
 'background { $nope }',
 'inet:ipv4 | background $node',
 'background { inet:ipv4 = }',
 # storm.exec
 '$q = "inet:ipv4=1.1.1.1" storm.exec $q',
 'inet:ipv4 | storm.exec "+:asn=100"',
 '$p = ${ -> inet:asn } inet:ipv4 | storm.exec $p',
 'inet:ipv4 | storm.exec `+inet:ipv4={$node.repr()} $lib.print($node.repr())`',
 'storm.exec "inet:fqdn ="',
 # copyto
 FORK + 'view.exec $f.iden { [ inet:ipv4=5.5.5.5 :asn=5 +#cp.x=2020 +(refs)> { inet:fqdn=alpha.com } ] $node.data.set(k, (1, 2)) } | view.exec $f.iden { inet:ipv4=5.5.5.5 | copyto $main } | inet:ipv4=5.5.5.5 $lib.print($node.data.get(k)) -(refs)> *',
 FORK + 'view.exec $f.iden { [ inet:ipv4=5.5.5.6 ] $node.data.set(k, v) } | view.exec $f.iden { inet:ipv4=5.5.5.6 | copyto --no-data $main } | inet:ipv4=5.5.5.6 $lib.print($node.data.get(k))',
 'inet:ipv4=1.1.1.1 | copyto nope',
 'inet:ipv4 | copyto $node',
 'inet:ipv4=1.1.1.1 | copyto $lib.view.get().iden',
 # movenodes (layer idens are masked)
 '[ inet:ipv4=8.8.8.8 :asn=8 +#eight ] $node.data.set(d8, 8)',
 FORK + 'view.exec $f.iden { inet:ipv4=8.8.8.8 [ :loc=us +#mv.x=2020 ] $node.data.set(d, 1) [ +(refs)> { inet:fqdn=alpha.com } ] } | view.exec $f.iden { inet:ipv4=8.8.8.8 | movenodes }',
 FORK + 'view.exec $f.iden { inet:ipv4=8.8.8.8 [ :loc=us +#mv.x=2020 ] $node.data.set(d, 1) [ +(refs)> { inet:fqdn=alpha.com } ] } | view.exec $f.iden { inet:ipv4=8.8.8.8 | movenodes --apply } | view.exec $f.iden { inet:ipv4=8.8.8.8 $lib.print($node.tags()) $lib.print($node.props.loc) $lib.print($node.data.get(d8)) -(refs)> * $lib.print($node.repr()) } | inet:ipv4=8.8.8.8 $lib.print(stillhere)',
 'inet:ipv4=1.1.1.1 | movenodes',
 'movenodes',
 FORK + 'view.exec $f.iden { movenodes --destlayer nope }',
 FORK + 'view.exec $f.iden { $top=$lib.view.get().layers.0.iden movenodes --srclayers $top }',
 FORK + 'view.exec $f.iden { movenodes --srclayers nope }',
 FORK + 'view.exec $f.iden { movenodes --precedence nope }',
 FORK + 'view.exec $f.iden { $top=$lib.view.get().layers.0.iden movenodes --precedence $top }',
 FORK + '$g=$f.fork() view.exec $g.iden { $l=$lib.view.get().layers $bot=$l.2.iden $top=$l.0.iden movenodes --srclayers $bot --precedence $top $bot $l.1.iden }',
 'inet:ipv4 | movenodes --destlayer $node.repr()',
 # colorize
 'inet:ipv4=1.1.1.1 | colorize red',
 'inet:ipv4=1.1.1.1 | colorize "#00ff00"',
 'inet:ipv4=1.1.1.1 | colorize Cyan',
 'inet:ipv4=1.1.1.1 | colorize nope',
 'inet:ipv4=1.1.1.1 | colorize',
 'inet:ipv4=1.1.1.1 | colorize ""',
 # gen commands
 'gen.ou.org vertex',
 'gen.ou.org vertex',
 'gen.ou.org.hq vertex',
 'gen.ou.org.hq vertex',
 'gen.risk.vuln CVE-2012-0157 Mandiant',
 'gen.risk.vuln cve-2012-0158',
 'gen.risk.vuln nope --try',
 'gen.risk.vuln nope',
 'gen.risk.vuln CVE-2012-0157 Mandiant',
 'gen.risk.vuln cve-2012-0158 vertex',
 'gen.pol.country ua',
 'gen.pol.country.government ua',
 'gen.pol.country uaa --try',
 'gen.ps.contact.email vertex.employee visi@vertex.link',
 'gen.ps.contact.email vertex.employee visi@vertex.link',
 'gen.ps.contact.email vertex.employee nope --try',
 'gen.it.prod.soft rar',
 'gen.geo.place "new york"',
 'gen.lang.language english',
 'gen.ou.industry finance',
 'gen.ou.campaign apt1 mandiant',
 'gen.ou.campaign apt1 mandiant',
 'gen.risk.threat apt1 mandiant',
 'gen.risk.threat apt1 mandiant',
 'gen.risk.tool.software redtree vertex',
 'gen.risk.tool.software redtree vertex',
 'gen.ou.id.type duns',
 'gen.ou.id.number duns 1234',
 'gen.it.av.scan.result inet:fqdn vertex.link foosig',
 'gen.it.av.scan.result inet:fqdn vertex.link foosig --scanner-name bar --time 2022-11-03',
 'gen.it.av.scan.result inet:fqdn vertex.link foosig',
 'gen.it.av.scan.result inet:asn 10 sig',
 'gen.it.av.scan.result inet:fqdn "" sig --try',
 'inet:ipv4=1.1.1.1 | gen.ou.org foo',
 'inet:fqdn | gen.ou.org $node.repr()',
 'gen.ou.org',
 # $lib.gen
 '$lib.print($lib.gen.orgByName(x).repr())',
 'yield $lib.gen.orgByName(x)',
 'yield $lib.gen.orgByFqdn(vertex.link)',
 'yield $lib.gen.orgByFqdn(vertex.link)',
 'yield $lib.gen.orgByFqdn("", try=$lib.true)',
 'yield $lib.gen.newsByUrl(https://vertex.link/a)',
 f'yield $lib.gen.fileBytesBySha256({SHA})',
 f'yield $lib.gen.cryptoX509CertBySha256({SHA})',
 f'yield $lib.gen.inetTlsServerCertByServerAndSha256(tcp://1.2.3.4:443, {SHA})',
 'yield $lib.gen.langByCode(en)',
 'yield $lib.gen.langByName(english)',
 'yield $lib.gen.softByName(rar)',
 '$lib.gen.__foo',
 '$lib.gen.nope()',
 '$f = $lib.gen.orgByName yield $f(viaref)',
 # $lib.lift, $lib.tags, $lib.spooled
 'inet:ipv4=1.1.1.3 [ +#foo.bar.baz +#foo.bat +#foo.bar.qux.x ] $node.data.set(nd, 1) | spin',
 'inet:ipv4=2.2.2.2 $node.data.set(nd, 2) | spin',
 'yield $lib.lift.byNodeData(nd)',
 'yield $lib.lift.byNodeData(nope)',
 'yield $lib.lift.tagsByPref(foo)',
 'yield $lib.lift.tagsByPref(foo.ba)',
 'yield $lib.lift.tagsByPref(foo, depth=1)',
 'yield $lib.lift.tagsByPref(foo.bar, depth=5)',
 'yield $lib.lift.tagsByPref(zzz)',
 '$lib.print($lib.tags.prefix((Foo, "b a r", "", "x.y"), vtx))',
 '$lib.print($lib.tags.prefix((Foo, "b a r"), vtx, ispart=$lib.true))',
 '$s = $lib.spooled.set(a, b, a) $s.add(c) $lib.print($s.size()) for $x in $lib.sorted($s) { $lib.print($x) } $lib.print($s.has(b))',
 # $lib.cache
 '$c = $lib.cache.fixed(${ return(`{$cache_key}-val`) }) $lib.print($c.get(a)) $lib.print($c.get(a)) $lib.print($c.query)',
 '$test=foo function cb(key) { $test=$key return(`{$key}-v`) } $c = $lib.cache.fixed(${ return($cb($cache_key)) }) $lib.print($c.get(bar)) $lib.print($test)',
 '$test=foo $tests=([]) $c=$lib.cache.fixed(${ $test=$cache_key $tests.append($cache_key) return(`{$cache_key}-val`) }) $c.get(bar) $lib.print($test) $lib.print($tests)',
 '$c=$lib.cache.fixed(${ $lib.print(`miss {$cache_key}`) return($cache_key) }, size=2) $c.get(a) $c.get(b) $c.get(c) $c.get(a) $c.get(c)',
 '$c=$lib.cache.fixed(${ return(x) }) $c.put(k, v) $lib.print($c.get(k)) $lib.print($c.pop(k)) $lib.print($c.pop(k)) $c.put(k, v) $c.clear() $lib.print($c.get(k))',
 '$lib.cache.fixed(${ $lib.print(x) })',
 '$lib.cache.fixed(${ return(x) }, size=0)',
 '$lib.cache.fixed(${ return(x) }, size=10001)',
 '$c=$lib.cache.fixed(${ return(x) }) $c.get(([1]))',
 '$c=$lib.cache.fixed(${ if $lib.true { break } return(x) }) $c.get(a)',
 '$c=$lib.cache.fixed(${ return(x) }, size=3) $lib.print($c)',
 '$c=$lib.cache.fixed(${ return() }) $lib.print($c.get(a))',
 '$c=$lib.cache.fixed(${ return(($cache_key, (1, 2))) }) $lib.print($c.get(a))',
 # $lib.pipe (results that do not depend on when the filler runs)
 '$pipe = $lib.pipe.gen(${ $pipe.puts((1, 2, 3)) }) $n = (0) for $items in $pipe.slices(size=2) { $n = ($n + $lib.len($items)) } $lib.print($n)',
 '$pipe = $lib.pipe.gen(${ $pipe.put(a) $pipe.put(b) }) $lib.print($pipe.slice(size=1))',
 '$pipe = $lib.pipe.gen(${ inet:ipv4 $pipe.put($node.repr()) }) $all = ([]) for $items in $pipe.slices() { $all.extend($items) } for $x in $lib.sorted($all) { $lib.print($x) }',
 '$lib.pipe.gen(${ }, size=0)',
 '$lib.pipe.gen(${ }, size=10001)',
 '$pipe = $lib.pipe.gen(${ }) $lib.print($pipe.slice()) $lib.print($pipe.size())',
 '$pipe = $lib.pipe.gen(${ }) $pipe.slice(size=0)',
 '$x = 5 $pipe = $lib.pipe.gen(${ $pipe.put($x) }) $lib.print($pipe.slice())',
 # printing nested values (values the reference holds as plain Python lists and dicts, from
 # `(a, b)` literals or $lib.json.load, print with Python's repr: not matched yet)
 '$lib.print($lib.dict(a=$lib.true))',
 '$lib.print(([$lib.true, ["s", $lib.null]]))',
 '$lib.print($lib.list($lib.true, $lib.dict(x=$lib.false)))',
 '$d = ({"a": [$lib.true]}) $lib.print($d)',
 '$lib.print($lib.set($lib.true))',
 '$lib.print($lib.set())',
 '$lib.print($lib.set(x))',
 '$x = $lib.json.load(\'{"a": true}\') $lib.print($x.a)',
 '$lib.print(({"t": ([1, $lib.true]), "n": $lib.null, "s": "q\'x"}))',
 '$lib.print((["a", (["b", $lib.false])]))',
 'inet:ipv4=1.1.1.1 $lib.print($node.pack().1.tags)',
 '$lib.print($lib.str.format("{x}", x=({"a": $lib.true})))',
 '$lib.print(`{({"a": $lib.true})}`)',
 '$lib.warn(({"a": $lib.false}))',
]
def mask(text):
    '''Random view and layer idens (32 hex digits) and times (.created) masked.'''
    if not isinstance(text, str):
        return text
    text = re.sub(r'(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])', '<iden>', text)
    return re.sub(r'[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{3}', '<time>', text)
def canon(mesg):
    '''The comparable part of a message (None to skip it).'''
    kind, info = mesg
    if kind == 'node':
        (form, valu), inf = info
        props = {k: v for k, v in inf.get('props', {}).items() if k != '.created'}
        return ['node', form, valu, props, sorted(inf.get('tags', {}).keys())]
    if kind in ('print', 'warn'):
        return [kind, mask(info.get('mesg'))]
    if kind == 'err':
        return ['err', info[0], mask(info[1].get('mesg'))]
    return None
async def main():
    out = []
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(dirn) as core:
            for q in SETUP:
                async for m in core.storm(q): pass
            for q in QUERIES:
                res = []
                async for m in core.storm(q, opts={'repr': False}):
                    c = canon(m)
                    if c is not None: res.append(c)
                out.append({'query': q, 'expect': res})
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'recorded_flow.json')
    with open(path, 'w') as fd:
        json.dump({'setup': SETUP, 'cases': out}, fd, indent=1, sort_keys=True)

if __name__ == '__main__':
    asyncio.run(main())
