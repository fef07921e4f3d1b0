#!/usr/bin/env bats
# Medical volumes: fn-read of NIfTI-1/2 (.nii, .nii.gz) and DICOM as slices, fn-write --nifti back into the
# source's geometry, fn-resize --spacing; checked against nibabel and pydicom as the independent readers
# (Debian python3-nibabel, python3-pydicom; pydicom's own small test files)

load test_helper

py() { PYTHONPATH="$BATS_TEST_DIRNAME" /usr/bin/python3 "$@"; }

need_nibabel() {
  /usr/bin/python3 -c 'import nibabel' 2> /dev/null || skip "python3-nibabel not installed"
}

need_pydicom() {
  /usr/bin/python3 -c 'import pydicom, nibabel' 2> /dev/null || skip "python3-pydicom or python3-nibabel not installed"
}

# from pydicom's CT_small.dcm: series/ (5 slices whose file names and instance numbers run against their
# positions, and a README), mixed/ (two series), multi.dcm (3 frames, per-frame positions backwards),
# nopix.dcm (no pixel data), trunc.dcm
dicoms() {
  py - <<'PY'
import os, copy, numpy as np, pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid
src = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
rng = np.random.default_rng(0)
os.makedirs("series", exist_ok=True); os.makedirs("mixed", exist_ok=True)
iop = [float(v) for v in src.ImageOrientationPatient]
n = np.cross(iop[:3], iop[3:])
ipp0 = np.array([float(v) for v in src.ImagePositionPatient])
uid = generate_uid()
order = [3, 0, 4, 1, 2]              # file names out of slice order
for name, k in enumerate(order):
    ds = copy.deepcopy(src)
    ds.SeriesInstanceUID = uid; ds.SOPInstanceUID = generate_uid()
    ds.ImagePositionPatient = [float(x) for x in ipp0 + k * 2.5 * n]
    ds.InstanceNumber = 10 - k        # and instance numbers against it
    a = ds.pixel_array.astype(np.int16) + np.int16(k * 7)
    ds.PixelData = a.tobytes()
    ds.save_as("series/img%02d.dcm" % name)
    if name < 2:
        ds.save_as("mixed/a%02d.dcm" % name)
other = copy.deepcopy(src); other.SeriesInstanceUID = generate_uid(); other.SeriesDescription = "other series"
other.save_as("mixed/b00.dcm")
open("series/README.txt", "w").write("not DICOM\n")
# a multi-frame file: 3 frames whose per-frame positions run backwards
mf = copy.deepcopy(src)
frames = np.stack([src.pixel_array.astype(np.int16) + np.int16(100 * f) for f in range(3)])
mf.NumberOfFrames = 3
mf.PixelData = frames.tobytes()
pf = []
for f in range(3):
    it = Dataset(); pp = Dataset(); pp.ImagePositionPatient = [float(x) for x in ipp0 + (2 - f) * 3.0 * n]
    it.PlanePositionSequence = Sequence([pp]); pf.append(it)
mf.PerFrameFunctionalGroupsSequence = Sequence(pf)
mf.save_as("multi.dcm")
nopix = copy.deepcopy(src); del nopix.PixelData; nopix.save_as("nopix.dcm")
t = open(get_testdata_file("CT_small.dcm"), "rb").read(); open("trunc.dcm", "wb").write(t[: len(t) - 1000])
PY
}

# ct.nii.gz: NIfTI-1 int16 7x5x4 with a slope and intercept, an oblique sform (code 2) and a qform (code 1);
# lab/ct.nii.gz its labels 0/1/2; mr.nii: NIfTI-2 float32 6x3x5 with another affine
volumes() {
  mkdir -p lab
  py - <<'PY'
import nibabel as nib, numpy as np
rng = np.random.default_rng(0)
d = rng.integers(-1024, 2000, size=(7, 5, 4)).astype(np.int16)
aff = np.array([[-0.7, 0.1, 0, 100], [0, 0.8, 0.05, -50], [0, 0, 2.5, -30], [0, 0, 0, 1]])
img = nib.Nifti1Image(d, aff)
img.header.set_qform(aff, 1); img.header.set_sform(aff, 2)
img.header.set_slope_inter(1.0, -1024.0)
nib.save(img, "ct.nii.gz")
lab = nib.Nifti1Image(((d > 0).astype(np.uint8) + (d > 1000)).astype(np.uint8), aff)
lab.header.set_qform(aff, 1); lab.header.set_sform(aff, 2)
nib.save(lab, "lab/ct.nii.gz")
aff2 = np.array([[0, 0, 1.5, 10], [1.2, 0, 0, -20], [0, -0.9, 0, 5], [0, 0, 0, 1]])
mr = nib.Nifti2Image(rng.normal(size=(6, 3, 5)).astype(np.float32), aff2)
mr.header.set_qform(aff2, 1); mr.header.set_sform(aff2, 1)
nib.save(mr, "mr.nii")
PY
}

