'''
The tier-2 Storm libraries and commands (queues, macros, auth) side by side: the same queries
against the reference Cortex and ours, through the reference Python client.

    python stormlibs_interop.py compare <our telepath port>
    python stormlibs_interop.py verify  <our telepath port>

`compare` boots a reference Cortex in a temporary directory (in this process), runs each query
of QUERIES on both (as root, then the LOWPRIV ones as a user without permissions) and fails
unless the print/warn/err messages and the nodes are the same (idens and times masked); it
leaves a queue and a macro behind in ours. `verify` (after a restart of ours) checks that they
survived.
'''
import re
import sys
import asyncio
import tempfile

import synapse.cortex as s_cortex
import synapse.telepath as s_telepath
import synapse.lib.cell as s_cell

# the reference refuses to boot on a disk over 95% full (this machine's disks often are)
s_cell.shutil.disk_usage = lambda path: s_cell.shutil._ntuple_diskusage(100, 0, 100)

QUERIES = '''
queue.add q1
$q=$lib.queue.get(q1) $lib.print($q) $lib.print($q.put(hi)) $lib.print($q.puts((a,b,c)))
$q=$lib.queue.get(q1) $lib.print($q.size()) $lib.print($q.get(1)) $lib.print($q.size()) $lib.print($q.pop())
$q=$lib.queue.get(q1) $lib.print($q.pop(10)) for $x in $q.gets(wait=0) { $lib.print($x) }
queue.list
$q=$lib.queue.get(q1) $q.cull(2) $lib.print($q.size()) $lib.print($q.name) $lib.print($q.get(wait=0))
$lib.print($lib.queue.gen(q2)) $lib.print($lib.queue.gen(q2).size()) $lib.queue.del(q2)
[inet:ipv4=1.2.3.4 inet:ipv4=5.6.7.8] | queue.list
queue.add q1
$lib.queue.get(nope)
queue.del nope
$lib.queue.get(q1).puts(($lib.list(1, 2), ({"a": "b"}), $lib.null))
for $x in $lib.queue.get(q1).gets(wait=0) { $lib.print($x) }
for $x in $lib.queue.get(q1).gets(0, 0) { $lib.print($x) }
for $x in $lib.queue.get(q1).gets(2, wait=0, size=1) { $lib.print($x) }
for $x in $lib.queue.get(q1).gets(5, wait=0, cull=1) { $lib.print($x) } $lib.print($lib.queue.get(q1).size())
$lib.print($lib.queue.get(q1).pop(wait=0)) $lib.print($lib.queue.get(q1).get(wait=0))
$q=$lib.queue.get(q1) $lib.print($lib.len($lib.queue.list())) $lib.print($q.boop())
queue.del q1
queue.list
queue.add
queue.add --help
macro.set m1 ${ [inet:ipv4=1.2.3.4] }
macro.set m2 "inet:ipv4"
macro.list
macro.get m1
macro.get nope
macro.exec m1
$lib.print($lib.len($lib.macro.list()))
macro.exec m2
inet:ipv4 | macro.exec m2
inet:ipv4 | macro.list
macro.exec nope
$lib.macro.mod(m2, ({"name": "m3", "desc": "hehe"})) $lib.print($lib.macro.get(m3).desc)
$lib.macro.mod(m3, ({"user": "x"}))
$lib.macro.mod(m3, ({"name": "m1"}))
$lib.macro.mod(m3, hehe)
$lib.macro.set("", "inet:ipv4")
$lib.macro.set("x", "inet:ipv4 [")
$lib.macro.get("")
$lib.macro.grant(m3, users, $lib.user.iden, 2)
$lib.macro.grant(m3, bogus, $lib.user.iden, 2)
$lib.macro.grant(m3, users, $lib.user.iden, 7)
$lib.macro.grant(m3, users, 0123456789abcdef0123456789abcdef, 2)
$lib.macro.grant(m3, roles, 0123456789abcdef0123456789abcdef, 2)
$val=5.6.7.8 macro.set m4 ${ [inet:ipv4=$val] } | macro.exec m4
$val=5.6.7.8 macro.exec m4
inet:ipv4=1.2.3.4 | macro.exec $node.repr()
macro.del m1
macro.del m1
macro.del m3
macro.del m4
macro.list
macro.set
macro.exec --help
auth.user.add visi --email visi@vertex.link
auth.user.add visi
auth.role.add ninjas
auth.user.list
auth.role.list
auth.user.grant visi ninjas
auth.user.grant visi nope
auth.user.grant nope ninjas
auth.user.addrule visi foo.bar
auth.user.addrule visi "!foo.baz" --index 0
auth.role.addrule ninjas hehe.haha
auth.user.show visi
auth.role.show ninjas
auth.user.delrule visi foo.bar
auth.user.delrule visi --index 0
auth.user.delrule visi --index 5
auth.role.delrule ninjas hehe.haha
auth.user.mod visi --locked $lib.true
auth.user.list
auth.user.mod visi --locked $lib.false --admin $lib.true
auth.user.mod visi --admin $lib.false --gate $lib.view.get().iden
auth.user.mod visi --gate $lib.view.get().iden
auth.user.mod nope --name x
auth.user.revoke visi ninjas
auth.user.revoke visi ninjas
auth.role.mod ninjas --name pirates
auth.role.del pirates
auth.role.del pirates
auth.gate.show $lib.view.get().iden
auth.gate.show nope
$u=$lib.auth.users.byname(visi) $lib.print($u.name) $lib.print($u.email) $lib.print($u.locked)
$u=$lib.auth.users.byname(visi) $u.addRule(($lib.true, (a, b))) $u.addRule(($lib.false, (c,))) $lib.print($u.getRules())
$u=$lib.auth.users.byname(visi) $lib.print($u.popRule(1)) $lib.print($u.getRules()) $lib.print($u.allowed(a.b)) $lib.print($u.allowed(x.y))
$u=$lib.auth.users.byname(visi) $u.setRules(()) $lib.print($u.getRules()) $lib.print($u.popRule(3))
$lib.print($lib.auth.ruleFromText("!foo.bar")) $lib.print($lib.auth.ruleFromText(foo)) $lib.print($lib.auth.textFromRule(($lib.false, (a, b))))
$r=$lib.auth.roles.add(r2) $lib.print($r.name) $r.name=r3 $lib.print($lib.auth.roles.byname(r3).name) $lib.auth.roles.del($r.iden) $lib.print($lib.auth.roles.byname(r3))
$lib.print($lib.auth.users.get().name) $lib.print($lib.auth.users.byname(nope)) $lib.print($lib.auth.roles.get(nope))
for $u in $lib.auth.users.list() { $lib.print($u.name) }
for $r in $lib.auth.roles.list() { $lib.print($r.name) }
$g=$lib.auth.gates.get($lib.view.get().iden) $lib.print($g.type) $lib.print($lib.len($g.users))
$u=$lib.auth.users.byname(visi) $u.setAdmin($lib.true) $lib.print($u.get(admin)) $u.setAdmin($lib.false) $lib.print($u.get(admin))
$u=$lib.auth.users.byname(visi) $u.setLocked($lib.true) $lib.print($u.locked) $u.setLocked($lib.false)
$u=$lib.auth.users.byname(visi) $lib.print($u.boop)
$u=$lib.auth.users.byname(visi) $lib.auth.users.del($u.iden) $lib.print($lib.auth.users.byname(visi))
queue.add keep
$lib.queue.get(keep).puts((one, two, three))
macro.set keepm ${ $lib.print(kept) }
macro.set private ${ $lib.print(private) }
$lib.macro.grant(private, roles, $lib.auth.roles.byname(all).iden, 0)
'''

