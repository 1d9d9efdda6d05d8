import json
import synapse.lib.storm as s_storm
import synapse.datamodel as s_datamodel
import synapse.lib.stormlib.stats as s_stats

class FakeSnap:
    pass
class FakeRunt:
    model = s_datamodel.Model()

names = ['LimitCmd','UniqCmd','CountCmd','SpinCmd','MaxCmd','MinCmd','DelNodeCmd','TeeCmd','IntersectCmd','IdenCmd',
         'SleepCmd','HelpCmd','MoveTagCmd','EdgesDelCmd','LiftByVerb','GraphCmd','TagPruneCmd','ReIndexCmd','OnceCmd',
         'DiffCmd','MergeCmd','ViewExecCmd','TreeCmd','DivertCmd','RunAsCmd']
# commands the reference writes in Storm (s_storm.stormcmds)
purenames = ['view.list', 'view.get', 'view.fork', 'view.merge', 'layer.list', 'layer.get', 'note.add', 'uptime']
out = []
def parsers():
    for n in names:
        cls = getattr(s_storm, n)
        obj = cls.__new__(cls)
        obj.runt = FakeRunt()
        yield cls.name, obj.getArgParser(), cls.readonly
    cls = s_stats.StatsCountByCmd
    obj = cls.__new__(cls)
    obj.runt = FakeRunt()
    yield cls.name, obj.getArgParser(), cls.readonly
    for cdef in s_storm.stormcmds:
        if cdef['name'] in purenames:
            obj = s_storm.PureCmd.__new__(s_storm.PureCmd)
            obj.cdef = cdef
            obj.runt = FakeRunt()
            yield cdef['name'], obj.getArgParser(), s_storm.PureCmd.readonly
for name, pars, readonly in parsers():
    args = []
    for argnames, opts in pars.allargs:
        o = {}
        for k, v in opts.items():
            if isinstance(v, (str, int, bool, float, list, tuple, type(None))):
                o[k] = list(v) if isinstance(v, tuple) else v
        args.append({'names': list(argnames), 'opts': o})
    out.append({'name': name, 'descr': pars.descr, 'args': args, 'readonly': readonly})
print(json.dumps(out, indent=1))
