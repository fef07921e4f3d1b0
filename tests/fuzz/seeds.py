#!/usr/bin/python3
"""seeds.py NAME DIR: the seed corpus of fuzz harness NAME, written into DIR at run time.

Seeds are small synthetic files made here (PIL, numpy), small files of $FN_SHARED/data (read, never
copied into the repository), and files the built tools make ($FN_BIN: fn-synth, fn-normalize,
fn-train). Nothing here is kept: `make fuzz` rebuilds the seeds on every run."""
import io, json, os, struct, subprocess, sys, tempfile
import numpy as np
from PIL import Image

name, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
BIN = os.environ.get("FN_BIN", "build/bin")
DATA = os.path.join(os.environ.get("FN_SHARED", "../shared"), "data")
rng = np.random.RandomState(1)
count = 0


def put(data, tag):
    global count
    count += 1
    with open(os.path.join(out, "%s-%03d" % (tag, count)), "wb") as f:
        f.write(data)


def tool(*args, stdin=None):
    return subprocess.run([os.path.join(BIN, args[0])] + list(args[1:]), input=stdin, stdout=subprocess.PIPE,
                          check=True).stdout


def shared(exts, max_bytes, limit):
    """up to `limit` files of the data set with one of exts, each at most max_bytes"""
    found = []
    for root, _, files in sorted(os.walk(DATA)):
        for f in sorted(files):
            p = os.path.join(root, f)
            if f.lower().endswith(exts) and os.path.getsize(p) <= max_bytes:
                found.append(p)
    step = max(1, len(found) // limit)
    for p in found[::step][:limit]:
        put(open(p, "rb").read(), "data")


def pil(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    put(b.getvalue(), "syn")


def images():
    g = Image.fromarray(rng.randint(0, 255, (9, 7), np.uint8))
    rgb = Image.fromarray(rng.randint(0, 255, (6, 5, 3), np.uint8))
    return g, rgb


if name == "png":
    g, rgb = images()
    for im in (g, rgb, g.convert("1"), g.convert("P"), rgb.convert("RGBA"), g.convert("LA"),
               Image.fromarray(rng.randint(0, 65535, (5, 4), np.uint16).astype(np.int32), "I").convert("I;16")):
        pil(im, "PNG")
    pil(rgb, "PNG", optimize=True)
    shared((".png",), 8 << 10, 12)
elif name == "jpeg":
    g, rgb = images()
    pil(g, "JPEG")
    pil(rgb, "JPEG", quality=50)
    pil(rgb.resize((40, 33)), "JPEG", progressive=True)
    pil(rgb.convert("CMYK"), "JPEG")
    pil(rgb.resize((17, 16)), "JPEG", subsampling=0)
    shared((".jpg", ".jpeg"), 100 << 10, 2)
elif name == "tiff":
    g, rgb = images()
    pil(g, "TIFF")
    pil(rgb, "TIFF", compression="tiff_deflate")
    pil(rgb, "TIFF", compression="tiff_lzw")
    pil(g.convert("1"), "TIFF")
    pil(g.convert("P"), "TIFF", compression="packbits")
    pil(Image.fromarray(rng.rand(5, 4).astype(np.float32), "F"), "TIFF")
    pil(Image.fromarray(rng.randint(0, 65535, (5, 4)).astype(np.uint16)), "TIFF")
    pil(rgb.convert("RGBA"), "TIFF")
    b = io.BytesIO()
    g.save(b, "TIFF", save_all=True, append_images=[g.transpose(Image.FLIP_LEFT_RIGHT)])
    put(b.getvalue(), "syn")
    for root, _, files in sorted(os.walk(DATA)):  # a small crop of the data set's TIFFs
        tifs = [f for f in sorted(files) if f.lower().endswith((".tif", ".tiff"))]
        if tifs:
            im = Image.open(os.path.join(root, tifs[0]))
            pil(im.crop((0, 0, 24, 16)), "TIFF")
            break
elif name == "gif":
    g, rgb = images()
    pil(g, "GIF")
    pil(rgb.convert("P"), "GIF")
    pil(g, "GIF", save_all=True, append_images=[g.rotate(90)], transparency=0)
    shared((".gif",), 40 << 10, 6)
elif name == "stream":
    put(tool("fn-synth", "-n", "2", "--size", "8x8", "--seed", "1"), "fn")
    put(tool("fn-synth", "-n", "1", "--size", "4x12", "--channels", "3"), "fn")
    s = tool("fn-synth", "-n", "2", "--size", "8x8")
    put(tool("fn-normalize", "--per-image", stdin=s), "fn")
    put(tool("fn-resize", "--scale", "0.5", stdin=s), "fn")
    put(b"", "empty")
elif name == "safetensors":
    with tempfile.TemporaryDirectory() as d:
        s = tool("fn-synth", "-n", "4", "--size", "16x16", "--seed", "3")
        open(os.path.join(d, "s.fns"), "wb").write(s)
        subprocess.run([os.path.join(BIN, "fn-train"), "--device", "cpu", "--threads", "1", "--width", "0.02",
                        "--batch", "4", "--epochs", "1", "--val", os.path.join(d, "s.fns"), "-o",
                        os.path.join(d, "m.safetensors")], stdin=open(os.path.join(d, "s.fns"), "rb"), check=True)
        put(open(os.path.join(d, "m.safetensors"), "rb").read(), "model")
        put(open(os.path.join(d, "m.safetensors.state"), "rb").read(), "state")
    def st(header, data=b""):
        h = json.dumps(header).encode()
        put(struct.pack("<Q", len(h)) + h + data, "syn")
    st({"__metadata__": {"format": "fn-model", "version": "1", "arch": "focusnet", "in_channels": "1",
                         "width": "0.02"}, "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8)
    st({"__metadata__": {"format": "fn-train-state", "version": "1", "in_channels": "1", "width": "0.02",
                         "batch": "4", "lr0": "0.001", "plateau": "5", "l2": "1", "seed": "1", "epochs": "2",
                         "epoch": "1", "step": "1", "lr": "0.001", "plateau_best": "1", "plateau_wait": "0",
                         "best_val_loss": "1", "best_epoch": "1", "data": "0123456789abcdef", "out": "m",
                         "log": ""}})
    st({"a": {"dtype": "F32", "shape": [1, 2], "data_offsets": [0, 8]}, "__metadata__": {"fn_data_crc32": "00000000"}},
       b"\0" * 8)
elif name == "normstats":
    with tempfile.TemporaryDirectory() as d:
        s = tool("fn-synth", "-n", "2", "--size", "8x8", "--channels", "3")
        for args in ([], ["--per-channel"], ["--clip-percentile", "1,99"], ["--per-channel", "--clip-percentile", "2,98"]):
            p = os.path.join(d, "st.json")
            tool("fn-normalize", "--fit", p, *args, stdin=s)
            put(open(p, "rb").read(), "fit")
    put(b'{"mode": "dataset", "mean": 0, "std": 1}', "syn")
    put(b'{"mode": "dataset-per-channel", "mean": [1, 2], "std": [0, 1e308], "channels": 2, "dtype": "u16"}', "syn")
elif name == "nifti":
    import gzip
    import nibabel as nib
    with tempfile.TemporaryDirectory() as d:
        aff = np.diag([0.7, 0.8, 2.5, 1.0])
        for i, (cls, arr, ext) in enumerate([(nib.Nifti1Image, rng.randint(-1000, 1000, (5, 4, 3)).astype(np.int16), ".nii"),
                                             (nib.Nifti2Image, rng.rand(3, 4, 2).astype(np.float32), ".nii"),
                                             (nib.Nifti1Image, rng.randint(0, 3, (4, 4, 2)).astype(np.uint8), ".nii.gz")]):
            p = os.path.join(d, "v%d%s" % (i, ext))
            nib.save(cls(arr, aff), p)
            put(open(p, "rb").read(), "syn")
elif name == "dicom":
    import copy
    import pydicom
    from pydicom.data import get_testdata_file
    for f in ("CT_small.dcm", "MR_small.dcm", "MR_small_bigendian.dcm", "no_meta.dcm", "rtplan.dcm"):
        put(open(get_testdata_file(f), "rb").read(), "pydicom")
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.NumberOfFrames = 2
    ds.PixelData = ds.PixelData * 2
    b = io.BytesIO()
    ds.save_as(b)
    put(b.getvalue(), "syn")
elif name == "list":
    put(b"a.png\ta_mask.png\nb.jpg\n# comment\n\n/abs/c.tif\t../m/c.gif\n", "syn")
    put(b"x.png\r\ny.png\t\n\tz.png\n", "syn")
    put(b"only-one-line-no-newline.png", "syn")
elif name == "options":
    for s in (b"512x512", b"48X32", b"1x65536", b"0.5", b"1e3", b"-0", b"12", b"0.9,1.1", b"1,2,3,4,5,6,7,8",
              b"18446744073709551615", b"0x10", b" 7", b"nan", b"inf", b"1e-400"):
        put(s, "syn")
else:
    sys.exit("seeds.py: no harness %s" % name)
print("%s: %d seeds" % (name, count))
