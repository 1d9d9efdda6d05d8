'''
Record the reference's answers to the view merge requests and votes, view.merge(), detach,
insertParentFork/insertChildFork, swapLayer, addNodeEdits and the layer storage edits
(setStorNodeProp, delStorNode, delStorNodeProp), for `tests/core/viewmerge.rs` to replay
against our Cortex:

    $SYNAPSE_REF_PYTHON gen_viewmerge.py     # writes viewmerge_recorded.json

One fresh reference Cortex runs the SETUP queries as root, then each step in order as its
user: alice (may add views, member of `voters`), bob and carol (members of `voters`) and eve
(no permissions). Every query starts with FUNCS, which finds a view by name. A step
`{"wait": name}` waits until the view `name` is gone (a quorum merge runs in the background).
Messages are kept as [kind, text] (print, warn) or ['err', class, mesg] and nodes as their
ndef; 32-hex idens are masked.
'''
import os
import re
import json
import asyncio
import tempfile

import synapse.cortex as s_cortex
import synapse.lib.cell as s_cell

# a throwaway cortex: never refuse to boot on a full disk
s_cell.shutil.disk_usage = lambda path: s_cell.shutil._ntuple_diskusage(100, 0, 100)

HERE = os.path.dirname(os.path.abspath(__file__))

FUNCS = 'function v(n) { for $x in $lib.view.list() { if ($x.get(name) = $n) { return($x) } } return($lib.null) } '

SETUP = [
    '$lib.model.ext.addTagProp(score, (int, ({})), ({}))',
    '$r=$lib.auth.roles.add(voters) '
    '$a=$lib.auth.users.add(alice) $a.grant($r.iden) $a.addRule(([true, ["view"]])) '
    '$b=$lib.auth.users.add(bob) $b.grant($r.iden) '
    '$c=$lib.auth.users.add(carol) $c.grant($r.iden) '
    '$lib.auth.users.add(eve)',
    '[ inet:ipv4=1.2.3.4 :asn=10 ]',
]

