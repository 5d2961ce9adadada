# A thin wrapper over CMake, the way neovim does it: the two commands of the
# README's Quick start, plus the few a developer wants day to day.
#   make run    install what is missing, build, run the main job
#   make test   the same, then every test through ctest
#               (SANITIZE=address,undefined: under ASan+UBSan, in build-asan)
#   make fuzz   build the libFuzzer targets (clang) in FUZZ_DIR and run each
#               FUZZ_SECONDS over a copy of its corpus; fuzz-merge keeps the finds
#   make replay-check  run the suite (no long loads), replaying each trace
SANITIZE   ?=
# A sanitizer build gets a dir of its own (build-asan), so the plain one stays.
BUILD_DIR  ?= $(if $(SANITIZE),build-asan,build)
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
MAKEFLAGS  += --no-print-directory
CMAKE_ARGS ?=
# Tests at a time: twice the cores. Most integration tests wait on timers
# (the mock cluster's group join, timeouts they provoke): test_adapter_process
# used 3 s of CPU in 46 s. None runs alone any more: the loads of the suite's
# scenarios kept a p95 of 7-10.5 ms beside the others (bounds of 100 ms;
# tests/harness_run.cmake). ctest took 86-92 s at 4 here (120-125 s in CI's
# clean clones with three tests alone, 181 s at 2). At 6 it took 111 s
# here, but the poison-pill scenario's canary (at most 1 s a request) then
# failed in CI: p50 1.4 s beside the fuzz pass and five other tests.
TEST_JOBS  ?= $(shell echo $$(( $(JOBS) * 2 )))
# Extra ctest arguments, e.g. CTEST_ARGS="-R test_exec" (one test) or the
# exclusion .ci/run passes for the scenario suites its gate runs again.
CTEST_ARGS ?=
FUZZ_DIR   ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all deps configure build run test replay-check bench fuzz fuzz-build fuzz-merge format format-check clean

all: build

deps:
	@ci/install-deps

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	    -DSANITIZE=$(SANITIZE) $(CMAKE_ARGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@$(BUILD_DIR)/bin/dbev-harness env check --quiet
	@$(BUILD_DIR)/bin/dbev-harness run -j 4

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(TEST_JOBS) --timeout 300 $(CTEST_ARGS)

fuzz-build: deps
	@CC=clang cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDBEV_FUZZ=ON \
	    -DCMAKE_C_COMPILER=clang $(CMAKE_ARGS) >/dev/null
	@cmake --build $(FUZZ_DIR) --target fuzz_targets -j $(JOBS)

fuzz: fuzz-build
	@fuzz/run $(FUZZ_DIR) $(FUZZ_SECONDS)

fuzz-merge: fuzz-build
	@fuzz/run --merge $(FUZZ_DIR)

# Every scenario without faults or loads is run, then its trace replayed on a
# fresh database with the same fixtures: a different answer fails it.
replay-check: build
	@$(BUILD_DIR)/bin/dbev-harness run --replay-check --skip-tag long -j 4

bench: build
	@bench/run $(BUILD_DIR)

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	@git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

clean:
	@rm -rf $(BUILD_DIR)
