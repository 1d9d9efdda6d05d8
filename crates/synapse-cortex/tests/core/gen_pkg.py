'''
Record the reference's answers to Storm package queries ($lib.pkg, $lib.import, package
commands run as pure Storm commands, the pkg.* commands) for `tests/core/pkg.rs` to replay
against our Cortex:

    python gen_pkg.py              # writes pkg_recorded.json

Each query runs once, in order, on one fresh reference Cortex, as root. Messages are kept as
[kind, text] (print, warn) or ['err', class, mesg] and nodes as their ndef; 32-hex idens and
printed times are masked (the same canonical form as gen_admin.py).
'''
import os
import json
import asyncio
import tempfile

import synapse.cortex as s_cortex
import synapse.lib.cell as s_cell

from gen_admin import canon, run

# a throwaway cortex: never refuse to boot on a full disk
s_cell.shutil.disk_usage = lambda path: s_cell.shutil._ntuple_diskusage(100, 0, 100)

HERE = os.path.dirname(os.path.abspath(__file__))

SETUP = [
    '[ inet:ipv4=1.2.3.4 inet:ipv4=5.6.7.8 inet:fqdn=woot.com ]',
]

PKG = '''({
    "name": "testpkg", "version": [1, 2, 3], "desc": "A test package.",
    "build": {"time": 1700000000000},
    "docs": [{"title": "one", "content": "The first doc."}, {"title": "two", "content": "The second doc."}],
    "perms": [{"perm": ["testpkg", "use"], "desc": "Use the package.", "gate": "cortex"},
              {"perm": ["testpkg", "admin"], "desc": "Administer it.", "gate": "cortex", "default": true}],
    "modules": [
        {"name": "testmod", "storm": "$answer = (42) $words = (a, b) function add(x, y) { return(($x + $y)) } function conf() { return($modconf) } function gen(n) { for $i in $lib.range($n) { emit $i } }"},
        {"name": "testmod.other", "storm": "function hi() { return(hello) }", "modconf": {"color": "blue"}},
    ],
    "commands": [
        {"name": "test.echo", "descr": "Echo the args.",
         "cmdargs": [["--by", {"type": "int", "default": 1, "help": "How much."}], ["word", {"help": "A word."}],
                     ["--flag", {"action": "store_true", "default": false}], ["--many", {"nargs": "*"}]],
         "cmdconf": {"flavor": "salty"},
         "storm": "$lib.print(`{$cmdopts.word} {$cmdopts.by} {$cmdopts.flag} {$cmdopts.many} {$cmdconf.flavor}`)"},
        {"name": "test.nodes", "storm": "$lib.print($node.repr()) [ +#test.seen ]"},
        {"name": "test.lift", "cmdargs": [["valu", {}]], "storm": "inet:ipv4=$cmdopts.valu"},
        {"name": "test.vars", "storm": "$lib.print($lib.vars.type($x)) $lib.print($lib.vars.type($cmdopts)) $lib.print($lib.vars.type($cmdconf))"},
        {"name": "test.inputs", "descr": "Takes inputs.", "cmdinputs": [{"form": "inet:ipv4"}, {"form": "inet:fqdn", "help": "A domain."}],
         "endpoints": [{"path": "/v1/foo", "desc": "The foo."}, {"path": "/v2/bar", "url": "https://x.com"}],
         "storm": "$lib.print(inputs)"},
        {"name": "test.init", "storm": "init { $lib.print(init) } $lib.print($node.repr()) fini { $lib.print(fini) }"},
        {"name": "test.old", "descr": "Old.", "deprecated": {"eolvers": "v3.0.0"}, "cmdargs": [["--x", {"deprecated": {"eolvers": "v3.0.0", "mesg": "Use --y."}}], ["--y", {}]],
         "storm": "$lib.print(`old {$cmdopts.x} {$cmdopts.y}`)"},
        {"name": "test.older", "deprecated": {"eoldate": "2030-01-01"}, "storm": "$lib.print(older)"},
    ],
})'''

def add(text):
    return f'$lib.pkg.add({text})'

def bad(pdef):
    return f'$lib.pkg.add(({json.dumps(pdef)}))'

