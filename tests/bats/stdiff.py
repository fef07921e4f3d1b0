"""stdiff.py: how far apart two training states of fn (F32 safetensors) are after one step.

stdiff.py --step MODEL A.state B.state [REGEX]
    two training states written after one Adam step from the same initial weights: the largest
    normwise relative difference ||ga - gb|| / ||ga|| of a parameter tensor's gradient, and the tensor
    where it is, over the tensors whose names do not match REGEX; then the same for the batch-norm
    statistics. After one step Adam's first moment is (1 - beta1) g, so the state's adam_m holds the
    gradient up to a factor that the ratio cancels. MODEL names the tensors: its parameters, in the
    order of their offsets, are A's flat parameter vector (checked: MODEL is the model written with A).

Exit 1 when the files hold different tensor names or shapes."""
import json
import re
import struct
import sys

import numpy as np


def read(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        head = json.loads(f.read(n))
        data = f.read()
    head.pop('__metadata__', None)
    return head, data


def load(path):
    head, data = read(path)
    out = {}
    for k, v in head.items():
        a, b = v['data_offsets']
        out[k] = np.frombuffer(data[a:b], dtype='<f4').reshape(v['shape'])
    return out


def normrel(x, y):
    x, y = x.astype(np.float64), y.astype(np.float64)
    n = np.linalg.norm(x)
    return float(np.linalg.norm(x - y) / n) if n > 0 else float(np.linalg.norm(y) > 0)


def step_diff(argv):
    head, data = read(argv[0])
    a, b = load(argv[1]), load(argv[2])
    skip = re.compile(argv[3]) if len(argv) > 3 else None
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        print('different tensors')
        return 1
    # the model's parameters (not its running statistics) in the order of the flat vector
    names = sorted((v['data_offsets'][0], v['data_offsets'][1], k) for k, v in head.items()
                   if not k.endswith(('running_mean', 'running_var')))
    flat = np.concatenate([np.frombuffer(data[s:e], dtype='<f4') for s, e, _ in names])
    if not np.array_equal(flat, a['params']):
        print('the parameters of %s are not those of %s' % (argv[0], argv[1]))
        return 1
    worst, off = (0.0, '-'), 0
    for s, e, k in names:
        n = (e - s) // 4
        if not (skip and skip.search(k)):
            worst = max(worst, (normrel(a['adam_m'][off:off + n], b['adam_m'][off:off + n]), k))
        off += n
    print('%.3g %s %.3g' % (worst[0], worst[1], normrel(a['stats'], b['stats'])))
    return 0


if __name__ == '__main__':
    if sys.argv[1:2] != ['--step']:
        sys.exit(__doc__)
    sys.exit(step_diff(sys.argv[2:]))
