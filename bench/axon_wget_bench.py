#!/usr/bin/env python
'''
`cargo xtask bench axon_wget`: the reference's Python client calls an Axon's HTTP transfers
against a local HTTP server run by this script: the reference Axon (impl "python") or
`synapse-servers axon` (impl "py-client/rust-server").

Metrics (one JSON line each on stdout, MB = 1e6 bytes):
  wget       MB/s   wget(<url of a SIZE-byte body>): downloaded, hashed and stored
  wput       MB/s   wput(sha256, <url>): a SIZE-byte blob streamed as a PUT body
  postfiles  MB/s   postfiles([{sha256}], <url>): the blob in a multipart form
  hwm        MiB    the server's VmHWM at the end

Usage: axon_wget_bench.py --server python|rust [--bin PATH/TO/synapse-servers] [--quick]
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
import threading
import subprocess
import http.server

import synapse.telepath as s_telepath

MB = 1e6


def emit(metric, impl, unit, value, **params):
    print(json.dumps({'metric': metric, 'impl': impl, 'unit': unit, 'value': value, 'params': params}), flush=True)
    sys.stderr.write(f'{metric:<12} {impl:<22} {value:>12.1f} {unit}\n')


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

    def hwm(self):
        with open(f'/proc/{self.proc.pid}/status') as fd:
            for line in fd:
                name, _, rest = line.partition(':')
                if name == 'VmHWM':
                    return int(rest.split()[0]) / 1024
        return 0

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def peer(blob):
    '''A local HTTP server: GET /blob sends the blob, PUT/POST /sink reads and drops a body.'''

    class Handler(http.server.BaseHTTPRequestHandler):

        protocol_version = 'HTTP/1.1'

        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header('Content-Length', str(len(blob)))
            self.end_headers()
            view = memoryview(blob)
            for offs in range(0, len(blob), 4 * 1024 * 1024):
                self.wfile.write(view[offs:offs + 4 * 1024 * 1024])

        def do_PUT(self):
            size = 0
            if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
                while True:
                    line = self.rfile.readline().strip()
                    left = int(line.split(b';')[0], 16)
                    if left == 0:
                        self.rfile.readline()
                        break
                    while left:
                        got = len(self.rfile.read(min(left, 4 * 1024 * 1024)))
                        size += got
                        left -= got
                    self.rfile.readline()
            else:
                left = int(self.headers.get('Content-Length', 0))
                while left:
                    got = len(self.rfile.read(min(left, 4 * 1024 * 1024)))
                    size += got
                    left -= got
            body = str(size).encode()
            self.send_response(200)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_PUT

    port = freeport()
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', port), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f'http://127.0.0.1:{port}'


async def run(opts, srv, impl):
    size = (32 if opts.quick else 256) * 1024 * 1024
    reps = 1 if opts.quick else 3
    mb = size / MB
    blob = os.urandom(size)
    web, base = peer(blob)
    try:
        async with await s_telepath.openurl(srv.url) as prox:
            samples = []
            sha256 = None
            for rep in range(reps):
                if sha256 is not None:
                    await prox.del_(sha256)
                tick = time.perf_counter()
                info = await prox.wget(f'{base}/blob')
                samples.append(mb / (time.perf_counter() - tick))
                assert info['ok'] and info['size'] == size, info
                sha256 = bytes.fromhex(info['hashes']['sha256'])
            emit('wget', impl, 'MB/s', median(samples), size=size)

            samples = []
            for rep in range(reps):
                tick = time.perf_counter()
                info = await prox.wput(sha256, f'{base}/sink')
                samples.append(mb / (time.perf_counter() - tick))
                assert info['ok'] and info['code'] == 200, info
            emit('wput', impl, 'MB/s', median(samples), size=size)

            samples = []
            for rep in range(reps):
                tick = time.perf_counter()
                info = await prox.postfiles([{'name': 'file', 'sha256': sha256.hex()}], f'{base}/sink')
                samples.append(mb / (time.perf_counter() - tick))
                assert info['ok'] and int(info['body']) > size, info
            emit('postfiles', impl, 'MB/s', median(samples), size=size)
    finally:
        web.shutdown()
    emit('hwm', impl, 'MiB', srv.hwm())


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
