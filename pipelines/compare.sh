#!/usr/bin/env bash
# compare.sh OUT "SETS" "ARCHS": the comparison table (markdown) of the runs OUT/SET-ARCH that
# compare.mk made: per run the validation scores (OUT/SET-ARCH/scores.json), the trainable parameters
# (the model file), the epochs run and the training images/s (frames of train.aug.fns times epochs
# over the epochs' wall time in train.tsv, validation included), and the best epoch (by validation loss).
set -euo pipefail
out=$1 sets=$2 archs=$3
. "$(dirname "${BASH_SOURCE[0]}")/st.sh"

echo "| set | arch | parameters | epochs | train img/s | best epoch | DI | JI | AC | SE | SP |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for s in $sets; do
  for a in $archs; do
    d=$out/$s-$a
    if [ ! -s "$d/scores.json" ] || [ ! -s "$d/model.safetensors" ]; then
      echo "| $s | $a | (no run) | | | | | | | | |"
      continue
    fi
    ntrain=$(fn-info "$d/train.aug.fns" | tail -n 1 | cut -d' ' -f1)
    train=$(awk -F'\t' -v ntrain="$ntrain" '$1 ~ /^[0-9]/ { n++; t += $6; if (best == "" || $4 < best) { best = $4; be = $1 } }
      END { printf "%d | %.1f | %d", n, ntrain * n / t, be }' "$d/train.tsv")
    scores=$(printf '%.4f | %.4f | %.4f | %.4f | %.4f' \
      $(jq -r '.dice, .jaccard, .accuracy, .sensitivity, .specificity' "$d/scores.json"))
    printf '| %s | %s | %s | %s | %s |\n' "$s" "$(st_meta "$d/model.safetensors" arch)" "$(model_params "$d/model.safetensors")" \
      "$train" "$scores"
  done
done
