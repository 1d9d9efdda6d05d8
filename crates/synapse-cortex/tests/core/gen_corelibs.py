'''
Record the reference's answers for Storm exports (`exportStorm`, `$lib.export.toaxon`),
`$lib.json.schema`, `$lib.notifications` with the Cortex's user notification methods, and the
deprecation warnings of Storm edits and lifts, for `tests/core/corelibs.rs` to replay against
our Cortex:

    $SYNAPSE_REF_PYTHON gen_corelibs.py        # writes corelibs_recorded.json

Each case runs once, in order, on one fresh reference Cortex (with its local Axon), as root or
as `lowuser` (no permissions). An `export` case keeps the podes `exportStorm()` yields (props
and reprs without `.created`, an error as ['err', class]); a `storm` case keeps print, warn and
err messages ([kind, text] or ['err', class, mesg]) and nodes as [form, valu, sorted tag
names]; a `call` case keeps callStorm()'s return value (['ok', valu]) or error (['err', class,
mesg]). 32-hex idens and 64-hex sha256s (not node idens) are masked; times are masked.
'''
import os
import re
import json
import asyncio
import tempfile

import synapse.exc as s_exc
import synapse.cortex as s_cortex
import synapse.lib.cell as s_cell

# a throwaway cortex: never refuse to boot on a full disk
s_cell.shutil.disk_usage = lambda path: s_cell.shutil._ntuple_diskusage(100, 0, 100)

HERE = os.path.dirname(os.path.abspath(__file__))

SETUP = [
    '$lib.model.ext.addTagProp(score, (int, ({})), ({}))',
    '[ inet:fqdn=woot.com +#foo.bar=(2020, 2021) +#baz:score=10 .seen=2020 ]',
    '[ inet:ipv4=1.2.3.4 +#baz ] [ +(refs)> { inet:fqdn=woot.com } ]',
    'inet:fqdn=woot.com [ +(refs)> { inet:ipv4=1.2.3.4 } ] $node.data.set(hehe, haha)',
    '[ inet:ipv4=5.6.7.8 ] [ <(refs)+ { inet:fqdn=woot.com } ]',
    '[ ou:org=(o1,) :name=vertex ]',
]

SCHEMA = {
    'type': 'object',
    'properties': {
        'name': {'type': 'string', 'minLength': 2, 'pattern': '^[a-z]+$'},
        'age': {'type': 'integer', 'minimum': 0, 'maximum': 200},
        'tags': {'type': 'array', 'items': {'type': 'string'}, 'maxItems': 3, 'uniqueItems': True},
        'kind': {'enum': ['a', 'b'], 'default': 'a'},
        'ratio': {'type': 'number', 'exclusiveMinimum': 0, 'multipleOf': 0.5},
        'either': {'oneOf': [{'type': 'string'}, {'type': 'integer'}]},
        'any': {'anyOf': [{'type': 'string'}, {'type': 'null'}]},
        'fixed': {'const': 'yes'},
        'addr': {'type': 'string', 'format': 'ipv4'},
        'port': {'$ref': '#/definitions/port'},
        'nested': {'type': 'object', 'properties': {'x': {'type': 'integer', 'default': 1}}, 'default': {}},
        'pair': {'type': 'array', 'items': [{'type': 'string'}, {'type': 'integer', 'default': 0}]},
    },
    'definitions': {'port': {'type': 'integer', 'maximum': 65535}},
    'required': ['name'],
    'additionalProperties': False,
}
JSCHEMA = {'vars': {'schema': SCHEMA}}
JS = '$s = $lib.json.schema($schema) '

