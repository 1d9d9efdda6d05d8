'''
Scrape throughput of the reference (synapse.lib.scrape.contextScrape) over a generated text of
mixed indicators, defanged and not; the Rust side is crates/synapse-cortex/examples/bench_scrape.rs
(same text). Prints one JSON line per metric.

    python scrape_ref.py [--quick]
'''
import sys
import json
import time
import hashlib

import synapse.lib.scrape as s_scrape


def gentext(lines):
    out = []
    for i in range(lines):
        md5 = hashlib.md5(str(i).encode()).hexdigest()
        out.append(f'line {i}: visit hxxp://host{i}[.]example[.]com/path?id={i} from '
                   f'10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256} mail user{i}@corp{i % 97}.com '
                   f'hash {md5} re CVE-2021-{i % 10000:04d} and some filler text with words.\n')
    return ''.join(out)


def main(argv):
    lines = 500 if '--quick' in argv else 5000
    text = gentext(lines)
    start = time.perf_counter()
    matches = len(list(s_scrape.contextScrape(text)))
    took = time.perf_counter() - start
    mb = len(text.encode()) / 1e6
    print(json.dumps({'metric': 'scrape.context', 'impl': 'python', 'unit': 'MB/s',
                      'value': round(mb / took, 3), 'params': {'lines': lines, 'matches': matches}}))


if __name__ == '__main__':
    main(sys.argv[1:])
