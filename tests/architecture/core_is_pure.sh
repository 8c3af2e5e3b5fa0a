#!/usr/bin/env bash
# The architecture test (ARCHITECTURE.md: a pure core, a thin I/O floor): fails when a file
# under the given core directory reaches for I/O, a clock or randomness, so those stay
# parameters that io passes in and the core stays testable without sockets or sleeps.
#   core_is_pure.sh DIR     exit 0 when clean; 1 and the offending lines otherwise
set -uo pipefail
dir=${1:?usage: core_is_pure.sh CORE_DIR}

# pattern | why it is not allowed in core
rules=(
  '#include[[:space:]]*<boost/(asio|beast)|networking belongs to io/'
  '#include[[:space:]]*<openssl/|OpenSSL (TLS, hashing) is called from io/'
  '#include[[:space:]]*<prometheus/|metrics are exported by io/'
  '#include[[:space:]]*"io/|core never depends on the io floor'
  '#include[[:space:]]*<(thread|random|ctime|fstream|iostream|filesystem|future|condition_variable)>|threads, files, clocks and randomness are io concerns'
  '#include[[:space:]]*<(sys/|unistd\.h|fcntl\.h|netinet/|arpa/|time\.h)|system calls belong to io/'
  '(::|[^[:alnum:]_])now[[:space:]]*\(|a clock is read in io/ and passed in'
  '(random_device|mt19937|minstd_rand|default_random_engine|[^[:alnum:]_]s?rand[[:space:]]*\(|arc4random|getrandom)|randomness is drawn in io/ and passed in'
  '(gettimeofday|clock_gettime|[^[:alnum:]_]time[[:space:]]*\([[:space:]]*(nullptr|NULL|0)[[:space:]]*\))|a clock is read in io/ and passed in'
)

status=0
checked=0
while IFS= read -r -d '' file; do
  checked=$((checked + 1))
  for rule in "${rules[@]}"; do
    pattern=${rule%|*}
    why=${rule##*|}
    # Comments may name what is forbidden ("no clock"): look at code only.
    if hits=$(sed -e 's://.*$::' "$file" | grep -nE "$pattern"); then
      while IFS= read -r hit; do
        echo "$file:${hit%%:*}: ${hit#*:}  <- $why"
      done <<<"$hits"
      status=1
    fi
  done
done < <(find "$dir" -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' \) -print0)

if [ "$checked" -eq 0 ]; then
  echo "core_is_pure: no source files under $dir"
  exit 2
fi
[ "$status" -eq 0 ] && echo "core_is_pure: $checked files under $dir are pure"
exit "$status"