# as a user without permissions (run after QUERIES)
LOWPRIV = '''
queue.add nope
$lib.queue.get(keep)
$lib.queue.del(keep)
queue.list
$lib.print($lib.queue.list())
macro.list
macro.exec keepm
macro.get keepm
macro.get private
macro.exec private
macro.set keepm "inet:ipv4"
macro.del keepm
macro.set mine ${ $lib.print(mine) }
macro.exec mine
macro.del mine
auth.user.add newb
auth.role.add newr
$lib.auth.users.add(newb)
$lib.auth.roles.add(newr)
$lib.auth.users.del($lib.auth.users.byname(root).iden)
auth.user.list
auth.role.list
auth.user.grant low all
auth.user.addrule low foo.bar
auth.role.addrule all foo.bar
auth.user.mod root --name hehe
auth.user.mod low --locked $lib.true
$lib.auth.users.byname(low).setPasswd(newpass)
$lib.auth.users.byname(low).setEmail(low@vertex.link) $lib.print($lib.auth.users.get().email)
$lib.auth.users.get().addRule(($lib.true, (foo,)))
$lib.print($lib.auth.users.get().allowed(foo.bar))
'''


def norm(text):
    text = re.sub(r'[0-9a-f]{32}', 'IDEN', text)
    return re.sub(r'\b1[67]\d{11}\b', 'TIME', text)