@test "a NIfTI volume gives one frame per slice: storage order, slope and intercept applied, meta" {
  need_nibabel
  volumes
  fn-read ct.nii.gz --masks lab > f.fns
  py - <<'PY'
import fnframes, nibabel as nib, numpy as np
img = nib.load("ct.nii.gz"); d = img.get_fdata(); lab = np.asarray(nib.load("lab/ct.nii.gz").dataobj)
fr = fnframes.read("f.fns")
assert [f["id"] for f in fr] == ["ct_z%04d" % k for k in range(4)], [f["id"] for f in fr]
for k, f in enumerate(fr):
    assert f["image"].dtype == np.float32 and f["image"].shape == (1, 5, 7)
    assert np.array_equal(f["image"][0], d[:, :, k].T), k          # row = j, column = i: as stored
    assert np.array_equal(f["mask"][0], (lab[:, :, k].T != 0).astype(np.uint8)), k
    m = f["meta"]
    assert (m["volume"], m["slice"], m["axis"], m["nslices"]) == ("ct", k, "z", 4), m
    zooms = img.header.get_zooms()
    assert np.isclose(m["spacing_x"], zooms[0]) and np.isclose(m["spacing_y"], zooms[1]) and np.isclose(m["spacing_z"], zooms[2])
    assert np.allclose([m["pos_x"], m["pos_y"], m["pos_z"]], (img.affine @ [0, 0, k, 1])[:3])  # pixel (0, 0) in RAS+ mm
    assert m["src"] == "ct.nii.gz" and m["mask_src"] == "lab/ct.nii.gz"
PY
}

@test "--mask-values picks labels of the label volume; --axis x and y slice along the other axes" {
  need_nibabel
  volumes
  fn-read ct.nii.gz --masks lab --mask-values 2 --axis y > y.fns
  fn-read mr.nii --axis x > x.fns
  py - <<'PY'
import fnframes, nibabel as nib, numpy as np
d = nib.load("ct.nii.gz").get_fdata(); lab = np.asarray(nib.load("lab/ct.nii.gz").dataobj)
fr = fnframes.read("y.fns")
assert [f["id"] for f in fr] == ["ct_y%04d" % k for k in range(5)]
for k, f in enumerate(fr):
    assert np.array_equal(f["image"][0], d[:, k, :].T) and np.array_equal(f["mask"][0], (lab[:, k, :].T == 2).astype(np.uint8))
mr = nib.load("mr.nii").get_fdata()
fr = fnframes.read("x.fns")
assert len(fr) == 6 and fr[0]["image"].shape == (1, 5, 3)
for k, f in enumerate(fr):
    assert np.array_equal(f["image"][0], mr[k, :, :].T.astype(np.float32))
PY
}

