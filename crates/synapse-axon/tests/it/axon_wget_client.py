'''
The reference's telepath client calling an Axon's wget / wput / postfiles against a local
HTTP server run by this script; prints a JSON report of the results, normalized (ports,
dates and server banners removed) so that the reference Axon and synapse-servers axon can be
compared key by key.

usage: axon_wget_client.py <axon telepath url>
'''
import sys
import json
import time
import socket
import asyncio
import hashlib
import threading
import http.server

import synapse.telepath as s_telepath


def read_body(handler):
    if 'chunked' in handler.headers.get('Transfer-Encoding', '').lower():
        out = b''
        while True:
            line = handler.rfile.readline().strip()
            size = int(line.split(b';')[0], 16)
            if size == 0:
                handler.rfile.readline()
                return out
            out += handler.rfile.read(size)
            handler.rfile.readline()
    size = int(handler.headers.get('Content-Length', 0))
    return handler.rfile.read(size)


def parse_form(ctype, body):
    boundary = ctype.split('boundary=', 1)[1].strip('"').encode()
    parts = []
    for chunk in body.split(b'--' + boundary)[1:]:
        if chunk.startswith(b'--'):
            break
        head, _, content = chunk[2:].partition(b'\r\n\r\n')
        headers = {}
        for line in head.decode().split('\r\n'):
            name, _, valu = line.partition(':')
            if name.lower() == 'content-length':
                continue
            headers[name.lower()] = valu.strip()
        parts.append({'headers': headers, 'body': content[:-2].decode('latin1')})
    return parts


class Handler(http.server.BaseHTTPRequestHandler):

    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def reply(self, code, body=b'', headers=()):
        self.send_response(code)
        for name, valu in headers:
            self.send_header(name, valu)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def do_GET(self):
        path = self.path.split('?')[0]
        if path == '/file':
            return self.reply(200, b'hello wget', [('X-Test', '1')])
        if path == '/redir':
            return self.reply(302, b'', [('Location', '/file')])
        if path == '/slow':
            time.sleep(3)
            return self.reply(200, b'late')
        return self.reply(404, b'nope')

    def do_POST(self):
        body = read_body(self)
        path = self.path.split('?')[0]
        if path == '/form':
            summary = parse_form(self.headers.get('Content-Type', ''), body)
            return self.reply(200, json.dumps(summary, sort_keys=True).encode(),
                              [('X-Test', 'form')])
        if path == '/echo':
            summary = {
                'method': self.command,
                'path': self.path,
                'ctype': self.headers.get('Content-Type'),
                'mine': self.headers.get('X-Mine'),
                'body': body.decode('latin1'),
            }
            return self.reply(200, json.dumps(summary, sort_keys=True).encode())
        if path == '/put':
            return self.reply(201, b'', [('X-Len', str(len(body))),
                                         ('X-Sha', hashlib.sha256(body).hexdigest()),
                                         ('X-Method', self.command)])
        return self.reply(404, b'nope')

    do_PUT = do_POST


def relay(src, dst):
    try:
        while True:
            byts = src.recv(65536)
            if not byts:
                break
            dst.sendall(byts)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def connect_proxy(seen):
    '''An HTTP CONNECT proxy on a free port: its port; `seen` gets each tunnel's target.'''
    lsock = socket.socket()
    lsock.bind(('127.0.0.1', 0))
    lsock.listen(16)

    def serve(conn):
        head = b''
        while not head.endswith(b'\r\n\r\n'):
            byts = conn.recv(1)
            if not byts:
                return
            head += byts
        target = head.split()[1].decode()
        seen.append(target)
        host, port = target.rsplit(':', 1)
        upstream = socket.create_connection((host, int(port)))
        conn.sendall(b'HTTP/1.1 200 Connection established\r\n\r\n')
        threading.Thread(target=relay, args=(upstream, conn), daemon=True).start()
        relay(conn, upstream)

    def accept():
        while True:
            conn, _ = lsock.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return lsock.getsockname()[1]


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


KEEP_HEADERS = ('X-Test', 'Location', 'X-Len', 'X-Sha', 'X-Method')
KEEP_REQ_HEADERS = ('Host', 'Accept', 'X-Mine', 'Content-Type')


TRACEBACK = ('efile', 'eline', 'esrc', 'ename')


