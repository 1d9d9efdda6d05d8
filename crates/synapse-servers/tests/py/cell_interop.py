'''
The reference Python client (synapse 2.x) against a running `synapse-servers cell`.

    python cell_interop.py setup  <host> <telepath port> <https port> <dirn>
    python cell_interop.py verify <host> <telepath port> <https port> <dirn>

`setup` exercises cell info, users, roles, rules, permission checks and authentication
failures over telepath and HTTPS, and leaves data behind; `verify` (after a restart) checks
that the data survived. Any failed check raises (non-zero exit, traceback on stderr).
'''
import ssl
import sys
import json
import base64
import asyncio
import urllib.request
import urllib.error

import synapse.exc as s_exc
import synapse.telepath as s_telepath


def https(port, path, method='GET', body=None, user=None, passwd=None, headers=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f'https://127.0.0.1:{port}{path}', data=data, method=method)
    if user is not None:
        token = base64.b64encode(f'{user}:{passwd}'.encode()).decode()
        req.add_header('Authorization', f'Basic {token}')
    for name, valu in (headers or {}).items():
        req.add_header(name, valu)
    try:
        with urllib.request.urlopen(req, context=ctx) as resp:
            return resp.status, json.loads(resp.read()), resp.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), e.headers


async def expect(exc, coro, mesg=None):
    try:
        await coro
    except exc as e:
        if mesg is not None:
            assert e.get('mesg') == mesg, (e.get('mesg'), mesg)
        return e
    raise AssertionError(f'expected {exc.__name__}')