@test "round trip: NIfTI in, frames, fn-write --nifti out: the same header geometry and voxels (NIfTI-1 .nii.gz, NIfTI-2 .nii, every axis)" {
  need_nibabel
  volumes
  fn-read ct.nii.gz mr.nii | fn-write --nifti --keys image out
  fn-read ct.nii.gz --masks lab | fn-write --nifti --keys mask masks
  fn-read mr.nii --axis x | fn-write --nifti --keys image outx
  fn-read ct.nii.gz --axis y | fn-write --nifti --keys image outy
  [ -f out/ct.nii.gz ] && [ -f out/mr.nii ] && [ -f masks/ct.nii.gz ]
  [ "$(stat -c %a out/ct.nii.gz)" = "$(printf '%o' $((0666 & ~$(umask))))" ]   # a plain file's permissions
  py - <<'PY'
import nibabel as nib, numpy as np
def same_geometry(a, b):
    assert type(a.header) is type(b.header), (type(a.header), type(b.header))
    assert a.shape == b.shape and a.header.get_zooms() == b.header.get_zooms()
    for k in ("qform_code", "sform_code", "quatern_b", "quatern_c", "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z",
              "srow_x", "srow_y", "srow_z", "xyzt_units"):
        assert np.array_equal(a.header[k], b.header[k]), k
    assert np.array_equal(a.affine, b.affine)
for src, out in [("ct.nii.gz", "out/ct.nii.gz"), ("mr.nii", "out/mr.nii"), ("mr.nii", "outx/mr.nii"), ("ct.nii.gz", "outy/ct.nii.gz")]:
    a, b = nib.load(src), nib.load(out)
    same_geometry(a, b)
    assert b.get_data_dtype() == np.float32
    assert np.array_equal(a.get_fdata(), b.get_fdata()), out
m = nib.load("masks/ct.nii.gz"); same_geometry(nib.load("ct.nii.gz"), m)
assert m.get_data_dtype() == np.uint8
assert np.array_equal(np.asarray(m.dataobj), (np.asarray(nib.load("lab/ct.nii.gz").dataobj) != 0).astype(np.uint8))
PY
}

@test "fn-write --nifti: pred as binary labels (p > T, or a u8 pred as is) or as --probabilities" {
  need_nibabel
  volumes
  fn-read ct.nii.gz > f.fns
  py - <<'PY'
import fnframes, numpy as np
fr = fnframes.read("f.fns")
for f in fr:
    f["pred"] = fnframes.tensor(((f["image"][0] + 2100) / 4200).astype(np.float32))
    f["image"] = fnframes.tensor(f["image"])
fnframes.write("p.fns", fr)
PY
  fn-write --nifti out < p.fns
  fn-write --nifti --probabilities prob < p.fns
  fn-write --nifti -t 0.7 --pred-suffix _seg t7 < p.fns
  fn-post < p.fns | fn-write --nifti post
  py - <<'PY'
import nibabel as nib, numpy as np
d = nib.load("ct.nii.gz").get_fdata(); p = ((d + 2100) / 4200).astype(np.float32)
b = nib.load("out/ct.nii.gz"); assert b.get_data_dtype() == np.uint8
assert np.array_equal(np.asarray(b.dataobj), (p > 0.5).astype(np.uint8))
assert np.array_equal(np.asarray(nib.load("t7/ct_seg.nii.gz").dataobj), (p > 0.7).astype(np.uint8))
q = nib.load("prob/ct.nii.gz"); assert q.get_data_dtype() == np.float32 and np.array_equal(np.asarray(q.dataobj), p)
assert np.array_equal(np.asarray(nib.load("post/ct.nii.gz").dataobj), (p > 0.5).astype(np.uint8))
PY
}

@test "fn-write --nifti: frames missing from a volume are an error naming them, and nothing is written" {
  need_nibabel
  volumes
  fn-read ct.nii.gz --masks lab > f.fns
  py - <<'PY'
import fnframes
fr = fnframes.read("f.fns")
for f in fr:
    for k in ("image", "mask"):
        f[k] = fnframes.tensor(f[k])
fnframes.write("gap.fns", [f for f in fr if f["meta"]["slice"] != 2])
PY
  run --separate-stderr fn-write --nifti --keys mask out gap.fns
  assert_one_line_error fn-write
  assert_equal "$stderr" "fn-write: ct: missing slice 2 of 4 along z"
  [ -z "$(ls out)" ]
  head -c 3000 f.fns > cut.fns   # a stream cut inside a frame: the volume begun is not left half-written
  run --separate-stderr fn-write --nifti --keys mask cut cut.fns
  assert_one_line_error fn-write
  [ -z "$(ls -A cut)" ]
  run --separate-stderr fn-write --nifti --keys mask out2 < /dev/null
  assert_success
  fn-synth -n 1 > s.fns
  run --separate-stderr fn-write --nifti --keys mask out3 s.fns
  assert_one_line_error fn-write
  [[ "$stderr" == *"no meta volume, slice and axis"* ]]
  run --separate-stderr fn-write --nifti --keys image . f.fns   # never over the source
  assert_one_line_error fn-write
  [[ "$stderr" == *"is the source volume itself"* ]]
}

