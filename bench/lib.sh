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

# no_args SCRIPT ARGS...: a script that takes no arguments (its settings
# come from the environment) prints its header comment for -h or --help
# and refuses any other argument, rather than ignoring it and starting the
# benchmark (which installs packages, builds and runs for minutes).
no_args() {
	local script=$1
	shift
	[ $# -eq 0 ] && return 0
	case $1 in
	-h | --help)
		echo "usage: [VAR=VALUE ...] $script   (no arguments; the variables are below)"
		sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$script"
		exit 0
		;;
	esac
	echo "$script: takes no arguments (got: $*); its settings come from the environment: $script --help" >&2
	exit 2
}