STEPS = [
    # quorum settings
    ('root', '$lib.view.get().set(quorum, ({"count": 0, "roles": []}))'),
    ('root', '$lib.view.get().set(quorum, ({"roles": []}))'),
    ('root', '$lib.view.get().set(quorum, ({"count": 1, "roles": ["foo"]}))'),
    ('root', '$lib.view.get().set(quorum, ({"count": 1, "roles": [], "x": 1}))'),
    ('root', '$lib.view.get().set(quorum, (5))'),
    ('root', '$q=$lib.view.get().set(quorum, ({"count": 2, "roles": [$lib.auth.roles.byname(voters).iden]})) $lib.print($q.count)'),
    ('root', '$lib.print($lib.view.get().get(quorum).count) $lib.print($lib.len($lib.view.get().pack().quorum.roles))'),
    ('eve', '$lib.view.get().set(quorum, $lib.null)'),
    ('root', '$lib.print($lib.view.get().getMergingViews())'),
    ('root', '$lib.view.get().setMergeRequest()'),
    ('root', '$lib.print($lib.view.get().getMergeRequest())'),
    ('root', '$lib.print($lib.view.get().getMergeRequestSummary())'),
    # a fork and its merge request
    ('alice', '$f=$lib.view.get().fork(name=fork1) $lib.print($f.get(name)) $f.addNode(inet:fqdn, woot.com)'),
    ('alice', '$v(fork1).merge()'),
    ('root', '$f=$v(fork1) view.merge $f.iden'),
    ('alice', '$lib.print($v(fork1).getMergeRequest()) $lib.print($v(fork1).getMergeRequestSummary())'),
    ('bob', '$v(fork1).setMergeRequest()'),
    ('alice', '$v(fork1).setMergeComment(hehe)'),
    ('alice', '$m=$v(fork1).setMergeRequest(comment=hehe) $lib.print($lib.dict.keys($m)) $lib.print($m.comment) $lib.print(($m.creator = $lib.user.iden))'),
    ('alice', '$m=$v(fork1).getMergeRequest() $lib.print($lib.dict.keys($m)) $lib.print($m.comment)'),
    ('alice', '$m=$v(fork1).setMergeComment(haha) $lib.print($lib.dict.keys($m)) $lib.print($m.comment)'),
    ('bob', '$v(fork1).setMergeComment(nope)'),
    ('eve', '$v(fork1).setMergeVote()'),
    ('alice', '$v(fork1).setMergeVote()'),
    ('bob', '$m=$v(fork1).setMergeVote(approved=(false), comment=nope) $lib.print($lib.dict.keys($m)) $lib.print($m.approved) $lib.print($m.comment)'),
    ('bob', '$m=$v(fork1).setMergeVoteComment(changed) $lib.print($lib.dict.keys($m)) $lib.print($m.comment)'),
    ('eve', '$v(fork1).setMergeVoteComment(x)'),
    ('alice', '$s=$v(fork1).getMergeRequestSummary() $lib.print($lib.dict.keys($s)) $lib.print($s.merging) $lib.print($lib.len($s.votes)) $lib.print($s.quorum.count) $lib.print(($s.offset = $s.votes.0.offset))'),
    ('root', '$lib.print($lib.len($lib.view.get().getMergingViews()))'),
    ('alice', '$v(fork1).getMergingViews()'),
    ('carol', '$m=$v(fork1).setMergeVote() $lib.print($m.approved)'),
    ('alice', '$lib.print($v(fork1).getMergeRequestSummary().merging)'),
    ('eve', '$v(fork1).delMergeVote(useriden=$lib.auth.users.byname(bob).iden)'),
    ('eve', '$lib.print($v(fork1).delMergeVote())'),
    ('bob', '$m=$v(fork1).delMergeVote() $lib.print($m.approved) $lib.print($lib.len($v(fork1).getMergeRequestSummary().votes))'),
    ('alice', '$lib.print($v(fork1).getMergeRequestSummary().merging)'),
    ('bob', '$m=$v(fork1).setMergeVote() $lib.print($m.approved)'),
    {'wait': 'fork1'},
    ('root', '$lib.print($v(fork1))'),
    ('root', 'inet:fqdn=woot.com'),
    ('root', 'for $m in $lib.view.get().getMerges() { $lib.print($lib.dict.keys($m)) $lib.print($lib.len($m.votes)) $lib.print($m.comment) }'),
    ('root', '$lib.print($lib.len($lib.view.get().getMergingViews()))'),
    # votes count only at the fork's current edit offset
    ('alice', '$f=$lib.view.get().fork(name=fork2) $f.setMergeRequest()'),
    ('bob', '$lib.print($v(fork2).setMergeVote().approved)'),
    ('alice', '$v(fork2).addNode(inet:fqdn, vertex.link)'),
    ('carol', '$lib.print($v(fork2).setMergeVote().approved)'),
    ('alice', '$s=$v(fork2).getMergeRequestSummary() $lib.print($s.merging) $lib.print($lib.len($s.votes))'),
    ('root', 'inet:fqdn=vertex.link'),
    ('eve', '$v(fork2).delMergeRequest()'),
    ('alice', '$m=$v(fork2).delMergeRequest() $lib.print($m.comment) $lib.print($v(fork2).getMergeRequest()) $lib.print($v(fork2).getMergeRequestSummary())'),
    ('alice', '$lib.print($v(fork2).delMergeRequest())'),
    ('alice', '$v(fork2).setMergeRequest()'),
    ('root', '$lib.view.get().set(quorum, $lib.null) $lib.print($v(fork2).getMergeRequest())'),
    ('alice', '$v(fork2).setMergeRequest()'),
    ('alice', '$v(fork2).delMergeVote()'),
    ('alice', '$v(fork2).getMergingViews()'),
    # detach
    ('eve', '$v(fork2).detach()'),
    ('alice', '$v(fork2).detach() $lib.print($lib.view.get($v(fork2).iden).parent) $lib.print($lib.len($v(fork2).layers))'),
    ('alice', '$v(fork2).detach()'),
    ('root', '$lib.view.get().detach()'),
    # merge() without a quorum
    ('root', '$lib.view.get().merge()'),
    ('alice', '$f=$lib.view.get().fork(name=fork3) $f.addNode(inet:fqdn, merged.com)'),
    ('alice', '$v(fork3).merge()'),
    ('root', '$v(fork3).merge() $lib.print($lib.len($v(fork3).layers)) inet:fqdn=merged.com'),
    ('root', '$v(fork3).set(protected, (true)) $v(fork3).merge()'),
    ('root', '$f=$v(fork3) $f.set(protected, (false)) $k=$f.fork(name=kid3) $f.merge()'),
    # insertParentFork / insertChildFork
    ('root', '$lib.view.get().insertParentFork()'),
    ('eve', '$v(fork3).insertParentFork()'),
    ('eve', '$v(fork3).insertChildFork()'),
    ('root', '$f=$v(fork3) $p=$f.insertParentFork() $lib.print($p.get(name)) $f=$lib.view.get($f.iden) $lib.print(($f.parent = $p.iden)) $lib.print(($p.parent = $lib.view.get().iden)) $lib.print($lib.len($f.layers)) $lib.print($lib.len($lib.view.get($v(kid3).iden).layers))'),
    ('root', '$p=$v(fork3).insertParentFork(name=named) $lib.print($p.get(name)) $lib.print($lib.len($p.layers))'),
    ('root', '$c=$lib.view.get().insertChildFork() $lib.print($c.get(name)) $lib.print(($c.parent = $lib.view.get().iden)) $n=(0) for $k in $lib.view.get().children() { $n=($n+1) } $lib.print($n) $n=(0) for $k in $c.children() { $n=($n+1) } $lib.print($n)'),
    ('root', '$c=$v(fork3).insertChildFork(name=kidfork) $lib.print($c.get(name)) $lib.print(($lib.view.get($v(kid3).iden).parent = $c.iden)) $lib.print($lib.len($lib.view.get($v(kid3).iden).layers))'),
    # swapLayer
    ('eve', '$v(fork3).swapLayer()'),
    ('root', '$f=$v(kid3) $f.addNode(inet:fqdn, swapped.com) $old=$f.layers.0.iden $f.swapLayer() $n=$lib.view.get($f.iden) $lib.print(($n.layers.0.iden = $old)) $lib.print($lib.len($n.layers)) $lib.print($n.layers.0.get(name))'),
    ('root', '$lib.print($lib.len($v(kid3).getFormCounts()))'),
    # addNodeEdits
    ('root', '$f=$lib.view.get().fork(name=edits) $f.addNode(inet:fqdn, replayed.com, props=({"issuffix": true})) for ($offs, $edits) in $f.layers.0.edits(wait=(false)) { $lib.view.get().addNodeEdits($edits) }'),
    ('root', 'inet:fqdn=replayed.com $lib.print(:issuffix) $lib.print(:host)'),
    ('eve', 'inet:ipv4=1.2.3.4 $b=$lib.hex.decode($node.iden()) $lib.view.get().addNodeEdits(([[$b, "inet:ipv4", [[4, ["foo.baz", [null, null], null], []]]]])) | -inet:ipv4'),
    # layer storage edits
    ('eve', 'inet:ipv4=1.2.3.4 $lib.layer.get().setStorNodeProp($node.iden(), inet:ipv4:asn, 20)'),
    ('eve', 'inet:ipv4=1.2.3.4 $lib.layer.get().delStorNodeProp($node.iden(), inet:ipv4:asn)'),
    ('eve', 'inet:ipv4=1.2.3.4 $lib.layer.get().delStorNode($node.iden())'),
    ('root', 'inet:ipv4=1.2.3.4 $l=$lib.layer.get() $lib.print($l.setStorNodeProp($node.iden(), inet:ipv4:asn, 20)) $lib.print($l.setStorNodeProp($node.iden(), inet:ipv4:asn, 20))'),
    ('root', 'inet:ipv4=1.2.3.4 $lib.print(:asn)'),
    ('root', 'inet:ipv4=1.2.3.4 $lib.layer.get().setStorNodeProp($node.iden(), nope:nope, 20)'),
    ('root', 'inet:ipv4=1.2.3.4 $lib.layer.get().setStorNodeProp($node.iden(), inet:ipv4:asn, newp)'),
    ('root', 'inet:ipv4=1.2.3.4 $l=$lib.layer.get() $lib.print($l.delStorNodeProp($node.iden(), inet:ipv4:asn)) $lib.print($l.delStorNodeProp($node.iden(), inet:ipv4:asn))'),
    ('root', 'inet:ipv4=1.2.3.4 $lib.print(:asn)'),
    ('root', 'inet:ipv4=1.2.3.4 $lib.layer.get().delStorNodeProp($node.iden(), nope:nope)'),
    ('root', '[ inet:fqdn=edges.com +(refs)> { inet:ipv4=1.2.3.4 } ] inet:ipv4=1.2.3.4 [ +(refs)> { inet:fqdn=edges.com } ]'),
    ('root', 'inet:ipv4=1.2.3.4 $l=$lib.layer.get() $lib.print($l.delStorNode($node.iden())) $lib.print($l.delStorNode($node.iden())) $lib.print($l.getStorNode($node.iden()))'),
    ('root', 'inet:ipv4=1.2.3.4'),
    ('root', 'inet:fqdn=edges.com -(refs)> *'),
    ('root', 'inet:fqdn=edges.com <(refs)- *'),
    ('root', '$lib.print($lib.layer.get().delStorNode(aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa))'),
    ('root', '$lib.layer.get().delStorNode(nope)'),
    # verify
    ('root', '[ inet:ipv4=5.6.7.8 :asn=5 +#foo.bar=2020 +#foo:score=10 ] for $e in $lib.layer.get().verify() { $lib.print($e) }'),
    ('root', 'for $e in $lib.layer.get().verify(({"scanall": false, "scans": {"tagindex": {"include": ["foo.*"]}}})) { $lib.print($e) } $lib.print(done)'),
    ('root', 'for $e in $lib.layer.get().verify(({"scans": {"tagindex": {"autofix": "newp"}}})) { }'),
    ('root', 'for $e in $lib.layer.get().verify(({"scans": {"propindex": {"autofix": "node"}}})) { }'),
    ('root', 'for $e in $lib.layer.get().verify(({"scans": {"tagpropindex": {"autofix": "newp"}}})) { }'),
    ('root', 'for $e in $v(kid3).layers.0.verify() { $lib.print($e) } $lib.print(done)'),
]

