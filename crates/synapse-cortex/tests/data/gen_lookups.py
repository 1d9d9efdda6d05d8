'''
Export the reference's lookup tables used by type normalization (IANA default ports for URL
protocols, phone number country prefixes) to crates/synapse-cortex/data/lookups.json.

Run with the reference's python: $SYNAPSE_REF_PYTHON gen_lookups.py OUTFILE
'''
import sys
import json

import synapse.lookup.iana as s_l_iana
import synapse.lookup.phonenum as s_l_phone

def main(path):
    phone = [[pref, info.get('cc')] for pref, info in s_l_phone.prefixes]
    data = {
        'services': dict(sorted(s_l_iana.services.items())),
        'phone': phone,
    }
    with open(path, 'w') as fd:
        json.dump(data, fd, indent=0, sort_keys=True)

if __name__ == '__main__':
    main(sys.argv[1])
