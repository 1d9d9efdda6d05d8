'''
View merge benchmarks through the reference Python client, against the reference Cortex or
ours.

    python viewmerge_bench.py --impl NAME [--quick] [--spawn 'CMD with {dirn} {port} {httpsport} {python}']

Phases (N nodes, each with a tag and a property; quick: 2000, full: 20000):

    viewmerge.merge        $fork.merge() of a fork holding N nodes               nodes/s
    viewmerge.quorum       a merge request voted through (quorum of 1): from the
                           vote until the fork is gone (merged and deleted)     nodes/s
    viewmerge.vote         setMergeVote calls (a disapproval, replaced each call) calls/s

Prints one JSON line per metric: {"metric", "impl", "unit", "value", "params"}.
'''
import os
import sys
import time
import asyncio
import argparse
import tempfile

import synapse.telepath as s_telepath

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cortex_storm import Bench  # noqa: E402

FILL = 'for $i in $lib.range($n) { [ inet:ipv4=($i + $base) :asn=$i +#bench.merge ] }'


async def call(prox, text, opts=None):
    return await prox.callStorm(text, opts=opts)


async def run(bench, dirn, nodes, calls):
    await bench.start(dirn)
    async with await s_telepath.openurl(bench.url) as prox:
        # a plain fork merged by its owner
        fork = await call(prox, 'return($lib.view.get().fork().iden)')
        await prox.count(FILL, opts={'view': fork, 'vars': {'n': nodes, 'base': 0}})
        tick = time.perf_counter()
        await call(prox, '$lib.view.get($fork).merge()', opts={'vars': {'fork': fork}})
        took = time.perf_counter() - tick
        assert await prox.count('inet:ipv4') == nodes
        bench.emit('viewmerge.merge', 'nodes/s', nodes / took, n=nodes)

        # a merge request voted through
        setup = '''
            $r=$lib.auth.roles.add(voters)
            $a=$lib.auth.users.add(alice) $a.addRule(([true, ["view"]]))
            $b=$lib.auth.users.add(bob) $b.grant($r.iden)
            $lib.view.get().set(quorum, ({"count": 1, "roles": [$r.iden]}))
            return(($a.iden, $b.iden))
        '''
        alice, bob = await call(prox, setup)
        fork = await call(prox, 'return($lib.view.get().fork().iden)', opts={'user': alice})
        await prox.count(FILL, opts={'view': fork, 'vars': {'n': nodes, 'base': 100000}, 'user': alice})
        await call(prox, '$lib.view.get($fork).setMergeRequest()', opts={'vars': {'fork': fork}, 'user': alice})

        vote = '$lib.view.get($fork).setMergeVote(approved=$ok)'
        tick = time.perf_counter()
        for _ in range(calls):
            await call(prox, vote, opts={'vars': {'fork': fork, 'ok': False}, 'user': bob})
        took = time.perf_counter() - tick
        bench.emit('viewmerge.vote', 'calls/s', calls / took, n=calls)

        exists = '''
            for $v in $lib.view.list() { if ($v.iden = $fork) { return((false)) } }
            return((true))
        '''
        tick = time.perf_counter()
        await call(prox, vote, opts={'vars': {'fork': fork, 'ok': True}, 'user': bob})
        while not await call(prox, exists, opts={'vars': {'fork': fork}}):
            await asyncio.sleep(0.005)
        took = time.perf_counter() - tick
        # the merge is done when the fork is deleted
        merged = await prox.count('inet:ipv4')
        assert merged == nodes * 2, merged
        bench.emit('viewmerge.quorum', 'nodes/s', nodes / took, n=nodes)
    bench.stop()


def main(opts):
    nodes, calls = (2000, 200) if opts.quick else (20000, 1000)
    bench = Bench(opts)
    with tempfile.TemporaryDirectory() as tmp:
        dirn = os.path.join(tmp, 'cortex')
        os.makedirs(dirn)
        with open(os.path.join(dirn, 'cell.yaml'), 'w') as fd:
            fd.write('auth:passwd: secret\n')
        try:
            asyncio.run(run(bench, dirn, nodes, calls))
        finally:
            bench.stop()


if __name__ == '__main__':
    pars = argparse.ArgumentParser()
    pars.add_argument('--impl', required=True)
    pars.add_argument('--quick', action='store_true')
    pars.add_argument('--spawn', default=None)
    main(pars.parse_args())
