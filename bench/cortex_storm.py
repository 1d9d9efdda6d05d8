'''
Cortex / Storm benchmarks through the reference Python client (telepath storm() and count()).

    python cortex_storm.py --impl NAME [--quick] [--spawn 'CMD with {dirn} {port} {httpsport} {python}']

Without --spawn the reference Cortex is started (`python -m synapse.servers.cortex`). Phases:

    cortex.startup.fresh   spawn of an empty cortex until getCellIden() succeeds        s
    cortex.rss.empty       VmRSS of the fresh server                                    MiB
    cortex.create.ipv4     count('for $i in $lib.range($b, $a) { [ inet:ipv4=$i ] }')   nodes/s
    cortex.create.tagged   ... [ inet:ipv4=$i :asn=$i :loc=us.va +#foo +#bench.tagged ]  nodes/s
    cortex.create.dnsa     ... [ inet:dns:a=(`h{$i}.bench.com`, $i) ] (+ the inet:fqdn)  nodes/s
    cortex.rss/hwm.loaded  VmRSS / VmHWM after the creation                             MiB
    cortex.lift.stream     storm('inet:ipv4'), every node shipped to the client          nodes/s
    cortex.lift.count      count('inet:ipv4')                                           nodes/s
    cortex.filter.gt       count('inet:ipv4 +inet:ipv4>1000')                           input nodes/s
    cortex.lift.range      count('inet:ipv4>1000')                                      nodes/s
    cortex.lift.prop       count('inet:ipv4:loc=us.va')                                 nodes/s
    cortex.lift.tag        count('#foo')                                                nodes/s
    cortex.pivot.chain     count('inet:fqdn -> inet:dns:a -> inet:ipv4')                output nodes/s
    cortex.rss/hwm.after_queries                                                        MiB
    cortex.startup.loaded  restart of the loaded cortex until getCellIden() succeeds    s

Prints one JSON line per metric: {"metric", "impl", "unit", "value", "params"}.
'''
import os
import sys
import json
import time
import shlex
import signal
import socket
import asyncio
import argparse
import tempfile
import subprocess

import synapse.telepath as s_telepath

REFERENCE = '{python} -m synapse.servers.cortex {dirn} --telepath tcp://127.0.0.1:{port}/ --https {httpsport}'

Q_IPV4 = 'for $i in $lib.range($b, $a) { [ inet:ipv4=$i ] }'
Q_TAGGED = 'for $i in $lib.range($b, $a) { [ inet:ipv4=$i :asn=$i :loc=us.va +#foo +#bench.tagged ] }'
Q_DNSA = 'for $i in $lib.range($b, $a) { [ inet:dns:a=(`h{$i}.bench.com`, $i) ] }'
TAGBASE = 0x10000000

COUNTS = (
    ('cortex.lift.count', 'inet:ipv4', 'nodes/s'),
    ('cortex.filter.gt', 'inet:ipv4 +inet:ipv4>1000', 'input nodes/s'),
    ('cortex.lift.range', 'inet:ipv4>1000', 'nodes/s'),
    ('cortex.lift.prop', 'inet:ipv4:loc=us.va', 'nodes/s'),
    ('cortex.lift.tag', '#foo', 'nodes/s'),
    ('cortex.pivot.chain', 'inet:fqdn -> inet:dns:a -> inet:ipv4', 'output nodes/s'),
)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def log(text):
    print(text, file=sys.stderr, flush=True)


class Bench:

    def __init__(self, opts):
        self.impl = opts.impl
        self.template = opts.spawn or REFERENCE
        self.proc = None
        self.url = None

    def emit(self, metric, unit, value, **params):
        print(json.dumps({'metric': metric, 'impl': self.impl, 'unit': unit, 'value': value, 'params': params}),
              flush=True)

    def status(self, key):
        with open(f'/proc/{self.proc.pid}/status') as fd:
            for line in fd:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024.0
        return 0.0

    async def start(self, dirn):
        port, httpsport = free_port(), free_port()
        cmd = self.template.format(python=sys.executable, dirn=dirn, port=port, httpsport=httpsport)
        self.url = f'tcp://root:secret@127.0.0.1:{port}/'
        tick = time.perf_counter()
        self.proc = subprocess.Popen(shlex.split(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + 300
        while True:
            try:
                async with await s_telepath.openurl(self.url) as prox:
                    await prox.getCellIden()
                    return time.perf_counter() - tick
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.02)

    def stop(self):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=60)
        except Exception:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None


