#!/usr/bin/python3
"""fnframes.py: make and read fn streams from Python, for the Bats tests (msgpack + numpy + PIL).

  fnframes.py images OUT FILE...        decode image files with Pillow into frames (image u8 [C,H,W])
  fnframes.py dump FILE                 print id, keys and shapes of each frame

As a module: read(path) -> list of dicts with numpy arrays; write(path, frames); tensor(arr);
write_tiff_s16(path, arr): an uncompressed signed 16-bit TIFF as a CT slice (Pillow writes none)."""
import sys

import msgpack
import numpy as np

DT = {"u8": np.uint8, "u16": np.uint16, "f32": np.float32}
NAMES = {np.dtype(np.uint8): "u8", np.dtype(np.uint16): "u16", np.dtype(np.float32): "f32"}


def tensor(a):
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[None]
    a = np.ascontiguousarray(a.astype(a.dtype.newbyteorder("<")))
    return {"dtype": NAMES[np.dtype(a.dtype.name)], "shape": list(a.shape), "data": a.tobytes()}


def array(t):
    return np.frombuffer(t["data"], dtype=np.dtype(DT[t["dtype"]]).newbyteorder("<")).reshape(t["shape"])


def read(path):
    out = []
    with (sys.stdin.buffer if path == "-" else open(path, "rb")) as f:
        for fr in msgpack.Unpacker(f, raw=False):
            for k, v in fr.items():  # image, mask, pred, roi, native_mask, ...: every tensor map
                if isinstance(v, dict) and set(v) == {"dtype", "shape", "data"}:
                    fr[k] = array(v)
            out.append(fr)
    return out


def write(path, frames):
    with (sys.stdout.buffer if path == "-" else open(path, "wb")) as f:
        for fr in frames:
            fr = dict(fr)
            for k in fr:
                if isinstance(fr[k], np.ndarray):
                    fr[k] = tensor(fr[k])
            f.write(msgpack.packb(fr, use_bin_type=True))


def write_tiff_s16(path, a):
    import struct
    a = np.ascontiguousarray(np.asarray(a).astype("<i2"))
    h, w = a.shape
    tags = [(256, 3, w), (257, 3, h), (258, 3, 16), (259, 3, 1), (262, 3, 1), (273, 4, 0), (277, 3, 1),
            (278, 3, h), (279, 4, a.nbytes), (339, 3, 2)]  # SampleFormat 2: signed integer
    data = 8 + 2 + 12 * len(tags) + 4
    out = b"II*\x00" + struct.pack("<IH", 8, len(tags))
    for tag, typ, v in tags:
        v = data if tag == 273 else v
        out += struct.pack("<HHI", tag, typ, 1) + (struct.pack("<HH", v, 0) if typ == 3 else struct.pack("<I", v))
    with open(path, "wb") as f:
        f.write(out + struct.pack("<I", 0) + a.tobytes())


def main(argv):
    if argv[1] == "images":
        from PIL import Image
        import os
        frames = []
        for p in argv[3:]:
            im = np.asarray(Image.open(p))
            im = im[None] if im.ndim == 2 else im.transpose(2, 0, 1)
            frames.append({"id": os.path.splitext(os.path.basename(p))[0], "image": im,
                           "meta": {"src": p, "orig_h": im.shape[1], "orig_w": im.shape[2]}})
        write(argv[2], frames)
    elif argv[1] == "dump":
        for fr in read(argv[2]):
            print(fr["id"], " ".join("%s:%s%s" % (k, fr[k].dtype, list(fr[k].shape))
                                     for k in ("image", "mask", "pred") if k in fr))
    else:
        sys.exit("fnframes.py: unknown command " + argv[1])


if __name__ == "__main__":
    main(sys.argv)