CASES = [
    # exportStorm
    ('root', 'export', 'inet:fqdn inet:ipv4=1.2.3.4', {}),
    ('root', 'export', 'inet:ipv4', {}),
    # (not `$node.data.load()`: our runtime does not load node data into the pode yet)
    ('root', 'export', 'inet:fqdn=woot.com inet:ipv4=1.2.3.4', {'repr': True}),
    ('root', 'export', 'inet:fqdn=woot.com', {'links': True}),
    ('root', 'export', 'inet:fqdn=woot.com inet:fqdn=woot.com', {}),
    ('root', 'export', 'inet:fqdn=woot.com | nope', {}),
    ('root', 'export', 'inet:fqdn=woot.com |', {}),
    ('root', 'export', '$lib.print(hi) inet:fqdn=woot.com', {}),
    ('root', 'export', 'inet:fqdn', {'view': 'ff' * 16}),
    ('root', 'export', 'inet:fqdn=woot.com [ +#new ]', {'readonly': True}),
    ('lowuser', 'export', 'inet:fqdn=woot.com', {}),
    ('lowuser', 'export', 'inet:fqdn=woot.com [ +#new ]', {}),
    ('root', 'export', 'ou:org', {}),
    # $lib.export.toaxon
    ('root', 'call', 'return($lib.export.toaxon("inet:fqdn=woot.com inet:ipv4"))', {}),
    ('root', 'call', 'return($lib.export.toaxon("inet:fqdn=woot.com", opts=(1)))', {}),
    ('root', 'call', 'return($lib.export.toaxon("inet:fqdn=woot.com", opts=({"view": "ff"})))', {}),
    ('root', 'call', 'return($lib.export.toaxon("inet:fqdn=woot.com |"))', {}),
    ('root', 'call', 'return($lib.export.toaxon("inet:fqdn=nope.com"))', {}),
    ('root', 'call', 'return($lib.export.toaxon("inet:fqdn=$x", ({"vars": {"x": "woot.com"}})))', {}),
    ('root', 'call', 'return($lib.export.toaxon())', {}),
    ('root', 'call', 'return($lib.export.nope())', {}),
    ('lowuser', 'call', 'return($lib.export.toaxon("inet:fqdn=woot.com [ +#new ]"))', {}),
    # $lib.json.schema
    ('root', 'call', JS + 'return($s.validate(({"name": "vv"})))', JSCHEMA),
    # (not a short tuple with a default item: the reference appends to a tuple and fails with
    # AttributeError; ours fills the default in)
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "nested": ({}), "pair": (["a", 1])})))', JSCHEMA),
    ('root', 'call', '$s = $lib.json.schema($schema, use_default=$lib.false) return($s.validate(({"name": "vv"})))', JSCHEMA),
    ('root', 'call', '$s = $lib.json.schema($schema, (0)) return($s.validate(({"name": "vv", "nested": ({})})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(([])))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(hehe))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "v"})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "VV"})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "age": "1"})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "age": (-1)})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "age": (201)})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "age": $lib.true})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "tags": (["a", 1])})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "tags": (["a", "a"])})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "tags": (["a", "b", "c", "d"])})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "kind": "c"})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "ratio": (0)})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "ratio": (0.7)})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "ratio": (1.5)})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "either": (1.5)})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "any": (1)})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "fixed": "no"})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "addr": "1.2.3"})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "port": (70000)})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "nested": ({"x": "y"})})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "pair": ([1])})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.validate(({"name": "vv", "extra": (1)})))', JSCHEMA),
    ('root', 'call', JS + 'return($s.schema())', JSCHEMA),
    ('root', 'call', 'return($lib.json.schema(({"type": "integer"})).validate((10)))', {}),
    ('root', 'call', 'return($lib.json.schema(({"type": ["integer", "null"]})).validate((1.5)))', {}),
    ('root', 'call', 'return($lib.json.schema(({"type": "nope"})))', {}),
    ('root', 'call', 'return($lib.json.schema(({"$ref": "#/definitions/nope"})))', {}),
    ('root', 'call', 'return($lib.json.schema())', {}),
    ('root', 'call', '$s = $lib.json.schema(({"type": "integer"})) return($s.nope)', {}),
    ('root', 'call', '$s = $lib.json.schema(({"type": "integer"})) return($lib.vars.type($s))', {}),
    ('root', 'storm', '$s = $lib.json.schema(({"type": "integer"})) $lib.print($s)', {}),
    # $lib.notifications (notifications added with addUserNotif; '@N' vars are the Nth added)
    ('root', 'notif', 'hehe', {'a': 1}),
    ('lowuser', 'notif', 'haha', [1, 2]),
    ('root', 'notif', 'zzz', None),
    ('root', 'notif', 'hehe', 'second'),
    ('root', 'storm', 'for ($i, $m) in $lib.notifications.list() { $lib.print(`{$m.2} {$m.3}`) }', {}),
    ('root', 'storm', 'for ($i, $m) in $lib.notifications.list(size=2) { $lib.print($m.2) } for $x in $lib.notifications.list(size=(1)) { $lib.print($x.1.3) }', {}),
    ('lowuser', 'storm', 'for ($i, $m) in $lib.notifications.list() { $lib.print(`{$m.2} {$m.3}`) }', {}),
    ('root', 'call', '$l = ([]) for ($i, $m) in $lib.notifications.list() { $a = ($i = $n0) $b = ($i = $n3) $l.append(($a, $b)) } return($l)', {'vars': {'n0': '@0', 'n3': '@3'}}),
    ('root', 'call', '$m = $lib.notifications.get($n) $mine = ($m.0 = $lib.user.iden) return(($mine, $m.2, $m.3, $lib.len($m)))', {'vars': {'n': '@0'}}),
    ('root', 'call', '$m = $lib.notifications.get($n) return(($m.2, $m.3))', {'vars': {'n': '@1'}}),
    ('lowuser', 'call', 'return($lib.notifications.get($n))', {'vars': {'n': '@0'}}),
    ('lowuser', 'call', '$m = $lib.notifications.get($n) $mine = ($m.0 = $lib.user.iden) return(($mine, $m.2, $m.3))', {'vars': {'n': '@1'}}),
    ('lowuser', 'call', 'return($lib.notifications.del($n))', {'vars': {'n': '@0'}}),
    ('lowuser', 'storm', '$lib.notifications.get($n) $lib.notifications.get($n) $lib.notifications.list()', {'vars': {'n': '@1'}}),
    # (not a get or del of a deleted one: the reference fails with IndexError; ours returns null)
    ('root', 'storm', '$lib.print($lib.notifications.del($n))', {'vars': {'n': '@3'}}),
    ('root', 'storm', 'for ($i, $m) in $lib.notifications.list() { $lib.print(`{$m.2} {$m.3}`) }', {}),
    ('root', 'call', 'return($lib.notifications.get(nope))', {}),
    ('root', 'call', 'return($lib.notifications.get())', {}),
    ('root', 'call', 'return($lib.notifications.nope())', {}),
    ('root', 'call', 'return($lib.notifications.del((99)))', {'readonly': True}),
    ('root', 'call', '$l = ([]) for $x in $lib.notifications.list() { $l.append($x.1.2) } return($l)', {'readonly': True}),
    ('root', 'call', 'return($lib.export.toaxon("inet:fqdn=woot.com"))', {'readonly': True}),
    ('root', 'call', 'return($lib.json.schema(({"type": "integer"})).validate((1)))', {'readonly': True}),
    ('root', 'call', 'for $x in $lib.notifications.list(size=nope) { } return((1))', {}),
    # deprecation warnings of edits (once per query; lifts do not warn)
    ('root', 'storm', '[ ps:tokn=foo ]', {}),
    ('root', 'storm', '[ ps:tokn=foo ]', {}),
    ('root', 'storm', '[ ps:tokn=bar ps:tokn=baz ]', {}),
    ('root', 'storm', 'ps:tokn', {}),
    ('root', 'storm', 'ps:tokn=bar [ +#hehe ]', {}),
    ('root', 'storm', '[ ou:org=(o2,) :sic=1234 ]', {}),
    ('root', 'storm', '[ ou:org=(o2,) :sic=1234 ]', {}),
    ('root', 'storm', '[ ou:org=(o3,) :sic=1234 :naics=12345 ] [ ou:org=(o4,) :sic=5678 ]', {}),
    ('root', 'storm', 'ou:org:sic=1234', {}),
    ('root', 'storm', 'ou:org=(o2,) [ -:sic ]', {}),
    ('root', 'storm', '[ ou:requirement=(r1,) :name=x ]', {}),
    ('root', 'storm', '[ ou:requirement:type:taxonomy=foo.bar ]', {}),
    ('root', 'storm', '[ risk:vulnerable=(v1,) :node=(ps:tokn, newp) ]', {}),
    ('root', 'storm', '[ ps:persona=(p1,) :name=visi ]', {}),
    ('root', 'storm', '[ inet:fqdn=depr.com ] $lib.feed.ingest(syn.nodes, ((("ps:tokn", "fed"), ({})),))', {}),
    ('root', 'storm', '[ it:prod:softver=(s1,) :vers=1.2.3 ]', {}),
    ('root', 'storm', 'ps:tokn=foo [ .seen=2020 ] | delnode', {}),
]

