'''
Write stormdocs-2.256.json.gz: the Storm library and type documentation that the reference's
`help` command prints, reduced to the fields it shows. Run with the reference's python:

    python gen_stormdocs.py

Layout (keys kept short; the gzipped file is embedded in the crate and inflated and parsed only
when help needs it):

    {"libs": {"lib.str": {"b": brief, "d": desc, "x": deprecation?, "l": [local, ...]}, ...},
     "types": {"str": {"d": desc, "l": [local, ...]}, ...}}

    local: {"n": name, "d": desc, "x": deprecation?, "t": type}
      type is a type name, a list of names, or for functions and properties
      {"f": 1 (function)?, "s": 1 (setter)?, "a": [arg, ...]?, "r": returns, "p": funcname?}
      arg: {"n": name, "t": type, "d": desc, "v": default?}
      returns: {"n": name?, "d": desc?, "t": type}
    "p" is the implementing function's name, given only when several locals share it.
    "b" is the first line of the library class docstring (the `help $lib` listing);
    "d" texts are dedented as the reference renders them.
'''
import collections
import gzip
import json

import synapse.cortex  # noqa: F401 (registers every Storm library and type)
import synapse.lib.stormtypes as s_stormtypes


def dedent(doc):
    lines = doc.split('\n')
    while lines and lines[0] == '':
        lines.pop(0)
    first = lines[0]
    diff = len(first) - len(first.lstrip())
    return '\n'.join(line[diff:] for line in lines)


def rtype(rtyp, shared):
    if not isinstance(rtyp, dict):
        return rtyp
    rname = rtyp.get('type')
    out = {}
    if rname == 'function' or 'function' in rname:
        out['f'] = 1
    if rname == 'stor' or 'stor' in rname:
        out['s'] = 1
    args = []
    for arg in rtyp.get('args', ()):
        assert not isinstance(arg['type'], dict)
        item = {'n': arg['name'], 't': arg['type'], 'd': arg['desc']}
        if 'default' in arg:
            item['v'] = arg['default']
        args.append(item)
    if args:
        out['a'] = args
    rets = rtyp.get('returns')
    if rets is not None:
        assert not isinstance(rets.get('type'), dict)
        ret = {'t': rets.get('type')}
        if 'name' in rets:
            ret['n'] = rets['name']
        if rets.get('desc'):
            ret['d'] = rets['desc']
        out['r'] = ret
    fname = rtyp.get('_funcname')
    if fname is not None and shared[fname] > 1:
        out['p'] = fname
    return out


def locals_(infos):
    shared = collections.Counter()
    for info in infos:
        typ = info.get('type')
        if isinstance(typ, dict) and typ.get('_funcname'):
            shared[typ['_funcname']] += 1
    out = []
    for info in sorted(infos, key=lambda x: x.get('name')):
        item = {'n': info['name'], 'd': dedent(info['desc']), 't': rtype(info['type'], shared)}
        if info.get('deprecated'):
            item['x'] = info['deprecated']
        out.append(item)
    return out


def main():
    reg = s_stormtypes.registry
    reg.getTypeDocs()
    reg.getLibDocs()
    libs = {}
    for path, ctor in sorted(reg.iterLibs(), key=lambda x: x[0]):
        info = {
            'b': ctor.__doc__.strip().split('\n')[0],
            'd': dedent(s_stormtypes.getDoc(ctor, ctor.__name__)),
            'l': locals_(ctor._storm_locals),
        }
        if ctor._storm_lib_deprecation:
            info['x'] = ctor._storm_lib_deprecation
        libs['.'.join(('lib',) + path)] = info
    types = {}
    for _, ctor in sorted(reg.iterTypes(), key=lambda x: x[1]._storm_typename):
        types[ctor._storm_typename] = {
            'd': dedent(s_stormtypes.getDoc(ctor, ctor.__name__)),
            'l': locals_(ctor._storm_locals),
        }
    text = json.dumps({'libs': libs, 'types': types}, separators=(',', ':'), sort_keys=True)
    # gzip with a fixed time, so that a rerun writes the same bytes
    with open('stormdocs-2.256.json.gz', 'wb') as fd:
        fd.write(gzip.compress(text.encode(), compresslevel=9, mtime=0))


if __name__ == '__main__':
    main()
