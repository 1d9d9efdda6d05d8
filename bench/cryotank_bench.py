'''
Cryotank throughput through the reference's Python telepath client, against a server this
script starts in a temp dir: the reference's (`python -m synapse.servers.cryotank`) or ours
(`synapse-servers cryotank`). Same work as crates/synapse-cryotank/examples/bench_cryotank.rs.

    cryotank_bench.py --impl python [--quick]
    cryotank_bench.py --impl py-client/rust-server --server target/release/synapse-servers

Prints one JSON line per metric for `cargo xtask bench cryotank`.
'''
import os
import sys
import json
import time
import signal
import socket
import asyncio
import argparse
import tempfile
import statistics
import subprocess

import synapse.telepath as s_telepath

BATCH = 1000


def record(i):
    return {
        'time': 1700000000000 + i,
        'name': f'record-{i:08d}',
        'host': f'host{i % 97}.example.com',
        'port': i % 65536,
        'tags': ('alpha', 'beta'),
        'ok': bool(i & 1),
    }


def batches(start, count):
    end = start + count
    return [[record(i) for i in range(s, min(s + BATCH, end))] for s in range(start, end, BATCH)]


def port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Results:

    def __init__(self, impl):
        self.impl = impl

    def add(self, metric, unit, samples, **params):
        value = statistics.median(samples)
        print(json.dumps({'metric': metric, 'impl': self.impl, 'unit': unit, 'value': value, 'params': params}))
        print(f'{self.impl} {metric}: {value:.0f} {unit}', file=sys.stderr)
        sys.stdout.flush()


async def start(argv, url):
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    began = time.monotonic()
    while True:
        try:
            async with await s_telepath.openurl(url) as prox:
                await prox.getCellIden()
                return proc
        except Exception:
            if proc.poll() is not None:
                raise Exception(f'server exited with {proc.returncode}: {argv}')
            if time.monotonic() - began > 120:
                raise Exception('server did not start')
            await asyncio.sleep(0.05)


async def putAll(prox, name, work):
    for batch in work:
        await prox.puts(name, batch)


async def run(opts, res, url):
    nrecs = 20000 if opts.quick else 300000
    nlast = 1000 if opts.quick else 5000

    async with await s_telepath.openurl(url) as prox:

        await prox.puts('warmup', [record(i) for i in range(100)])

        samples = []
        for rep in range(opts.reps):
            name = f'bench{rep}'
            await prox.init(name)
            work = batches(0, nrecs)
            began = time.perf_counter()
            await putAll(prox, name, work)
            samples.append(nrecs / (time.perf_counter() - began))
        res.add('puts', 'records/s', samples, n=nrecs, batch=BATCH)

        samples = []
        for rep in range(opts.reps):
            names = [f'conc{rep}-{w}' for w in range(4)]
            for name in names:
                await prox.init(name)
            per = nrecs // 4
            work = [batches(w * per, per) for w in range(4)]
            began = time.perf_counter()
            await asyncio.gather(*[putAll(prox, names[w], work[w]) for w in range(4)])
            samples.append(per * 4 / (time.perf_counter() - began))
        res.add('puts.conc4', 'records/s', samples, n=nrecs, batch=BATCH, writers=4)

        samples = []
        for rep in range(opts.reps):
            began = time.perf_counter()
            count = 0
            async for _ in prox.slice(f'bench{rep}', 0):
                count += 1
            assert count == nrecs, (count, nrecs)
            samples.append(count / (time.perf_counter() - began))
        res.add('slice', 'records/s', samples, n=nrecs, call='slice(name, 0)')

        samples = []
        for rep in range(opts.reps):
            began = time.perf_counter()
            offs = count = 0
            while offs < nrecs:
                last = None
                async for indx, _ in prox.slice(f'bench{rep}', offs, size=BATCH):
                    last = indx
                    count += 1
                if last is None:
                    break
                offs = last + 1
            assert count == nrecs, (count, nrecs)
            samples.append(count / (time.perf_counter() - began))
        res.add('slice.batch', 'records/s', samples, n=nrecs, call=f'slice(name, offs, size={BATCH}) repeated')

        samples = []
        for rep in range(opts.reps):
            began = time.perf_counter()
            for _ in range(nlast):
                await prox.last('bench0')
            samples.append(nlast / (time.perf_counter() - began))
        res.add('last', 'calls/s', samples, n=nlast)


def main(argv):
    pars = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    pars.add_argument('--impl', default='python', help='the impl label of the figures')
    pars.add_argument('--server', default=None, help='our synapse-servers binary (default: the reference server)')
    pars.add_argument('--quick', action='store_true')
    pars.add_argument('--reps', type=int, default=3)
    opts = pars.parse_args(argv)

    res = Results(opts.impl)
    with tempfile.TemporaryDirectory() as tmpdir:
        dirn = f'{tmpdir}/cryo'
        tport, hport = port(), port()
        if opts.server is None:
            argv = [sys.executable, '-m', 'synapse.servers.cryotank', dirn]
        else:
            argv = [opts.server, 'cryotank', dirn]
        argv += ['--telepath', f'tcp://127.0.0.1:{tport}/', '--https', str(hport), '--auth-passwd', 'secret']
        url = f'tcp://root:secret@127.0.0.1:{tport}/'

        async def go():
            proc = await start(argv, url)
            try:
                await run(opts, res, url)
            finally:
                # The reference server has child processes: end the whole session.
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

        asyncio.run(go())


if __name__ == '__main__':
    main(sys.argv[1:])
