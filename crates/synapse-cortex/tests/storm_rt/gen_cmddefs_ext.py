'''
Print the command definitions (descriptions, arguments, readonly, deprecation) of reference
commands, as the `*cmddefs*.json` files of `runtime/` hold them. With no names, the tier-2
commands that `runtime/ext.rs` runs:

    python gen_cmddefs_ext.py > ../../src/storm/runtime/cmddefs_ext.json
    python gen_cmddefs_ext.py ps.list ps.kill ... > ../../src/storm/runtime/admin_cmddefs.json
'''
import sys
import json
import asyncio
import tempfile

import synapse.cortex as s_cortex
import synapse.lib.cell as s_cell
import synapse.lib.storm as s_storm

# a throwaway cortex: never refuse to boot on a full disk
s_cell.shutil.disk_usage = lambda path: s_cell.shutil._ntuple_diskusage(100, 0, 100)

NAMES = sys.argv[1:] or [
    'queue.add', 'queue.del', 'queue.list',
    'macro.set', 'macro.get', 'macro.del', 'macro.list', 'macro.exec',
    'auth.user.add', 'auth.user.del', 'auth.user.list', 'auth.user.show', 'auth.user.mod',
    'auth.user.addrule', 'auth.user.delrule', 'auth.user.grant', 'auth.user.revoke',
    'auth.user.allowed',
    'auth.role.add', 'auth.role.del', 'auth.role.list', 'auth.role.show', 'auth.role.mod',
    'auth.role.addrule', 'auth.role.delrule', 'auth.role.members',
    'auth.gate.show', 'auth.perms.list',
    'ps.list', 'ps.kill',
    'model.edge.set', 'model.edge.get', 'model.edge.del', 'model.edge.list',
    'view.add', 'view.del', 'view.set', 'layer.add', 'layer.del', 'layer.set',
    'batch', 'parallel', 'background', 'storm.exec', 'copyto', 'movenodes', 'index.count.prop',
]


class FakeRunt:
    def __init__(self, model):
        self.model = model


async def main():
    out = []
    with tempfile.TemporaryDirectory() as dirn:
        async with await s_cortex.Cortex.anit(dirn) as core:
            for name in NAMES:
                ctor = core.getStormCmd(name)
                if ctor is None:
                    continue
                if isinstance(ctor, type):
                    cls = ctor
                    obj = ctor.__new__(ctor)
                else:
                    # a pure (Storm) command: its ctor closes over the cdef
                    cls = s_storm.PureCmd
                    obj = cls.__new__(cls)
                    obj.cdef = ctor.__closure__[0].cell_contents
                obj.runt = FakeRunt(core.model)
                pars = obj.getArgParser()
                args = []
                for argnames, opts in pars.allargs:
                    o = {}
                    for k, v in opts.items():
                        if isinstance(v, (str, int, bool, float, list, tuple, dict, type(None))):
                            o[k] = list(v) if isinstance(v, tuple) else v
                    args.append({'names': list(argnames), 'opts': o})
                cdef = {'name': name, 'descr': pars.descr, 'args': args, 'readonly': cls.readonly}
                depr = getattr(obj, 'cdef', {}).get('deprecated') if cls is s_storm.PureCmd else None
                if depr is not None:
                    cdef['deprecated'] = s_storm.deprmesg(name, depr)
                out.append(cdef)
    print(json.dumps(out, indent=1))

if __name__ == "__main__":
    asyncio.run(main())
