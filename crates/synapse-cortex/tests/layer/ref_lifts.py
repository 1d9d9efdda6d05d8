'''
Run node definitions and lift queries against a fresh reference Cortex.

stdin: {"nodes": [nodedef, ...], "queries": ["storm", ...]}
stdout: {"results": [[ndef, ...] per query], "all": [[form, valu, props, tags], ...]}
(props without .created; everything sorted for "all").
'''
import sys
import json
import asyncio
import tempfile

import synapse.cortex as s_cortex

async def main():
    spec = json.load(sys.stdin)
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(dirn) as core:
            async with await core.view.snap(user=core.auth.rootuser) as snap:
                async for _ in snap.addNodes(spec['nodes']):
                    pass
            results = []
            for text in spec['queries']:
                nodes = await core.nodes(text)
                results.append([list(n.ndef) for n in nodes])
            allnodes = []
            for node in await core.nodes('.created'):
                props = {k: v for (k, v) in node.props.items() if k != '.created'}
                allnodes.append([node.ndef[0], node.ndef[1], props, node.tags])
            allnodes.sort(key=lambda x: json.dumps(x, sort_keys=True))
            print(json.dumps({'results': results, 'all': allnodes}, sort_keys=True))

if __name__ == '__main__':
    asyncio.run(main())