async def setup(host, port, httpsport, dirn):
    url = f'tcp://root:secret@{host}:{port}/'
    async with await s_telepath.openurl(url) as prox:
        assert prox._getClasses()[0] == 'synapse.lib.cell.CellApi', prox._getClasses()
        assert await prox.getCellType() == 'cell'
        iden = await prox.getCellIden()
        with open(f'{dirn}/cell.guid') as fd:
            assert fd.read().strip() == iden
        info = await prox.getCellInfo()
        assert info['synapse']['version'] == (2, 256, 0), info['synapse']
        assert info['cell']['iden'] == iden
        assert info['cell']['type'] == 'cell'
        assert info['cell']['active'] is True
        assert info['features']['tellready'] == 1
        assert prox._hasTeleFeat('tasks', 1)

        me = await prox.getCellUser()
        assert me['name'] == 'root' and me['admin'] is True

        health = await prox.getHealthCheck()
        assert health == {'iden': iden, 'components': (), 'status': 'nominal'}, health
        sessions = await prox.getDmonSessions()
        assert any(s['items'].get(None) == 'synapse.lib.cell.CellApi' and s['user']['name'] == 'root'
                   and s['conninfo']['family'] == 'tcp' for s in sessions), sessions
        assert await prox.ps() == ()
        assert await prox.kill('f' * 32) is False
        assert [t async for t in prox.getTasks()] == []

        # users and roles
        visi = await prox.addUser('visi', passwd='visipass', email='visi@vertex.link')
        assert visi['name'] == 'visi'
        assert visi['email'] == 'visi@vertex.link'
        assert visi['roles'][0]['name'] == 'all'
        e = await expect(s_exc.DupUserName, prox.addUser('visi'))
        assert e.get('name') == 'visi'
        role = await prox.addRole('analysts')
        assert role['name'] == 'analysts' and role['type'] == 'role'
        await expect(s_exc.DupRoleName, prox.addRole('analysts'))

        await prox.addUserRole(visi['iden'], role['iden'])
        await prox.addRoleRule(role['iden'], (True, ('node',)))
        await prox.addUserRule(visi['iden'], (False, ('node', 'del')))
        await prox.addUserRule(visi['iden'], (True, ('node', 'del', 'inet:fqdn')), indx=0)

        assert await prox.isUserAllowed(visi['iden'], ('node', 'add', 'inet:ipv4')) is True
        assert await prox.isUserAllowed(visi['iden'], ('node', 'del', 'inet:ipv4')) is False
        assert await prox.isUserAllowed(visi['iden'], ('node', 'del', 'inet:fqdn')) is True
        assert await prox.isUserAllowed(visi['iden'], ('other',)) is False
        assert await prox.isRoleAllowed(role['iden'], ('node', 'add')) is True

        udef = await prox.getUserDef(visi['iden'])
        assert [r['name'] for r in udef['roles']] == ['all', 'analysts']
        assert udef['rules'] == ((True, ('node', 'del', 'inet:fqdn')), (False, ('node', 'del'))), udef['rules']
        uinfo = await prox.getUserInfo('visi')
        assert uinfo['roles'] == ('all', 'analysts'), uinfo['roles']
        users = await prox.getAuthUsers()
        assert [u['name'] for u in users] == ['root', 'visi']
        roles = await prox.getAuthRoles()
        assert [r['name'] for r in roles] == ['all', 'analysts']
        tried = await prox.tryUserPasswd('visi', 'visipass')
        assert tried['iden'] == visi['iden']
        assert await prox.tryUserPasswd('visi', 'nope') is None

        # a user to lock out, one to delete
        locked = await prox.addUser('locked', passwd='lockedpass')
        await prox.setUserLocked(locked['iden'], True)
        gone = await prox.addUser('gone')
        await prox.delUser(gone['iden'])
        assert await prox.getUserDefByName('gone') is None
        await expect(s_exc.NoSuchUser, prox.delUser(gone['iden']))

        # recent log records
        logs = await prox.logs(last=20)
        assert 0 < len(logs) <= 20, logs
        assert all('message' in r and 'level' in r and 'time' in r and 'logger' in r for r in logs), logs
        async for rec in prox.watch(last=1):
            assert rec == logs[-1] or 'message' in rec
            break

        # the deprecated hive methods
        assert await prox.listHiveKey() == ()
        assert await prox.setHiveKey(('foo', 'bar'), {'x': (1,)}) is None
        assert await prox.setHiveKey(('foo', 'bar'), {'x': (2,)}) == {'x': (1,)}
        assert await prox.getHiveKey(('foo', 'bar')) == {'x': (2,)}
        assert await prox.getHiveKey(('nope',)) is None
        assert await prox.getHiveKeys(('foo',)) == (('bar', {'x': (2,)}),)
        assert await prox.getHiveKeys(('nope',)) == ()
        assert await prox.listHiveKey(('foo',)) == ('bar',)
        assert await prox.listHiveKey(('nope',)) is None
        tree = await prox.saveHiveTree(('foo',))
        assert tree == {'value': None, 'kids': {'bar': {'value': {'x': (2,)}}}}, tree
        assert await prox.popHiveKey(('foo', 'bar')) == {'x': (2,)}
        assert await prox.listHiveKey(('foo',)) == ()
        await prox.setHiveKey(('keep',), 'me')

        # errors keep the reference's classes
        await expect(s_exc.NoSuchMeth, prox.call('nosuchmeth'))
        await expect(s_exc.SynErr, prox.getCellIden(1, 2))
        await expect(s_exc.BadArg, prox.setUserLocked(visi['iden'], 'yes'), 'setLocked requires a boolean')

    # authentication failures
    await expect(s_exc.AuthDeny, s_telepath.openurl(f'tcp://root:wrong@{host}:{port}/'), 'Invalid password')
    await expect(s_exc.AuthDeny, s_telepath.openurl(f'tcp://{host}:{port}/'), 'Unable to find cell user (None)')
    await expect(s_exc.NoSuchUser, s_telepath.openurl(f'tcp://nobody:x@{host}:{port}/'))
    await expect(s_exc.AuthDeny, s_telepath.openurl(f'tcp://locked:lockedpass@{host}:{port}/'), 'Invalid password')
    await expect(s_exc.NoSuchName, s_telepath.openurl(f'tcp://root:secret@{host}:{port}/nosuchshare'))

    # a non-admin cannot raise its own permissions
    async with await s_telepath.openurl(f'tcp://visi:visipass@{host}:{port}/') as prox:
        assert (await prox.getCellUser())['name'] == 'visi'
        assert await prox.allowed(('node', 'add')) is True
        assert await prox.allowed(('nope',)) is None
        mesg = 'User is not an admin [visi]'
        await expect(s_exc.AuthDeny, prox.setUserAdmin(visi['iden'], True), mesg)
        await expect(s_exc.AuthDeny, prox.addUserRule(visi['iden'], (True, ('node',))), mesg)
        await expect(s_exc.AuthDeny, prox.addUserRole(visi['iden'], role['iden']), mesg)
        await expect(s_exc.AuthDeny, prox.addUser('sneaky'), mesg)
        await expect(s_exc.AuthDeny, prox.getHealthCheck(), 'User must have permission health')
        await expect(s_exc.AuthDeny, prox.setUserPasswd(me['iden'], 'owned'))
        await expect(s_exc.AuthDeny, prox.setHiveKey(('foo',), 1), mesg)
        await prox.setUserPasswd(visi['iden'], 'visipass2')

    async with await s_telepath.openurl(url) as prox:
        udef = await prox.getUserDef(visi['iden'])
        assert udef['admin'] is False
        assert len(udef['rules']) == 2

    # the local socket trusts its peer (cell://)
    async with await s_telepath.openurl(f'cell://{dirn}') as prox:
        assert (await prox.getCellUser())['name'] == 'root'

    # HTTPS
    status, body, headers = https(httpsport, '/api/v1/active')
    assert status == 200 and body == {'status': 'ok', 'result': {'active': True}}, (status, body)
    status, body, headers = https(httpsport, '/api/v1/auth/users')
    assert status == 401 and body['code'] == 'NotAuthenticated', (status, body)
    status, body, headers = https(httpsport, '/api/v1/auth/users', user='root', passwd='wrong')
    assert status == 401, status
    status, body, headers = https(httpsport, '/api/v1/auth/users', user='root', passwd='secret')
    assert status == 200 and [u['name'] for u in body['result']] == ['locked', 'root', 'visi'], body
    status, body, headers = https(httpsport, '/api/v1/login', 'POST', {'user': 'visi', 'passwd': 'visipass2'})
    assert status == 200 and body['result']['name'] == 'visi', body
    cookie = headers['Set-Cookie'].split(';')[0]
    status, body, headers = https(httpsport, '/api/v1/auth/adduser', 'POST', {'name': 'x'}, headers={'Cookie': cookie})
    assert status == 403 and body['code'] == 'AuthDeny', (status, body)
    status, body, headers = https(httpsport, '/api/v1/login', 'POST', {'user': 'locked', 'passwd': 'lockedpass'})
    assert status == 403 and body['mesg'] == 'User is locked.', (status, body)

    print(json.dumps({'visi': visi['iden'], 'role': role['iden'], 'iden': iden}))


