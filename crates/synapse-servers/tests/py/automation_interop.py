'''
Triggers and cron jobs of a running `synapse-servers cortex`, driven by the reference Python
client.

    python automation_interop.py setup  <host> <telepath port>
    python automation_interop.py verify <host> <telepath port>

`setup` adds triggers of every condition (sync and async), checks that they fire with the
reference's variables and output, checks the permissions of `$lib.trigger` / `$lib.cron`,
runs a `cron.at --now` job and checks `cron.stat`, and leaves triggers and jobs behind;
`verify` (after a restart) checks that they survived and still work. Waits poll with generous
timeouts; nothing depends on timing. Any failed check raises (non-zero exit).
'''
import sys
import asyncio

import synapse.telepath as s_telepath

WAIT = 120.0


async def storm(core, text, opts=None):
    '''Run a query: (nodes, prints, warns, errs).'''
    nodes, prints, warns, errs = [], [], [], []
    async for mesg in core.storm(text, opts=opts):
        if mesg[0] == 'node':
            nodes.append(mesg[1])
        elif mesg[0] == 'print':
            prints.append(mesg[1]['mesg'])
        elif mesg[0] == 'warn':
            warns.append(mesg[1]['mesg'])
        elif mesg[0] == 'err':
            errs.append(mesg[1])
    return nodes, prints, warns, errs


async def ok(core, text, opts=None):
    nodes, prints, warns, errs = await storm(core, text, opts=opts)
    assert not errs, (text, errs)
    return nodes, prints


async def poll(core, text, opts=None):
    '''Wait until a query returns a true value.'''
    loop = asyncio.get_running_loop()
    end = loop.time() + WAIT
    while True:
        valu = await core.callStorm(text, opts=opts)
        if valu:
            return valu
        assert loop.time() < end, f'timed out waiting for: {text}'
        await asyncio.sleep(0.2)


async def poll_count(core, text, count):
    '''Wait until a query yields `count` nodes.'''
    loop = asyncio.get_running_loop()
    end = loop.time() + WAIT
    while await core.count(text) != count:
        assert loop.time() < end, f'timed out waiting for {count} nodes of: {text}'
        await asyncio.sleep(0.2)


def tags(node):
    return set(node[1]['tags'].keys())


