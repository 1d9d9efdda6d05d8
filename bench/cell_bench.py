'''
Cell benchmarks through the reference Python client: telepath calls and handshakes (with a
password check), HTTPS requests (no auth, basic auth, session cookie), and cold start.

    python cell_bench.py --impl NAME [--quick] [--spawn 'CMD with {dirn} {port} {httpsport}']

Without --spawn the reference cell is started (`python -m synapse.servers.cell`). Prints one
JSON line per metric: {"metric", "impl", "unit", "value", "params"}.
'''
import os
import ssl
import sys
import json
import time
import shlex
import base64
import signal
import socket
import asyncio
import argparse
import tempfile
import statistics
import subprocess
import http.client

import synapse.telepath as s_telepath

REFERENCE = '{python} -m synapse.servers.cell synapse.lib.cell.Cell {dirn} --telepath tcp://127.0.0.1:{port}/ --https {httpsport}'


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def emit(impl, metric, unit, value, **params):
    print(json.dumps({'metric': metric, 'impl': impl, 'unit': unit, 'value': value, 'params': params}), flush=True)


async def wait_up(url, deadline):
    while True:
        try:
            async with await s_telepath.openurl(url) as prox:
                await prox.getCellIden()
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.02)


def https_conn(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return http.client.HTTPSConnection('127.0.0.1', port, context=ctx)


def https_rate(port, path, n, headers=None, method='GET', body=None):
    conn = https_conn(port)
    start = time.monotonic()
    for _ in range(n):
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, resp.status
    took = time.monotonic() - start
    conn.close()
    return n / took


def median_of(reps, func):
    return statistics.median(func() for _ in range(reps))


async def main(opts):
    impl = opts.impl
    quick = opts.quick
    reps = 1 if quick else 3
    ncalls = 2000 if quick else 10000
    nconns = 50 if quick else 300
    nhttp = 300 if quick else 2000

    with tempfile.TemporaryDirectory() as tmp:
        dirn = os.path.join(tmp, 'cell')
        os.makedirs(dirn)
        with open(os.path.join(dirn, 'cell.yaml'), 'w') as fd:
            fd.write('auth:passwd: secret\n')
        port, httpsport = free_port(), free_port()
        template = opts.spawn or REFERENCE
        cmd = template.format(python=sys.executable, dirn=dirn, port=port, httpsport=httpsport)
        start = time.monotonic()
        proc = subprocess.Popen(shlex.split(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        url = f'tcp://root:secret@127.0.0.1:{port}/'
        try:
            await wait_up(url, start + 120)
            emit(impl, 'cell.startup.fresh', 's', time.monotonic() - start)

            async with await s_telepath.openurl(url) as prox:
                async def seq():
                    t0 = time.monotonic()
                    for _ in range(ncalls):
                        await prox.getCellIden()
                    return ncalls / (time.monotonic() - t0)
                rates = [await seq() for _ in range(reps)]
                emit(impl, 'cell.telepath.call.seq', 'calls/s', statistics.median(rates),
                     method='getCellIden', n=ncalls)

                async def conc(tasks=8):
                    per = ncalls // tasks

                    async def worker():
                        for _ in range(per):
                            await prox.getCellIden()
                    t0 = time.monotonic()
                    await asyncio.gather(*[worker() for _ in range(tasks)])
                    return per * tasks / (time.monotonic() - t0)
                rates = [await conc() for _ in range(reps)]
                emit(impl, 'cell.telepath.call.conc8', 'calls/s', statistics.median(rates),
                     method='getCellIden', n=ncalls, tasks=8)

                async def info():
                    t0 = time.monotonic()
                    for _ in range(ncalls // 4):
                        await prox.getUserDefs()
                    return (ncalls // 4) / (time.monotonic() - t0)
                rates = [await info() for _ in range(reps)]
                emit(impl, 'cell.telepath.getUserDefs', 'calls/s', statistics.median(rates), n=ncalls // 4)

            async def connect():
                t0 = time.monotonic()
                for _ in range(nconns):
                    async with await s_telepath.openurl(url) as prox:
                        pass
                return nconns / (time.monotonic() - t0)
            rates = [await connect() for _ in range(reps)]
            emit(impl, 'cell.telepath.connect', 'conns/s', statistics.median(rates),
                 n=nconns, auth='root:secret')

            rate = median_of(reps, lambda: https_rate(httpsport, '/api/v1/active', nhttp))
            emit(impl, 'cell.https.active', 'reqs/s', rate, n=nhttp, keepalive=True)

            basic = 'Basic ' + base64.b64encode(b'root:secret').decode()
            rate = median_of(reps, lambda: https_rate(httpsport, '/api/v1/auth/users', nhttp,
                                                      headers={'Authorization': basic}))
            emit(impl, 'cell.https.users.basicauth', 'reqs/s', rate, n=nhttp, keepalive=True)

            conn = https_conn(httpsport)
            conn.request('POST', '/api/v1/login', body=json.dumps({'user': 'root', 'passwd': 'secret'}))
            resp = conn.getresponse()
            resp.read()
            cookie = resp.getheader('Set-Cookie').split(';')[0]
            conn.close()
            rate = median_of(reps, lambda: https_rate(httpsport, '/api/v1/auth/users', nhttp,
                                                      headers={'Cookie': cookie}))
            emit(impl, 'cell.https.users.cookie', 'reqs/s', rate, n=nhttp, keepalive=True)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
            except Exception:
                os.killpg(proc.pid, signal.SIGKILL)


if __name__ == '__main__':
    pars = argparse.ArgumentParser()
    pars.add_argument('--impl', required=True)
    pars.add_argument('--quick', action='store_true')
    pars.add_argument('--spawn', default=None)
    asyncio.run(main(pars.parse_args()))
