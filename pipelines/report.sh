#!/usr/bin/env bash
# report.sh OUT NAME DATA SIZE [NATIVE POST ROI ARCH]: write OUT/report.md from what the recipe stages left in OUT
# (scores.json, val.scores.tsv, train.tsv, train.log, train.time, val.pred.fns, test.scores.json),
# with the training curve OUT/curve.png (gnuplot) and the overlays of the best, median and worst
# validation cases in OUT/overlays/ (fn-write --overlay). Called by common.mk's report rule.
set -euo pipefail
out=$1 name=$2 data=$3 size=$4 native=${5:-0} post=${6:-} roi=${7:-} arch=${8:-}
md=$out/report.md.tmp
trap 'rm -rf "$md" "$out/overlays.tmp"' EXIT

# one flat JSON object (fn-score --json) -> "key value" lines
json_kv() { tr -d '{}"' <"$1" | tr ',' '\n' | tr ':' ' '; }
get() { awk -v k="$2" '$1 == k { print $2 }' <<<"$1"; }

# a value to 4 places, or - when fn-score did not report it
num4() { [ -n "$1" ] && [ "$1" != null ] && printf '%.4f' "$1" || echo -; }

score_row() { # LABEL FILE
  local kv ci=- jt
  kv=$(json_kv "$2")
  [ -n "$(get "$kv" dice_ci_lo)" ] && ci="$(num4 "$(get "$kv" dice_ci_lo)")-$(num4 "$(get "$kv" dice_ci_hi)")"
  jt=$(num4 "$(get "$kv" jaccard_thresholded)")
  printf '| %s | %s | %.4f | %s | %.4f | %s | %.4f | %.4f | %.4f | %s |\n' "$1" "$(get "$kv" frames)" \
    "$(get "$kv" dice)" "$ci" "$(get "$kv" jaccard)" "$jt" "$(get "$kv" accuracy)" "$(get "$kv" sensitivity)" \
    "$(get "$kv" specificity)" "$(h=$(get "$kv" hd95); [ -n "$h" ] && printf '%.2f' "$h" || echo -)"
}

# st_meta, model_params
. "$(dirname "${BASH_SOURCE[0]}")/st.sh"

# ---- training curve -------------------------------------------------------------------------------
# train.tsv: epoch, lr, train loss, val loss, val Dice, seconds (a header line is allowed)
curve=
if [ -s "$out/train.tsv" ] && command -v gnuplot >/dev/null; then
  term=png
  gnuplot -e 'set terminal' 2>&1 | grep -qw pngcairo && term=pngcairo
  skip=0
  head -n 1 "$out/train.tsv" | grep -q '^[0-9]' || skip=1
  epochs=$(grep -c '^[0-9]' "$out/train.tsv" || true)
  gnuplot <<EOF
set terminal $term size 800,480
set output '$out/curve.png.tmp'
set datafile separator '\t'
set title "$name: training curve"
set xlabel 'epoch'
set ylabel 'Dice loss'
set y2label 'validation Dice'
set y2tics
set ytics nomirror
set key center right
set grid
set xtics $(( (epochs + 9) / 10 > 0 ? (epochs + 9) / 10 : 1 ))
plot '$out/train.tsv' every ::$skip using 1:3 with linespoints title 'train loss', \
     '' every ::$skip using 1:4 with linespoints title 'validation loss', \
     '' every ::$skip using 1:5 axes x1y2 with linespoints title 'validation Dice'
EOF
  mv "$out/curve.png.tmp" "$out/curve.png"
  curve=curve.png
fi

