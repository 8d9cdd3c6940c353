# Makefile — a thin wrapper around Meson/Ninja. `make run` and `make test` work on a fresh
# Debian 12 machine: they install what is missing first.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
BUILD_ARM64 ?= build-arm64
FUZZ_SECONDS ?= 300
FUZZ_CORPUS ?= $(BUILD_FUZZ)/corpus
MESON_OPTS ?=
ifeq ($(CI),true)
MESON_OPTS += --werror
endif

.PHONY: all deps build build-arm64 run test test-asan bench clean format fuzz fuzz-long

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	./$(BUILD)/kiln run $(ARGS)

# kiln for 64-bit Arm with Debian's cross toolchain (scripts/install-deps --arm64 installs it and
# the arm64 libraries, and prints where libfdt.a for arm64 is); tested in the arm64 nested rig.
build-arm64: deps
	@set -e; fdt=$$(scripts/install-deps --arm64); \
	if [ ! -f $(BUILD_ARM64)/build.ninja ]; then \
		meson setup $(BUILD_ARM64) --cross-file scripts/cross/aarch64-linux-gnu.ini \
			-Dfdt_libdir=$$fdt $(MESON_OPTS); \
	fi; \
	ninja -C $(BUILD_ARM64)

test: build build-arm64
	KILN_ARM64=$(CURDIR)/$(BUILD_ARM64)/kiln \
		scripts/run-tests $(BUILD) $(BUILD_ASAN) "$(MESON_OPTS)" $(BUILD_FUZZ)

# libFuzzer targets (clang, ASan+UBSan), each for FUZZ_SECONDS; the corpus grows in
# FUZZ_CORPUS/<target>, crashes land in FUZZ_CORPUS/crashes. No --werror: clang warns where gcc
# does not.
$(BUILD_FUZZ)/build.ninja: | deps
	CC=clang meson setup $(BUILD_FUZZ) -Dfuzz=true -Db_lundef=false

fuzz: deps $(BUILD_FUZZ)/build.ninja
	ninja -C $(BUILD_FUZZ)
	@set -e; for t in $(BUILD_FUZZ)/tests/fuzz/fuzz_*; do \
		[ -f "$$t" ] && [ -x "$$t" ] || continue; n=$${t##*/fuzz_}; \
		echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
		KILN_FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run-fuzz.sh $$t $(FUZZ_CORPUS)/$$n \
			$(FUZZ_SECONDS) tests/fuzz/seeds/$$n; \
	done

# The fuzz campaign: every target FUZZ_LONG_SECONDS (default an hour) from the kept corpus in
# tests/fuzz/corpus, merged back minimised; then the guest fuzzer as long. The ledger
# tests/fuzz/campaign.tsv gets a line per target (scripts/fuzz-long --report sums it).
# FUZZ_TARGETS="api http" narrows it.
FUZZ_LONG_SECONDS ?= 3600
fuzz-long: build deps $(BUILD_FUZZ)/build.ninja
	ninja -C $(BUILD_FUZZ)
	scripts/fuzz-long $(BUILD_FUZZ) $(BUILD) $(FUZZ_LONG_SECONDS) $(FUZZ_TARGETS)

bench: build
	scripts/install-deps --bench
	bench/run $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_ARM64)
