#!/usr/bin/env bats
# DICOM and TIFF in libraries loaded on first use (lib/data/plugin.h): the tools link neither DCMTK nor
# libtiff, load libfn-dicom.so / libfn-tiff.so only for a file of theirs (FN_DICOM_LIB / FN_TIFF_LIB give
# the path), and say in one line when it cannot be loaded, while the other formats still read.

load test_helper

PY=/usr/bin/python3

# a.png, c.tif (Pillow), and ct.dcm (pydicom's CT_small.dcm) when pydicom is there
fixtures() {
  $PY -c '
import numpy as np
from PIL import Image
y, x = np.mgrid[0:20, 0:30]
g = (x * 8 + y).astype(np.uint8)
Image.fromarray(g).save("a.png")
Image.fromarray(g).save("c.tif", compression="tiff_lzw")
'
}

need_dicom() {
  local f
  f=$($PY -c 'from pydicom.data import get_testdata_file as g; print(g("CT_small.dcm"))' 2> /dev/null) ||
    skip "python3-pydicom not installed"
  cp "$f" ct.dcm
}

@test "the tools link neither DCMTK nor libtiff; the plugins do" {
  run ldd "$FN_BIN/fn-read"
  assert_success
  refute_output --partial libdcmdata
  refute_output --partial libtiff
  # nor DCMTK's other libraries nor libstdc++ directly (a sanitized build's runtime brings libstdc++)
  run readelf -d "$FN_BIN/fn-read"
  assert_success
  assert_output --partial NEEDED
  refute_output --regexp 'liboflog|libofstd|libstdc\+\+'
  run ldd "$FN_BIN/../libfn-dicom.so"
  assert_output --partial libdcmdata
  run ldd "$FN_BIN/../libfn-tiff.so"
  assert_output --partial libtiff
}

@test "a plugin is loaded only for a file of its format" {
  fixtures
  run --separate-stderr env LD_DEBUG=files fn-read a.png -o s.fns
  assert_success
  [[ "$stderr" != *libfn-tiff.so* && "$stderr" != *libfn-dicom.so* ]] || fail "a PNG loaded a plugin"
  run --separate-stderr env LD_DEBUG=files fn-read c.tif -o s.fns
  assert_success
  [[ "$stderr" == *libfn-tiff.so* && "$stderr" != *libfn-dicom.so* ]] || fail "a TIFF: $stderr"
}

# VAR pointing nowhere: fn-read of FILES, the last of KIND, fails in one line naming KIND's library
# and writes no stream, while a.png alone still reads (into s.fns)
missing_plugin() {
  local var=$1 lib=$2 kind=$3
  shift 3
  local file=${*: -1}
  run --separate-stderr env "$var=/nonexistent/$lib" fn-read "$@" -o s.fns
  assert_one_line_error fn-read
  [[ "$stderr" == "fn-read: $file: $kind support ($lib) cannot be loaded: /nonexistent/$lib: "* ]] || fail "$stderr"
  [ ! -e s.fns ]
  run --separate-stderr env "$var=/nonexistent/$lib" fn-read a.png -o s.fns
  assert_success
  [ -s s.fns ]
}

@test "FN_TIFF_LIB: without libfn-tiff.so a TIFF fails in one line naming it, a PNG still reads" {
  fixtures
  missing_plugin FN_TIFF_LIB libfn-tiff.so TIFF a.png c.tif
  # writing one too
  run --separate-stderr env FN_TIFF_LIB=/nonexistent/libfn-tiff.so fn-write --format tiff out < s.fns
  assert_one_line_error fn-write
  [[ "$stderr" == *"TIFF support (libfn-tiff.so) cannot be loaded: /nonexistent/libfn-tiff.so: "* ]] || fail "$stderr"
  # the variable names the library to load
  run env FN_TIFF_LIB="$FN_BIN/../libfn-tiff.so" fn-read c.tif -o t.fns
  assert_success
}

@test "FN_DICOM_LIB: without libfn-dicom.so a DICOM file fails in one line naming it, a PNG still reads" {
  fixtures
  need_dicom
  missing_plugin FN_DICOM_LIB libfn-dicom.so DICOM ct.dcm
  run env FN_DICOM_LIB="$FN_BIN/../libfn-dicom.so" fn-read ct.dcm -o d.fns
  assert_success
}
