#!/bin/sh
# Run tests/reference/cfa_lavaan.R over the reference data sets in bounded batches, one R process
# at a time (a noise fit that crawls takes lavaan up to a minute, times ~12 distinct variants):
#
#   PYTHON=.venv/bin/python sh tests/reference/cfa_lavaan_batches.sh FIXTURE_DIR PART_DIR
#   python tests/reference/make_cfa_fixtures.py --join PART_DIR/*.csv > tests/reference/cfa_lavaan.csv
#
# Two passes, one batch per data set, each under `timeout` and retried once where it was cut off
# (the R script resumes after the last complete row): first every file-order fit (first_*.csv:
# no variants, quick to have all of), then the variants, reusing those fits. The nine reference
# noise chunks (noise_chunk*) get every variant; elsewhere the variants stop at the first
# disagreement. Run with nice (the machine is shared); the committed CSV took about N hours.
set -u
FIX=${1:-/tmp/cfa_fixtures}
OUT=${2:-/tmp/cfa_parts}
HERE=$(dirname "$0")
mkdir -p "$OUT"
NAMES=$(${PYTHON:-python} -c "import sys; sys.path.insert(0, '$HERE'); from make_cfa_fixtures import REFERENCE_DATASETS as R; print(' '.join(R))")
run() {  # name nperm npert out prior
  for try in 1 2; do
    OPENBLAS_NUM_THREADS=1 nice -n 10 timeout 2400 \
      Rscript "$HERE/cfa_lavaan.R" "$FIX" "$4" "^$1\$" "$full" "$2" "$3" "$5" && break
  done
}
for name in $NAMES; do
  full='^$'
  run "$name" 0 0 "$OUT/first_$name.csv" ""
done
for name in $NAMES; do
  case $name in noise_chunk*) full=. ;; *) full='^$' ;; esac
  run "$name" 30 10 "$OUT/$name.csv" "$OUT/first_$name.csv"
done
