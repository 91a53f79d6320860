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

# Everything CI (.ci/run) checks: formatting and the whole suite.
test: format-check test-plain

format-check: deps
	bash tests/tools/check-format.sh

test-plain: build
	bash tests/tools/install-kube-tools.sh
	cd $(BUILD) && $(CTEST)

asan: deps
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ \
	  -DREAPER_SANITIZE=address
	cmake --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && $(CTEST)

tsan: deps
	cmake -S . -B $(BUILD)-tsan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=g++ \
	  -DREAPER_SANITIZE=thread
	cmake --build $(BUILD)-tsan -j $(JOBS)
	cd $(BUILD)-tsan && $(CTEST)

bench: build
	cmake --build $(BUILD) --target bench -j $(JOBS)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan
