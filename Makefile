# The two commands: `make run` and `make test` (each installs dependencies and builds first).
BUILD   ?= build
PRESET  ?= default
JOBS    ?= $(shell nproc)
ADDRESS ?= :8080
TRACER_NODE = $(BUILD)/tracer-node/tracer-node

.PHONY: all deps configure build run test test-asan test-tsan bench clean fuzz fuzz-ci fuzz-build

all: build

deps:
	@scripts/deps.sh

# ccache, when installed, for every build (it changes no output, only how often it is compiled).
CCACHE    := $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)

configure: deps
	@cmake --preset $(PRESET) -B $(BUILD) $(CCACHE) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

# Starts tracer-node on this machine with the shipped hooks (node name = hostname). Builds only
# the programs (CMake target `programs`), not the tests and benchmarks. Everything it keeps stays
# under $(RUN_DIR): exported events in events.jsonl (stdout keeps the log readable) and the
# sessions in state/, its own, so runs of the tests or another agent never leak into it.
RUN_DIR ?= $(BUILD)/run
run: configure
	@cmake --build $(BUILD) -j$(JOBS) --target programs
	@mkdir -p $(RUN_DIR)
	@echo "tracer-node: events -> $(RUN_DIR)/events.jsonl, sessions -> $(RUN_DIR)/state (make run RUN_DIR=... to move them)"
	$(TRACER_NODE) --address $(ADDRESS) --trace-hooks $(BUILD)/trace-hooks \
		--trace-output $(RUN_DIR)/events.jsonl --state-dir $(RUN_DIR)/state $(ARGS)

# Every test (unit and integration; integration tests need root, as CI is). Serial: the
# integration tests share the machine's ftrace.
test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 600

bench: build
	@bench/run.sh $(BENCH_ARGS)

clean:
	rm -rf $(BUILD)

# Sanitizer runs (cmake/sanitizers.cmake; ctest runs every test through
# scripts/sanitizers/run-test.sh, which fails a test on any report of the test or of a child it
# started). ccache is used when installed (CCACHE above).
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan

# Every unit and integration test under ASan + UBSan (serial, as `make test`), except those that
# check release artefacts rather than our code: the Helm chart (no C++), the container image (it
# packages the release build; its process runs where the launcher cannot collect reports) and
# the benchmark harness (timings of an instrumented build mean nothing).
ASAN_EXCLUDE ?= helm_chart_test|bench_quick|tracer-node image
test-asan: deps
	@cmake --preset asan -B $(ASAN_BUILD) $(CCACHE) >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure --timeout 600 -E '$(ASAN_EXCLUDE)' $(CTEST_ARGS)

# The tests that drive threads (HTTP server and client, fan-out, sessions and their runs, hook
# processes and their watchers, streams, pod index, token rotation, the shared capture queue,
# recording, load, connection limits, 1,000 stream readers, ctrace's stream and signal threads)
# under TSan, building only what they need. Left out: the checks of how fast probes answer past
# 2,000 connections and how soon a stream's descriptors are returned (timing, which an
# instrumented build under load does not keep; they run in `make test` and `make test-asan`).
TSAN_TARGETS ?= tracer-node tracer-svc ftrace-manager getppid_loop sanitizer_canary \
                discovery_unit_test node_integration_test svc_integration_test svc_stream_test \
                load_test fault_test node_tls_test auth_tls_test raw_capture_test session_unit_test \
                recorder_test ctrace cli_integration_test common_unit_test http_limits_test stream_scale_test \
                ebpf-manager syscall_mix node_stats_test flight_recorder_test
TSAN_TESTS ?= sanitizer_launcher|flight recorder: a SIGSEGV|flight recorder: the OTLP exporter|sessions: |HookProcess: |recorder taps and exports concurrently|share one raw queue budget|companion instance with its main one|drain ends at its limit|svc waits for a node|run concurrently|concurrent requests|PUT is idempotent|svc merges|svc sends PUT|killed node is named|DNS mode|relays a running session|64 clients|stream readers that disconnect|FanoutClient|svc with 200 nodes|svc /readyz|token rotation without restarts|token auth over real HTTP|SIGTERM deletes the session|a second signal stops waiting|the reader leaving ends ctrace|the server going away|StreamFanout under|readers follow one session|readers directly against|per-address cap|past --max-connections|slowloris|HttpServer deadlines|syscall_stats session answers|statistics sessions export|Prometheus series|a miss asks for a background refresh|background refreshes are spaced|while a refresh is in progress
test-tsan: deps
	@cmake --preset tsan -B $(TSAN_BUILD) $(CCACHE) >/dev/null
	@cmake --build $(TSAN_BUILD) -j$(JOBS) --target $(TSAN_TARGETS)
	cd $(TSAN_BUILD) && ctest --output-on-failure --timeout 600 -R '$(TSAN_TESTS)' $(CTEST_ARGS)

# libFuzzer targets (fuzz/README.md): a separate clang build in $(FUZZ_BUILD), each target run
# FUZZ_SECONDS with its seed corpus after replaying its crash regressions; fails on any finding.
FUZZ_BUILD   ?= $(BUILD)-fuzz
FUZZ_SECONDS ?= 30

fuzz-build: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/fuzz/clang_fuzz_toolchain.cmake -DCT_FUZZ=ON $(CCACHE) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzzers

fuzz: fuzz-build
	fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The short run CI calls.
fuzz-ci: fuzz-build
	fuzz/run.sh $(FUZZ_BUILD) 20
