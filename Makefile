# The two commands: `make run` and `make test` (each installs dependencies and builds first).
BUILD   ?= build
PRESET  ?= default
JOBS    ?= $(shell nproc)
ADDRESS ?= :8080
TRACER_NODE = $(BUILD)/tracer-node/tracer-node

.PHONY: all deps configure build run test bench clean

all: build

deps:
	@scripts/deps.sh

configure: deps
	@cmake --preset $(PRESET) -B $(BUILD) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

# Starts tracer-node on this machine with the shipped hooks (node name = hostname).
run: build
	$(TRACER_NODE) --address $(ADDRESS) --trace-hooks $(BUILD)/trace-hooks $(ARGS)

# Every test (unit and integration; integration tests need root, as CI is). Serial: the
# integration tests share the machine's ftrace.
test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 600

bench: build
	@bench/run.sh $(BENCH_ARGS)

clean:
	rm -rf $(BUILD)
