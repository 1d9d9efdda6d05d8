'''
Record the reference's answers for the tag model (`$lib.model.tags`, tag regexes checked when
a tag is normalized, `prune` on tag deletion) and the deprecation locks enforced on edits,
for `tests/core/tagmodel.rs` to replay against our Cortex:

    $SYNAPSE_REF_PYTHON gen_tagmodel.py        # writes tagmodel_recorded.json

Each case runs once, in order, on one fresh reference Cortex, as root or as `lowuser` (no
permissions). A `storm` case keeps print, warn and err messages ([kind, text] or
['err', class, mesg]) and nodes as [form, valu, sorted tag names]; a `call` case keeps
callStorm()'s return value (['ok', valu]) or error (['err', class, mesg]); an `addnodes` case
(JSON nodedefs) the ndefs `addNodes()` yields. 32-hex idens are masked.
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
    '[ inet:fqdn=woot.com inet:fqdn=vertex.link ]',
    '[ ou:requirement=(r1,) ]',
]

CASES = [
    # the tag model library
    ('root', 'call', 'return($lib.model.tags.get(cno.cve))'),
    ('root', 'call', 'return($lib.model.tags.list())'),
    ('root', 'call', '$lib.model.tags.set(cno.cve, regex, ([null, null, "[0-9]{4}", "[0-9]{5}"]))'),
    ('root', 'call', 'return($lib.model.tags.get(cno.cve))'),
    ('root', 'call', 'return($lib.model.tags.list())'),
    ('root', 'storm', 'inet:fqdn=woot.com [ +#cno.cve.2021.12345 ]'),
    ('root', 'storm', 'inet:fqdn=woot.com [ +#cno.cve.foo ]'),
    ('root', 'storm', 'inet:fqdn=woot.com [ +#cno.cve.2021.1234 ]'),
    ('root', 'storm', 'inet:fqdn=woot.com [ +#CNO.CVE.2022 ]'),
    ('root', 'storm', 'inet:fqdn=woot.com [ +#cno.other.foo +#cno ]'),
    ('root', 'storm', 'inet:fqdn=woot.com [ +#cno.cve.2021.12345.extra.levels ]'),
    ('root', 'storm', '[ syn:tag=cno.cve.bad ]'),
    ('root', 'storm', '[ syn:tag=cno.cve.1999 ]'),
    ('root', 'call', 'return($lib.cast(syn:tag, cno.cve.bad))'),
    ('root', 'call', 'return($lib.trycast(syn:tag, cno.cve.bad))'),
    ('root', 'storm', 'inet:fqdn=woot.com [ -#cno.cve.nope ]'),
    ('root', 'storm', 'inet:fqdn=woot.com [ +?#cno.cve.bad ]'),
    ('root', 'call', '$lib.model.tags.set(cno.cve, prune, (0))'),
    ('root', 'call', '$lib.model.tags.set(cno.cve, nope, (1))'),
    ('root', 'call', '$lib.model.tags.set(cno.cve, regex, (1, 2))'),
    ('root', 'call', '$lib.model.tags.set(cno.cve, regex, foo)'),
    ('root', 'call', '$lib.model.tags.set(cno.cve, prune, foo)'),
    ('root', 'call', 'return($lib.model.tags.get(cno.cve))'),
    ('root', 'call', '$lib.model.tags.set(cno.cve, prune, (2))'),
    ('root', 'call', 'return($lib.model.tags.get(cno.cve))'),
    ('root', 'call', 'return($lib.model.tags.pop(cno.cve, nope))'),
    ('root', 'call', 'return($lib.model.tags.pop(nope.nope, regex))'),
    ('root', 'call', 'return($lib.model.tags.get(nope.nope))'),
    # prune
    ('root', 'storm', 'inet:fqdn=vertex.link [ +#cno.cve.2021.12345 +#cno.cve.2021.22222 +#cno.cve.2020.33333 +#cno.x ]'),
    ('root', 'storm', 'inet:fqdn=vertex.link [ -#cno.cve.2021.12345 ]'),
    ('root', 'storm', 'inet:fqdn=vertex.link [ -#cno.cve.2021.22222 ]'),
    ('root', 'storm', 'inet:fqdn=vertex.link [ -#cno.cve.2020.33333 ]'),
    ('root', 'storm', 'inet:fqdn=vertex.link [ +#cno.cve.2020.33333 ] [ -#cno.cve.2020.33333 ]'),
    ('root', 'storm', 'inet:fqdn=vertex.link [ +#cno.cve.2020.33333 +#cno.cve.2020.33333.more ] [ -#cno.cve.2020.33333 ]'),
    ('root', 'call', '$lib.model.tags.set(a.b, prune, (1)) return($lib.model.tags.list())'),
    ('root', 'storm', '[ inet:fqdn=prune.com +#a.b.c.d ] [ -#a.b.c.d ]'),
    ('root', 'storm', '[ inet:fqdn=prune2.com +#a.b.c ] [ -#a.b.c ]'),
    ('root', 'storm', '[ inet:fqdn=prune3.com +#a.b.c +#a.b.d ] [ -#a.b.c ]'),
    ('root', 'call', '$lib.model.tags.set(p, prune, (5)) return($lib.model.tags.get(p))'),
    ('root', 'storm', '[ inet:fqdn=prune4.com +#p.q.r ] [ -#p.q.r ]'),
    ('root', 'call', 'return($lib.model.tags.pop(cno.cve, regex))'),
    ('root', 'call', 'return($lib.model.tags.get(cno.cve))'),
    ('root', 'storm', 'inet:fqdn=woot.com [ +#cno.cve.foo ]'),
    ('root', 'call', '$lib.model.tags.del(cno.cve) return($lib.model.tags.get(cno.cve))'),
    ('root', 'call', '$lib.model.tags.del(cno.cve)'),
    ('root', 'call', 'return($lib.model.tags.list())'),
    ('root', 'call', '$lib.model.tags.set(x, regex, ([null, "[a-c]+"])) return($lib.model.tags.get(x))'),
    ('root', 'storm', '[ inet:fqdn=re.com +#x.abc +#x.ab.zz ]'),
    ('root', 'storm', '[ inet:fqdn=re.com +#x.abd ]'),
    ('root', 'storm', '[ inet:fqdn=re.com +#y.abd +#x ]'),
    # permissions
    ('lowuser', 'call', 'return($lib.model.tags.get(x))'),
    ('lowuser', 'call', 'return($lib.model.tags.list())'),
    ('lowuser', 'call', '$lib.model.tags.set(x, prune, (1))'),
    ('lowuser', 'call', '$lib.model.tags.pop(x, regex)'),
    ('lowuser', 'call', '$lib.model.tags.del(x)'),
    ('root', 'call', 'return($lib.model.tags.nope)'),
    # deprecation locks
    ('root', 'storm', '[ ps:tokn=foo ]'),
    ('root', 'storm', 'model.deprecated.lock ps:tokn'),
    ('root', 'storm', '[ ps:tokn=bar ]'),
    ('root', 'storm', '[ ps:tokn?=bar ]'),
    ('root', 'storm', 'ps:tokn=foo'),
    ('root', 'storm', 'ps:tokn=foo [ +#stillok ]'),
    ('root', 'storm', 'ps:tokn=foo | delnode'),
    ('root', 'storm', '[ risk:vulnerable=(v1,) :node=(ps:tokn, baz) ]'),
    ('root', 'storm', '[ risk:vulnerable=(v2,) :node=(inet:fqdn, woot.com) ]'),
    ('root', 'storm', 'model.deprecated.lock ou:org:sic'),
    ('root', 'storm', '[ ou:org=(o1,) :sic=1234 ]'),
    ('root', 'storm', '[ ou:org=(o1,) :name=ok ]'),
    ('root', 'storm', 'ou:org=(o1,) [ -:sic ]'),
    ('root', 'storm', 'model.deprecated.lock ou:requirement:type:taxonomy'),
    ('root', 'storm', 'ou:requirement=(r1,) [ :type=foo.bar ]'),
    ('root', 'storm', 'model.deprecated.lock ou:requirement'),
    ('root', 'storm', 'ou:requirement=(r1,) [ :deps=((r2,),) ]'),
    ('root', 'storm', '[ ou:requirement=(r3,) ]'),
    ('root', 'storm', 'ou:requirement=(r1,) [ :name=hehe ]'),
    ('root', 'addnodes', '[[["ps:tokn", "feedy"], {}], [["inet:fqdn", "feed.com"], {}], [["ou:org", "1c4be4b0bb3e5a8b0c2ba3b3cbe0e1a2"], {"props": {"sic": "1234", "name": "ok"}}]]'),
    ('root', 'storm', 'ps:tokn=feedy'),
    ('root', 'storm', 'inet:fqdn=feed.com'),
    ('root', 'storm', 'model.deprecated.lock --unlock ps:tokn'),
    ('root', 'storm', '[ ps:tokn=bar ]'),
]

IDEN = re.compile(r'(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])')


def mask(valu):
    if isinstance(valu, str):
        return IDEN.sub('<iden>', valu)
    return valu


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


async def call(core, text, opts):
    try:
        return ['ok', await core.callStorm(text, opts=opts)]
    except s_exc.SynErr as e:
        return ['err', e.__class__.__name__, mask(e.get('mesg'))]


async def addnodes(core, text, opts):
    out = []
    async for node in core.addNodes(json.loads(text)):
        out.append(list(node.ndef))
    return out


async def record():
    cases = []
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(dirn) as core:
            low = await core.auth.addUser('lowuser')
            for text in SETUP:
                await core.nodes(text)
            for user, mode, text in CASES:
                opts = {'repr': False}
                if user == 'lowuser':
                    opts['user'] = low.iden
                func = {'storm': storm, 'call': call, 'addnodes': addnodes}[mode]
                cases.append({'user': user, 'mode': mode, 'query': text,
                              'expect': await func(core, text, opts)})
    with open(os.path.join(HERE, 'tagmodel_recorded.json'), 'w') as fd:
        json.dump({'setup': SETUP, 'cases': cases}, fd, indent=1)
        fd.write('\n')


if __name__ == '__main__':
    asyncio.run(record())
