#!/bin/sh
# Run tests/reference/cfa_lavaan.R over the reference data sets in bounded batches, one R process
# at a time (the path-regime noise fits take lavaan up to a minute each, times ~12 variants):
#
#   PYTHON=.venv/bin/python sh tests/reference/cfa_lavaan_batches.sh FIXTURE_DIR PART_DIR
#
# One batch per data set, each under `timeout` and retried once where it was cut off (the R
# script resumes after the last complete row). The nine reference noise chunks (noise_chunk*)
# get every variant; elsewhere the variants stop at the first disagreement.
set -u
FIX=${1:-/tmp/cfa_fixtures}
OUT=${2:-/tmp/cfa_parts}
HERE=$(dirname "$0")
mkdir -p "$OUT"
for path in $(${PYTHON:-python} -c "import sys; sys.path.insert(0, '$HERE'); from make_cfa_fixtures import REFERENCE_DATASETS as R; print(' '.join(R))"); do
  case $path in noise_chunk*) full=. ;; *) full='^$' ;; esac
  for try in 1 2; do
    OPENBLAS_NUM_THREADS=1 nice -n 10 timeout 2400 \
      Rscript "$HERE/cfa_lavaan.R" "$FIX" "$OUT/$path.csv" "^$path\$" "$full" 30 10 && break
  done
done
