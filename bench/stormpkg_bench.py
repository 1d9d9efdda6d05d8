'''
Storm package benchmarks through the reference Python client: a pure package command and an
imported module, against the reference Cortex or ours.

    python stormpkg_bench.py --impl NAME [--quick] [--spawn 'CMD with {dirn} {port} {httpsport} {python}']

Phases (N calls or nodes; quick: 200 / 2000, full: 1000 / 20000):

    stormpkg.add           addStormPkg of a package with a module and two commands     calls/s
    stormpkg.cmd.call      storm('pkgbench.noop') sequential calls                       calls/s
    stormpkg.cmd.nodes     count('inet:ipv4 | pkgbench.pass'): nodes through a command   nodes/s
    stormpkg.import.call   callStorm('return($lib.import(pkgbench.mod).add(1, 2))')     calls/s
    stormpkg.import.func   callStorm('$m=$lib.import(..) for $i in $lib.range(N) { $m.add($i, 1) }')
                                                                                          func calls/s

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

PKG = {
    'name': 'pkgbench',
    'version': '1.0.0',
    'modules': [{'name': 'pkgbench.mod', 'storm': 'function add(x, y) { return(($x + $y)) }'}],
    'commands': [
        {'name': 'pkgbench.noop', 'storm': '$x = (1)'},
        {'name': 'pkgbench.pass', 'cmdargs': (('--by', {'type': 'int', 'default': 1}),),
         'storm': '$x = ($cmdopts.by + 1)'},
    ],
}


async def run(bench, dirn, calls, nodes):
    await bench.start(dirn)
    async with await s_telepath.openurl(bench.url) as prox:
        tick = time.perf_counter()
        for i in range(calls // 10):
            pkg = dict(PKG, version=f'1.0.{i}')
            await prox.addStormPkg(pkg)
        took = time.perf_counter() - tick
        bench.emit('stormpkg.add', 'calls/s', (calls // 10) / took, n=calls // 10)

        tick = time.perf_counter()
        for _ in range(calls):
            async for mesg in prox.storm('pkgbench.noop'):
                if mesg[0] == 'err':
                    raise RuntimeError(repr(mesg))
        took = time.perf_counter() - tick
        bench.emit('stormpkg.cmd.call', 'calls/s', calls / took, n=calls, query='pkgbench.noop')

        await prox.count('for $i in $lib.range($n) { [ inet:ipv4=$i ] }', opts={'vars': {'n': nodes}})
        tick = time.perf_counter()
        count = await prox.count('inet:ipv4 | pkgbench.pass --by 2')
        took = time.perf_counter() - tick
        assert count == nodes, (count, nodes)
        bench.emit('stormpkg.cmd.nodes', 'nodes/s', count / took, n=count, query='inet:ipv4 | pkgbench.pass --by 2')

        query = 'return($lib.import(pkgbench.mod).add(1, 2))'
        tick = time.perf_counter()
        for _ in range(calls):
            assert await prox.callStorm(query) == 3
        took = time.perf_counter() - tick
        bench.emit('stormpkg.import.call', 'calls/s', calls / took, n=calls, query=query)

        query = '$m=$lib.import(pkgbench.mod) $t=(0) for $i in $lib.range($n) { $t = ($t + $m.add($i, 1)) } return($t)'
        tick = time.perf_counter()
        total = await prox.callStorm(query, opts={'vars': {'n': nodes}})
        took = time.perf_counter() - tick
        assert total == sum(range(nodes)) + nodes, total
        bench.emit('stormpkg.import.func', 'func calls/s', nodes / took, n=nodes, query=query)
    bench.stop()


def main(opts):
    calls, nodes = (200, 2000) if opts.quick else (1000, 20000)
    bench = Bench(opts)
    with tempfile.TemporaryDirectory() as tmp:
        dirn = os.path.join(tmp, 'cortex')
        os.makedirs(dirn)
        with open(os.path.join(dirn, 'cell.yaml'), 'w') as fd:
            fd.write('auth:passwd: secret\n')
        try:
            asyncio.run(run(bench, dirn, calls, nodes))
        finally:
            bench.stop()


if __name__ == '__main__':
    pars = argparse.ArgumentParser()
    pars.add_argument('--impl', required=True)
    pars.add_argument('--quick', action='store_true')
    pars.add_argument('--spawn', default=None)
    main(pars.parse_args())