def norm(valu, base, closed):
    '''Ports and server-specific text replaced; only comparable headers kept.'''
    if isinstance(valu, str):
        hostport = base.split('//', 1)[1]
        return valu.replace(base, 'BASE').replace(hostport, 'HOSTPORT').replace(str(closed), 'CLOSED')
    if isinstance(valu, bytes):
        try:
            return {'json': json.loads(valu)}
        except Exception:
            return {'bytes': valu.decode('latin1')}
    if isinstance(valu, (list, tuple)):
        return [norm(v, base, closed) for v in valu]
    if isinstance(valu, dict):
        out = {}
        for k, v in valu.items():
            if k == 'headers' and isinstance(v, dict):
                keep = KEEP_REQ_HEADERS if 'Accept' in v else KEEP_HEADERS
                out[k] = {h: norm(x, base, closed) for h, x in v.items() if h in keep}
                out['headers:keys'] = sorted(h for h in v if h in keep)
                continue
            if k in TRACEBACK:
                continue
            out[k] = norm(v, base, closed)
        out['keys'] = [k for k in valu.keys() if k not in TRACEBACK]
        return out
    return valu


def cut_errno(info):
    '''
    The text after " ssl:" (the reference shows the repr of its SSLContext, with its address,
    then the OS error text) and a trailing " [OS error text]" differ between Python and
    Rust: keep what comes before.
    '''
    def cut(text):
        text = text.split(' ssl:')[0]
        if text.endswith(']'):
            text = text.rsplit(' [', 1)[0]
        return text

    for key in ('mesg', 'reason'):
        if isinstance(info.get(key), str):
            info[key] = cut(info[key])
    err = info.get('err')
    if isinstance(err, list) and isinstance(err[1], dict) and 'mesg' in err[1]:
        err[1]['mesg'] = cut(err[1]['mesg'])
    return info


async def main(url):
    port = free_port()
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', port), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f'http://127.0.0.1:{port}'
    closed = free_port()

    report = {}

    async def record(name, coro):
        try:
            report[name] = norm(await coro, base, closed)
        except Exception as e:
            report[name] = {'raised': type(e).__name__, 'mesg': str(getattr(e, 'errinfo', {}).get('mesg'))}

    async with await s_telepath.openurl(url) as axon:
        size, sha = await axon.put(b'blob bytes for wput')

        await record('wget.file', axon.wget(f'{base}/file'))
        await record('wget.redir', axon.wget(f'{base}/redir'))
        await record('wget.404', axon.wget(f'{base}/missing'))
        await record('wget.params', axon.wget(f'{base}/file', params={'a': 'b'}))
        await record('wget.json', axon.wget(f'{base}/echo', method='POST', json={'k': [1, 'x']},
                                            headers={'X-Mine': 'yes'}))
        await record('wget.body', axon.wget(f'{base}/echo', method='POST', body=b'raw'))
        await record('wget.refused', axon.wget(f'http://127.0.0.1:{closed}/x'))
        report['wget.refused'] = cut_errno(report['wget.refused'])
        await record('wget.timeout', axon.wget(f'{base}/slow', timeout=0.5))
        await record('wget.badproxy', axon.wget(f'{base}/file', proxy=1))
        await record('wget.badsslopts', axon.wget(f'{base}/file', ssl_opts={'newp': 1}))

        await record('wput.ok', axon.wput(sha, f'{base}/put'))
        await record('wput.post', axon.wput(sha, f'{base}/put', method='POST'))
        await record('wput.404', axon.wput(sha, f'{base}/missing'))
        await record('wput.nofile', axon.wput(b'\x00' * 32, f'{base}/put'))
        await record('wput.refused', axon.wput(sha, f'http://127.0.0.1:{closed}/x'))
        report['wput.refused'] = cut_errno(report['wput.refused'])

        seen = []
        pport = connect_proxy(seen)
        await record('wget.proxy', axon.wget(f'{base}/file', proxy=f'http://127.0.0.1:{pport}'))
        report['wget.proxy.seen'] = [norm(t, base, closed) for t in seen]
        await record('wput.proxy', axon.wput(sha, f'{base}/put', proxy=f'http://127.0.0.1:{pport}'))
        await record('wget.proxy.refused',
                     axon.wget(f'{base}/file', proxy=f'socks5://127.0.0.1:{closed}'))
        report['wget.proxy.refused'] = cut_errno(report['wget.proxy.refused'])

        fields = [
            {'name': 'file', 'sha256': sha.hex(), 'filename': 'b.bin'},
            {'name': 'text', 'value': 'hello'},
            {'name': 'obj', 'value': {'a': 1}},
            {'name': 'typed', 'value': 'x', 'content_type': 'text/csv'},
        ]
        await record('postfiles.ok', axon.postfiles(fields, f'{base}/form'))
        await record('postfiles.noname', axon.postfiles([{'value': 'x'}], f'{base}/form'))
        await record('postfiles.nofile',
                     axon.postfiles([{'name': 'f', 'sha256': '00' * 32}], f'{base}/form'))
        await record('postfiles.refused', axon.postfiles(fields, f'http://127.0.0.1:{closed}/x'))
        report['postfiles.refused'] = cut_errno(report['postfiles.refused'])

    srv.shutdown()
    print(json.dumps(report, sort_keys=True))


if __name__ == '__main__':
    asyncio.run(main(sys.argv[1]))
