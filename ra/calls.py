#!/usr/bin/env python3
"""The file-level call graph of ra/ (issue 12): for each ra/*.c, which
other ra/*.c define the functions it calls. A call is `name(` in the code
(comments and strings stripped); a function named in a flow table is not
a call. Prints the graph; exits 1 if two files call each other, directly
or through others. Usage: calls.py [SOURCE_ROOT]"""
import glob
import os
import re
import sys


def strip(s):
    s = re.sub(r'/\*.*?\*/', ' ', s, flags=re.S)
    s = re.sub(r'//[^\n]*', ' ', s)
    return re.sub(r'"(\\.|[^"\\])*"', '""', s)


def graph(root):
    files = sorted(glob.glob(os.path.join(root, 'ra', '*.c')))
    defs, src = {}, {}
    for f in files:
        s = src[f] = strip(open(f).read())
        for m in re.finditer(r'^(?!static)[A-Za-z_][\w \*]*?\b(\w+)\s*\([^;{]*\)\s*\{', s, re.M):
            defs[m.group(1)] = os.path.basename(f)
    edges = {}
    for f in files:
        b = os.path.basename(f)
        edges[b] = sorted({defs[m.group(1)] for m in re.finditer(r'\b(\w+)\s*\(', src[f])
                           if defs.get(m.group(1)) not in (None, b)})
    return edges


def cycles(edges):
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def main():
    edges = graph(sys.argv[1] if len(sys.argv) > 1 else '.')
    for f, to in sorted(edges.items()):
        print('%s: %s' % (f, ' '.join(to) or '-'))
    found = cycles(edges)
    print('cycles: %s' % (found or 'none'))
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