# ---- overlays of the best, median and worst validation cases (by Dice) -------------------------
cases=()
if [ -s "$out/val.scores.tsv" ]; then
  mapfile -t sorted < <(tail -n +2 "$out/val.scores.tsv" | sort -t $'\t' -k2,2g -k1,1 | cut -f1,2)
  n=${#sorted[@]}
  if [ "$n" -gt 0 ]; then
    rm -rf "$out/overlays.tmp" "$out/overlays"
    fn-write --overlay "$out/overlays.tmp" "$out/val.pred.fns"
    mkdir -p "$out/overlays"
    for pick in "best $((n - 1))" "median $(((n - 1) / 2))" "worst 0"; do
      set -- $pick
      IFS=$'\t' read -r id dice <<<"${sorted[$2]}"
      cp "$out/overlays.tmp/${id}_overlay.png" "$out/overlays/$1.png"
      cases+=("| $1 | $id | $(printf '%.4f' "$dice") | ![$1](overlays/$1.png) |")
    done
  fi
fi

# ---- the report -----------------------------------------------------------------------------------
{
  echo "# $name: results"
  echo
  if [ "$native" = 1 ]; then
    echo "Data: \`$data\`, images resized to $size for the network. Scores from \`fn-score\` at each image's"
    echo "own resolution against its original mask (the prediction resized back, \`fn-score --restore\` or"
    echo "\`fn-resize --restore\` before post-processing):"
  else
    echo "Data: \`$data\`, images resized to $size. Scores from \`fn-score\` at that size (against the resized"
    echo "masks):"
  fi
  echo "Dice (DI) and Jaccard (JI) per image then averaged, DI's 95% bootstrap interval, JI thresholded"
  echo "at 0.65 as ISIC 2018 (JI>0.65) where asked; accuracy (AC), sensitivity (SE), specificity (SP) from"
  echo "the pixel counts of all frames; threshold 0.5; HD95 in pixels."
  [ -n "$roi" ] && echo "Only the pixels inside each image's region of interest (\`$roi\`) are counted."
  [ -n "$post" ] && echo "Predictions post-processed first: \`fn-post $post\`."
  echo
  echo "| set | frames | DI | DI 95% CI | JI | JI>0.65 | AC | SE | SP | HD95 |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  score_row validation "$out/scores.json"
  [ -f "$out/test.scores.json" ] && score_row test "$out/test.scores.json"
  echo
  echo "## Training"
  echo
  # the network: the model's own record of it (its arch, else the recipe's ARCH), and its options
  meta_arch=$(st_meta "$out/model.safetensors" arch)
  echo "Network: ${meta_arch:-${arch:-focusnet}}, $(model_params "$out/model.safetensors") parameters;" \
    "options \`$(st_meta "$out/model.safetensors" options)\`."
  echo
  if [ -s "$out/train.tsv" ]; then
    ntrain=$(fn-info "$out/train.aug.fns" | tail -n 1 | cut -d' ' -f1)
    awk -F'\t' -v ntrain="$ntrain" '$1 ~ /^[0-9]/ { n++; t += $6; if (best == "" || $4 < best) { best = $4; be = $1; bd = $5 } }
      END { printf "Epochs run: %d (%.1f s in all, %.1f s per epoch); best validation loss %.4f (validation Dice %.4f) at epoch %d.\n",
            n, t, t / n, best, bd, be
            printf "Training speed: %.2f images/s (%d training frames an epoch, over the epoch wall times, validation included).\n",
            ntrain * n / t, ntrain }' "$out/train.tsv"
    echo
  fi
  if [ -f "$out/train.time" ]; then
    echo "Wall time of the last fn-train run: $(awk -F'\t' '$1 == "seconds" { printf "%.1f s (%.1f min)", $2, $2 / 60 }' "$out/train.time")"
    echo "on $(awk -F'\t' '$1 == "host" { print $2 }' "$out/train.time")."
    echo
  fi
  if [ -s "$out/train.log" ]; then
    # what fn-train said about the device and the model (its lines other than progress)
    dev=$(tr '\r' '\n' <"$out/train.log" | grep -iE 'device|cpu|cuda|gpu|thread|param' | head -n 5 || true)
    if [ -n "$dev" ]; then
      echo "fn-train reported:"
      echo
      echo '```'
      echo "$dev"
      echo '```'
      echo
    fi
  fi
  echo "Commands: \`$(cat "$out/.opts/read" 2>/dev/null)\`, then \`$(cat "$out/.opts/prep" 2>/dev/null)\`"
  echo "on the training part, then \`fn-train $(cat "$out/.opts/train" 2>/dev/null)\`; inference"
  echo "\`fn-infer $(cat "$out/.opts/infer" 2>/dev/null)\`; scoring \`fn-score $(cat "$out/.opts/score" 2>/dev/null)\`."
  echo
  if [ -n "$curve" ]; then
    echo "![training curve]($curve)"
    echo
  fi
  if [ ${#cases[@]} -gt 0 ]; then
    echo "## Validation cases (input | truth | prediction)"
    echo
    echo "| case | id | Dice | overlay |"
    echo "|---|---|---|---|"
    printf '%s\n' "${cases[@]}"
  fi
} >"$md"
mv "$md" "$out/report.md"