async def run(core, text):
    out = []
    async for mesg in core.storm(text):
        if mesg[0] in ('print', 'warn'):
            out.append((mesg[0], norm(mesg[1]['mesg'])))
        elif mesg[0] == 'err':
            out.append(('err', mesg[1][0], norm(mesg[1][1].get('mesg', ''))))
        elif mesg[0] == 'node':
            out.append(('node', tuple(mesg[1][0])))
    return out


async def compare_all(ref, our, queries):
    bad = []
    for text in queries.strip().split('\n'):
        want = await run(ref, text)
        have = await run(our, text)
        if want != have:
            bad.append(f'{text}\n  reference: {want}\n  ours:      {have}')
    return bad


async def compare(ourport):
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(dirn) as refcore:
            oururl = f'tcp://root:secret@127.0.0.1:{ourport}/'
            async with await s_telepath.openurl(refcore.getLocalUrl()) as ref, \
                    await s_telepath.openurl(oururl) as our:
                bad = await compare_all(ref, our, QUERIES)
                for core in (ref, our):
                    await core.addUser('low', passwd='secret')

            oururl = f'tcp://low:secret@127.0.0.1:{ourport}/'
            async with await s_telepath.openurl(refcore.getLocalUrl(user='low')) as ref, \
                    await s_telepath.openurl(oururl) as our:
                bad.extend(await compare_all(ref, our, LOWPRIV))

    assert not bad, '\n'.join(bad)


async def verify(ourport):
    async with await s_telepath.openurl(f'tcp://root:secret@127.0.0.1:{ourport}/') as core:
        items = await run(core, 'for $x in $lib.queue.get(keep).gets(wait=0) { $lib.print($x) }')
        assert items == [
            ('print', "(0, 'one')"), ('print', "(1, 'two')"), ('print', "(2, 'three')")], items
        assert await run(core, 'macro.exec keepm') == [('print', 'kept')]
        assert await run(core, 'macro.list') == [
            ('print', 'keepm                (owner: root)'),
            ('print', 'private              (owner: root)'),
            ('print', '2 macros found')]
    # (LOWPRIV changed its own password)
    async with await s_telepath.openurl(f'tcp://low:newpass@127.0.0.1:{ourport}/') as core:
        # the queue's gate and the macro's permissions survived too
        denied = await run(core, '$lib.queue.get(keep)')
        assert denied[0][:2] == ('err', 'AuthDeny'), denied
        assert await run(core, 'macro.exec private') == [
            ('err', 'AuthDeny', 'User requires read permission on macro: private.')]


if __name__ == '__main__':
    if sys.argv[1] == 'compare':
        asyncio.run(compare(int(sys.argv[2])))
    else:
        asyncio.run(verify(int(sys.argv[2])))