IDEN = re.compile(r'(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])')
SHA = re.compile(r'(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])')


def mask(valu, buids=()):
    if isinstance(valu, str):
        valu = IDEN.sub('<iden>', valu)
        return SHA.sub(lambda m: m.group(0) if m.group(0) in buids else '<sha>', valu)
    if isinstance(valu, (list, tuple)):
        return [mask(v, buids) for v in valu]
    if isinstance(valu, dict):
        return {k: mask(v, buids) for k, v in valu.items()}
    return valu


def nocreated(pode):
    pode = json.loads(json.dumps(pode))
    info = pode[1]
    for key in ('props', 'reprs'):
        if key in info:
            info[key].pop('.created', None)
    return pode


async def export(core, text, opts):
    out = []
    try:
        async for pode in core.exportStorm(text, opts=opts):
            out.append(nocreated(pode))
    except s_exc.SynErr as e:
        out.append(['err', e.__class__.__name__])
    return out


async def storm(core, text, opts):
    out = []
    async for kind, info in core.storm(text, opts=opts):
        if kind == 'node':
            (form, valu), inf = info
            out.append(['node', form, mask(valu), sorted(inf.get('tags', {}).keys())])
        elif kind in ('print', 'warn'):
            out.append([kind, mask(info.get('mesg'))])
        elif kind == 'err':
            out.append(['err', info[0], mask(info[1].get('mesg'))])
    return out


