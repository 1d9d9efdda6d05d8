'''
A reference (Python synapse 2.x) telepath server for the telepath benchmarks: a plain
synapse.daemon.Daemon sharing BenchApi (echo and genr), like the Rust `bench_telepath serve`.

Prints {"url": ...} once listening, then serves until stdin is closed.
'''
import sys
import json
import asyncio

import synapse.daemon as s_daemon

class BenchApi:

    async def echo(self, valu):
        return valu

    async def genr(self, n):
        for i in range(n):
            yield i

async def main():
    async with await s_daemon.Daemon.anit() as dmon:
        dmon.share('*', BenchApi())
        _, port = await dmon.listen('tcp://127.0.0.1:0')
        print(json.dumps({'url': f'tcp://127.0.0.1:{port}/'}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

if __name__ == '__main__':
    asyncio.run(main())
