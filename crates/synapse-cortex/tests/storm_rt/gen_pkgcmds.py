'''
Our own pure Storm commands (the reference's `pkg.*` and `nodes.import`, with its names,
descriptions and arguments; the Storm bodies are ours): writes
../../src/storm/runtime/pkgcmds.json, which `runtime/pkg.rs` runs as package commands.

    python gen_pkgcmds.py
'''
import os
import json
cmds = []
cmds.append({
 'name': 'pkg.list',
 'descr': 'List the storm packages loaded in the cortex.',
 'cmdargs': [['--verbose', {'default': False, 'action': 'store_true', 'help': 'Display build time for each package.'}]],
 'storm': r'''
$cells = ([["name", (40)], ["vers", (10)]])
if $cmdopts.verbose { $cells.append(("time", (20))) }
function row(vals) {
    $text = ""
    $i = (0)
    for $cell in $cells {
        $text = $lib.str.concat($text, " ", $lib.str.format("{v}", v=$vals.index($i)).ljust($cell.1), " ")
        $i = ($i + 1)
    }
    return($text)
}
$pkgs = $lib.pkg.list()
if $pkgs {
    $lib.print("Loaded storm packages:")
    $head = ([])
    $width = (0)
    for $cell in $cells {
        $head.append($cell.0)
        $width = ($width + $cell.1 + 2)
    }
    $lib.print($lib.str.concat($row($head), "\n", ("#").ljust($width, "#")))
    for $pkg in $pkgs {
        $vals = ([$pkg.name, $pkg.version])
        if $cmdopts.verbose {
            if ($pkg.build and $pkg.build.time) {
                $vals.append($lib.time.format($pkg.build.time, "%Y-%m-%d %H:%M:%S"))
            } else {
                $vals.append("not available")
            }
        }
        $lib.print($row($vals))
    }
} else {
    $lib.print("No storm packages installed.")
}
'''})
cmds.append({
 'name': 'pkg.perms.list',
 'descr': 'List any permissions declared by the package.',
 'cmdargs': [['name', {'help': 'The name (or name prefix) of the package.', 'type': 'str'}]],
 'storm': r'''
$found = $lib.null
for $pkg in $lib.pkg.list() {
    if ($found = $lib.null and $pkg.name.startswith($cmdopts.name)) { $found = $pkg }
}
if ($found = $lib.null) {
    $lib.warn("Package ({n}) not found!", n=$cmdopts.name)
} elif $found.perms {
    $lib.print("Package ({n}) defines the following permissions:", n=$cmdopts.name)
    for $pdef in $found.perms {
        $dflt = "false"
        if $pdef.default { $dflt = "true" }
        $lib.print("{p} : {d} ( default: {v} )", p=(".").join($pdef.perm).ljust(32), d=$pdef.desc, v=$dflt)
    }
} else {
    $lib.print("Package ({n}) contains no permissions definitions.", n=$cmdopts.name)
}
'''})
cmds.append({
 'name': 'pkg.del',
 'descr': 'Remove a storm package from the cortex.',
 'cmdargs': [['name', {'help': 'The name (or name prefix) of the package to remove.'}]],
 'storm': r'''
$names = ([])
for $pkg in $lib.pkg.list() {
    if $pkg.name.startswith($cmdopts.name) { $names.append($pkg.name) }
}
$count = $names.size()
if ($count = 0) {
    $lib.print('No package names match "{n}". Aborting.', n=$cmdopts.name)
} elif ($count = 1) {
    $lib.print("Removing package: {n}", n=$names.0)
    $lib.pkg.del($names.0)
} else {
    $lib.print('Multiple package names match "{n}". Aborting.', n=$cmdopts.name)
}
'''})
cmds.append({
 'name': 'pkg.docs',
 'descr': 'Display documentation included in a storm package.',
 'cmdargs': [['name', {'help': 'The name (or name prefix) of the package.'}]],
 'storm': r'''
$found = $lib.null
for $pkg in $lib.pkg.list() {
    if ($found = $lib.null and $pkg.name.startswith($cmdopts.name)) { $found = $pkg }
}
if ($found = $lib.null) {
    $lib.warn("Package ({n}) not found!", n=$cmdopts.name)
} elif $found.docs {
    for $doc in $found.docs { $lib.print($doc.content) }
} else {
    $lib.print("Package ({n}) contains no documentation.", n=$cmdopts.name)
}
'''})
cmds.append({
 'name': 'pkg.load',
 'descr': 'Load a storm package from an HTTP URL.',
 'cmdargs': [
   ['url', {'help': 'The HTTP URL to load the package from.'}],
   ['--raw', {'default': False, 'action': 'store_true', 'help': 'Response JSON is a raw package definition without an envelope.'}],
   ['--verify', {'default': False, 'action': 'store_true', 'help': 'Enforce code signature verification on the storm package.'}],
   ['--ssl-noverify', {'default': False, 'action': 'store_true', 'help': 'Specify to disable SSL verification of the server.'}],
 ],
 'storm': r'''
init {
    $headers = ({"X-Synapse-Version": "2.256.0"})
    $resp = $lib.inet.http.get($cmdopts.url, ssl_verify=(not $cmdopts.ssl_noverify), headers=$headers)
    if ($resp.code != 200) {
        $lib.warn("pkg.load got HTTP code: {c} for URL: {u}", c=$resp.code, u=$cmdopts.url)
        $lib.exit()
    }
    $body = $resp.json()
    if $cmdopts.raw {
        $pkgdef = $body
    } else {
        if ($body.status != "ok") {
            $lib.warn("pkg.load got JSON error: {c} for URL: {u}", c=$body.code, u=$cmdopts.url)
            $lib.exit()
        }
        $pkgdef = $body.result
    }
    $lib.pkg.add($pkgdef, verify=$cmdopts.verify)
    $lib.print("Loaded Package: {n} @{v}", n=$pkgdef.name, v=$pkgdef.version)
}
'''})
cmds.append({
 'name': 'nodes.import',
 'descr': 'Import a nodes file hosted at a URL into the cortex. Yields created nodes.',
 'cmdargs': [
   ['urls', {'nargs': '*', 'help': 'URL(s) to fetch nodes file from'}],
   ['--no-ssl-verify', {'default': False, 'action': 'store_true', 'help': 'Ignore SSL certificate validation errors.'}],
 ],
 'storm': r'''
init {
    $seen = (0)
    function nodesAt(url, verify) {
        $resp = $lib.inet.http.get($url, ssl_verify=$verify)
        if ($resp.code != 200) {
            $lib.exit("nodes.import got HTTP error code: {c} for {u}", c=$resp.code, u=$url)
        }
        $items = ([])
        for $item in $resp.msgpack() { $items.append($item) }
        yield $lib.feed.genr("syn.nodes", $items)
    }
}
$verify = (not $cmdopts.no_ssl_verify)
if $node {
    $seen = ($seen + 1)
    if ($node.form() != "inet:url") {
        $lib.exit("nodes.import can only take inet:url nodes as input without args")
    }
    $url = $node.value()
    -> { yield $nodesAt($url, $verify) }
}
if ($seen = 0) {
    for $url in $cmdopts.urls {
        for $made in $nodesAt($url, $verify) { yield $made }
    }
}
'''})