async def call(core, text, opts, buids):
    try:
        return ['ok', mask(json.loads(json.dumps(await core.callStorm(text, opts=opts))), buids)]
    except s_exc.SynErr as e:
        return ['err', e.__class__.__name__, mask(e.get('mesg'))]


async def record():
    cases = []
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(dirn) as core:
            low = await core.auth.addUser('lowuser')
            for text in SETUP:
                await core.nodes(text)
            buids = set()
            async for pode in core.exportStorm('.created'):
                buids.add(pode[1]['iden'])
            added = []
            users = {'root': core.auth.rootuser.iden, 'lowuser': low.iden}
            for user, mode, text, opts in CASES:
                if mode == 'notif':
                    added.append(await core.addUserNotif(users[user], text, mesgdata=opts))
                    cases.append({'user': user, 'mode': mode, 'query': text, 'opts': opts})
                    continue
                opts = json.loads(json.dumps(opts))
                recopts = json.loads(json.dumps(opts))
                for name, valu in opts.get('vars', {}).items():
                    if isinstance(valu, str) and valu.startswith('@'):
                        opts['vars'][name] = added[int(valu[1:])]
                opts.setdefault('repr', False)
                if user == 'lowuser':
                    opts['user'] = low.iden
                if user == 'lowuser':
                    recopts['user'] = 'lowuser'
                if mode == 'export':
                    expect = await export(core, text, opts)
                elif mode == 'storm':
                    expect = await storm(core, text, opts)
                else:
                    expect = await call(core, text, opts, buids)
                cases.append({'user': user, 'mode': mode, 'query': text, 'opts': recopts,
                              'expect': expect})
    with open(os.path.join(HERE, 'corelibs_recorded.json'), 'w') as fd:
        json.dump({'setup': SETUP, 'cases': cases}, fd, indent=1)
        fd.write('\n')


if __name__ == '__main__':
    asyncio.run(record())
