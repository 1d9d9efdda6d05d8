'''
Cases for `help`, `movetag` and `lift.byverb` (runtime/tier1.rs) and a differential pass over
the other tier-1 commands. Writes recorded_tier1.jsonl; record expectations from the reference
with

    python ../conformance/stormcheck.py record recorded_tier1.jsonl

`help` of a library, a function, a node or a type name prints the reference's Storm type
documentation, which we do not carry: those cases are left out. Tag properties need the
extended model of a full cortex: movetag's handling of them is tested in core/modelext.rs.
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

BASE = ['[ inet:ipv4=1.1.1.1 inet:ipv4=1.1.1.2 inet:ipv4=1.1.1.3 inet:ipv4=2.2.2.2 ]',
        '[ inet:fqdn=alpha.com inet:fqdn=beta.com ]',
        '[ (inet:ipv4=1.1.1.1 +#mal.apt1=2020 +#mal.apt2) (inet:ipv4=1.1.1.2 +#mal.apt1.sub=(2019, 2021) +#vip) (inet:ipv4=2.2.2.2 +#mal) ]',
        '[ syn:tag=mal.apt1 :doc="apt one" :title="APT 1" +#meta.x ]',
        'inet:ipv4=1.1.1.1 [ +(refs)> { inet:fqdn=alpha.com } +(seen)> { inet:fqdn=beta.com } ]',
        'inet:ipv4=1.1.1.2 [ +(refs)> { inet:fqdn=alpha.com inet:fqdn=beta.com } ]']

suite('t_help', BASE, [
    'help limit', 'help nosuchcmdname', 'help view.', 'help --verbose limit', 'inet:ipv4=1.1.1.1 | help uniq',
    'help tag.', 'help (1)', 'inet:ipv4 | limit 1 | help lift.',
])

suite('t_movetag', BASE, [
    'movetag mal.apt1 threat.apt1 | spin', '#threat.apt1',
    'inet:ipv4 $lib.print(($node.repr(), $node.pack().1.tags))',
    'movetag mal.apt1 threat.apt1 | inet:ipv4 $lib.print(($node.repr(), $node.tags()))',
    'movetag mal.apt1 threat.apt1 | syn:tag^=mal +:isnow $lib.print(($node.repr(), :isnow))',
    'movetag mal.apt1 threat.apt1 | syn:tag^=threat $lib.print(($node.repr(), $node.tags())) +:doc $lib.print((:doc, :title))',
    'movetag mal.apt1 threat.apt1 | #threat.apt1.sub $lib.print($node.repr()) | spin',
    'movetag mal nope.mal | inet:ipv4 $lib.print(($node.repr(), $node.tags()))',
    'movetag mal.apt1 mal.apt1', 'movetag nope.nope foo', 'movetag mal.apt1 "#other.thing" | #other.thing',
    'inet:ipv4=1.1.1.3 | movetag vip vip2', 'inet:ipv4=1.1.1.3 $t=vip | movetag $t vip2',
    '[ syn:tag=a.b :isnow=c.d ] [ syn:tag=c.d :isnow=a.b ] | movetag vip a.b',
    'movetag vip mal.apt1 | movetag mal.apt1 vip',
])

suite('t_byverb', BASE, [
    'lift.byverb refs', 'lift.byverb --n2 refs', 'lift.byverb seen', 'lift.byverb nope', 'lift.byverb --n2 "*"',
    'inet:fqdn=beta.com | lift.byverb refs', 'inet:ipv4=1.1.1.1 | lift.byverb --n2 $node.value()',
    '$v=refs inet:fqdn | lift.byverb --n2 $v | count', 'lift.byverb',
    'inet:ipv4=1.1.1.1 inet:ipv4=1.1.1.2 | $v=refs | lift.byverb $v | $lib.print($node.repr())',
])

suite('t_misc', BASE, [
    'inet:ipv4 | limit 2', 'inet:ipv4 | limit 0', 'inet:ipv4 | limit -1', 'inet:ipv4 inet:ipv4 | uniq | count',
    'inet:ipv4 | uniq $node.value()', 'inet:ipv4 | count --yield', 'count', 'inet:ipv4 | spin',
    'inet:ipv4 | max $node.value()', 'inet:ipv4 | min $node.value()', 'inet:ipv4 | max #mal', 'inet:ipv4 | min #mal.apt1.sub',
    'inet:ipv4 | max .created --size 2 | count', 'inet:ipv4 | max $node.value() --size 0',
    'inet:fqdn=beta.com | delnode', 'inet:fqdn=beta.com | delnode --deledges | inet:fqdn=beta.com', 'inet:ipv4=1.1.1.3 | delnode --force | inet:ipv4=1.1.1.3',
    'inet:ipv4 | tee { -> inet:fqdn } | count', 'inet:ipv4=1.1.1.1 | tee --join { -(refs)> * } { -(seen)> * }', 'tee', 'inet:ipv4 | tee',
    'iden 3a6c11f2e0b3b5e1d6b8dd4e21b6b0c6d7f1f3b0c7e4b7bda1d5cd2e40ba9c03', 'iden nope', 'iden', 'iden 0102', 'inet:ipv4=1.1.1.1 | iden $node.iden()', '$i=$lib.null inet:fqdn=alpha.com $i=$node.iden() | spin | iden $i', 'tee { inet:ipv4 }',
    'inet:ipv4 | tag.prune mal.apt1 | $lib.print($node.tags())', 'inet:ipv4 | tag.prune mal.apt1.sub | $lib.print($node.tags())',
    'inet:ipv4 | once foo | count', 'inet:ipv4 | once foo | once foo | count', 'inet:ipv4 | once bar --asof now | count',
    '[ inet:ipv4=5.5.5.5 ] | note.add hi | spin | meta:note $lib.print(:text) | spin',
    'inet:ipv4=1.1.1.1 | edges.del refs | -(refs)> *', 'inet:ipv4 | edges.del * | -> * | count', 'inet:fqdn=alpha.com | edges.del --n2 refs | <(refs)- *',
    'inet:ipv4 | sleep 0 | count', 'version', 'inet:ipv4 | stats.countby #mal', 'inet:ipv4 | graph | count',
    '[ inet:fqdn=foo.com :zone=foo.com ] | scrape :zone | count', 'scrape "hi 8.8.8.8 there" --yield',
])

suite('t_more', BASE, [
    'inet:ipv4 | limit $node.value()', 'inet:ipv4 | limit (2.5)', 'inet:ipv4 | limit nope', '$n=1 inet:ipv4 | limit $n',
    'inet:ipv4 | uniq $lib.null | count', 'inet:ipv4 | uniq ($node.value() > 1) | count', 'inet:ipv4 | uniq (1, 2) | count',
    'inet:ipv4 | max', 'inet:ipv4 | max nope', 'inet:ipv4 | min :asn', 'inet:ipv4 | max (2020, 2021)', 'inet:ipv4 | min #vip --size 2',
    'inet:ipv4 | count $node.value()', 'inet:ipv4 | count --help',
    'inet:ipv4 | edges.del nope | count', 'inet:ipv4 | edges.del', 'inet:fqdn | edges.del --n2 * | <(*)- * | count',
    'inet:ipv4 | once', 'inet:ipv4 | once "" | count', 'inet:ipv4 | once x --asof -1day | count', 'inet:ipv4 | once x --asof nope | count',
    'inet:ipv4 | once x | once x --asof -1day | count',
    'inet:ipv4 | delnode --force --deledges | count', 'inet:ipv4 | count',
    'sleep', 'sleep -1', 'spin | count', 'inet:fqdn | tag.prune', 'inet:fqdn | tag.prune nope',
    'version --help', 'help --help',
    'note.add', '[ inet:fqdn=n.com ] | note.add (1) | spin | meta:note $lib.print(:text) | spin',
    'movetag', 'movetag a', 'lift.byverb --n2', 'help ((1), (2))',
])

with open('recorded_tier1.jsonl', 'w') as fd:
    for s in suites:
        fd.write(json.dumps(s) + '\n')
print(sum(len(s['cases']) for s in suites))
