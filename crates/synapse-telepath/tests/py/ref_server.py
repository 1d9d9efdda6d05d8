'''
Run a REAL reference telepath server (a synapse 2.x Axon cell with a few test methods, the
same ones as the capture's VecAxonApi) for the Rust client tests and benchmarks.

    python ref_server.py

Prints one JSON line {"port": <tcp port>, "dirn": <cell dir>, ...} once listening, then serves
until stdin is closed. Users: root/secret, visi/visipass (not admin), locked/lockedpass (locked).
The cell is also shared as "vecaxon", and holds b"hello world".
'''
import os
import sys
import json
import asyncio
import tempfile

import synapse.exc as s_exc
import synapse.axon as s_axon
import synapse.lib.certdir as s_certdir

class TestApi(s_axon.AxonApi):

    async def echo(self, *args, **kwargs):
        return (args, kwargs)

    async def genr(self, n):
        for i in range(n):
            yield ('item', i)

    async def genrFail(self, n):
        for i in range(n):
            yield i
        raise s_exc.BadArg(mesg=f'genrFail after {n} items', count=n)

    async def slowGenr(self, n):
        for i in range(n):
            yield i
            await asyncio.sleep(0.05)

    async def bigGenr(self, n, size=0):
        for i in range(n):
            if size:
                yield bytes([i % 251]) * size
            else:
                yield i

    def syncGenr(self, n):
        for i in range(n):
            yield i * 10

    async def raiseSynErr(self):
        raise s_exc.BadArg(mesg='you passed a bad arg', arg='foo')

    async def raiseBuiltin(self):
        raise ValueError('a plain python ValueError')

    async def sleep(self, secs):
        await asyncio.sleep(secs)
        return True

    async def bytes(self, size):
        return b'\x07' * size

    async def _secret(self):
        return 'should never be reachable'

class TestAxon(s_axon.Axon):
    cellapi = TestApi

async def main():
    with tempfile.TemporaryDirectory() as dirn:
        conf = {'auth:passwd': 'secret'}
        async with await TestAxon.anit(dirn, conf=conf) as axon:
            axon.dmon.share('vecaxon', axon)
            visi = await axon.auth.addUser('visi', passwd='visipass')
            locked = await axon.auth.addUser('locked', passwd='lockedpass')
            await locked.setLocked(True)
            await axon.put(b'hello world')
            _, port = await axon.dmon.listen('tcp://127.0.0.1:0')
            certdir = os.getenv('REF_TLS_CERTDIR')
            tlsinfo = {}
            if certdir:
                s_certdir.addCertPath(certdir)
                _, sslport = await axon.dmon.listen('ssl://127.0.0.1:0?hostname=testhost')
                _, certport = await axon.dmon.listen('ssl://127.0.0.1:0?hostname=testhost&ca=testca')
                tlsinfo = {'ssl_port': sslport, 'ssl_cert_port': certport}
            info = {
                **tlsinfo,
                'port': port,
                'dirn': dirn,
                'iden': axon.iden,
                'root': axon.auth.rootuser.iden,
                'visi': visi.iden,
                'locked': locked.iden,
            }
            print(json.dumps(info), flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

if __name__ == '__main__':
    asyncio.run(main())
