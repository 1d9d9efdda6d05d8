'''
Bulk ingest through the reference Python client: `addNodes` of tagged inet:ipv4, inet:fqdn and
inet:dns:a node definitions (one third each) in batches, then the server's resident memory.

    python cortex_ingest.py --impl NAME [--quick] [--nodes N | --n DEFS] [--batch B] [--spawn 'CMD with {dirn} {port} {httpsport}']

--nodes N (default 1e6; 1e4 with --quick) is the number of nodes the Cortex ends up with: every
three definitions make five nodes (the inet:dns:a adds its inet:fqdn and inet:ipv4), plus the
1000 parent domains, bench.com and com, so about 0.6 N definitions are sent. --n DEFS sends an
exact number of definitions instead. The node count reached is read back from the Cortex
(getFormCounts) and reported with the memory figures.

Without --spawn the reference Cortex is started (`python -m synapse.servers.cortex`). Prints one
JSON line per metric: {"metric", "impl", "unit", "value", "params"}.
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


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def emit(impl, metric, unit, value, **params):
    print(json.dumps({'metric': metric, 'impl': impl, 'unit': unit, 'value': value, 'params': params}), flush=True)


def rss_mib(pid, key='VmRSS:'):
    with open(f'/proc/{pid}/status') as fd:
        for line in fd:
            if line.startswith(key):
                return int(line.split()[1]) / 1024.0
    return 0.0


async def wait_up(url, deadline):
    while True:
        try:
            async with await s_telepath.openurl(url) as prox:
                await prox.getCellIden()
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


def nodedef(idx):
    kind = idx % 3
    if kind == 0:
        return (('inet:ipv4', idx), {'tags': {'bench.ipv4': (None, None)}})
    if kind == 1:
        return (('inet:fqdn', f'h{idx}.d{idx % 1000}.bench.com'), {'tags': {'bench.fqdn': (None, None)}})
    return (('inet:dns:a', (f'a{idx}.bench.com', idx + 0x0a000000)), {'tags': {'bench.dnsa': (None, None)}})


def defs_for_nodes(nodes):
    '''How many definitions make about `nodes` nodes (see the module doc).'''
    return max(1, round((nodes - 1002) * 3 / 5))


async def main(opts):
    impl = opts.impl
    count = opts.n or defs_for_nodes(10000 if opts.quick else opts.nodes)
    batch = opts.batch

    with tempfile.TemporaryDirectory() as tmp:
        dirn = os.path.join(tmp, 'cortex')
        os.makedirs(dirn)
        with open(os.path.join(dirn, 'cell.yaml'), 'w') as fd:
            fd.write('auth:passwd: secret\n')
        port, httpsport = free_port(), free_port()
        template = opts.spawn or REFERENCE
        cmd = template.format(python=sys.executable, dirn=dirn, port=port, httpsport=httpsport)
        proc = subprocess.Popen(shlex.split(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        url = f'tcp://root:secret@127.0.0.1:{port}/'
        try:
            await wait_up(url, time.monotonic() + 600)
            emit(impl, 'cortex.ingest.rss.empty', 'MiB', rss_mib(proc.pid))
            async with await s_telepath.openurl(url) as core:
                done = 0
                start = time.monotonic()
                while done < count:
                    size = min(batch, count - done)
                    defs = [nodedef(i) for i in range(done, done + size)]
                    got = 0
                    async for _ in core.addNodes(defs):
                        got += 1
                    assert got == size, (got, size)
                    done += size
                took = time.monotonic() - start
                rss, hwm = rss_mib(proc.pid), rss_mib(proc.pid, 'VmHWM:')
                anon, filed = rss_mib(proc.pid, 'RssAnon:'), rss_mib(proc.pid, 'RssFile:')
                counts = await core.callStorm('return($lib.view.get().getFormCounts())')
                nodes = sum(counts.values())
                # The same after two idle seconds (memory held only while working is gone).
                await asyncio.sleep(2)
                settled = rss_mib(proc.pid)
            emit(impl, 'cortex.ingest.addnodes', 'nodes/s', count / took, n=count, batch=batch,
                 forms='inet:ipv4,inet:fqdn,inet:dns:a', tags=1)
            emit(impl, 'cortex.ingest.nodes', 'nodes', nodes, defs=count)
            emit(impl, 'cortex.ingest.rss', 'MiB', rss, nodes=nodes, defs=count)
            emit(impl, 'cortex.ingest.hwm', 'MiB', hwm, nodes=nodes, defs=count)
            emit(impl, 'cortex.ingest.rss_anon', 'MiB', anon, nodes=nodes, defs=count)
            emit(impl, 'cortex.ingest.rss_file', 'MiB', filed, nodes=nodes, defs=count)
            emit(impl, 'cortex.ingest.rss.settled', 'MiB', settled, nodes=nodes, defs=count)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=60)
            except Exception:
                os.killpg(proc.pid, signal.SIGKILL)


if __name__ == '__main__':
    pars = argparse.ArgumentParser()
    pars.add_argument('--impl', required=True)
    pars.add_argument('--quick', action='store_true')
    pars.add_argument('--n', type=int, default=None, help='an exact number of node definitions')
    pars.add_argument('--nodes', type=int, default=1000000, help='nodes to reach without --quick (default 1e6)')
    pars.add_argument('--batch', type=int, default=1000)
    pars.add_argument('--spawn', default=None)
    asyncio.run(main(pars.parse_args()))
