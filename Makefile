# Makefile — a thin wrapper around Meson/Ninja. `make run` and `make test` work on a fresh
# Debian 12 machine: they install what is missing first.
BUILD      ?= build
BUILD_ASAN ?= build-asan
MESON_OPTS ?=
ifeq ($(CI),true)
MESON_OPTS += --werror
endif

.PHONY: all deps build run test test-asan bench clean format

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	./$(BUILD)/kiln run $(ARGS)

test: build
	scripts/run-tests $(BUILD) $(BUILD_ASAN) "$(MESON_OPTS)"

bench: build
	bench/run $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
