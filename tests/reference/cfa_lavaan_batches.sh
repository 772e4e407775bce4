#!/bin/sh
# Run tests/reference/cfa_lavaan.R over the reference data sets in bounded batches, one R process
# at a time (a noise fit that crawls takes lavaan up to a minute, times ~12 distinct variants):
#
#   PYTHON=.venv/bin/python sh tests/reference/cfa_lavaan_batches.sh FIXTURE_DIR PART_DIR
#   python tests/reference/make_cfa_fixtures.py --join PART_DIR/*.csv > tests/reference/cfa_lavaan.csv
#
# Two passes, one batch per data set, each under `timeout` and retried once where it was cut off
# (the R script resumes after the last complete row): first every file-order fit (first_*.csv:
# no variants; about 47 minutes of lavaan for the 608 fits), then the variants, reusing those fits.
# Every fit gets all 40 variants except where lavaan crawls (more than MAXITER = 299 iterations)
# outside the nine reference noise chunks: their 40 variants would take lavaan about 25 hours
# (those of every other fit took about 10 minutes). Such crawls are labelled afterwards one at a
# time, cheapest first, with the R script's ONLY argument and FULL '^$' (variants stop at the
# first disagreement), as far as time allowed for the committed CSV (the last loop below).
# Run with nice (the machine is shared).
set -u
FIX=${1:-/tmp/cfa_fixtures}
OUT=${2:-/tmp/cfa_parts}
HERE=$(dirname "$0")
mkdir -p "$OUT"
NAMES=$(${PYTHON:-python} -c "import sys; sys.path.insert(0, '$HERE'); from make_cfa_fixtures import REFERENCE_DATASETS as R; print(' '.join(R))")
run() {  # name nperm npert out prior
  for try in 1 2; do
    OPENBLAS_NUM_THREADS=1 nice -n 10 timeout 2400 \
      Rscript "$HERE/cfa_lavaan.R" "$FIX" "$4" "^$1\$" "$full" "$2" "$3" "$5" "$maxiter" && break
  done
}
maxiter=Inf
for name in $NAMES; do
  full='^$'
  run "$name" 0 0 "$OUT/first_$name.csv" ""
done
for name in $NAMES; do
  case $name in noise_chunk*) maxiter=Inf ;; *) maxiter=299 ;; esac
  full=.
  run "$name" 30 10 "$OUT/$name.csv" "$OUT/first_$name.csv"
done
# crawls, cheapest first (file-order seconds), each "dataset group" on its own
maxiter=Inf
full='^$'
cat "$OUT"/[!f]*.csv | awk -F, '$19 == "0" {print $17, $1, $4}' | sort -n | while read -r sec name group; do
  OPENBLAS_NUM_THREADS=1 nice -n 10 timeout 2400 Rscript "$HERE/cfa_lavaan.R" "$FIX" \
    "$OUT/crawl_$name.csv" "^$name\$" "$full" 30 10 "$OUT/$name.csv" Inf "^$name $group\$"
done
