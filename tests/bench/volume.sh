#!/usr/bin/env bash
# A CT volume through fn and through nibabel, side by side in the same run: a 512x512x300 int16 .nii.gz
# scan and its uint8 label volume (made here with nibabel in a temporary folder, never kept), then
#   fn       fn-read scan.nii.gz --masks lab | fn-write --nifti --keys mask out/  (the scan read to f32
#            frames in Hounsfield units with their masks, the mask volume written back with the scan's
#            header; both processes and the pipe counted)
#   nibabel  nib.load of the scan and the labels, their voxels read (np.asarray(img.dataobj)), the mask
#            saved as uint8 .nii.gz with the scan's affine and header (interpreter start-up included)
# Rounds alternate the two; the median of FN_BENCH_REPS (default 5) wall-clock and CPU (user + system)
# seconds. VOL=XxYxZ for another size. Skipped (exit 0) without python3-nibabel.
set -euo pipefail
. "$(dirname "$0")/machine.sh"
BIN=${FN_BIN:-$(cd "$(dirname "$0")/../../build/bin" && pwd)}
export PATH="$BIN:$PATH"
PY=/usr/bin/python3
REPS=${FN_BENCH_REPS:-5}
VOL=${VOL:-512x512x300}
if ! $PY -c 'import nibabel' 2> /dev/null; then
  echo "no python3-nibabel: volume benchmark skipped"
  exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fn-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
mkdir lab
$PY - "$VOL" <<'PY'
import sys, nibabel as nib, numpy as np
X, Y, Z = (int(v) for v in sys.argv[1].split("x"))
rng = np.random.default_rng(1)
y, x = np.ogrid[0:Y, 0:X]
body = ((x - X / 2) ** 2 / (0.43 * X) ** 2 + (y - Y / 2) ** 2 / (0.35 * Y) ** 2) < 1
lung = (((x - X / 3) ** 2 + (y - Y / 2) ** 2) < (X / 7) ** 2) | (((x - 2 * X / 3) ** 2 + (y - Y / 2) ** 2) < (X / 7) ** 2)
sl = (np.where(body, 40, -1000) + np.where(lung & body, -850, 0)).astype(np.int16).T      # [X, Y]
d = np.repeat(sl[:, :, None], Z, axis=2) + rng.normal(0, 20, (X, Y, Z)).astype(np.int16)
aff = np.diag([-0.7, -0.7, 1.0, 1]); aff[:3, 3] = [180, 180, -300]
img = nib.Nifti1Image(d, aff); img.header.set_qform(aff, 1); img.header.set_sform(aff, 1)
nib.save(img, "scan.nii.gz")
nib.save(nib.Nifti1Image(np.repeat((lung & body).T[:, :, None], Z, axis=2).astype(np.uint8), aff, img.header), "lab/scan.nii.gz")
PY
cat > nib_rt.py <<'PY'
import nibabel as nib, numpy as np
img = nib.load("scan.nii.gz"); d = np.asarray(img.dataobj)
m = np.asarray(nib.load("lab/scan.nii.gz").dataobj)
nib.save(nib.Nifti1Image((m > 0).astype(np.uint8), img.affine, img.header), "nib_out.nii.gz")
PY
run() { # "WALL CPU" of one run
  { TIMEFORMAT='%3R %3U %3S'; time eval "$1" > /dev/null 2>&1; } 2>&1 | tail -n 1 | awk '{ print $1, $2 + $3 }'
}
: > fn.t
: > nib.t
for _ in $(seq "$REPS"); do
  rm -rf out nib_out.nii.gz
  run "fn-read scan.nii.gz --masks lab | fn-write --nifti --keys mask out" >> fn.t
  run "$PY nib_rt.py" >> nib.t
done
$PY - "$VOL" "$REPS" "$(stat -c %s scan.nii.gz)" <<'PY'
import sys, statistics, nibabel as nib, numpy as np
vol, reps, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
same = np.array_equal(np.asarray(nib.load("out/scan.nii.gz").dataobj), np.asarray(nib.load("nib_out.nii.gz").dataobj))
print("volume %s int16 .nii.gz (%.0f MB), its mask written back; median of %d, seconds" % (vol, size / 1e6, reps))
print("%-8s %8s %8s" % ("", "wall", "cpu"))
rows = {}
for name in ("fn", "nibabel"):
    t = [tuple(map(float, l.split())) for l in open({"fn": "fn.t", "nibabel": "nib.t"}[name])]
    rows[name] = (statistics.median(a for a, _ in t), statistics.median(b for _, b in t))
    print("%-8s %8.2f %8.2f" % (name, *rows[name]))
print("fn / nibabel wall: %.2f; the two masks equal: %s" % (rows["fn"][0] / rows["nibabel"][0], same))
PY