async def setup(url, visiurl):
    async with await s_telepath.openurl(url) as core:
        # node:add, sync: the node the query yields shows the trigger's edit
        nodes, prints = await ok(core, 'trigger.add node:add --form inet:ipv4 --query {[+#trig.nodeadd]}')
        assert prints[0].startswith('Added trigger: '), prints
        addiden = prints[0].split(': ')[1]
        nodes, _ = await ok(core, '[inet:ipv4=1.2.3.4]')
        assert 'trig.nodeadd' in tags(nodes[0]), nodes

        # tag:add with a glob, the $tag and $auto variables
        await ok(core, 'trigger.add tag:add --tag "foo.*" --query {$lib.globals.set(tagauto, $auto) [+#got=$tag]}')
        nodes, _ = await ok(core, '[inet:fqdn=vertex.link +#foo.bar]')
        assert 'got' not in tags(nodes[0])  # `+#got=$tag` is a bad interval: the trigger failed
        await ok(core, 'trigger.add tag:add --tag "baz.**" --form inet:fqdn --query {[+#deep]}')
        nodes, _ = await ok(core, '[inet:fqdn=woot.com +#baz.a.b]')
        assert 'deep' in tags(nodes[0]), nodes
        nodes, _ = await ok(core, '[inet:ipv4=5.5.5.5 +#baz.a.b]')
        assert 'deep' not in tags(nodes[0]), nodes
        auto = await core.callStorm('return($lib.globals.get(tagauto))')
        assert auto['type'] == 'trigger' and auto['opts']['tag'] == 'foo.bar', auto
        assert auto['opts']['form'] == 'inet:fqdn' and auto['opts']['valu'] == 'vertex.link', auto

        # prop:set, tag:del, node:del, edge:add with the variables they get
        await ok(core, 'trigger.add prop:set --prop inet:ipv4:asn --query {[+#asn=(2020, 2021)] $lib.globals.set(propfull, $propfull)}')
        nodes, _ = await ok(core, 'inet:ipv4=1.2.3.4 [:asn=10]')
        assert 'asn' in tags(nodes[0]), nodes
        assert await core.callStorm('return($lib.globals.get(propfull))') == 'inet:ipv4:asn'
        await ok(core, 'trigger.add tag:del --tag trig.nodeadd --query {[+#wasdel]}')
        nodes, _ = await ok(core, 'inet:ipv4=1.2.3.4 [-#trig.nodeadd]')
        assert 'wasdel' in tags(nodes[0]), nodes
        await ok(core, 'trigger.add node:del --form inet:fqdn --query {$lib.globals.set(deleted, $node.value())}')
        await ok(core, '[inet:fqdn=gone.com] | delnode')
        assert await core.callStorm('return($lib.globals.get(deleted))') == 'gone.com'
        await ok(core, 'trigger.add edge:add --verb "ref*" --n2form inet:ipv4 --query {$lib.globals.set(edge, ($auto.opts.verb, $auto.opts.n2iden))}')
        nodes, _ = await ok(core, '[inet:fqdn=e.com +(refs)> {inet:ipv4=1.2.3.4}]')
        edge = await core.callStorm('return($lib.globals.get(edge))')
        n2iden = await core.callStorm('inet:ipv4=1.2.3.4 return($node.iden())')
        assert edge == ('refs', n2iden), edge
        await ok(core, '$lib.globals.pop(edge) [inet:fqdn=f.com +(refs)> {inet:fqdn=e.com}]')
        assert await core.callStorm('return($lib.globals.get(edge))') is None  # n2 form filter

        # async: queued, run in the background
        await ok(core, 'trigger.add node:add --form inet:email --async --query {[+#async]}')
        await ok(core, '[inet:email=a@b.com inet:email=c@d.com]')
        await poll_count(core, 'inet:email#async', 2)

        # the listing, enable / disable, mod
        _, prints = await ok(core, 'trigger.list')
        assert prints[0].startswith('user       iden'), prints
        assert any(addiden in line and 'node:add' in line and '[+#trig.nodeadd]' in line for line in prints), prints
        _, prints = await ok(core, f'trigger.disable {addiden[:8]}')
        assert prints == [f'Disabled trigger: {addiden}'], prints
        nodes, _ = await ok(core, '[inet:ipv4=6.6.6.6]')
        assert 'trig.nodeadd' not in tags(nodes[0])
        _, prints = await ok(core, f'trigger.enable {addiden}')
        assert prints == [f'Enabled trigger: {addiden}'], prints
        _, prints = await ok(core, f'trigger.mod {addiden} {{[+#trig.modded]}}')
        assert prints == [f'Modified trigger: {addiden}'], prints
        nodes, _ = await ok(core, '[inet:ipv4=7.7.7.7]')
        assert 'trig.modded' in tags(nodes[0]), nodes
        _, _, _, errs = await storm(core, 'trigger.del nope')
        assert errs[0][0] == 'StormRuntimeError', errs
        assert errs[0][1]['mesg'] == 'Provided iden does not match any valid authorized triggers.'
        _, _, _, errs = await storm(core, 'trigger.add tag:add --query {}')
        assert errs[0][0] == 'SchemaViolation' and errs[0][1]['mesg'] == "data must contain ['tag'] properties", errs
        pack = await core.callStorm(f'return($lib.trigger.get({addiden}).pack())')
        assert pack['startcount'] >= 2 and pack['username'] == 'root' and pack['storm'] == '[+#trig.modded]', pack

        # permissions: a user needs trigger.add on the view, and the trigger runs as that user
        visiuser = await core.addUser('visi')
        await core.setUserPasswd(visiuser['iden'], 'secret')
        view = await core.callStorm('return($lib.view.get().iden)')
        layer = await core.callStorm('return($lib.layer.get().iden)')
    async with await s_telepath.openurl(visiurl) as visi:
        _, _, _, errs = await storm(visi, 'trigger.add node:add --form inet:url --query {[+#visi]}')
        assert errs and errs[0][0] == 'AuthDeny', errs
        assert errs[0][1]['mesg'].endswith(f'must have permission trigger.add on object {view} (view).'), errs
        _, _, _, errs = await storm(visi, 'cron.at --now {}')
        assert errs and errs[0][0] == 'AuthDeny', errs
    async with await s_telepath.openurl(url) as core:
        await core.addUserRule(visiuser['iden'], (True, ('trigger', 'add')), gateiden=view)
        await core.addUserRule(visiuser['iden'], (True, ('node', 'add')), gateiden=layer)
    async with await s_telepath.openurl(visiurl) as visi:
        _, prints = await ok(visi, 'trigger.add node:add --form inet:url --query {[+#visi]}')
        visitrig = prints[0].split(': ')[1]
        # the trigger runs as visi, who may not add tags: the node has none, the trigger counts an error
        nodes, _ = await ok(visi, '[inet:url=http://vertex.link/]')
        assert 'visi' not in tags(nodes[0]), nodes
    async with await s_telepath.openurl(url) as core:
        pack = await core.callStorm(f'return($lib.trigger.get({visitrig}).pack())')
        assert pack['errcount'] == 1 and pack['username'] == 'visi', pack

        # cron: a job now, its stats
        _, prints = await ok(core, 'cron.at --now {[inet:ipv4=9.9.9.9 +#cron]}')
        croniden = prints[0].split(': ')[1]
        await poll(core, 'inet:ipv4=9.9.9.9 return(true)')
        await poll(core, f'return(($lib.cron.get({croniden}).pack().lastresult != $lib.null))')
        _, prints = await ok(core, f'cron.stat {croniden[:6]}')
        assert prints[0] == f'iden:            {croniden}', prints
        assert 'recurring:       N' in prints and '# starts:        1' in prints, prints
        assert 'last result:     finished successfully with 1 nodes' in prints, prints
        assert 'entries:         <None>' in prints, prints
        _, prints = await ok(core, 'cron.cleanup')
        assert prints == ['1 cron/at jobs deleted.'], prints

        # a failing job records its error
        _, prints = await ok(core, 'cron.at --now {$lib.raise(Oops, "it broke")}')
        failiden = prints[0].split(': ')[1]
        await poll(core, f'return(($lib.cron.get({failiden}).pack().errcount = 1))')
        job = await core.callStorm(f'return($lib.cron.get({failiden}).pack())')
        assert job['lastresult'].startswith("raised exception StormRaise: errname='Oops'"), job
        await ok(core, f'cron.del {failiden}')

        # jobs left for the restart: a recurring one and a one-shot in the future
        _, prints, warns, _ = await storm(core, 'cron.add --hourly 15 {[+#hourly]}')
        assert warns == ['"--hourly" is deprecated and will be removed in v3.0.0.'], warns
        _, prints = await ok(core, 'cron.at --minute +30 {[inet:ipv4=3.3.3.3]}')
        _, prints = await ok(core, 'cron.list')
        assert prints[0].startswith(' user                      iden        view'), prints
        assert len(prints) == 3, prints
        _, _, _, errs = await storm(core, 'cron.add --year 2030 {}')
        assert errs[0][1]['mesg'] == 'Year may not be a fixed value', errs

        # async runs queued right before the restart (slow queries keep some pending)
        await ok(core, 'trigger.add node:add --form inet:user --async --query {$lib.time.sleep(0.2) [+#late]}')
        await ok(core, 'for $i in $lib.range(10) { [inet:user=$i] }')
    print('ok')


