#!/usr/bin/env bash
# mpi_pool builds against MPICH too: compile fronta::mpi and the MPI test with MPICH's compiler
# wrapper, link the core library built by CMake, and run the world tests under MPICH's mpiexec.
# Usage: mpich_build.sh SOURCE_DIR CORE_LIBRARY WORK_DIR      Exit 77 (skipped) without MPICH.
set -euo pipefail
src=$1 core=$2 work=$3
command -v mpicxx.mpich >/dev/null || { echo "mpich_build: SKIPPED: MPICH (libmpich-dev) is not installed"; exit 77; }
mkdir -p "$work"
echo "mpich_build: $(mpicxx.mpich -show | cut -d' ' -f1) with $(mpichversion 2>/dev/null | head -1 || echo MPICH)"
mpicxx.mpich -std=c++20 -O1 -Wall -Wextra -Wno-missing-field-initializers -DMPICH_SKIP_MPICXX -I"$src/include" \
  "$src"/src/mpi/*.cpp -I"$src/src" -I"$src/tests" "$src/tests/mpi/mpi_pool_test.cpp" \
  "$src/tests/observe/trace_checker.cpp" "$core" -lgtest -pthread -o "$work/mpi_pool_test_mpich"
timeout 120 mpiexec.mpich -n 3 "$work/mpi_pool_test_mpich" \
  --gtest_filter='mpi_world.rank*:mpi_world.exceptions*:mpi_world.map*:mpi_world.submit_from*'
