import json
import synapse.lib.storm as s_storm
import synapse.datamodel as s_datamodel

class FakeSnap:
    pass
class FakeRunt:
    model = s_datamodel.Model()

names = ['LimitCmd','UniqCmd','CountCmd','SpinCmd','MaxCmd','MinCmd','DelNodeCmd','TeeCmd','IntersectCmd','IdenCmd',
         'SleepCmd','HelpCmd','MoveTagCmd','EdgesDelCmd','LiftByVerb','GraphCmd','TagPruneCmd','ReIndexCmd','OnceCmd']
out = []
for n in names:
    cls = getattr(s_storm, n)
    obj = cls.__new__(cls)
    obj.runt = FakeRunt()
    pars = obj.getArgParser()
    args = []
    for argnames, opts in pars.allargs:
        o = {}
        for k, v in opts.items():
            if isinstance(v, (str, int, bool, float, list, tuple, type(None))):
                o[k] = list(v) if isinstance(v, tuple) else v
        args.append({'names': list(argnames), 'opts': o})
    out.append({'name': cls.name, 'descr': pars.descr, 'args': args, 'readonly': cls.readonly})
print(json.dumps(out, indent=1))
