#!/usr/bin/env python
'''
Record how the reference Storm parser (Synapse 2.x) handles a large corpus of queries.

The corpus is gathered from:
  * the Storm conformance corpus (every setup and case query),
  * the reference's own test suite (string literals passed to core.nodes(), callStorm(),
    stormlist(), count(), storm() and friends, and the grammar test's query list),
  * Storm code shipped with the reference (command and package definitions),
  * deterministic mutations of all of the above (truncations, deletions, insertions), which
    mostly produce syntax errors with interesting positions.

For every query the script runs synapse.lib.parser.Parser(text).query() and writes one JSON
line: {"q": text, "src": origin, "ok": true, "ast": repr} for accepted queries or
{"q": text, "src": origin, "ok": false, "at": offset, "mesg": message} for rejected ones.
The Rust test in storm/fixture.rs asserts that our parser agrees on every line.

Usage:
    python storm_refparse.py --conformance PATH/storm-visible.jsonl --splice storm_refparse.jsonl.gz
'''
import os
import ast
import sys
import json
import gzip
import random
import argparse

import synapse
import synapse.exc as s_exc
import synapse.lib.parser as s_parser

CALLS = {'nodes', 'callStorm', 'stormlist', 'count', 'storm', 'exec', 'eval', 'callStormIter',
         'stormIsInPrint', 'stormNotInPrint', 'stormHasNoWarnErr', 'stormHasNoErr'}
STORM_KEYS = {'storm', 'query'}

def strconst(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None

class Finder(ast.NodeVisitor):
    '''Collect string literals that are used as Storm queries.'''

    def __init__(self):
        self.found = []
        self.scopes = [{}]

    def visit_FunctionDef(self, node):
        self.scopes.append({})
        self.generic_visit(node)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Assign(self, node):
        text = strconst(node.value)
        if text is not None:
            for targ in node.targets:
                if isinstance(targ, ast.Name):
                    self.scopes[-1].setdefault(targ.id, []).append(text)
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, 'id', None)
        if name in CALLS and node.args:
            arg = node.args[0]
            text = strconst(arg)
            if text is not None:
                self.found.append(text)
            elif isinstance(arg, ast.Name):
                for scope in self.scopes:
                    self.found.extend(scope.get(arg.id, ()))
        self.generic_visit(node)

    def visit_Dict(self, node):
        for key, valu in zip(node.keys, node.values):
            if key is not None and strconst(key) in STORM_KEYS:
                text = strconst(valu)
                if text is not None:
                    self.found.append(text)
        self.generic_visit(node)

def grammar_queries(path):
    tree = ast.parse(open(path, encoding='utf8').read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == 'Queries' for t in node.targets):
            return [strconst(e) for e in node.value.elts if strconst(e) is not None]
    return []

def encodable(text):
    '''Queries must survive UTF-8 (lone surrogates cannot be handed to a Rust parser).'''
    try:
        text.encode('utf8')
        return True
    except UnicodeEncodeError:
        return False

def gather(conformance):
    queries = []  # (text, src)

    if conformance:
        with open(conformance, encoding='utf8') as fd:
            for line in fd:
                suite = json.loads(line)
                for text in suite.get('setup', ()):
                    queries.append((text, 'conformance'))
                for case in suite.get('cases', ()):
                    queries.append((case['query'], 'conformance'))

    root = os.path.dirname(synapse.__file__)
    testdir = os.path.join(root, 'tests')
    gramfile = os.path.join(testdir, 'test_lib_grammar.py')
    if os.path.isfile(gramfile):
        queries.extend((text, 'grammar') for text in grammar_queries(gramfile))

    for dirn, src in ((testdir, 'tests'), (os.path.join(root, 'lib'), 'lib')):
        if not os.path.isdir(dirn):
            continue
        for subdir, _, files in sorted(os.walk(dirn)):
            for name in sorted(files):
                path = os.path.join(subdir, name)
                if name.endswith('.py'):
                    try:
                        tree = ast.parse(open(path, encoding='utf8').read())
                    except (SyntaxError, UnicodeDecodeError):
                        continue
                    finder = Finder()
                    finder.visit(tree)
                    queries.extend((text, src) for text in finder.found)
                elif name.endswith('.storm'):
                    queries.append((open(path, encoding='utf8').read(), src))

    seen = set()
    uniq = []
    for text, src in queries:
        if text in seen or not encodable(text):
            continue
        seen.add(text)
        uniq.append((text, src))
    return uniq

