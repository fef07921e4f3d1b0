#!/usr/bin/python3
"""resize_ref.py: the reference tools of tests/bench/resize.sh, timed in-process (imports excluded).

  resize_ref.py time METHOD NPROC REPS FILE...   "WALL CPU": the best wall seconds and the least CPU
                                                 seconds (user + system of the workers) of REPS runs
                                                 over all FILEs, with NPROC forked workers (each takes
                                                 every NPROC-th file)
  resize_ref.py mad METHOD FILE...               mean abs difference (grey levels) of METHOD's 256x256
                                                 result from Pillow's full decode + BILINEAR resize
  resize_ref.py madfns STREAM FILE...            the same for the frames of an fn stream (in FILE order)
METHOD: pil (Image.draft() + resize BILINEAR) or cv (IMREAD_REDUCED_COLOR_4 for JPEG, else unchanged,
then resize INTER_AREA)."""
import os
import resource
import sys
import time

import numpy as np

S = 256


def is_jpeg(path):
    with open(path, "rb") as f:
        return f.read(2) == b"\xff\xd8"


def run_pil(path):
    from PIL import Image
    im = Image.open(path)
    im.draft(im.mode if im.mode in ("RGB", "L") else "RGB", (S, S))
    return im.resize((S, S), Image.BILINEAR)


def run_cv(path):
    import cv2
    flag = cv2.IMREAD_REDUCED_COLOR_4 if is_jpeg(path) else cv2.IMREAD_UNCHANGED
    return cv2.resize(cv2.imread(path, flag), (S, S), interpolation=cv2.INTER_AREA)


def as_planar(method, out):
    a = np.asarray(out)
    if a.ndim == 2:
        return a[None]
    if method == "cv":
        a = a[:, :, ::-1]  # BGR -> RGB
    return a.transpose(2, 0, 1)


def reference(path):
    from PIL import Image
    im = Image.open(path)
    a = np.asarray(im.resize((S, S), Image.BILINEAR))
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def main(argv):
    cmd = argv[1]
    if cmd == "time":
        method, nproc, reps, files = argv[2], int(argv[3]), int(argv[4]), argv[5:]
        fn = {"pil": run_pil, "cv": run_cv}[method]
        if method == "cv":
            import cv2
            cv2.setNumThreads(1)  # parallel by processes, as the other rows
        else:
            import PIL.Image  # noqa: F401 (imported before the clock starts)
        best = cpu = None
        for _ in range(reps):
            # getrusage counts microseconds (os.times() counts 10 ms ticks, which the least of a few
            # runs of about 0.1 s turns into a figure up to 10 % too low)
            c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            pids = []
            for w in range(nproc):
                pid = os.fork()
                if pid == 0:
                    for p in files[w::nproc]:
                        fn(p)
                    os._exit(0)
                pids.append(pid)
            for pid in pids:
                _, st = os.waitpid(pid, 0)
                if st:
                    sys.exit("resize_ref.py: a worker failed")
            t = time.perf_counter() - t0
            c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            c = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
            best = t if best is None else min(best, t)
            cpu = c if cpu is None else min(cpu, c)
        print("%.6f %.6f" % (best, cpu))
    elif cmd == "mad":
        method, files = argv[2], argv[3:]
        fn = {"pil": run_pil, "cv": run_cv}[method]
        d = [np.abs(reference(p).astype(float) - as_planar(method, fn(p))).mean() for p in files]
        print("%.3f" % np.mean(d))
    elif cmd == "madfns":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bats"))
        import fnframes
        frames, files = fnframes.read(argv[2]), argv[3:]
        assert len(frames) == len(files), (len(frames), len(files))
        d = [np.abs(reference(p).astype(float) - f["image"]).mean() for f, p in zip(frames, files)]
        print("%.3f" % np.mean(d))
    else:
        sys.exit("resize_ref.py: unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
