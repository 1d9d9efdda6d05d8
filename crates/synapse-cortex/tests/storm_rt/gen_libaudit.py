'''
The names of the tier-1 and tier-2 `$lib` libraries and Storm type methods of the reference
(spec storm.md sections 11-12), taken from `getCoreInfoV2()['stormdocs']` of an in-process
reference Cortex. Writes libaudit_ref.json, which libaudit.rs checks against our runtime: every
name must resolve, except those listed in libaudit_gaps.json (which must still be missing, so
the list stays exact).

    $SYNAPSE_REF_PYTHON gen_libaudit.py
'''
import asyncio, json, os, tempfile

import synapse.cortex as s_cortex

# tier 1 and tier 2 library paths (tier 3 is out of scope)
TIER1 = ['', 'str', 'time', 'regex', 'vars', 'csv', 'json', 'hex', 'base64', 'globals', 'view',
         'layer', 'model', 'model.ext', 'user', 'stats', 'iters', 'math', 'dict', 'list', 'set']
TIER2 = ['axon', 'inet.http', 'scrape', 'feed', 'queue', 'trigger', 'cron', 'auth', 'auth.users',
         'auth.roles', 'auth.gates', 'auth.easyperm', 'macro', 'pkg', 'dmon', 'random',
         'crypto.hashes', 'crypto.hmac', 'tags', 'lift', 'gen', 'spooled', 'pipe', 'cache',
         'export', 'model.tags', 'model.edge', 'model.deprecated', 'notifications', 'ps', 'task',
         'storm', 'graph', 'bytes', 'log', 'stix', 'regex.flags', 'time.formats']
# tier-1 types (spec section 12) and the values they come with
TYPES = ['str', 'list', 'dict', 'set', 'number', 'bytes', 'node', 'node:props', 'node:data',
         'view', 'layer', 'storm:query', 'text', 'stat:tally', 'model:form', 'model:property',
         'model:type', 'model:tagprop', 'boolean']

def names(locs):
    return sorted(loc['name'] for loc in locs)

async def main():
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(dirn) as core:
            docs = (await core.getCoreInfoV2())['stormdocs']
    libs = {'.'.join(lib['path']): names(lib['locals']) for lib in docs['libraries']}
    types = {tdef['path'][0]: names(tdef['locals']) for tdef in docs['types']}
    out = {'libraries': {}, 'types': {}}
    for path in TIER1 + TIER2:
        full = 'lib' + ('.' + path if path else '')
        if full in libs:
            out['libraries'][full] = libs[full]
    for name in TYPES:
        out['types'][name] = types.get(name, [])
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, 'libaudit_ref.json'), 'w') as fd:
        json.dump(out, fd, indent=1, sort_keys=True)
        fd.write('\n')

if __name__ == '__main__':
    asyncio.run(main())
