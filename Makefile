# Two entry points: `make demo` and `make test`. Both install what is missing first.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: deps build demo test bench clean

deps:
	bash agent/setup/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	/usr/bin/python3 agent/demo/demo.py $(BUILD)/bin/airflow-reaper

test: build
	bash tests/tools/install-kube-tools.sh
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 600

bench: build
	cmake --build $(BUILD) --target bench -j $(JOBS)

clean:
	rm -rf $(BUILD)