@test "bad volumes: truncated, corrupt gzip, huge dimensions, not NIfTI, 4D, labels of another size: one line, exit 1, nothing written" {
  need_nibabel
  volumes
  mkdir bad lab2
  py - <<'PY'
import gzip, struct, numpy as np, nibabel as nib
raw = gzip.decompress(open("ct.nii.gz", "rb").read())
open("bad/trunc.nii", "wb").write(raw[: len(raw) - 20])
open("bad/trunc.nii.gz", "wb").write(gzip.compress(raw)[:-30])
c = bytearray(gzip.compress(raw)); c[len(c) // 2] ^= 0xff; c[len(c) // 2 + 1] ^= 0xff
open("bad/corrupt.nii.gz", "wb").write(bytes(c))
h = bytearray(raw[:352]); struct.pack_into("<8h", h, 40, 3, 30000, 30000, 30000, 1, 1, 1, 1)
open("bad/huge.nii", "wb").write(bytes(h) + bytes(100))
open("bad/huge.nii.gz", "wb").write(gzip.compress(bytes(h) + bytes(100)))
open("bad/text.nii", "wb").write(b"not a volume\n" * 40)
nib.save(nib.Nifti1Image(np.zeros((7, 5, 4, 2), np.uint8), np.eye(4)), "bad/four.nii.gz")
nib.save(nib.Nifti1Image(np.zeros((7, 5, 3), np.uint8), np.eye(4)), "lab2/ct.nii.gz")
PY
  for f in bad/*; do
    run --separate-stderr fn-read "$f" -o out.fns
    assert_one_line_error fn-read
    [[ "$stderr" == "fn-read: $f: "* ]] || fail "$stderr"
    [ ! -e out.fns ]
  done
  run --separate-stderr fn-read ct.nii.gz --masks lab2 -o out.fns
  assert_one_line_error fn-read
  assert_equal "$stderr" "fn-read: lab2/ct.nii.gz: label volume is 7x5x3 but ct.nii.gz is 7x5x4"
  # a bad volume after a good one: nothing of the good one on stdout either (headers are checked first)
  run --separate-stderr fn-read ct.nii.gz bad/huge.nii.gz
  assert_one_line_error fn-read
  assert_output ""
  run --separate-stderr fn-read ct.nii.gz imgs.png
  assert_equal "$status" 2
}

@test "fn-resize --spacing resamples each slice to a pixel spacing from its meta; --restore brings it back for fn-write --nifti" {
  need_nibabel
  volumes
  fn-read ct.nii.gz --masks lab | fn-resize --spacing 0.35 > s.fns
  run fn-info s.fns
  assert_line --index 0 --partial "image f32 [1,12,14]"   # 5 x 0.806 mm / 0.35 = 11.5, 7 x 0.7 / 0.35 = 14
  fn-resize --restore s.fns | fn-write --nifti --keys mask out
  py - <<'PY'
import nibabel as nib, numpy as np
a = nib.load("ct.nii.gz"); m = nib.load("out/ct.nii.gz")
assert m.shape == a.shape and np.array_equal(m.affine, a.affine)
PY
  run --separate-stderr fn-write --nifti --keys mask out2 s.fns
  assert_one_line_error fn-write
  [[ "$stderr" == *"restore the size first"* ]]
  fn-synth -n 1 > y.fns
  run --separate-stderr fn-resize --spacing 1 y.fns
  assert_one_line_error fn-resize
}

@test "DICOM: a series folder in slice order by position, a multi-frame file, HU from pydicom's values" {
  need_pydicom
  dicoms
  fn-read series > s.fns
  fn-read multi.dcm > m.fns
  fn-read "$(/usr/bin/python3 -c 'from pydicom.data import get_testdata_file as g; print(g("MR_small_bigendian.dcm"))')" > mr.fns
  py - <<'PY'
import fnframes, glob, numpy as np, pydicom
from pydicom.data import get_testdata_file
ds = [pydicom.dcmread(f) for f in glob.glob("series/*.dcm")]
iop = np.array(ds[0].ImageOrientationPatient, float); n = np.cross(iop[:3], iop[3:])
ds.sort(key=lambda d: np.dot(n, np.array(d.ImagePositionPatient, float)))
fr = fnframes.read("s.fns")
assert [f["id"] for f in fr] == ["series_z%04d" % k for k in range(5)]
for k, (f, d) in enumerate(zip(fr, ds)):
    hu = d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept)
    assert np.array_equal(f["image"][0], hu.astype(np.float32)), k
    ras = np.array(d.ImagePositionPatient, float) * [-1, -1, 1]
    assert np.allclose([f["meta"]["pos_x"], f["meta"]["pos_y"], f["meta"]["pos_z"]], ras, atol=1e-4)
    assert np.isclose(f["meta"]["spacing_y"], float(d.PixelSpacing[0])) and np.isclose(f["meta"]["spacing_x"], float(d.PixelSpacing[1]))
m = pydicom.dcmread("multi.dcm"); a = m.pixel_array * float(m.RescaleSlope) + float(m.RescaleIntercept)
fr = fnframes.read("m.fns")
assert len(fr) == 3
for k in range(3):  # frame 2 lies first along the normal
    assert np.array_equal(fr[k]["image"][0], a[2 - k].astype(np.float32)), k
mr = pydicom.dcmread(get_testdata_file("MR_small_bigendian.dcm"))
assert np.array_equal(fnframes.read("mr.fns")[0]["image"][0], mr.pixel_array.astype(np.float32))
PY
}

@test "DICOM to NIfTI: fn-write --nifti puts a series' mask in the scanner's RAS+ geometry (nibabel and pydicom agree)" {
  need_pydicom
  dicoms
  fn-read series | fn-write --nifti --keys image out
  py - <<'PY'
import glob, nibabel as nib, numpy as np, pydicom
v = nib.load("out/series.nii.gz")
ds = [pydicom.dcmread(f) for f in glob.glob("series/*.dcm")]
d0 = ds[0]; iop = np.array(d0.ImageOrientationPatient, float); ps = np.array(d0.PixelSpacing, float)
n = np.cross(iop[:3], iop[3:]); ds.sort(key=lambda d: np.dot(n, np.array(d.ImagePositionPatient, float)))
A = np.eye(4); A[:3, 0] = iop[:3] * ps[1]; A[:3, 1] = iop[3:] * ps[0]; A[:3, 2] = n * 2.5
A[:3, 3] = np.array(ds[0].ImagePositionPatient, float); A = np.diag([-1, -1, 1, 1]) @ A
assert v.shape == (128, 128, 5) and np.allclose(v.affine, A, atol=1e-4), v.affine
assert v.header["sform_code"] == 1 and v.header["qform_code"] == 1 and np.allclose(v.get_qform(), A, atol=1e-4)
vol = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in ds], axis=-1).transpose(1, 0, 2)
assert np.array_equal(v.get_fdata(), vol)
PY
}

@test "bad DICOM: two series in a folder (named), a gap in a series, no pixel data, truncated, compressed: one line, exit 1, nothing written" {
  need_pydicom
  dicoms
  run --separate-stderr fn-read mixed -o out.fns
  assert_one_line_error fn-read
  [[ "$stderr" == "fn-read: mixed: 2 series in one folder ("*'"other series": 1 files): give each series its own folder' ]] || fail "$stderr"
  [ ! -e out.fns ]
  rm series/img04.dcm   # slice 2 of 0..4: a gap
  run --separate-stderr fn-read series -o out.fns
  assert_one_line_error fn-read
  [[ "$stderr" == "fn-read: series: slices not evenly spaced: 2.5"*" mm then 5.0"*"(a missing file?)" ]] || fail "$stderr"
  run --separate-stderr fn-read nopix.dcm -o out.fns
  assert_one_line_error fn-read
  assert_equal "$stderr" "fn-read: nopix.dcm: no pixel data (not an image: CT)"
  run --separate-stderr fn-read trunc.dcm -o out.fns
  assert_one_line_error fn-read
  run --separate-stderr fn-read "$(/usr/bin/python3 -c 'from pydicom.data import get_testdata_file as g; print(g("JPEG2000.dcm"))')" -o out.fns
  assert_one_line_error fn-read
  [[ "$stderr" == *"compressed pixel data"* ]]
  [ ! -e out.fns ]
}
