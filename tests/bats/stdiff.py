"""stdiff.py A B [REGEX]: the largest difference between the tensors of two safetensors files (F32),
|a - b| / max(1, |a|) elementwise, and the tensor where it is, over the tensors whose names do not match
REGEX. Exit 1 when the files hold different tensor names or shapes."""
import json
import re
import struct
import sys

import numpy as np


def load(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        head = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in head.items():
        if k == '__metadata__':
            continue
        a, b = v['data_offsets']
        out[k] = np.frombuffer(data[a:b], dtype='<f4').reshape(v['shape'])
    return out


def main(argv):
    x, y = load(argv[1]), load(argv[2])
    skip = re.compile(argv[3]) if len(argv) > 3 else None
    if x.keys() != y.keys() or any(x[k].shape != y[k].shape for k in x):
        print('different tensors')
        return 1
    worst = max((float(np.max(np.abs(x[k] - y[k]) / np.maximum(1, np.abs(x[k])))), k)
                for k in x if x[k].size and not (skip and skip.search(k)))
    print('%.3g %s' % worst)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