async def verify(host, port, httpsport, dirn):
    async with await s_telepath.openurl(f'tcp://root:secret@{host}:{port}/') as prox:
        visi = await prox.getUserDefByName('visi')
        assert visi is not None
        assert [r['name'] for r in visi['roles']] == ['all', 'analysts']
        assert await prox.isUserAllowed(visi['iden'], ('node', 'add')) is True
        assert await prox.isUserAllowed(visi['iden'], ('node', 'del', 'x')) is False
        assert (await prox.getUserDefByName('locked'))['locked'] is True
        assert await prox.getUserDefByName('gone') is None
        assert await prox.getHiveKey(('keep',)) == 'me'
        iden = await prox.getCellIden()
    async with await s_telepath.openurl(f'tcp://visi:visipass2@{host}:{port}/') as prox:
        assert (await prox.getCellUser())['name'] == 'visi'
    await expect(s_exc.AuthDeny, s_telepath.openurl(f'tcp://locked:lockedpass@{host}:{port}/'))
    status, body, headers = https(httpsport, '/api/v1/auth/roles', user='visi', passwd='visipass2')
    assert status == 200 and [r['name'] for r in body['result']] == ['all', 'analysts'], body
    print(json.dumps({'visi': visi['iden'], 'iden': iden}))


if __name__ == '__main__':
    cmd, host, port, httpsport, dirn = sys.argv[1:6]
    func = {'setup': setup, 'verify': verify}[cmd]
    asyncio.run(func(host, int(port), int(httpsport), dirn))
