# Shared by the bench scripts (sourced).

# time_rounds N NAME...: N rounds, each running run_NAME for every NAME
# (interleaved, so machine noise hits all alike), appending each duration
# in microseconds to samples[NAME] (an associative array the caller
# declares). Each round starts one NAME further on: what runs right after
# a sandbox's teardown runs slower (A/A of `run --rm` measured the second
# 1.2x the first), so no NAME may always take that place. Timestamps
# straight from $EPOCHREALTIME: a $(...) helper would fork a subshell
# inside the timed span and add ~0.6 ms to every sample.
time_rounds() {
	local n=$1 i j t a b
	shift
	local names=("$@") k=$#
	for ((i = 0; i < n; i++)); do
		for ((j = 0; j < k; j++)); do
			t=${names[(i + j) % k]}
			a=$EPOCHREALTIME
			"run_$t" >/dev/null 2>&1
			b=$EPOCHREALTIME
			samples[$t]+="$((10#${b/./} - 10#${a/./})) "
		done
	done
}

# median_us reads whitespace-separated integers and prints their median.
median_us() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print int((v[NR/2]+v[NR/2+1])/2)}'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
