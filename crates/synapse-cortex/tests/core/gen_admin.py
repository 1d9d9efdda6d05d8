'''
Record the reference's answers to the administration commands and libraries of
`runtime/admin.rs` (tasks, views and layers, edge verb docs, deprecated locks, perms, index
counts, feeds, packages, daemons), for `tests/core/admin.rs` to replay against our Cortex:

    python gen_admin.py              # writes admin_recorded.json
    python gen_admin.py permdefs     # writes ../../data/permdefs-2.256.json

Each query runs once, in order, on one fresh reference Cortex, as root (and the LOWPRIV ones
as a user `lowuser` without permissions). Messages are kept as [kind, text] (print, warn) or
['err', class, mesg] and nodes as their ndef; 32-hex idens and printed times are masked.
'''
import os
import re
import sys
import json
import asyncio
import tempfile

import synapse.cortex as s_cortex
import synapse.lib.cell as s_cell

# a throwaway cortex: never refuse to boot on a full disk
s_cell.shutil.disk_usage = lambda path: s_cell.shutil._ntuple_diskusage(100, 0, 100)

HERE = os.path.dirname(os.path.abspath(__file__))

SETUP = [
    '[ inet:ipv4=1.2.3.4 :asn=10 +(refs)> { [ inet:fqdn=woot.com ] } ]',
    '[ inet:fqdn=vertex.link +(seen)> { inet:ipv4=1.2.3.4 } ]',
    '[ biz:dealtype=foo.bar :summary=sumsum ]',
]

# `(LAYR)` is replaced by `$lib.layer.get().iden`, the main layer.
QUERIES = '''
for $t in $lib.ps.list() { if $t.info.query.startswith('for $t') { $lib.print(($t.name, $t.user, $t.info, $lib.len($t.iden))) $lib.print($t.status) } }
ps.kill ffffffffffffffffffffffffffffffff
ps.kill zz
$lib.ps.kill(zzzz)
for $t in $lib.task.list() { if $t.info.query.startswith('for $t') { $lib.print(($t.name, $t.username, $t.info.query)) $lib.print($t.service) $lib.print($t.protected) $lib.print($t.background) $lib.print(($t.user = $lib.user.iden)) } }
task.kill ffffffffffffffffffffffffffffffff
task.kill ""
$lib.task.kill("")
$lib.print($lib.task.kill(zzz))
ps.list --help
task.kill --help
layer.add
layer.add --name foo --readonly
$l=$lib.layer.add(({"name": "bar"})) $lib.print($l.repr()) $lib.print($l.get(name)) $lib.print($l.get(nope, defv=5))
$l=$lib.layer.add() $lib.print($l.get(readonly)) $l.set(name, newname) $lib.print($l.repr()) $lib.layer.del($l.iden) $lib.print($lib.layer.get($l.iden))
$l=$lib.layer.add() layer.set $l.iden name hehe | layer.set $l.iden readonly $lib.true | layer.set $l.iden logedits $lib.false | layer.get $l.iden
$l=$lib.layer.add() layer.set $l.iden nope hehe
$l=$lib.layer.add() $l.set(mirror, (null)) $lib.print(ok)
$l=$lib.layer.add() $l.set(mirror, foo)
layer.set nope name hehe
layer.del nope
$l=$lib.layer.add() layer.del $l.iden
layer.del $lib.layer.get().iden
$lib.layer.del(nope)
view.add
view.add --layers $lib.layer.get().iden --name foo
view.add --layers nope
$l=$lib.layer.add() $v=$lib.view.add(($l.iden, $lib.layer.get().iden), name=two) $lib.print($v.repr())
$l=$lib.layer.add() view.add --layers $l.iden --worldreadable (true)
$v=$lib.view.add(($lib.layer.get().iden,)) view.set $v.iden name hehe | view.set $v.iden nope x
$v=$lib.view.add(($lib.layer.get().iden,)) view.del $v.iden | $lib.print($lib.view.get($v.iden))
$v=$lib.view.add(($lib.layer.get().iden,)) $lib.view.del($v.iden) $lib.print(gone)
view.del nope
view.del $lib.view.get().iden
$v=$lib.view.add(($lib.layer.get().iden,)) view.set $v.iden protected (true) | view.del $v.iden
view.set nope name x
$lib.view.del(nope)
$v=$lib.view.add(($lib.layer.get().iden,)) $lib.print($v.repr())
model.edge.list
model.edge.get refs
model.edge.get nope
model.edge.set refs doc "a reference"
model.edge.set refs nope x
model.edge.set nope doc x
model.edge.get refs
model.edge.list
$lib.print($lib.model.edge.get(refs)) $lib.print($lib.model.edge.validkeys())
$lib.print($lib.model.edge.list())
model.edge.del refs doc
model.edge.del refs doc
model.edge.get refs
model.edge.set seen doc "was seen"
model.edge.list
model.deprecated.locks
model.deprecated.lock nope:nope
model.deprecated.lock biz:dealtype:summary
model.deprecated.locks
$lib.print($lib.model.deprecated.locks().'biz:dealtype:summary')
model.deprecated.lock biz:dealtype:summary --unlock
model.deprecated.check
$lib.print($lib.len($lib.model.deprecated.locks()))
$lib.model.deprecated.lock(inet:ipv4, (true))
auth.perms.list --find node.add
auth.perms.list --find QUEUE
auth.perms.list --find nope
$lib.print($lib.len($lib.auth.getPermDefs()))
auth.user.allowed root foo.bar
auth.user.allowed lowuser foo.bar
auth.user.allowed lowuser view.read --gate $lib.view.get().iden
auth.user.allowed nope foo.bar
auth.user.add ruser | auth.user.addrule ruser node.add | auth.user.allowed ruser node.add.inet:ipv4
auth.user.addrule ruser "!node.add.inet:fqdn" | auth.user.allowed ruser node.add.inet:fqdn
auth.role.add rrole | auth.role.addrule rrole tag.add | auth.user.grant ruser rrole | auth.user.allowed ruser tag.add.foo
index.count.prop inet:ipv4
index.count.prop inet:ipv4:asn
index.count.prop inet:ipv4:asn --value 10
index.count.prop inet:ipv4:asn --value 11
index.count.prop inet:fqdn
index.count.prop nope
feed.list
pkg.list
pkg.list --verbose
$lib.print($lib.pkg.list()) $lib.print($lib.pkg.get(nope)) $lib.print($lib.pkg.has(nope))
dmon.list
$lib.print($lib.dmon.list())
'''.strip().split('\n')