async def timed_count(prox, query, opts=None):
    tick = time.perf_counter()
    count = await prox.count(query, opts=opts)
    return time.perf_counter() - tick, count


async def run(bench, dirn, sizes):
    nipv4, ntag, ndns = sizes
    took = await bench.start(dirn)
    bench.emit('cortex.startup.fresh', 's', took)
    bench.emit('cortex.rss.empty', 'MiB', bench.status('VmRSS:'))

    async with await s_telepath.openurl(bench.url) as prox:
        await prox.count('[ inet:ipv4=1.2.3.4 ] | delnode')
        for metric, query, base, size in (('cortex.create.ipv4', Q_IPV4, 0, nipv4),
                                          ('cortex.create.tagged', Q_TAGGED, TAGBASE, ntag),
                                          ('cortex.create.dnsa', Q_DNSA, 0, ndns)):
            took, count = await timed_count(prox, query, opts={'vars': {'a': base, 'b': base + size}})
            assert count == size, (metric, count, size)
            bench.emit(metric, 'nodes/s', count / took, query=query, n=size)
        total = sum((await prox.callStorm('return($lib.view.get().getFormCounts())')).values())
        log(f'{bench.impl}: {total} nodes')
    bench.emit('cortex.rss.loaded', 'MiB', bench.status('VmRSS:'), nodes=total)
    # the breakdown: anonymous memory (heaps) and file pages (the LMDB maps)
    bench.emit('cortex.rss_anon.loaded', 'MiB', bench.status('RssAnon:'), nodes=total)
    bench.emit('cortex.rss_file.loaded', 'MiB', bench.status('RssFile:'), nodes=total)
    bench.emit('cortex.hwm.loaded', 'MiB', bench.status('VmHWM:'), nodes=total)

    async with await s_telepath.openurl(bench.url) as prox:
        nipv4 = await prox.count('inet:ipv4')
        tick = time.perf_counter()
        count = 0
        async for mesg in prox.storm('inet:ipv4'):
            if mesg[0] == 'node':
                count += 1
            elif mesg[0] == 'err':
                raise RuntimeError(repr(mesg))
        took = time.perf_counter() - tick
        assert count == nipv4, (count, nipv4)
        bench.emit('cortex.lift.stream', 'nodes/s', count / took, query='inet:ipv4', n=count,
                   via='telepath storm()')
        for metric, query, unit in COUNTS:
            took, count = await timed_count(prox, query)
            rate = (nipv4 if metric == 'cortex.filter.gt' else count) / took
            bench.emit(metric, unit, rate, query=query, n_out=count)
    bench.emit('cortex.rss.after_queries', 'MiB', bench.status('VmRSS:'), nodes=total)
    bench.emit('cortex.rss_anon.after_queries', 'MiB', bench.status('RssAnon:'), nodes=total)
    bench.emit('cortex.rss_file.after_queries', 'MiB', bench.status('RssFile:'), nodes=total)
    bench.emit('cortex.hwm.after_queries', 'MiB', bench.status('VmHWM:'), nodes=total)

    bench.stop()
    took = await bench.start(dirn)
    bench.emit('cortex.startup.loaded', 's', took, nodes=total)
    bench.emit('cortex.rss.restarted', 'MiB', bench.status('VmRSS:'), nodes=total)
    async with await s_telepath.openurl(bench.url) as prox:
        after = await prox.count('inet:ipv4')
        assert after == nipv4, (after, nipv4)


def main(opts):
    sizes = (5000, 1000, 1000) if opts.quick else (75000, 9000, 9000)
    bench = Bench(opts)
    with tempfile.TemporaryDirectory() as tmp:
        dirn = os.path.join(tmp, 'cortex')
        os.makedirs(dirn)
        with open(os.path.join(dirn, 'cell.yaml'), 'w') as fd:
            fd.write('auth:passwd: secret\n')
        try:
            asyncio.run(run(bench, dirn, sizes))
        finally:
            bench.stop()


if __name__ == '__main__':
    pars = argparse.ArgumentParser()
    pars.add_argument('--impl', required=True)
    pars.add_argument('--quick', action='store_true')
    pars.add_argument('--spawn', default=None)
    main(pars.parse_args())