IDEN = re.compile(r'[0-9a-f]{32}')


def mask(text):
    return IDEN.sub('<iden>', text)


def canon(mesg):
    kind, info = mesg
    if kind == 'node':
        return ['node', json.loads(mask(json.dumps(info[0])))]
    if kind in ('print', 'warn'):
        return [kind, mask(info.get('mesg'))]
    if kind == 'err':
        return ['err', info[0], mask(info[1].get('mesg', ''))]
    return None


async def run(core, text, opts):
    out = []
    async for mesg in core.storm(FUNCS + text, opts=opts):
        item = canon(mesg)
        if item is not None:
            out.append(item)
    return out


async def wait_gone(core, name):
    for _ in range(500):
        if not any(v.info.get('name') == name for v in core.views.values()):
            return
        await asyncio.sleep(0.02)
    raise Exception(f'view {name} was not merged')


async def main():
    steps = []
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(dirn) as core:
            for text in SETUP:
                msgs = await core.stormlist(text)
                errs = [m for m in msgs if m[0] == 'err']
                if errs:
                    raise Exception(f'setup {text}: {errs}')
            for step in STEPS:
                if isinstance(step, dict):
                    await wait_gone(core, step['wait'])
                    steps.append(step)
                    continue
                name, text = step
                opts = {'repr': False}
                if name != 'root':
                    user = await core.auth.getUserByName(name)
                    opts['user'] = user.iden
                steps.append({'user': name, 'query': text, 'expect': await run(core, text, opts)})
    with open(os.path.join(HERE, 'viewmerge_recorded.json'), 'w') as fd:
        json.dump({'funcs': FUNCS, 'setup': SETUP, 'steps': steps}, fd, indent=1)
        fd.write('\n')


if __name__ == '__main__':
    asyncio.run(main())
