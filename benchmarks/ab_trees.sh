#!/usr/bin/env bash
# Side by side: the same `lzjax quapi` call from two checkouts, alternating, each with its own warm
# cache folder (one untimed warm-up call each first). The calls run in /tmp so that PYTHONPATH,
# not the working directory, picks the checkout; PYTHON (default: python) is the interpreter.
#   benchmarks/ab_trees.sh /path/to/old /path/to/new 3 --v 1 --T 6.4 --gamma 5e-4 --s 3 --omega-c 5 --tol 1e-4
# Prints per call: wall, user and system seconds (all threads), the 1-minute load.
set -u
a=$1 b=$2 n=$3
shift 3
py=${PYTHON:-python}
cd /tmp || exit 1
cache=$(mktemp -d)
for i in $(seq 0 "$n"); do
    for tag in A B; do
        tree=$a
        [ "$tag" = B ] && tree=$b
        rm -f "$cache/$tag.json"
        cmd=(env XDG_CACHE_HOME="$cache/$tag" PYTHONPATH="$tree" "$py" -m lzjax quapi "$@" --yes --out "$cache/$tag.json")
        if [ "$i" = 0 ]; then  # warm-up
            "${cmd[@]}" > /dev/null 2>&1
        else
            /usr/bin/time -f "$tag ($tree) %e s wall %U user %S sys, load $(cut -d' ' -f1 /proc/loadavg)" \
                "${cmd[@]}" 2>&1 > /dev/null | tail -1
        fi
    done
done
rm -rf "$cache"
