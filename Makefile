# Entry points; the README's two commands use `demo` and `test`. Run scripts/setup.sh first on
# a fresh machine (it installs make, the compilers and everything else).
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
CORUN = $(BUILD)/tools/corun
PREFIX ?= /usr/local

.PHONY: all setup configure build demo test bench install deb sanitize sanitize-address sanitize-thread fuzz format clean

all: build

setup:
	@bash scripts/setup.sh

# Configure quietly; show the log only when it fails.
$(BUILD)/build.ninja:
	@mkdir -p $(BUILD)
	@cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) > $(BUILD)/configure.log 2>&1 || \
		(cat $(BUILD)/configure.log; exit 1)

configure: $(BUILD)/build.ninja

# TARGETS (build only these) and TESTS (a ctest -R regex) narrow a build and its tests, e.g. the
# serving tests under a sanitizer on a small machine:
#   make sanitize-address TESTS='serving_|RestCodec|GrpcCodec|GenerateCodec|InferenceService' \
#     TARGETS='corun shared_group_client rest_codec_test grpc_codec_test generate_codec_test \
#              inference_service_test corun_test_models corun_genai_test_models'
# (corun_genai_test_models exists only where the generative engines are built: not for TSan).
TARGETS ?=
TESTS ?=

build: setup configure
	@cmake --build $(BUILD) -j $(JOBS) $(if $(TARGETS),--target $(TARGETS)) -- --quiet
	@bash scripts/python_path.sh $(abspath $(BUILD))/python

demo: build
	@$(CORUN) demo

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600 $(if $(TESTS),-R '$(TESTS)')

bench: build
	@$(BUILD)/bench/overhead_bench $(BUILD)/test_models/slow_matmul.onnx $(BUILD)/test_models/conv_nchw.onnx

# The benchmark models of issue 12 (docs/GENAI.md): a Qwen2.5-1.5B-shaped GGUF quantized to
# Q4_K_M and a Whisper-tiny-shaped model, random weights, into .cache/models/genai/.
.PHONY: genai-models
genai-models: setup configure
	@cmake --build $(BUILD) --target genai_models -- --quiet

# libcorun, its plug-in, headers, the CMake package, corun.pc, corun and corund under PREFIX
# (docs/INSTALL.md); `make install PREFIX=$HOME/.local` needs no root. As root, ldconfig
# then makes a system prefix's libcorun.so.0 known to the loader.
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX) > $(BUILD)/install.log 2>&1 || \
		(cat $(BUILD)/install.log; exit 1)
	@if [ "$$(id -u)" -eq 0 ]; then ldconfig; fi
	@echo "corun installed under $(PREFIX)"

# The Debian package, $(BUILD)/package/corun_<version>_<arch>.deb (docs/INSTALL.md).
deb: build
	@cpack --config $(BUILD)/CPackConfig.cmake -B $(abspath $(BUILD))/package > $(BUILD)/cpack.log 2>&1 || \
		(cat $(BUILD)/cpack.log; exit 1)
	@ls $(abspath $(BUILD))/package/*.deb

# Address + undefined-behaviour sanitizers, then the thread sanitizer, each in its own build.
sanitize: sanitize-address sanitize-thread

sanitize-address: setup
	@$(MAKE) --no-print-directory test BUILD=build-asan \
		CMAKE_FLAGS="-DCMAKE_BUILD_TYPE=Debug -DCORUN_SANITIZE=address,undefined"

sanitize-thread: setup
	@$(MAKE) --no-print-directory test BUILD=build-tsan \
		CMAKE_FLAGS="-DCMAKE_BUILD_TYPE=Debug -DCORUN_SANITIZE=thread"

# libFuzzer (clang, ASan+UBSan) in its own build, each target for FUZZ_SECONDS: corund's
# request validation (seeds tests/fuzz/corpus) and the model bytes corund receives (seeds
# tests/fuzz/model_corpus); new inputs go to build-fuzz/corpus and build-fuzz/model_corpus.
# Then the parsers of outside input of issue 11, each NAME_fuzz with seeds in
# tests/fuzz/NAME_corpus and new inputs in build-fuzz/NAME_corpus: standalone TensorProto files,
# .npy files, the STRING buffer layout, convert_frame between every numeric type pair, and the
# REST and gRPC fronts' request decoding (KServe v2 JSON + binary data; ModelInferRequest with
# contents, raw contents and shared-memory parameters; issue 15), and the generate extension's
# requests (issue 15), and the capacity profile reader (issue 13).
# UBSan only reports by default and the fuzzer would run on; halting makes undefined behaviour
# a finding with its input saved, like a crash.
FUZZ_SECONDS ?= 60
FUZZ_ENV = UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
FUZZ_PARSERS = tensor_proto npy string_elements convert_frame rest_request grpc_request generate_request work_message capacity_profile
fuzz: setup
	@mkdir -p build-fuzz/corpus build-fuzz/model_corpus $(FUZZ_PARSERS:%=build-fuzz/%_corpus)
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug \
		-DCORUN_FUZZ=ON > build-fuzz/configure.log 2>&1 || (cat build-fuzz/configure.log; exit 1)
	@cmake --build build-fuzz -j $(JOBS) --target request_validation_fuzz model_bytes_fuzz \
		$(FUZZ_PARSERS:%=%_fuzz) -- --quiet
	@$(FUZZ_ENV) build-fuzz/tests/fuzz/request_validation_fuzz -max_total_time=$(FUZZ_SECONDS) \
		build-fuzz/corpus tests/fuzz/corpus
	@$(FUZZ_ENV) build-fuzz/tests/fuzz/model_bytes_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		build-fuzz/model_corpus tests/fuzz/model_corpus
	@for name in $(FUZZ_PARSERS); do \
		$(FUZZ_ENV) build-fuzz/tests/fuzz/$${name}_fuzz -max_total_time=$(FUZZ_SECONDS) \
			build-fuzz/$${name}_corpus tests/fuzz/$${name}_corpus || exit 1; \
	done

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	@rm -rf build build-asan build-tsan build-fuzz
