'''
Record the reference's answers about Storm dmons (the CoreApi dmon methods, `$lib.dmon`,
`dmon.list`) for `tests/core/dmon.rs` to replay against our Cortex:

    python gen_dmon.py              # writes dmon_recorded.json

The steps run in order on one fresh in-process reference Cortex, as root (the `lowuser`
queries as a user without permissions). Only what does not depend on timing is kept: dmons
that never run (disabled), and running ones only once a `wait` step saw the status (and
log size) it names. API results are JSON (`{"ok": ...}` or `{"err": [class, mesg]}`,
`BadSyntax` by class only); storm messages are [kind, text] or ['err', class, mesg]; 32-hex
idens and epoch millis are masked; `ROOT` in an API argument stands for root's iden.
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

A = 'a' * 32
B = 'b' * 32
C = 'c' * 32
D = 'd' * 32
E = 'e' * 32

STEPS = [
    ('api', 'addStormDmon', [{'iden': A, 'user': 'ROOT', 'storm': '$lib.print(hi)', 'name': 'off', 'enabled': False}]),
    ('api', 'addStormDmon', [{'iden': A, 'user': 'ROOT', 'storm': '$lib.print(hi)'}]),
    ('api', 'addStormDmon', [{'iden': B, 'storm': 'x'}]),
    ('api', 'addStormDmon', [{'storm': 'x'}]),
    ('api', 'addStormDmon', [{'iden': B, 'user': 'ROOT', 'storm': 'inet:ipv4='}]),
    ('api', 'addStormDmon', [{'iden': B, 'user': E, 'storm': 'x'}]),
    ('api', 'addStormDmon', [{'iden': 'nope', 'user': 'ROOT', 'storm': 'x'}]),
    ('api', 'addStormDmon', [{'iden': B, 'user': 'nope', 'storm': 'x'}]),
    ('api', 'addStormDmon', [{'iden': B, 'user': 'ROOT', 'storm': 3}]),
    ('api', 'addStormDmon', [{'iden': B, 'user': 'ROOT', 'storm': 'x', 'name': 3}]),
    ('api', 'addStormDmon', [{'iden': B, 'user': 'ROOT', 'storm': 'x', 'foo': 1}]),
    ('api', 'addStormDmon', [{'iden': B, 'user': 'ROOT', 'storm': 'x', 'enabled': 'yes'}]),
    ('api', 'addStormDmon', [{'iden': B, 'user': 'ROOT', 'storm': 'x', 'stormopts': 5}]),
    ('api', 'addStormDmon', [{'iden': B, 'user': 'ROOT', 'storm': 'x', 'stormopts': {'repr': 'x'}}]),
    ('api', 'addStormDmon', [{'iden': B, 'user': 'ROOT', 'storm': 'x', 'stormopts': {'show': ['node', 3]}}]),
    ('api', 'addStormDmon', [{'iden': B, 'user': 'ROOT', 'storm': '$lib.print(x)', 'enabled': False,
                              'stormopts': {'repr': True, 'vars': {'y': 1}}}]),
    ('api', 'getStormDmon', [A]),
    ('api', 'getStormDmon', [E]),
    ('api', 'getStormDmons', []),
    ('api', 'getStormDmonLog', [A]),
    ('api', 'getStormDmonLog', [E]),
    ('api', 'bumpStormDmon', [A]),
    ('api', 'bumpStormDmon', [E]),
    ('api', 'disableStormDmon', [A]),
    ('api', 'disableStormDmon', [E]),
    ('api', 'enableStormDmon', [E]),
    ('api', 'delStormDmon', [E]),
    ('api', 'delStormDmon', [B]),
    ('api', 'getStormDmon', [B]),
    ('storm', 'dmon.list', {}),
    ('storm', '$d = $lib.dmon.add(${ $lib.print($x) }, name=foo, ddef=({"enabled": false, "view": "x"})) '
              'for ($k, $v) in $d { $lib.print($k) } $lib.print(($d.name, $d.storm, $d.stormopts, $d.count, $d.status)) '
              '$lib.print($d.enabled) $lib.print($d.err)',
     {'vars': {'x': 'hehe'}}),
    ('storm', '$q = ${ $lib.print($z) } $d = $lib.dmon.add($q, ddef=({"enabled": false})) $lib.print($d.name) $lib.print($d.stormopts.vars)',
     {'vars': {'z': 10}}),
    ('storm', '$lib.dmon.add(${ }, ddef=({"stormopts": {"view": "ffffffffffffffffffffffffffffffff"}}))', {}),
    # (booleans printed on their own: a list's repr is not what this replay checks)
    ('storm', 'for $d in $lib.dmon.list() { $lib.print(($d.name, $d.status, $d.count)) $lib.print($d.enabled) $lib.print($d.err) }', {}),
    ('storm', '$lib.print($lib.dmon.bump(nope)) $lib.print($lib.dmon.get(nope)) $lib.print($lib.dmon.log(nope)) '
              '$lib.print($lib.dmon.stop(nope)) $lib.print($lib.dmon.start(nope))', {}),
    # (a dmon without stormopts makes the reference's bump/stop/start fail with KeyError)
    ('storm', 'for $d in $lib.dmon.list() { if ($d.name = "foo") { $lib.print($lib.dmon.bump($d.iden)) '
              '$lib.print($lib.dmon.stop($d.iden)) $lib.print($lib.dmon.log($d.iden)) } }', {}),
    ('storm', '$lib.dmon.del(nope)', {}),
    ('storm', 'dmon.list', {}),
    ('storm', 'dmon.list --help', {}),
    ('lowuser', '$lib.dmon.add(${ $lib.print(x) })', {}),
    ('lowuser', f'$lib.dmon.log({A})', {}),
    ('lowuser', '$lib.print($lib.len($lib.dmon.list()))', {}),
    ('lowuser', f'$lib.dmon.del({A})', {}),
    ('lowuser', 'for $d in $lib.dmon.list() { if ($d.name = "foo") { $lib.dmon.stop($d.iden) } }', {}),
    ('lowuser', 'for $d in $lib.dmon.list() { if ($d.name = "foo") { $lib.dmon.bump($d.iden) } }', {}),
    ('lowuser', 'for $d in $lib.dmon.list() { if ($d.name = "foo") { $lib.dmon.start($d.iden) } }', {}),
    ('lowuser', f'$lib.print($lib.dmon.get({A}).name)', {}),
    # a failing dmon
    ('api', 'addStormDmon', [{'iden': C, 'user': 'ROOT', 'storm': '$lib.raise(Oops, boom)', 'name': 'errd'}]),
    ('wait', C, 'error: ', 1),
    ('log', C, 1),
    ('storm', f'$d = $lib.dmon.get({C}) $lib.print($d.status) $lib.print($d.err)', {}),
    ('api', 'disableStormDmon', [C]),
    ('api', 'getStormDmon', [C]),
    ('storm', 'dmon.list', {}),
    # a printing dmon
    ('api', 'addStormDmon', [{'iden': D, 'user': 'ROOT', 'name': 'printer',
                              'storm': '$lib.print(hello) $lib.warn(careful, key=valu) $lib.exit() $lib.print(never)'}]),
    ('wait', D, '', 2),
    ('log', D, 2),
    ('storm', 'for $t in $lib.ps.list() { if ($t.name = "storm:dmon") { $lib.print(($t.info.iden, $t.info.name, $t.user)) $lib.print($t.info.view) } }', {}),
    ('api', 'delStormDmon', [D]),
    ('storm', 'for $t in $lib.ps.list() { if ($t.name = "storm:dmon") { $lib.print(($t.info.iden, $t.info.name, $t.user)) $lib.print($t.info.view) } }', {}),
    ('api', 'getStormDmonLog', [D]),
]

IDEN = re.compile(r'[0-9a-f]{32}')
TIME = re.compile(r'\b1\d{12}\b')


def mask(text):
    return TIME.sub('<time>', IDEN.sub('<iden>', text))


def tojson(valu):
    if isinstance(valu, str):
        return mask(valu)
    if isinstance(valu, bool) or valu is None:
        return valu
    if isinstance(valu, int):
        return '<time>' if valu > 1_000_000_000_000 else valu
    if isinstance(valu, (list, tuple)):
        return [tojson(v) for v in valu]
    if isinstance(valu, dict):
        return {k: tojson(v) for k, v in valu.items()}
    return valu


def withroot(valu, root):
    if valu == 'ROOT':
        return root
    if isinstance(valu, list):
        return [withroot(v, root) for v in valu]
    if isinstance(valu, dict):
        return {k: withroot(v, root) for k, v in valu.items()}
    return valu


async def outcome(core, text, opts, user=None):
    opts = dict(opts)
    if user is not None:
        opts['user'] = user.iden
    out = []
    async for mesg in core.storm(text, opts=opts):
        kind, info = mesg
        if kind in ('print', 'warn'):
            out.append([kind, mask(info.get('mesg'))])
        elif kind == 'err':
            out.append(['err', info[0], mask(info[1].get('mesg', ''))])
    return out


async def main():
    steps = []
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(dirn) as core:
            root = core.auth.rootuser.iden
            low = await core.auth.addUser('lowuser')
            for step in STEPS:
                kind = step[0]
                if kind == 'api':
                    meth, args = step[1], step[2]
                    try:
                        valu = await getattr(core, meth)(*withroot(args, root))
                        expect = {'ok': tojson(valu)}
                    except s_exc.BadSyntax:
                        expect = {'err': ['BadSyntax']}
                    except s_exc.SynErr as e:
                        expect = {'err': [e.__class__.__name__, mask(e.get('mesg'))]}
                    steps.append({'kind': 'api', 'meth': meth, 'args': args, 'expect': expect})
                elif kind in ('storm', 'lowuser'):
                    user = low if kind == 'lowuser' else None
                    expect = await outcome(core, step[1], step[2], user=user)
                    steps.append({'kind': 'storm', 'user': 'lowuser' if user else 'root', 'query': step[1],
                                  'opts': step[2], 'expect': expect})
                elif kind == 'wait':
                    iden, prefix, logs = step[1], step[2], step[3]
                    for _ in range(3000):
                        ddef = await core.getStormDmon(iden)
                        if ddef['status'].startswith(prefix) and len(await core.getStormDmonLog(iden)) >= logs:
                            break
                        await asyncio.sleep(0.02)
                    else:
                        raise Exception(f'timed out waiting for {step}')
                    steps.append({'kind': 'wait', 'iden': iden, 'prefix': prefix, 'logs': logs, 'expect': None})
                elif kind == 'log':
                    iden, count = step[1], step[2]
                    items = tojson((await core.getStormDmonLog(iden))[:count])
                    for item in items:
                        if isinstance(item[1][1], dict):
                            item[1][1].pop('errfile', None)
                            item[1][1].pop('errline', None)
                    steps.append({'kind': 'log', 'iden': iden, 'count': count, 'expect': items})

    with open(os.path.join(HERE, 'dmon_recorded.json'), 'w') as fd:
        json.dump(steps, fd, indent=1)
        fd.write('\n')


if __name__ == '__main__':
    asyncio.run(main())