LOWPRIV = '''
ps.list
layer.add
view.add --layers $lib.layer.get().iden
layer.set $lib.layer.get().iden name x
view.set $lib.view.get().iden name x
layer.del $lib.layer.get().iden
view.del $lib.view.get().iden
model.deprecated.lock biz:dealtype:summary
model.deprecated.locks
auth.user.allowed lowuser foo.bar
'''.strip().split('\n')

# the first query of a user without other tasks
LOWPRIV2 = ['task.list']

# queries whose messages come in the model's order, compared sorted
UNORDERED = ['model.deprecated.check']

IDEN = re.compile(r'[0-9a-f]{32}')
TIME = re.compile(r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d')


def mask(text):
    return TIME.sub('<time>', IDEN.sub('<iden>', text))


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
    # each query in its own task, as each telepath call is: the Boss lists that task
    async def collect():
        out = []
        async for mesg in core.storm(text, opts=opts):
            item = canon(mesg)
            if item is not None:
                out.append(item)
        return out
    return await asyncio.create_task(collect())


async def record():
    cases = []
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(dirn) as core:
            low = await core.auth.addUser('lowuser')
            for text in SETUP:
                await core.nodes(text)
            for text in QUERIES:
                cases.append({'query': text, 'user': 'root', 'expect': await run(core, text, {})})
            for text in LOWPRIV:
                opts = {'user': low.iden}
                cases.append({'query': text, 'user': 'lowuser', 'expect': await run(core, text, opts)})
            low2 = await core.auth.addUser('lowuser2')
            for text in LOWPRIV2:
                opts = {'user': low2.iden}
                cases.append({'query': text, 'user': 'lowuser2', 'expect': await run(core, text, opts)})
    for case in cases:
        if case['query'] in UNORDERED:
            case['unordered'] = True
    with open(os.path.join(HERE, 'admin_recorded.json'), 'w') as fd:
        json.dump({'setup': SETUP, 'cases': cases}, fd, indent=1)
        fd.write('\n')


async def permdefs():
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(dirn) as core:
            pdefs = core._getPermDefs()
    path = os.path.join(HERE, '..', '..', 'data', 'permdefs-2.256.json')
    with open(path, 'w') as fd:
        json.dump(pdefs, fd, indent=1)
        fd.write('\n')


if __name__ == '__main__':
    if sys.argv[1:] == ['permdefs']:
        asyncio.run(permdefs())
    else:
        asyncio.run(record())
