#!/usr/bin/env bash
# What a GPU session runs first (docs/cuda.md, "Running on a GPU"): on a lent CUDA machine with
# nvcc, Python 3.12 and torch but no internet, with the wheels of openmm 8.6.1 (cp312),
# OpenMM-CUDA-13 8.6.1, ase and vesin carried in .whl/ (see docs/cuda.md for the download line):
# installs them, builds gaqmd with GAQMD_CUDA=ON, runs the C++ tests, the GPU tests and, with
# --bench, benchmarks/gpu_speed.py; --bench-only skips the tests (and the build when build/gpu has
# it). Results go to $OUT (or ./gpu-out): at most 7 files (the device tool returns 8); the configure
# and build logs stay in /tmp/gaqmd-logs unless a step fails.
#   bash cuda/gpu_session.sh [--bench | --bench-only]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-out}"
mkdir -p "$OUT" /tmp/gaqmd-logs
LOGS=/tmp/gaqmd-logs
PY=${PY:-python3}          # overridable, with WHEELS and JOBS, for a dry run elsewhere
WHEELS=${WHEELS:-.whl}
JOBS=${JOBS:-16}
$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$WHEELS"/*.whl
export PYTHONPATH=/tmp/site:$PWD/python OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
# libOpenMMCUDA.so finds nvrtc and cufft through $ORIGIN/../../../nvidia/cu13/lib: here they come with torch.
# The folders of libnvrtc.so.13 (first) and libcufft.so.12 among the installed nvidia packages.
NVIDIA_LIBS=$($PY -c "
import glob, os, nvidia
dirs = []
for name in ('libnvrtc.so.13', 'libcufft.so.12'):
    for p in nvidia.__path__:
        for hit in glob.glob(os.path.join(p, '**', name + '*'), recursive=True):
            if os.path.dirname(hit) not in dirs:
                dirs.append(os.path.dirname(hit))
print(':'.join(dirs))")
NVIDIA_LIB=${NVIDIA_LIBS%%:*}
[[ -f "$NVIDIA_LIB/libnvrtc.so.13" ]] || { echo "no libnvrtc.so.13 among the nvidia packages ($NVIDIA_LIBS)"; exit 1; }
export LD_LIBRARY_PATH="$NVIDIA_LIBS:${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,driver_version --format=csv | tee "$OUT/device.txt" || true
$PY -c "import openmm; print('OpenMM', openmm.__version__, [openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())])" | tee -a "$OUT/device.txt"

MODE=${1:-tests}
if [[ "$MODE" == "--bench-only" && -n "$(compgen -G 'build/gpu/libgaqmdCUDA.so')" ]]; then
  $PY benchmarks/gpu_speed.py --output "$OUT" 2>&1 | tail -40 | tee "$OUT/gpu_speed.txt"
  exit 0
fi
GENERATOR=(); command -v ninja > /dev/null && GENERATOR=(-G Ninja)
cmake -S . -B build/gpu "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE="$(command -v $PY)" -DGAQMD_CUDA=ON \
  -DGAQMD_OPENMM_CUDA_LIBRARY=/tmp/site/OpenMM.libs/lib/plugins/libOpenMMCUDA.so \
  -DGAQMD_NVRTC_LIBRARY="$NVIDIA_LIB/libnvrtc.so.13" > $LOGS/cmake.log 2>&1 \
  || { cp $LOGS/cmake.log "$OUT/"; tail -30 $LOGS/cmake.log; exit 1; }
cmake --build build/gpu -j"$JOBS" > $LOGS/build.log 2>&1 \
  || { cp $LOGS/build.log "$OUT/"; grep -B2 -A8 "error" $LOGS/build.log | head -60; exit 1; }
# gaqmd._core next to the Python package (a checkout that already has one, e.g. a developer's link, keeps it)
compgen -G "python/gaqmd/_core*.so" > /dev/null || cp build/gpu/_core*.so python/gaqmd/
# A failing stage is reported and the next one still runs.
if [[ "$MODE" != "--bench-only" ]]; then
  (cd build/gpu && ctest --output-on-failure -R "cuda|engine" 2>&1 | tail -15) | tee "$OUT/ctest.txt" || true
  $PY tests/gpu/report_errors.py 2>&1 | tail -60 | tee "$OUT/cuda_errors.txt" || true
  $PY -m pytest tests/gpu -m gpu -q -x -p no:cacheprovider 2>&1 | tail -30 | tee "$OUT/pytest_gpu.txt" || true
fi
if [[ "$MODE" == "--bench" || "$MODE" == "--bench-only" ]]; then
  $PY benchmarks/gpu_speed.py --output "$OUT" 2>&1 | tail -40 | tee "$OUT/gpu_speed.txt" || true
fi
