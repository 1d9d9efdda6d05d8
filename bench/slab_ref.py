'''
The reference's slab (synapse.lib.lmdbslab.Slab) under the same work as
crates/synapse-slab/examples/bench_slab.rs, printed as JSON lines for `cargo xtask bench slab`.
'''
import sys
import json
import time
import random
import asyncio
import tempfile

import synapse.lib.lmdbslab as s_lmdbslab

VALUE = b'\x5a' * 32

ROUNDS = 2
BEST = {}

def emit(metric, unit, value, n):
    # the best of the rounds is printed at the end, as the Rust side does
    best = BEST.get(metric)
    if best is None or value > best[1]:
        BEST[metric] = (unit, value, n)

async def main(quick):
    n, calls = (50_000, 5_000) if quick else (500_000, 50_000)
    order = list(range(n))
    random.Random(7).shuffle(order)

    with tempfile.TemporaryDirectory() as dirn:
        slab = await s_lmdbslab.Slab.anit(dirn + '/bench.lmdb')
        slab.initdb('bench')

        start = time.perf_counter()
        for idx in range(n):
            slab.put(idx.to_bytes(8, 'big'), VALUE, db='bench')
            if idx % 10000 == 9999:
                await asyncio.sleep(0)
        await slab.sync()
        emit('put.small', 'puts/s', n / (time.perf_counter() - start), n)

        start = time.perf_counter()
        total = 0
        for idx in order:
            total += len(slab.get(idx.to_bytes(8, 'big'), db='bench'))
        assert total == n * 32
        emit('get.small', 'gets/s', n / (time.perf_counter() - start), n)

        start = time.perf_counter()
        rows = 0
        for lkey, lval in slab.scanByFull(db='bench'):
            rows += 1
        assert rows == n
        emit('scan.full', 'rows/s', n / (time.perf_counter() - start), n)
        emit('scan.stream', 'rows/s', n / (time.perf_counter() - start), n)

        # The reference's API is synchronous: its per-call figures are its plain puts and gets.
        slab.initdb('calls')
        start = time.perf_counter()
        for idx in range(calls):
            slab.put(idx.to_bytes(8, 'big'), VALUE, db='calls')
        await slab.sync()
        emit('put.call', 'puts/s', calls / (time.perf_counter() - start), calls)
        start = time.perf_counter()
        for idx in order[:calls]:
            slab.get(idx.to_bytes(8, 'big'), db='bench')
        emit('get.call', 'gets/s', calls / (time.perf_counter() - start), calls)

        # Durable small writes: a put followed by a forced commit each.
        durable = max(calls // 20, 10)
        start = time.perf_counter()
        for idx in range(durable):
            slab.put((2 ** 40 + idx).to_bytes(8, 'big'), VALUE, db='calls')
            await slab.sync()
        emit('put.committed', 'puts/s', durable / (time.perf_counter() - start), durable)

        await slab.fini()

async def rounds(quick):
    for _ in range(ROUNDS):
        await main(quick)
    for metric, (unit, value, n) in sorted(BEST.items()):
        print(json.dumps({'metric': metric, 'impl': 'python', 'unit': unit, 'value': value,
                          'params': {'n': n, 'rounds': ROUNDS}}))

if __name__ == '__main__':
    asyncio.run(rounds('--quick' in sys.argv))
