#!/usr/bin/env python
'''
`cargo xtask bench axon`, Python side: the reference's Python client against the reference
Axon (impl "python") or against `synapse-servers axon` (impl "py-client/rust-server").

Metrics (one JSON line each on stdout, MB = 1e6 bytes):
  upload.telepath   MB/s     upload() share: write() in 1 MiB pieces, then save()
  upload.https      MB/s     PUT /api/v1/axon/files/put
  get.telepath      MB/s     async for chunk in get(sha256)
  get.https         MB/s     GET /api/v1/axon/files/by/sha256/<hex>
  puts.small        files/s  puts([100 blobs of 4 KiB]) per call, sequential
  has               calls/s  has(sha256), sequential
  wants             hashes/s wants([1000 sha256s], half present), sequential
  rss, hwm          MiB      the server's VmRSS / VmHWM at the end

Usage: axon_ref.py --server python|rust [--bin PATH/TO/synapse-servers] [--quick]
'''
import os
import ssl
import sys
import json
import time
import base64
import signal
import socket
import asyncio
import argparse
import tempfile
import subprocess
import http.client

import synapse.telepath as s_telepath

CHUNK = 1024 * 1024
MB = 1e6


def emit(metric, impl, unit, value, **params):
    print(json.dumps({'metric': metric, 'impl': impl, 'unit': unit, 'value': value, 'params': params}), flush=True)
    sys.stderr.write(f'{metric:<18} {impl:<22} {value:>12.1f} {unit}\n')


def median(vals):
    vals = sorted(vals)
    return vals[len(vals) // 2]


def freeport():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Server:

    def __init__(self, kind, binpath, dirn):
        self.port = freeport()
        self.https = freeport()
        if kind == 'python':
            argv = [sys.executable, '-m', 'synapse.servers.axon', dirn]
        else:
            argv = [binpath, 'axon', dirn]
        argv += ['--telepath', f'tcp://127.0.0.1:{self.port}/', '--https', str(self.https),
                 '--auth-passwd', 'secret']
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        self.url = f'tcp://root:secret@127.0.0.1:{self.port}/'

    async def ready(self):
        deadline = time.monotonic() + 120
        while True:
            try:
                async with await s_telepath.openurl(self.url) as prox:
                    await prox.getCellIden()
                    return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)

    def memory(self):
        vals = {}
        with open(f'/proc/{self.proc.pid}/status') as fd:
            for line in fd:
                name, _, rest = line.partition(':')
                if name in ('VmRSS', 'VmHWM'):
                    vals[name] = int(rest.split()[0]) / 1024
        return vals.get('VmRSS', 0), vals.get('VmHWM', 0)

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def httpsconn(srv):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return http.client.HTTPSConnection('127.0.0.1', srv.https, context=ctx, timeout=600)


def authhdr():
    return {'Authorization': 'Basic ' + base64.b64encode(b'root:secret').decode()}


def httpsPut(srv, byts):
    conn = httpsconn(srv)
    tick = time.perf_counter()
    conn.request('PUT', '/api/v1/axon/files/put', body=byts, headers=authhdr())
    resp = conn.getresponse()
    body = resp.read()
    took = time.perf_counter() - tick
    conn.close()
    assert resp.status == 200, body[:200]
    return took


def httpsGet(srv, hexsha):
    conn = httpsconn(srv)
    tick = time.perf_counter()
    conn.request('GET', f'/api/v1/axon/files/by/sha256/{hexsha}', headers=authhdr())
    resp = conn.getresponse()
    size = 0
    while True:
        byts = resp.read(CHUNK)
        if not byts:
            break
        size += len(byts)
    took = time.perf_counter() - tick
    conn.close()
    return took, size