QUERIES = [
    add(PKG),
    '$lib.print($lib.pkg.has(testpkg)) $lib.print($lib.pkg.has(nope)) $lib.print($lib.pkg.get(nope))',
    '$p=$lib.pkg.get(testpkg) $lib.print($p.version) $lib.print($p.modules.0.modconf) $lib.print($p.commands.0.pkgname) $lib.print($p.commands.0.cmdconf) $lib.print($p.commands.1.cmdconf)',
    '$lib.print($lib.len($lib.pkg.list()))',
    '$v=$lib.pkg.vars(testpkg) $v.foo=(1, 2) $v.bar=hi $lib.print($v.foo) $lib.print($v.nope) for ($k, $x) in $v { $lib.print(`{$k}={$x}`) } $v.bar=$lib.undef $lib.print($v.bar)',
    '$lib.print($lib.vars.type($lib.pkg.vars(testpkg)))',
    'pkg.list', 'pkg.list --verbose', 'pkg.list --help',
    'pkg.docs test', 'pkg.docs nope', 'pkg.docs --help',
    'pkg.perms.list testpkg', 'pkg.perms.list zz',
    '$lib.print($lib.pkg.get(testpkg).perms)',
    'for $p in $lib.auth.getPermDefs() { if ($p.perm.0 = "testpkg") { $lib.print($p) } }',
    '$prev=$lib.null for $p in $lib.auth.getPermDefs() { if ($p.perm.0 = "testpkg") { $lib.print($prev) } $prev=$p.perm }',
    '$n=(0) for $p in $lib.auth.getPermDefs() { $n = ($n + 1) } $lib.print($n)',
    '$q=$lib.pkg.queues(testpkg) $lib.print($q) $lib.print($lib.vars.type($q))',
    '$q=$lib.pkg.queues(testpkg).add(q1) $lib.print($q) $lib.print($q.name) $lib.print($q.pkgname) $lib.print($lib.vars.type($q))',
    '$lib.pkg.queues(testpkg).add(q1)',
    '$lib.pkg.queues(testpkg).get(nope)',
    '$lib.pkg.queues(testpkg).del(nope)',
    '$q=$lib.pkg.queues(testpkg).get(q1) $lib.print($q.put(a)) $lib.print($q.puts((b, c, d))) $lib.print($q.size())',
    '$q=$lib.pkg.queues(testpkg).get(q1) $lib.print($q.get()) $lib.print($q.get(1, wait=$lib.false)) $lib.print($q.get(9, wait=$lib.false))',
    '$q=$lib.pkg.queues(testpkg).get(q1) for $i in $q.gets(wait=$lib.false) { $lib.print($i) }',
    '$q=$lib.pkg.queues(testpkg).get(q1) for $i in $q.gets(1, wait=$lib.false, size=2) { $lib.print($i) }',
    '$q=$lib.pkg.queues(testpkg).get(q1) $lib.print($q.pop()) $lib.print($q.pop(2)) $lib.print($q.pop(9)) $lib.print($q.size())',
    '$q=$lib.pkg.queues(testpkg).get(q1) $q.cull(1) $lib.print($q.size()) $lib.print($q.get(0, wait=$lib.false))',
    'for $i in $lib.pkg.queues(testpkg).list() { $lib.print(($i.name, $i.meta.name, $i.meta.pkgname, $i.meta.iden, $i.size, $i.offs)) }',
    '$q=$lib.pkg.queues(testpkg).gen(q2) $lib.print($q) $q=$lib.pkg.queues(testpkg).gen(q2) $lib.print($q.size())',
    '$lib.pkg.queues(testpkg).del(q2) $n=(0) for $i in $lib.pkg.queues(testpkg).list() { $n = ($n + 1) } $lib.print($n)',
    '$q=$lib.pkg.queues(otherpkg).add(q1) $q.put(x) $lib.print($q.size()) $lib.print($lib.pkg.queues(testpkg).get(q1).size())',
    '$q=$lib.pkg.queues(testpkg).get(q1) $lib.print($q.nope)',
    '$lib.pkg.queues(testpkg).nope()',
    '$m=$lib.import(testmod) $lib.print($m) $lib.print($m.add(1, 2)) $lib.print($m.answer) $lib.print($m.words)',
    '$m=$lib.import(testmod) $lib.print($m.conf())',
    '$lib.print($lib.import(testmod.other).conf)',
    '$m=$lib.import(testmod.other) $lib.print($m.hi()) $lib.print($m.nope)',
    '$m=$lib.import(testmod) for $i in $m.gen((3)) { $lib.print($i) }',
    '$lib.import(nope)',
    '$lib.import(testmod, reqvers=">=2.0.0")',
    '$m=$lib.import(testmod, reqvers=">=1.0.0,<2.0.0") $lib.print($m.answer)',
    '$m=$lib.import(testmod) $lib.print($m.__module__)',
    'test.echo hello', 'test.echo hi --by 3 --flag --many x y', 'test.echo', 'test.echo --by nope x', 'test.echo --help',
    'test.echo hi | test.echo ho', '$w=wow test.echo $w',
    'inet:ipv4 | test.echo $node.repr()',
    'inet:ipv4 | test.nodes', 'inet:ipv4 +#test.seen',
    'test.nodes', 'inet:ipv4 | limit 1 | test.lift 5.6.7.8',
    'test.lift 1.2.3.4 | test.lift 5.6.7.8', 
    '$x=1 inet:ipv4 $y=2 | limit 1 | test.vars',
    'inet:ipv4 $y=$node.repr() | test.nodes | $lib.print($y)',
    'test.inputs --help', 'test.inputs',
    'test.old', 'test.old --x 1', 'test.old --y 2 | test.old --y 3', 'test.old --help', 'test.older', 'test.older --help',
    'syn:cmd=test.echo $lib.print(:doc) $lib.print(:package)', 'syn:cmd=test.nodes $lib.print(:doc) $lib.print(:svciden)', 'syn:cmd^=test.inp', 'syn:cmd^=test. | count',
    'inet:ipv4 | test.init', 'test.init',
    '$d=$lib.pkg.deps(({"name": "x", "version": "1.0.0", "depends": {"requires": [{"name": "testpkg", "version": ">=1.0.0"}, {"name": "testpkg", "version": ">=2.0.0"}, {"name": "zz", "version": ">=1.0.0", "optional": true}], "conflicts": [{"name": "testpkg", "version": ">2.0.0"}, {"name": "testpkg"}, {"name": "aa"}]}})) '
    'for $r in $d.requires { $lib.print(`{$r.name} {$r.version} {$r.desc} {$r.ok} {$r.actual} {$r.optional}`) } '
    'for $r in $d.conflicts { $lib.print(`{$r.name} {$r.version} {$r.desc} {$r.ok} {$r.actual}`) } $lib.print($lib.pkg.deps(({"name": "y"})))',
    bad({}),
    bad({'name': 'foo'}),
    bad({'name': 'foo', 'version': '1.x'}),
    bad({'name': 1, 'version': '1.0.0'}),
    bad({'name': 'foo', 'version': '1.0.0', 'commands': [{'name': 'Bad', 'storm': ''}]}),
    bad({'name': 'foo', 'version': '1.0.0', 'commands': [{'name': 'foo.bar', 'storm': '', 'cmdargs': [['--x', {'type': 'nope'}]]}]}),
    bad({'name': 'foo', 'version': '1.0.0', 'modules': [{'name': 'm', 'storm': '{{'}]}),
    bad({'name': 'foo', 'version': '1.0.0', 'onload': '{{'}),
    bad({'name': 'foo', 'version': '1.0.0', 'synapse_version': '>=3.0.0'}),
    bad({'name': 'foo', 'version': '1.0.0', 'synapse_version': '>=2.0.0,<3.0.0'}),
    bad({'name': 'foo', 'version': '1.0.0', 'synapse_minversion': [3, 0, 0]}),
    bad({'name': 'foo', 'version': '1.0.0', 'configvars': [{'name': 'x', 'varname': 'y', 'desc': 'd', 'type': 'nope', 'scopes': ['global']}]}),
    bad({'name': 'foo', 'version': '1.0.0', 'configvars': [{'name': 'x', 'varname': 'y', 'desc': 'd', 'type': ['int', 'inet:fqdn'], 'scopes': ['global']}]}),
    bad({'name': 'foo', 'version': '1.0.0', 'inits': {'versions': [{'name': 'a', 'version': 2, 'query': ''}, {'name': 'b', 'version': 1, 'query': ''}]}}),
    bad({'name': 'foo', 'version': '1.0.0', 'inits': {'versions': []}}),
    bad({'name': 'foo', 'version': '1.0.0', 'depends': {'conflicts': [{'name': 'testpkg'}]}}),
    bad({'name': 'foo', 'version': '1.0.0', 'depends': {'conflicts': [{'name': 'testpkg', 'version': '>=1.0.0'}]}}),
    bad({'name': 'foo', 'version': '1.0.0', 'perms': [{'perm': ['a']}]}),
    bad({'name': 'foo', 'version': '1.0.0', 'build': {}}),
    bad({'name': 'foo', 'version': '1.0.0', 'commands': [{'name': 'foo.bar', 'storm': '', 'deprecated': {'mesg': 'x'}}]}),
    bad({'name': 'foo', 'version': '1.0.0', 'commands': [{'name': 'foo.bar', 'storm': '', 'cmdargs': [['--x', {'deprecated': {'eolvers': 'v3', 'eoldate': '2030'}}]]}]}),
    '$lib.pkg.add(({"name": "foo", "version": "1.0.0"}), verify=$lib.true)',
    '$lib.print($lib.pkg.list().size())',
    'pkg.del foo', 'pkg.del test',
    add('({"name": "testpkg2", "version": "0.0.1", "commands": [{"name": "test.echo", "storm": "$lib.print(replaced)"}]})'),
    'test.echo', 'pkg.del test', 'pkg.del testpkg2', 'test.echo',
    '$lib.pkg.del(testpkg2)', '$lib.pkg.del(testpkg)', 'pkg.list', 'test.echo x', '$lib.import(testmod)',
]


async def record():
    cases = []
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(dirn) as core:
            for text in SETUP:
                await core.nodes(text)
            for text in QUERIES:
                cases.append({'query': text, 'user': 'root', 'expect': await run(core, text, {})})
    with open(os.path.join(HERE, 'pkg_recorded.json'), 'w') as fd:
        json.dump({'setup': SETUP, 'cases': cases}, fd, indent=1)
        fd.write('\n')


if __name__ == '__main__':
    asyncio.run(record())
