"""layout.py [ROOT [OBJECT...]]: the layering of fn's sources (make test runs it; README, "Layout").

Checks, from ROOT (default: the current folder):
  1. every #include "..." of lib/, cmd/, cuda/ and mpi/ names a file of its own folder or of a folder
     below it in LAYERS (so lib/data may include base/, never imgproc/; two folders of one rank never
     include each other);
  2. no include cycle among those files;
  3. with OBJECTs (those of lib/: make passes the ones it builds), no cycle of names between them: no
     two files (nor any longer ring) each using a function or variable that the other defines.
An include is looked for beside the file first, then under lib/ (the one include root).
Prints one line per fault and exits 1; prints what it checked and exits 0 when there is none."""
import collections
import os
import re
import subprocess
import sys

# a folder may include its own headers and those of the folders of lower rank
LAYERS = {
    'lib/base': 0,      # errors, heap, RNG, tensors, the ordered map, the split hash, dlopen look-up
    'lib/data': 1,      # the stream, the CLI helpers, codecs, image pages, image lists, safetensors, stats
    'lib/imgproc': 2,   # operations on frames: resampling, restore, augmentation, masks, overlays, ...
    'lib/eval': 2,      # metrics, challenge scoring, bootstrap
    'lib/backend': 3,   # the backend interface, which both backends and the graph see
    'lib/cpu': 4,       # the CPU backend
    'lib/nn': 4,        # the networks and the net's API
    'cuda': 4,          # the CUDA backend
    'lib/train': 5,     # training, evaluation, tiled prediction
    'mpi': 6,           # the MPI library fn-train loads under mpirun
    'cmd': 7,           # the tools
}
SOURCES = ('.c', '.h', '.cu', '.cc', '.cpp')
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def folder_of(path):
    d = os.path.dirname(path)
    return d if d in LAYERS else None


def sources(root):
    for top in ('lib', 'cmd', 'cuda', 'mpi'):
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for n in sorted(names):
                if n.endswith(SOURCES):
                    yield os.path.relpath(os.path.join(dirpath, n), root)


def resolve(root, path, inc):
    for cand in (os.path.join(os.path.dirname(path), inc), os.path.join('lib', inc)):
        cand = os.path.normpath(cand)
        if os.path.isfile(os.path.join(root, cand)):
            return cand
    return None


def cycles(graph):
    """the strongly connected components of more than one node (Tarjan, iteratively)"""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
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
    return out


def check_includes(root, faults):
    graph, n, paths = collections.defaultdict(set), 0, list(sources(root))
    for path in paths:
        own = folder_of(path)
        if own is None:
            faults.append('%s: its folder is not in the layers of tests/layout.py' % path)
            continue
        with open(os.path.join(root, path), encoding='utf-8', errors='replace') as f:
            text = f.read()
        for inc in INCLUDE.findall(text):
            n += 1
            target = resolve(root, path, inc)
            if target is None:
                faults.append('%s: #include "%s" is no file beside it or under lib/' % (path, inc))
                continue
            graph[path].add(target)
            theirs = folder_of(target)
            if theirs is None:
                faults.append('%s: #include "%s": %s is in no layer' % (path, inc, target))
            elif theirs != own and LAYERS[theirs] >= LAYERS[own]:
                faults.append('%s: #include "%s": %s (rank %d) is not below %s (rank %d)'
                              % (path, inc, theirs, LAYERS[theirs], own, LAYERS[own]))
    for comp in cycles(graph):
        faults.append('include cycle: %s' % ' '.join(comp))
    return len(paths), n


def check_names(objs, faults):
    defined, used, owner = {}, {}, {}
    for o in objs:
        out = subprocess.run(['nm', '-P', o], capture_output=True, text=True, check=True).stdout
        d, u = set(), set()
        for line in out.splitlines():
            f = line.split()
            if len(f) >= 2:
                (u if f[1] == 'U' else d if f[1] in 'TDBRGSVW' else set()).add(f[0])
        defined[o], used[o] = d, u
        for s in d:
            owner.setdefault(s, o)
    graph = {o: {owner[s] for s in used[o] if s in owner and owner[s] != o} for o in objs}
    for comp in cycles(graph):
        names = comp
        if len(comp) == 2:
            a, b = comp
            ab = sorted(s for s in used[a] if owner.get(s) == b)[:3]
            ba = sorted(s for s in used[b] if owner.get(s) == a)[:3]
            faults.append('%s and %s use each other\'s names (%s; %s)'
                          % (names[0], names[1], ', '.join(ab), ', '.join(ba)))
        else:
            faults.append('a ring of names: %s' % ' '.join(names))
    return len(objs)


def main(argv):
    root = argv[1] if len(argv) > 1 else '.'
    faults = []
    files, includes = check_includes(root, faults)
    objs = check_names(sorted(argv[2:]), faults) if len(argv) > 2 else None
    for f in faults:
        print('layout: ' + f)
    if faults:
        return 1
    print('layout: %d files, %d includes: each of its own folder or one below; no include cycle%s'
          % (files, includes, '' if objs is None else
             '; %d objects: no two use each other\'s names' % objs))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
