'''
Cases for `help` on libraries, functions, nodes and Storm types (runtime/tier1.rs and its
helpdocs.rs): writes recorded_help.jsonl with the reference's output, recorded from an
in-process reference Cortex:

    python gen_recorded_help.py

(run it with the reference's python, SYNAPSE_REF_PYTHON; the `__main__` guard is needed: the
Cortex starts worker processes). The format is the one of the other recorded_*.jsonl replays.
'''
import asyncio
import json
import tempfile

import synapse.cortex as s_cortex

SETUP = ['[ inet:ipv4=1.1.1.1 inet:fqdn=alpha.com ]']

CASES = [
    'help $lib', 'help $lib.str', 'help --verbose $lib.str', 'help $lib.inet.http',
    'help $lib.inet.http.get', 'help --verbose $lib.inet.http.get', 'help $lib.print',
    'help --verbose $lib.print', 'help --verbose $lib.list', 'help $lib.list', 'help $lib.dict',
    'help $lib.time', 'help $lib.model', 'help $lib.auth',
    'help $lib.view.get', 'help --verbose $lib.json.save', 'help $lib.regex',
    'help str', 'help --verbose str', 'help node', 'help --verbose node:path', 'help view', 'help boolean',
    'help --verbose bytes', 'help queue', 'help layer',
    '$s=abc help $s.upper', '$s=abc help --verbose $s.split',
    'inet:ipv4=1.1.1.1 | help $node | spin', 'inet:ipv4=1.1.1.1 | help --verbose $node.tags | spin',
    'inet:ipv4=1.1.1.1 | help $path | spin',
    'help $lib.view.get()', 'help --verbose $lib.layer.get()', 'help $lib.set()',
    'function f() { return((1)) } help $f', 'help ({})', 'help $lib.true',
    '$s=abc help $s', 'help $lib.gen.orgByName', 'help --verbose $lib.time.format',
    'help $lib.auth.users.add', 'help --verbose $lib.pkg', 'inet:fqdn=alpha.com | help $node.props | spin',
    'inet:fqdn=alpha.com | help --verbose $node.data | spin', 'help $lib.model.form(inet:ipv4)',
    'help --verbose $lib.queue', 'help $lib.str.nope', 'help --verbose $lib.model.edge',
]


def plain(valu):
    if isinstance(valu, (list, tuple)):
        return [plain(v) for v in valu]
    if isinstance(valu, dict):
        return {str(k): plain(v) for k, v in valu.items()}
    return valu


async def run(core, text):
    nodes, mesgs, error = [], [], None
    async for mesg in core.storm(text, opts={'repr': False}):
        if mesg[0] == 'node':
            (form, valu), info = mesg[1]
            props = {k: plain(v) for k, v in (info.get('props') or {}).items() if k != '.created'}
            nodes.append([form, plain(valu), props, sorted((info.get('tags') or {}).keys())])
        elif mesg[0] in ('print', 'warn'):
            mesgs.append([mesg[0], mesg[1].get('mesg')])
        elif mesg[0] == 'err' and error is None:
            error = mesg[1][0]
    return {'nodes': nodes, 'mesgs': mesgs, 'error': error}


async def main():
    cases = []
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(dirn) as core:
            for text in SETUP:
                await core.nodes(text)
            for i, text in enumerate(CASES):
                cases.append({'query': text, 'id': f'c{i:03d}', 'expect': await run(core, text)})
    with open('recorded_help.jsonl', 'w') as fd:
        fd.write(json.dumps({'suite': 't_helpdocs', 'setup': SETUP, 'cases': cases}) + '\n')
    print(len(cases))


if __name__ == '__main__':
    asyncio.run(main())
