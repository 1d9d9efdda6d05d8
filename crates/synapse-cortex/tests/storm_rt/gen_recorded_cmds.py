'''
Cases for the commands of runtime/morecmds.rs (stats.countby, view.*, layer.*, diff, merge,
note.add, tree, divert). Writes recorded_cmds.jsonl; record expectations from the reference with

    python ../conformance/stormcheck.py record recorded_cmds.jsonl

Printed view and layer idens (random per run) are compared with 32-hex idens masked.
'''
import json
suites = []
def suite(name, setup, cases):
    out = []
    for i, c in enumerate(cases):
        if isinstance(c, str):
            c = {'query': c}
        c.setdefault('id', f'c{i:03d}')
        out.append(c)
    suites.append({'suite': name, 'setup': setup, 'cases': out})

BASE = ['[ inet:ipv4=1.1.1.1 inet:ipv4=1.1.1.2 inet:ipv4=1.1.1.3 inet:ipv4=2.2.2.2 inet:ipv4=10.0.0.1 ]',
        '[ inet:fqdn=alpha.com inet:fqdn=beta.com inet:fqdn=gamma.org inet:fqdn=www.alpha.com ]',
        '[ (inet:asn=100 :name=hundred) (inet:asn=200 :name=twohundred) (inet:asn=300) ]',
        '[ (inet:ipv4=1.1.1.1 :asn=100 +#mal.apt1) (inet:ipv4=1.1.1.2 :asn=200 +#mal.apt2 +#vip=2020) (inet:ipv4=2.2.2.2 :asn=300 +#benign=(2019, 2021)) ]']

suite('c_countby', BASE, [
    'inet:ipv4 | stats.countby :asn', 'inet:ipv4 | stats.countby', 'inet:ipv4 | stats.countby :type',
    'inet:ipv4 | stats.countby :type --reverse', 'inet:ipv4 | stats.countby :type --percent',
    'inet:ipv4 | stats.countby :type --by-name', 'inet:asn | stats.countby --by-name', 'inet:asn | stats.countby --by-name --reverse',
    'inet:ipv4 | stats.countby :type --size 1', 'inet:ipv4 | stats.countby :type --size 1 --reverse',
    'inet:ipv4 | stats.countby :type --char * --bar-width 10', 'inet:ipv4 | stats.countby :type --label-max-width 3',
    'inet:ipv4 | stats.countby :type --label-max-width -1', 'inet:ipv4 | stats.countby :type --bar-width -1',
    'inet:ipv4 | stats.countby :type --yield', 'inet:fqdn=nope.nope | stats.countby', 'stats.countby',
    'inet:ipv4 | stats.countby $lib.list(1)', '$x=5 inet:ipv4 | stats.countby $x', 'inet:ipv4 | stats.countby --help',
    'inet:fqdn | stats.countby :zone --by-name --percent', 'inet:fqdn | stats.countby :host', 'inet:ipv4 | stats.countby #mal',
    'inet:fqdn | stats.countby :iszone --bar-width 0', 'inet:ipv4 | stats.countby :type --size 0',
])