INSERTS = ['"', "'", '(', ')', '[', ']', '{', '}', '|', '$', '#', ':', '=', '<', '>', '-', '+',
           '*', '.', ',', '`', ' ', '\n', '?', '/', '@', '~', '^', '!', '%', '\\', 'x', '0',
           '->', '<-', '-(', ')>', '${', '//', '/*', 'and ', ' or ', 'not ', '--', '+#', '-#']

def mutants(text, rand, count, others=()):
    out = []
    size = len(text)
    for _ in range(count):
        kind = rand.randrange(6 if others else 4)
        if size == 0:
            kind = 2
        if kind == 0:
            offs = rand.randrange(size)
            out.append(text[:offs])
        elif kind == 1:
            offs = rand.randrange(size)
            out.append(text[:offs] + text[offs + 1:])
        elif kind == 2:
            offs = rand.randrange(size + 1)
            out.append(text[:offs] + rand.choice(INSERTS) + text[offs:])
        elif kind == 3:
            offs = rand.randrange(size)
            span = rand.randrange(1, 8)
            out.append(text[:offs] + text[offs + span:])
        elif kind == 4:
            # splice the start of this query onto the end of another one
            other = rand.choice(others)
            out.append(text[:rand.randrange(size + 1)] + other[rand.randrange(len(other) + 1):])
        else:
            # repeat a piece of the query somewhere else
            offs = rand.randrange(size)
            piece = text[offs:offs + rand.randrange(1, 12)]
            dest = rand.randrange(size + 1)
            out.append(text[:dest] + piece + text[dest:])
    return out

def record(text, src):
    item = {'q': text, 'src': src}
    try:
        tree = s_parser.Parser(text).query()
        item['ok'] = True
        # trees of mutated queries add size but little information
        if not src.endswith('-mut'):
            item['ast'] = str(tree)
        if 'ast' in item and not encodable(item['ast']):
            # a string escape produced a lone surrogate, which Rust strings cannot hold
            item['ast'] = None
    except s_exc.BadSyntax as e:
        item['ok'] = False
        item['at'] = e.errinfo.get('at')
        # the list of expected terminals depends on the reference's parser state numbering
        item['mesg'] = e.errinfo.get('mesg', '').split(', expecting')[0]
        if not encodable(item['mesg']):
            item['mesg'] = item['mesg'].encode('utf8', 'backslashreplace').decode('utf8')
    except RecursionError:
        item['ok'] = False
        item['at'] = None
        item['mesg'] = 'RecursionError'
    return item

def main(argv):
    pars = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    pars.add_argument('--conformance', help='path to the conformance corpus (storm-visible.jsonl)')
    pars.add_argument('--mutants', type=int, default=3, help='mutations per query')
    pars.add_argument('--seed', type=int, default=9)
    pars.add_argument('--max-len', type=int, default=4000, help='skip longer queries')
    pars.add_argument('--splice', action='store_true', help='also splice queries together (bigger corpus)')
    pars.add_argument('out')
    opts = pars.parse_args(argv)

    rand = random.Random(opts.seed)
    base = [(t, s) for (t, s) in gather(opts.conformance) if len(t) <= opts.max_len]

    items = []
    seen = set()
    for text, src in base:
        seen.add(text)
        items.append((text, src))
    others = [t for (t, s) in base if t] if opts.splice else ()
    for text, src in base:
        for mut in mutants(text, rand, opts.mutants, others):
            if mut in seen or not encodable(mut):
                continue
            seen.add(mut)
            items.append((mut, src + '-mut'))

    opener = gzip.open if opts.out.endswith('.gz') else open
    with opener(opts.out, 'wt', encoding='utf8') as fd:
        for text, src in items:
            fd.write(json.dumps(record(text, src), ensure_ascii=False) + '\n')

    nok = sum(1 for _ in items)
    print(f'wrote {nok} queries ({len(base)} from the corpus) to {opts.out}', file=sys.stderr)

if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
