#!/usr/bin/env bats
# tests/layout.py, the layering check of make test: it passes on the tree, and it finds each kind of
# fault in a small tree made for it.

load test_helper

LAYOUT="$BATS_TEST_DIRNAME/../layout.py"
REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

# a file under the test's tree
put() { mkdir -p "$(dirname "$1")" && printf '%s\n' "$2" >"$1"; }

# a tree that keeps the rules: data uses base, a tool uses both
good_tree() {
  put lib/base/err.h '#include <stdio.h>'
  put lib/base/err.c '#include "base/err.h"'
  put lib/data/stream.h '#include "base/err.h"'
  put lib/data/stream.c '#include "data/stream.h"'
  put cmd/fn-x.c '#include "data/stream.h"'
}

@test "the source tree keeps its layers" {
  run python3 "$LAYOUT" "$REPO"
  assert_success
  assert_output --partial "no include cycle"
}

@test "a file that includes a folder above its own, or a sibling of its rank, is named" {
  good_tree
  run python3 "$LAYOUT" .
  assert_success
  put lib/base/heap.c '#include "data/stream.h"'
  put lib/eval/metrics.c '#include "imgproc/resample.h"'
  put lib/imgproc/resample.h ''
  run python3 "$LAYOUT" .
  assert_failure
  assert_line --partial 'lib/base/heap.c: #include "data/stream.h": lib/data (rank 1) is not below lib/base (rank 0)'
  assert_line --partial 'lib/eval/metrics.c: #include "imgproc/resample.h": lib/imgproc (rank 2) is not below lib/eval (rank 2)'
}

@test "an include cycle, a missing header and a folder of no layer are named" {
  good_tree
  put lib/data/a.h '#include "data/b.h"'
  put lib/data/b.h '#include "a.h"'
  put lib/data/c.c '#include "data/none.h"'
  put lib/extra/d.c ''
  run python3 "$LAYOUT" .
  assert_failure
  assert_line 'layout: include cycle: lib/data/a.h lib/data/b.h'
  assert_line --partial 'lib/data/c.c: #include "data/none.h" is no file'
  assert_line --partial 'lib/extra/d.c: its folder is not in the layers'
}

@test "two objects that use each other's names are named; a one-way use is fine" {
  good_tree
  mkdir obj
  printf 'int g(void);\nint f(void) { return g(); }\n' >a.c
  printf 'int h(void) { return 1; }\nint g(void) { return h(); }\n' >b.c
  cc -c a.c -o obj/a.o && cc -c b.c -o obj/b.o
  run python3 "$LAYOUT" . obj/a.o obj/b.o
  assert_success
  assert_output --partial "2 objects: no two use each other's names"
  printf 'int f(void);\nint h(void) { return f(); }\nint g(void) { return h(); }\n' >b.c
  cc -c b.c -o obj/b.o
  run python3 "$LAYOUT" . obj/a.o obj/b.o
  assert_failure
  assert_output "layout: obj/a.o and obj/b.o use each other's names (g; f)"
}
