# Generates src/storm/runtime/automation_cmddefs.json: the trigger.* and cron.* commands'
# descriptions and arguments as the reference declares them (its Storm-defined commands).
import json
import synapse.lib.storm as s_storm
import synapse.datamodel as s_datamodel

class FakeRunt:
    model = s_datamodel.Model()

names = ['trigger.add', 'trigger.del', 'trigger.mod', 'trigger.list', 'trigger.enable', 'trigger.disable',
         'cron.add', 'cron.at', 'cron.del', 'cron.move', 'cron.mod', 'cron.cleanup', 'cron.list', 'cron.stat',
         'cron.enable', 'cron.disable']
out = []
for cdef in s_storm.stormcmds:
    if cdef['name'] not in names:
        continue
    obj = s_storm.PureCmd.__new__(s_storm.PureCmd)
    obj.cdef = cdef
    obj.runt = FakeRunt()
    pars = obj.getArgParser()
    args = []
    for argnames, opts in pars.allargs:
        o = {}
        for k, v in opts.items():
            if isinstance(v, (str, int, bool, float, list, tuple, type(None))):
                o[k] = list(v) if isinstance(v, tuple) else v
            elif k == 'deprecated':
                o[k] = s_storm.deprmesg(argnames[0], v)
        args.append({'names': list(argnames), 'opts': o})
    out.append({'name': cdef['name'], 'descr': pars.descr, 'args': args, 'readonly': s_storm.PureCmd.readonly})
print(json.dumps(out, indent=1))
