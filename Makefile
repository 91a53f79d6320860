# Two entry points: `make demo` and `make test`. Both install what is missing first.
BUILD ?= build
JOBS ?= $(shell nproc)
CTEST = ctest --output-on-failure -j 2 --timeout 600

.PHONY: deps build demo test test-plain format-check asan tsan bench clean

deps:
	bash agent/setup/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	/usr/bin/python3 agent/demo/demo.py $(BUILD)/bin/airflow-reaper

# Everything CI (.ci/run) checks: formatting, the whole suite, then the unit, integration and fuzz
# tests again under ASan+UBSan and the unit and integration tests under TSan.
test: format-check test-plain asan tsan

format-check: deps
	bash tests/tools/check-format.sh

test-plain: build
	bash tests/tools/install-kube-tools.sh
	cd $(BUILD) && $(CTEST)

# Sanitizer trees, both with Clang; which suites each one builds and runs is in tests/CMakeLists.txt.
asan: SANITIZE = address
tsan: SANITIZE = thread
asan tsan: deps
	cmake -S . -B $(BUILD)-$@ -DCMAKE_CXX_COMPILER=clang++ -DREAPER_SANITIZE=$(SANITIZE)
	cmake --build $(BUILD)-$@ -j $(JOBS)
	cd $(BUILD)-$@ && $(CTEST)

# Needs root (cgroups, PID namespaces). What the benchmarks use besides the build (strace, openssl,
# python3-yaml for the stand-in apiserver) comes with deps; none needs kubectl or helm.
bench: build
	cmake --build $(BUILD) --target bench -j $(JOBS)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan
