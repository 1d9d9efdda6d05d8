'''
Cases for the `$lib` functions and Storm type methods added after the library audit
(gen_libaudit.py): $lib.dict.fromlist and the $lib.dict messages, number scaleb,
$lib.bytes.fromints, $lib.storm.eval/run, model type `mutable` and form `prop()`, layer
hasEdge/getEdgesByN1/getEdgesByN2/getNodeData/getNodeDataValu/getStorNodesByForm/
getTagPropCount/getPropArrayCount/getPropValues/getStorNodesByProp/liftByNodeData/
edited/name/setNodeDataValu/delNodeData/delEdge, view getPropCount/getTagPropCount/
getPropArrayCount/getPropValues/getEdgeVerbs/children/parent/triggers, $lib.auth.easyperm.
Runs them on an in-process reference cortex and writes recorded_libaudit.json, which libaudit.rs replays in process.

    $SYNAPSE_REF_PYTHON gen_recorded_libaudit.py
'''
import asyncio, json, os, tempfile

import synapse.cortex as s_cortex

SETUP = [
 '[ inet:ipv4=1.2.3.4 :asn=10 +#mal ] $node.data.set(foo, bar) $node.data.set(baz, (1, 2))',
 '[ inet:fqdn=woot.com +(refs)> { inet:ipv4=1.2.3.4 } +(seen)> { inet:ipv4=1.2.3.4 } ]',
 '[ inet:ipv4=5.6.7.8 :asn=10 +(refs)> { inet:fqdn=woot.com } ]',
 '[ ou:org=(o1,) :names=(foo, bar, foo) ]',
 '[ ou:org=(o2,) :names=(foo,) ]',
]
QUERIES = [
 '$lib.print($lib.dict.fromlist(((a, 1), (b, (2, 3)))))',
 '$d=$lib.dict.fromlist(((1, x),)) $lib.print($d)',
 '$lib.print($lib.dict.fromlist(foo))',
 '$lib.print($lib.dict.fromlist((a, b)))',
 '$lib.print($lib.dict.fromlist(((a, b, c),)))',
 '$lib.print($lib.dict.fromlist((((1, 2), b),)))',
 '$lib.print($lib.dict.keys(foo))',
 '$lib.print($lib.dict.keys(([1, 2])))',
 '$lib.print($lib.dict.values($lib.set()))',
 '$lib.print($lib.dict.has(({"a": 1}), a))',
 '$lib.print($lib.dict.pop(({"a": 1}), b))',
 '$lib.print($lib.dict.pop(({"a": 1}), b, default=5))',
 '$d=({"a": 1}) $lib.dict.update($d, ({"b": 2})) $lib.print($d)',
 '$lib.print($lib.dict.update(({}), ([1])))',
 '$lib.print($lib.math.number(1.5).scaleb(2).toint())',
 '$lib.print($lib.math.number(15).scaleb(-1))',
 '$lib.print($lib.math.number(1).scaleb(3).toint())',
 '$lib.print($lib.bytes.fromints((104, 105)))',
 '$lib.print($lib.bytes.fromints((256,)))',
 '$lib.print($lib.bytes.fromints(()))',
 '$lib.print($lib.bytes.fromints((a,)))',
 '$lib.print($lib.storm.eval("(1 + 2)"))',
 '$x=5 $lib.print($lib.storm.eval("$x"))',
 '$lib.print($lib.storm.eval("10", cast=inet:ipv4))',
 '$lib.print($lib.storm.eval("10", cast=inet:ipv4:asn))',
 '$lib.print($lib.storm.eval("10", cast=nope))',
 '$lib.print($lib.vars.type($lib.storm.eval(hi)))',
 'for $m in $lib.storm.run("$lib.print(hi) inet:ipv4=1.2.3.4") { if ($m.0 = "print") { $lib.print($m.1.mesg) } elif ($m.0 = "node") { $lib.print($m.1.0) } }',
 '$lib.print($lib.model.type(int).mutable)',
 '$lib.print($lib.model.type(array).mutable)',
 '$lib.print($lib.model.type(data).mutable)',
 '$lib.print($lib.model.type(inet:fqdn).mutable)',
 '$lib.print($lib.model.form(inet:ipv4).prop(asn).full)',
 '$lib.print($lib.model.form(inet:ipv4).prop(".created").full)',
 '$lib.print($lib.model.form(inet:ipv4).prop(nope))',
 'inet:ipv4=1.2.3.4 $lib.print($lib.layer.get().hasEdge($node.iden(), refs, $node.iden()))',
 'inet:fqdn=woot.com $n1=$node.iden() inet:ipv4=1.2.3.4 $lib.print($lib.layer.get().hasEdge($n1, refs, $node.iden()))',
 'inet:fqdn=woot.com for $e in $lib.layer.get().getEdgesByN1($node.iden()) { $lib.print($e) }',
 'inet:fqdn=woot.com for $e in $lib.layer.get().getEdgesByN1($node.iden(), verb=seen) { $lib.print($e) }',
 'inet:ipv4=1.2.3.4 for $e in $lib.layer.get().getEdgesByN2($node.iden()) { $lib.print($e) }',
 'inet:ipv4=1.2.3.4 for $d in $lib.layer.get().getNodeData($node.iden()) { $lib.print($d) }',
 'inet:ipv4=1.2.3.4 $lib.print($lib.layer.get().getNodeDataValu($node.iden(), baz))',
 'inet:ipv4=1.2.3.4 $lib.print($lib.layer.get().getNodeDataValu($node.iden(), nope))',
 'for ($buid, $sode) in $lib.layer.get().getStorNodesByForm(inet:ipv4) { $lib.print($sode.valu) }',
 'for $x in $lib.layer.get().getStorNodesByForm(nope:nope) { }',
 '$lib.print($lib.layer.get().getTagPropCount(mal, nope))',
 '$lib.print($lib.view.get().getTagPropCount(mal, nope))',
 '$lib.print($lib.layer.get().getPropArrayCount(ou:org:names))',
 '$lib.print($lib.layer.get().getPropArrayCount(ou:org:names, foo))',
 '$lib.print($lib.view.get().getPropArrayCount(ou:org:names))',
 '$lib.print($lib.view.get().getPropArrayCount(ou:org:names, bar))',
 '$lib.print($lib.view.get().getPropArrayCount(inet:ipv4:asn))',
 '$lib.print($lib.view.get().getPropArrayCount(nope:nope))',
 '$lib.print($lib.view.get().getPropCount(inet:ipv4:asn))',
 '$lib.print($lib.view.get().getPropCount(inet:ipv4:asn, valu=10))',
 '$lib.print($lib.view.get().getPropCount(inet:ipv4))',
 '$lib.print($lib.view.get().getPropCount(inet:ipv4, valu=1.2.3.4))',
 '$lib.print($lib.view.get().getPropCount(nope:nope))',
 'for $v in $lib.view.get().getEdgeVerbs() { $lib.print($v) }',
 '$n=(0) for $v in $lib.view.get().children() { $n=($n+1) } $lib.print($n)',
 '$lib.print($lib.auth.easyperm.level)',
 '$lib.print($lib.auth.easyperm.level.edit)',
 '$d=$lib.auth.easyperm.init() $lib.print($lib.dict.keys($d.permissions)) $lib.print($d.permissions.default) $lib.print($lib.len($d.permissions.users))',
 '$d=$lib.auth.easyperm.init(({"a": 1}), default=0) $lib.print($d.a) $lib.print($d.permissions.default) $lib.print($d.permissions.roles)',
 '$lib.auth.easyperm.init(foo)',
 '$lib.auth.easyperm.init(({}), default=5)',
 '$d=$lib.auth.easyperm.init() $lib.print($lib.auth.easyperm.allowed($d, 3))',
 '$lib.print($lib.auth.easyperm.allowed(({}), 4))',
 '$lib.print($lib.auth.easyperm.allowed(foo, 1))',
 '$lib.auth.easyperm.set(({}), nope, x, 1)',
 '$lib.auth.easyperm.set(({}), users, x, 9)',
 '$lib.auth.easyperm.set(foo, users, x, 1)',
 '$lib.print($lib.auth.easyperm.confirm(({}), 2))',
 '$lib.auth.easyperm.confirm(({}), -1)',
 'for $v in $lib.view.get().getPropValues(inet:ipv4:asn) { $lib.print($v) }',
 'for $v in $lib.view.get().getPropValues(inet:ipv4) { $lib.print($v) }',
 'for $v in $lib.view.get().getPropValues(inet:fqdn) { $lib.print($v) }',
 'for $v in $lib.view.get().getPropValues(nope:nope) { $lib.print($v) }',
 'for $v in $lib.layer.get().getPropValues(inet:ipv4:asn) { $lib.print($v) }',
 'for $v in $lib.layer.get().getPropValues(inet:ipv4) { $lib.print($v) }',
 'for $v in $lib.layer.get().getPropValues(nope:nope) { $lib.print($v) }',
 '$lib.print($lib.len($lib.view.get().triggers))',
 '$lib.print($lib.view.get().parent)',
 '$lib.print($lib.layer.get().name)',
 'for ($iden, $sode) in $lib.layer.get().getStorNodesByProp(inet:ipv4:asn, 10) { $lib.print($iden) $lib.print($sode.props.asn) }',
 'for ($iden, $sode) in $lib.layer.get().getStorNodesByProp(inet:ipv4) { $lib.print($iden) }',
 'for ($iden, $sode) in $lib.layer.get().getStorNodesByProp(inet:ipv4:asn, 5, ">") { $lib.print($sode.valu) }',
 'for $x in $lib.layer.get().getStorNodesByProp(nope:nope) { }',
 'for $n in $lib.layer.get().liftByNodeData(foo) { $lib.print($n.repr()) }',
 'for $n in $lib.layer.get().liftByNodeData(nope) { $lib.print($n.repr()) }',
 '$lib.print($lib.vars.type($lib.layer.get().edited()))',
 'inet:ipv4=1.2.3.4 $l=$lib.layer.get() $lib.print($l.setNodeDataValu($node.iden(), hehe, (1, 2))) $lib.print($l.setNodeDataValu($node.iden(), hehe, (1, 2))) $lib.print($l.getNodeDataValu($node.iden(), hehe))',
 '$lib.layer.get().setNodeDataValu(aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, a, b)',
 'inet:ipv4=1.2.3.4 $l=$lib.layer.get() $lib.print($l.delNodeData($node.iden(), hehe)) $lib.print($l.delNodeData($node.iden(), hehe)) $lib.print($l.getNodeDataValu($node.iden(), hehe))',
 '$lib.print($lib.layer.get().delNodeData(aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa))',
 '[ inet:fqdn=vertex.link ] $node.data.set(x, 1) $node.data.set(y, 2) $l=$lib.layer.get() $lib.print($l.delNodeData($node.iden())) $lib.print($node.data.list())',
 'inet:fqdn=woot.com $n1=$node.iden() inet:ipv4=1.2.3.4 $l=$lib.layer.get() $lib.print($l.delEdge($n1, seen, $node.iden())) $lib.print($l.delEdge($n1, seen, $node.iden())) $lib.print($l.hasEdge($n1, seen, $node.iden()))',
 '$f=$lib.view.get().fork() for $v in $lib.view.get().children() { $lib.print(($v.iden = $f.iden)) }',
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

async def main():
    out = []
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(dirn) as core:
            for q in SETUP:
                async for m in core.storm(q):
                    if m[0] == 'err':
                        raise Exception(f'setup {q}: {m}')
            for q in QUERIES:
                res = []
                async for m in core.storm(q, opts={'repr': False}):
                    c = canon(m)
                    if c is not None:
                        res.append(c)
                out.append({'query': q, 'expect': res})
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'recorded_libaudit.json')
    with open(path, 'w') as fd:
        json.dump({'setup': SETUP, 'cases': out}, fd, indent=1, sort_keys=True)
        fd.write('\n')

if __name__ == '__main__':
    asyncio.run(main())
