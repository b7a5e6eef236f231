#!/usr/bin/env bash
# Installs the Debian packages fronta needs, and only those that are missing.
# Usage: scripts/install-deps.sh [build|mpi|browser|asio|bench|bench-mpi|bench-data|fuzz|format]...   (no group: build)
#   build: compile fronta, its examples and tests (make demo, make all); nlohmann-json reads
#          traces for the report, libpng decodes the report test's screenshots
#   mpi:   mpi_pool and its tests (make test): Open MPI; MPICH to check it builds there too;
#          iproute2 and util-linux for the three-host test; Slurm and munge for a one-node cluster
#   browser: headless Chromium, which loads the HTML report in its test, and libpng, which reads
#            its screenshots (make test)
#   asio:  standalone Asio and Boost (headers), for fronta::asio and fronta::boost_asio, their
#          tests, the async server example and its benchmark (make test, make bench)
#   bench: the peers of the benchmarks (make bench); bench-mpi: mpi4py.futures beside mpi_pool
#          (make bench-mpi); bench-data: pandas and Dask beside billion_rows (make bench-data; a
#          group of its own: ~90 MB that make bench does not need); fuzz: clang's libFuzzer (make
#          fuzz); format: clang-format-16 (make format; Debian's default clang-format 14 mangles
#          C++20 requires-clauses)
set -euo pipefail

declare -A groups=(
  [build]="g++ cmake make pkg-config libgtest-dev libgmock-dev libcereal-dev nlohmann-json3-dev"
  [mpi]="libopenmpi-dev openmpi-bin libmpich-dev mpich iproute2 util-linux slurm-wlm munge"
  [browser]="chromium libpng-dev"
  [asio]="libasio-dev libboost-dev"
  [bench]="g++ cmake make pkg-config libbenchmark-dev libtbb-dev libboost-dev libcereal-dev python3 python3-joblib python3-numpy"
  [bench-mpi]="python3-mpi4py"
  [bench-data]="python3-pandas python3-dask"
  [fuzz]="clang libclang-rt-14-dev"
  [format]="clang-format-16"
)

wanted=()
for group in "${@:-build}"; do
  [[ -n "${groups[$group]:-}" ]] || { echo "install-deps: unknown group '$group' (known: ${!groups[*]})" >&2; exit 2; }
  read -r -a names <<<"${groups[$group]}"
  wanted+=("${names[@]}")
done

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

# Deduplicate while keeping order.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++')
echo "install-deps: installing ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: not root; run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
