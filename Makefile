# The README's two commands. Both bootstrap .venv with a CPU torch pinned to 2.13.0.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
TORCH  := torch==2.13.0

.PHONY: demo test bench clean

NATIVE := $(shell find cpp -name '*.cpp' -o -name '*.h' -o -name '*.cmake')

# The native module is compiled at install time: a change to cpp/ reinstalls.
$(STAMP): pyproject.toml CMakeLists.txt $(NATIVE)
	python3 -m venv $(VENV)
	echo "$(TORCH)" > $(VENV)/constraints.txt
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c $(VENV)/constraints.txt "$(TORCH)"
	$(PY) -m pip install -q -c $(VENV)/constraints.txt -e ".[test,vmc]"
	touch $@

demo: $(STAMP)
	OMP_NUM_THREADS=1 $(VENV)/bin/gaqmd check python/gaqmd/models/aspirin_w4a8.pt tests/data/rmd17/aspirin_1000.xyz \
		--reference python/gaqmd/models/aspirin_fp32.pt --output demo \
		--equilibration-steps 1000 --dt 0.25 0.5 1.0 --nve-ps 0.5 --sample-steps 1000

test: $(STAMP)
	cmake -S . -B build/ctest -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE=$(abspath $(PY)) > /dev/null
	cmake --build build/ctest -j2 > /dev/null
	cd build/ctest && ctest --output-on-failure
	OMP_NUM_THREADS=1 $(PY) -m pytest -m "not slow and not gpu" -q

bench: $(STAMP)
	$(PY) benchmarks/rmd17_fp32.py
	$(PY) benchmarks/gaq_rmd17.py
	$(PY) benchmarks/weight_costs.py
	$(PY) benchmarks/stage1_scales.py
	$(PY) benchmarks/activation_costs.py
	$(PY) benchmarks/activation_ranges.py
	$(PY) benchmarks/int8_ste.py
	$(PY) benchmarks/irrep_bits.py
	$(PY) benchmarks/l2_options.py
	$(PY) benchmarks/engine_speed.py
	$(PY) benchmarks/nve_drift.py

clean:
	rm -rf $(VENV) build