FORK = '$f=$lib.view.get().fork() '
suite('c_views', BASE, [
    'view.list', 'view.get', 'layer.list', 'layer.get', 'view.get nope', 'layer.get nope',
    '$f=$lib.view.get().fork(name=ff) view.get $f.iden', 'view.fork $lib.view.get().iden --name foo',
    'view.fork', 'view.fork nope', 'inet:ipv4=1.1.1.1 | view.get', 'inet:ipv4 | layer.list | count',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.3 ] } | inet:ipv4=3.3.3.3',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.3 +#foo ] $lib.print($node.repr()) } | view.exec $f.iden { inet:ipv4=3.3.3.3 $lib.print($node.tags()) }',
    FORK + '$x=hi view.exec $f.iden { $lib.print($x) }',
    FORK + 'inet:ipv4=1.1.1.1 $y=$node.repr() | view.exec $f.iden { $lib.print($y) }',
    'view.exec nope { $lib.print(x) }', 'view.exec $lib.view.get().iden { $lib.warn(w) [ inet:fqdn=exec.com ] } | inet:fqdn=exec.com',
    'diff', 'inet:ipv4 | diff',
    FORK + 'view.exec $f.iden { diff | $lib.print($node.repr()) }',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.4 ] inet:ipv4=1.1.1.1 [ +#newtag ] } | view.exec $f.iden { diff | $lib.print($node.repr()) }',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.4 ] inet:ipv4=1.1.1.1 [ +#newtag ] } | view.exec $f.iden { diff --tag newtag | $lib.print($node.repr()) }',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.4 :asn=5 ] inet:ipv4=1.1.1.2 [ :asn=7 ] } | view.exec $f.iden { diff --prop inet:ipv4:asn | $lib.print($node.repr()) }',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.4 inet:fqdn=new.com ] } | view.exec $f.iden { diff --prop inet:fqdn | $lib.print($node.repr()) }',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.4 .seen=2020 ] } | view.exec $f.iden { diff --prop .seen | $lib.print($node.repr()) }',
    FORK + 'view.exec $f.iden { diff --prop nope }', FORK + 'view.exec $f.iden { diff --prop inet:ipv4 --tag foo }',
    FORK + 'view.exec $f.iden { diff --tag (1) }', FORK + 'view.exec $f.iden { $t=(a, b) diff --tag $t }',
    'merge', 'inet:ipv4 | merge',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.4 :asn=5 +#foo.bar=2020 +(refs)> { inet:fqdn=alpha.com } ] $node.data.set(d, (1, two)) } | view.exec $f.iden { inet:ipv4=3.3.3.4 | merge }',
    FORK + 'view.exec $f.iden { inet:ipv4=1.1.1.1 [ :loc=us +#mal.apt1.x ] } | view.exec $f.iden { diff | merge }',
    FORK + 'view.exec $f.iden { inet:ipv4=1.1.1.1 [ :loc=us +#mal.apt1.x +#other ] } | view.exec $f.iden { diff | merge --exclude-tags mal.** }',
    FORK + 'view.exec $f.iden { inet:ipv4=1.1.1.1 [ :loc=us +#mal.apt1.x +#other ] } | view.exec $f.iden { diff | merge --include-tags other }',
    FORK + 'view.exec $f.iden { inet:ipv4=1.1.1.1 [ :loc=us :asn=9 +#other ] } | view.exec $f.iden { diff | merge --exclude-props inet:ipv4:loc }',
    FORK + 'view.exec $f.iden { inet:ipv4=1.1.1.1 [ :loc=us :asn=9 +#other ] } | view.exec $f.iden { diff | merge --include-props inet:ipv4:loc --no-tags }',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.9 +#t1 ] inet:ipv4=1.1.1.1 [ +#t2 ] } | view.exec $f.iden { diff | merge --only-tags }',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.4 :asn=5 +#foo ] } | view.exec $f.iden { diff | merge --apply } | inet:ipv4=3.3.3.4',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.4 :asn=5 +#foo ] } | view.exec $f.iden { diff | merge --apply } | view.exec $f.iden { diff | $lib.print(left) } | #foo',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.7 :asn=7 +#foo7 ] } | view.exec $f.iden { merge --diff --apply } | inet:ipv4=3.3.3.7',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.8 ] } | view.exec $f.iden { merge --diff }',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.4 ] [ +(refs)> { inet:ipv4=1.1.1.1 } ] } | view.exec $f.iden { diff | merge --apply } | inet:ipv4=3.3.3.4 -(refs)> *',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.4 +#foo ] } | view.exec $f.iden { diff | merge --apply --wipe } | inet:ipv4=3.3.3.4',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.4 +#foo ] } | view.exec $f.iden { diff | merge --apply --wipe } | view.exec $f.iden { diff | $lib.print(left) }',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.4 ] } | view.exec $f.iden { inet:ipv4=3.3.3.4 | merge --diff }',
    'view.merge $lib.view.get().iden', 'view.merge nope',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.5 +#m ] } | view.merge $f.iden | inet:ipv4=3.3.3.5',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.5 ] } | view.merge $f.iden | view.exec $f.iden { diff | $lib.print(left) }',
    FORK + 'view.exec $f.iden { [ inet:ipv4=3.3.3.6 ] } | view.merge $f.iden --delete | inet:ipv4=3.3.3.6 $lib.print($lib.len($lib.view.list()))',
    FORK + '$g=$f.fork() view.merge $f.iden',
])

suite('c_misc', BASE, [
    '[ inet:ipv4=4.4.4.4 ] | note.add hello', 'inet:ipv4=4.4.4.4 <(about)- meta:note $lib.print(:text) | spin',
    'inet:ipv4=1.1.1.1 inet:ipv4=1.1.1.2 | note.add "two nodes" --type foo.bar --yield | $lib.print((:text, :type)) -(about)> *',
    'note.add nothing', 'meta:note:text=nothing $lib.print(:text) | spin', 'inet:ipv4=4.4.4.4 | note.add --help', 'inet:ipv4=2.2.2.2 | note.add', 'inet:ipv4=2.2.2.2 | note.add x --type ""',
    'inet:fqdn=www.alpha.com | tree { :domain -> inet:fqdn }', 'inet:fqdn=com | tree { -> inet:fqdn:domain }',
    'inet:fqdn | tree { :domain -> inet:fqdn } | uniq | count', 'inet:fqdn=alpha.com | tree $node.value()', 'inet:fqdn=alpha.com | tree',
    'function f() { [ inet:ipv4=9.9.9.1 inet:ipv4=9.9.9.2 ] } divert $lib.true $f()',
    'function f() { [ inet:ipv4=9.9.9.3 ] } divert $lib.false $f() | inet:ipv4=9.9.9.3',
    'function f() { [ inet:ipv4=9.9.9.4 inet:ipv4=9.9.9.5 ] } divert --size 1 $lib.true $f()',
    'divert (1) (2)', 'inet:fqdn=alpha.com | divert $lib.true (1)',
    'function f(n) { [ inet:ipv4=$n ] } inet:asn=100 inet:asn=200 | divert $lib.true $f($node.value())',
    'sudo', 'inet:ipv4 | sudo',
    'runas nope { }', 'runas --help', 'uptime nope', 'uptime --help', 'inet:ipv4 | view.list | count',
    'inet:ipv4 | view.exec $lib.view.get().iden { $lib.print(x) } | count',
    'inet:ipv4=1.1.1.1 | tree { -> inet:asn }', 'inet:fqdn=www.alpha.com | tree { :domain -> inet:fqdn } | tree { :domain -> inet:fqdn } | count',
])

with open('recorded_cmds.jsonl', 'w') as fd:
    for s in suites:
        fd.write(json.dumps(s) + '\n')
print(sum(len(s['cases']) for s in suites))