async def verify(url):
    async with await s_telepath.openurl(url) as core:
        _, prints = await ok(core, 'trigger.list')
        assert len(prints) == 11, prints
        nodes, _ = await ok(core, '[inet:ipv4=8.8.8.8]')
        assert 'trig.modded' in tags(nodes[0]), nodes
        # the queued async runs all finish
        await poll_count(core, 'inet:user#late', 10)
        crons = await core.callStorm('return($lib.cron.list())')
        assert len(crons) == 2, crons
        queries = sorted(c['query'] for c in crons)
        assert queries == ['[+#hourly]', '[inet:ipv4=3.3.3.3]'], queries
        recur = [c for c in crons if c['recur']]
        assert recur[0]['recs'] == (({'minute': 15}, 'hour', 1),), recur
        assert recur[0]['nexttime'] > 0
    print('ok')


def main(argv):
    cmd, host, port = argv[:3]
    url = f'tcp://root:secret@{host}:{port}/'
    visiurl = f'tcp://visi:secret@{host}:{port}/'
    if cmd == 'setup':
        asyncio.run(setup(url, visiurl))
    elif cmd == 'verify':
        asyncio.run(verify(url))
    else:
        raise Exception(f'unknown command {cmd}')


if __name__ == '__main__':
    main(sys.argv[1:])
