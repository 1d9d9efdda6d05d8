'''
Telepath benchmarks with the reference Python client (synapse.telepath 2.x) against a server
started from a command line (which must print {"url": ...} and serve until stdin closes).

    python telepath_bench.py --impl python --server "python bench/telepath_server.py"
    python telepath_bench.py --impl py-client/rust-server --server "target/release/examples/bench_telepath serve"
    python telepath_bench.py --impl rust-client/py-server --server "python bench/telepath_server.py" \
        --client "target/release/examples/bench_telepath client"

Prints one JSON line per metric: {"metric", "impl", "unit", "value", "params"}.
'''
import sys
import json
import time
import shlex
import asyncio
import argparse
import statistics
import subprocess

import synapse.telepath as s_telepath

def emit(metric, impl, unit, value, params):
    print(json.dumps({'metric': metric, 'impl': impl, 'unit': unit,
                      'value': round(value, 2), 'params': params}), flush=True)

async def bench(url, impl, quick, reps):
    async with await s_telepath.openurl(url) as prox:
        for _ in range(100):
            await prox.echo(1)

        n = 2000 if quick else 10000
        runs = []
        for _ in range(reps):
            start = time.perf_counter()
            for _ in range(n):
                await prox.echo(1)
            runs.append(n / (time.perf_counter() - start))
        emit('call.seq', impl, 'calls/s', statistics.median(runs), {'n': n, 'method': 'echo(1)', 'reps': reps})

        tasks = 64
        n = 6400 if quick else 32000
        runs = []
        for _ in range(reps):
            async def worker():
                for _ in range(n // tasks):
                    await prox.echo(1)
            start = time.perf_counter()
            await asyncio.gather(*[worker() for _ in range(tasks)])
            runs.append(n / (time.perf_counter() - start))
        emit('call.conc64', impl, 'calls/s', statistics.median(runs), {'n': n, 'tasks': tasks, 'method': 'echo(1)', 'reps': reps})

        n = 20000 if quick else 100000
        runs = []
        for _ in range(reps):
            start = time.perf_counter()
            count = 0
            async for _ in prox.genr(n):
                count += 1
            assert count == n
            runs.append(n / (time.perf_counter() - start))
        emit('genr.items', impl, 'items/s', statistics.median(runs), {'n': n, 'item': 'int', 'reps': reps})

        size = 1 << 20
        n = 20 if quick else 100
        payload = b'\x5a' * size
        runs = []
        for _ in range(reps):
            start = time.perf_counter()
            for _ in range(n):
                back = await prox.echo(payload)
                assert len(back) == size
            runs.append(2 * n * size / 1e6 / (time.perf_counter() - start))
        emit('payload.1mib', impl, 'MB/s', statistics.median(runs),
             {'n': n, 'size': size, 'method': 'echo(bytes), bytes sent + received', 'reps': reps})

def main():
    pars = argparse.ArgumentParser()
    pars.add_argument('--impl', required=True)
    pars.add_argument('--server', help='command line starting the server')
    pars.add_argument('--url', help='an already running server')
    pars.add_argument('--client', help='measure with this client command instead (given URL --impl NAME)')
    pars.add_argument('--quick', action='store_true')
    pars.add_argument('--reps', type=int, default=3)
    opts = pars.parse_args()

    proc = None
    url = opts.url
    if url is None:
        proc = subprocess.Popen(shlex.split(opts.server), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        url = json.loads(proc.stdout.readline())['url']
    try:
        if opts.client:
            argv = shlex.split(opts.client) + [url, '--impl', opts.impl]
            if opts.quick:
                argv.append('--quick')
            subprocess.run(argv, check=True)
        else:
            asyncio.run(bench(url, opts.impl, opts.quick, opts.reps))
    finally:
        if proc is not None:
            proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

if __name__ == '__main__':
    sys.exit(main())