async def run(opts, srv, impl):
    size = (32 if opts.quick else 256) * 1024 * 1024
    reps = 1 if opts.quick else 3
    nsmall = 1000 if opts.quick else 5000
    nhas = 2000 if opts.quick else 10000
    nwants = 50 if opts.quick else 500
    mb = size / MB

    async with await s_telepath.openurl(srv.url) as prox:

        # The blobs of both upload phases are made first, as the reference suite does.
        blobs = [os.urandom(size) for _ in range(reps * 2)]

        shas = []
        samples = []
        for byts in blobs[:reps]:
            tick = time.perf_counter()
            async with await prox.upload() as upfd:
                for offs in range(0, size, CHUNK):
                    await upfd.write(byts[offs:offs + CHUNK])
                _, sha256 = await upfd.save()
            samples.append(mb / (time.perf_counter() - tick))
            shas.append(sha256)
        emit('upload.telepath', impl, 'MB/s', median(samples), size=size, chunk=CHUNK)

        samples = []
        for byts in blobs[reps:]:
            took = await asyncio.to_thread(httpsPut, srv, byts)
            samples.append(mb / took)
        emit('upload.https', impl, 'MB/s', median(samples), size=size, path='/api/v1/axon/files/put')
        del blobs

        # One untimed read of each blob first: downloads are measured from the page cache
        # (our server writes blobs with direct I/O, the reference through the cache).
        for sha256 in shas:
            async for byts in prox.get(sha256):
                pass

        samples = []
        for sha256 in shas:
            got = 0
            tick = time.perf_counter()
            async for byts in prox.get(sha256):
                got += len(byts)
            samples.append(mb / (time.perf_counter() - tick))
            assert got == size
        emit('get.telepath', impl, 'MB/s', median(samples), size=size, cache='warm')

        samples = []
        for sha256 in shas:
            took, got = await asyncio.to_thread(httpsGet, srv, sha256.hex())
            assert got == size
            samples.append(mb / took)
        emit('get.https', impl, 'MB/s', median(samples), size=size, path='/api/v1/axon/files/by/sha256/<hex>')

        samples = []
        small = []
        for rep in range(reps):
            files = [os.urandom(4096) for _ in range(nsmall)]
            tick = time.perf_counter()
            for offs in range(0, nsmall, 100):
                retn = await prox.puts(files[offs:offs + 100])
                small.extend(sha256 for _, sha256 in retn)
            samples.append(nsmall / (time.perf_counter() - tick))
        emit('puts.small', impl, 'files/s', median(samples), n=nsmall, size=4096, per_call=100)

        samples = []
        for rep in range(reps):
            tick = time.perf_counter()
            for i in range(nhas):
                assert await prox.has(small[i % len(small)])
            samples.append(nhas / (time.perf_counter() - tick))
        emit('has', impl, 'calls/s', median(samples), n=nhas)

        samples = []
        for rep in range(reps):
            lists = []
            for i in range(nwants):
                have = small[(i * 500) % len(small):][:500]
                lists.append((have + [os.urandom(32) for _ in range(1000 - len(have))], 1000 - len(have)))
            tick = time.perf_counter()
            for items, missing in lists:
                retn = await prox.wants(items)
                assert len(retn) == missing
            samples.append(nwants * 1000 / (time.perf_counter() - tick))
        emit('wants', impl, 'hashes/s', median(samples), calls=nwants, per_call=1000, present=500)

    rss, hwm = srv.memory()
    emit('rss', impl, 'MiB', rss)
    emit('hwm', impl, 'MiB', hwm)


def main(argv):
    pars = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    pars.add_argument('--server', choices=('python', 'rust'), required=True)
    pars.add_argument('--bin', default=None, help='synapse-servers binary (with --server rust)')
    pars.add_argument('--quick', action='store_true')
    opts = pars.parse_args(argv)
    impl = 'python' if opts.server == 'python' else 'py-client/rust-server'
    with tempfile.TemporaryDirectory() as tmp:
        srv = Server(opts.server, opts.bin, os.path.join(tmp, 'axon'))
        try:
            asyncio.run(srv.ready())
            asyncio.run(run(opts, srv, impl))
        finally:
            srv.stop()


if __name__ == '__main__':
    main(sys.argv[1:])