# Layer pushes and pulls: the reference's names, descriptions, arguments and output.
for kind, title, plural, other in (('push', 'Push', 'pushs', 'pushes'), ('pull', 'Pull', 'pulls', 'pulls')):
    meth = kind.capitalize()
    frm = 'from' if kind == 'push' else 'to'
    cmds.append({
     'name': f'layer.{kind}.add',
     'descr': f'Add a {kind} configuration to a layer.',
     'cmdargs': [
        ['layr', {'help': f'Iden of the layer to {kind} {frm}.'}],
        ['src', {'help': 'Telepath url of the source layer to pull from.'}] if kind == 'pull'
        else ['dest', {'help': 'Telepath url of the layer to push to.'}],
        ['--offset', {'help': 'Layer offset to begin pulling from' if kind == 'pull'
                      else 'Layer offset to begin pushing from.', 'type': 'int', 'default': 0}],
     ],
     'storm': f"""
$pdef = $lib.layer.get($cmdopts.layr).add{meth}($cmdopts.{'src' if kind == 'pull' else 'dest'}, $cmdopts.offset)
if $pdef {{ $lib.print("Layer {kind} added: {{iden}}", iden=$pdef.iden) }}
"""})
    cmds.append({
     'name': f'layer.{kind}.del',
     'descr': f'Delete a {kind} configuration from a layer.',
     'cmdargs': [
        ['layr', {'help': 'Iden of the layer to modify.'}],
        ['iden', {'help': f'Iden of the {kind} configuration to delete.'}],
     ],
     'storm': f"""
$lib.layer.get($cmdopts.layr).del{meth}($cmdopts.iden)
$lib.print("Layer {kind} deleted.")
"""})
    cmds.append({
     'name': f'layer.{kind}.list',
     'descr': f'Get a list of the {kind} configurations for a layer.',
     'cmdargs': [
        ['layr', {'help': f'Iden of the layer to retrieve {kind} configurations for.'}],
     ],
     'storm': f"""
$layr = $lib.layer.get($cmdopts.layr)
$lib.print($layr.repr())
$defs = $layr.get({plural})
if $defs {{
    $lib.print('{title} Iden                        | User                 | Time                |     Offset | URL')
    $lib.print({'-' * 138!r})
    for ($iden, $pdef) in $defs {{
        $user = $lib.auth.users.get($pdef.user)
        if $user {{ $user = $user.name.ljust(20) }} else {{ $user = $pdef.user }}
        $when = $lib.time.format($pdef.time, '%Y-%m-%d %H:%M:%S')
        $offs = $lib.cast(str, $pdef.offs).rjust(10)
        $lib.print("{{iden}} | {{user}} | {{time}} | {{offs}} | {{url}}", iden=$iden, time=$when, user=$user, offs=$offs, url=$pdef.url)
    }}
}} else {{
    $lib.print('No {other} configured.')
}}
"""})
HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, '..', '..', 'src', 'storm', 'runtime', 'pkgcmds.json'), 'w') as fd:
    json.dump(cmds, fd, indent=1)
