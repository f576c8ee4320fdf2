# The generative-model engines (issue 12, docs/GENAI.md): llama.cpp for GGUF LLMs and whisper.cpp
# for speech to text, from the sources scripts/fetch_engines.sh took out of npm packages into
# .cache/engines/ (no network at build time). Both are built here as static libraries, CPU
# backend only, as part of corun's own build (one Ninja graph, one -j, corun's compiler launcher,
# so ccache applies), and only what a target links is built (EXCLUDE_FROM_ALL).
#
# One ggml. llama.cpp and whisper.cpp each carry a copy of ggml (0.25.1 and 0.15.1 here) whose
# symbols (ggml_*, gguf_*) are the same names: two copies linked into one program clash, and
# corund must host an LLM and a speech model side by side. whisper.cpp builds against the ggml
# target its parent already has (its CMakeLists checks `if (NOT TARGET ggml)`), so it is added
# after llama.cpp and uses llama.cpp's newer ggml; whisper.cpp's own ggml is never compiled.
# tests/genai/ checks that whisper.cpp loads and transcribes on it.
#
# Options (the engines' own, set here for every build):
#   GGML_NATIVE OFF with AVX, AVX2, FMA, F16C, BMI2 (ggml's default set when not native, the
#     x86-64-v3 level): the same flags on every machine, so ccache entries and the .deb carry
#     over between machines of that level; -march=native would tie both to the build machine.
#     CORUN_GGML_NATIVE=ON opts in to the build machine's full set (AVX-512 and so on).
#   GGML_OPENMP OFF: ggml's own thread pool instead of libgomp's, whose spinning threads corun's
#     scheduler could not see or stop, and which TSan does not model.
#   no CURL/OpenSSL, no tests, examples, tools, server; static libraries; warnings off, never
#     -Werror (their code is not ours to keep warning-free); sanitizer flags kept.
option(CORUN_GGML_NATIVE "Build ggml for this machine's CPU (-march=native)" OFF)

set(CORUN_LLAMA_CPP_DIR "${CORUN_CACHE_DIR}/engines/llama.cpp")
set(CORUN_WHISPER_CPP_DIR "${CORUN_CACHE_DIR}/engines/whisper.cpp")
foreach(engine_dir IN ITEMS "${CORUN_LLAMA_CPP_DIR}" "${CORUN_WHISPER_CPP_DIR}")
  if(NOT EXISTS "${engine_dir}/.complete")
    message(FATAL_ERROR "${engine_dir} is missing; run scripts/setup.sh (scripts/fetch_engines.sh) "
      "first, or configure with -DCORUN_GENAI=OFF")
  endif()
endforeach()

# A function, so the engines' option variables stay out of corun's own scope.
function(corun_add_genai_engines)
  # Compile options are a directory property the subdirectories copy when added: drop corun's
  # warning flags (and -Werror) for them, keep the sanitizer flags, silence their warnings.
  get_directory_property(corun_options COMPILE_OPTIONS)
  set(engine_options ${corun_options})
  list(REMOVE_ITEM engine_options -Wall -Wextra -Werror)
  list(APPEND engine_options -w)
  set_directory_properties(PROPERTIES COMPILE_OPTIONS "${engine_options}")

  # whisper.cpp's cmake_minimum_required predates CMP0077: without NEW its option() calls would
  # drop the variables below.
  set(CMAKE_POLICY_DEFAULT_CMP0077 NEW)
  set(BUILD_SHARED_LIBS OFF)
  set(GGML_NATIVE ${CORUN_GGML_NATIVE})
  set(GGML_OPENMP OFF)
  set(GGML_CCACHE OFF)  # corun's CMAKE_<LANG>_COMPILER_LAUNCHER decides; ggml's would be global
  set(GGML_ALL_WARNINGS OFF)
  set(GGML_FATAL_WARNINGS OFF)
  set(GGML_BACKEND_DL OFF)
  set(LLAMA_ALL_WARNINGS OFF)
  set(LLAMA_FATAL_WARNINGS OFF)
  set(LLAMA_BUILD_COMMON OFF)
  set(LLAMA_BUILD_TESTS OFF)
  set(LLAMA_BUILD_TOOLS OFF)
  set(LLAMA_BUILD_EXAMPLES OFF)
  set(LLAMA_BUILD_SERVER OFF)
  set(LLAMA_BUILD_APP OFF)
  set(LLAMA_OPENSSL OFF)
  set(LLAMA_TOOLS_INSTALL OFF)
  set(WHISPER_ALL_WARNINGS OFF)
  set(WHISPER_FATAL_WARNINGS OFF)
  set(WHISPER_BUILD_TESTS OFF)
  set(WHISPER_BUILD_EXAMPLES OFF)
  set(WHISPER_BUILD_SERVER OFF)
  set(WHISPER_CURL OFF)
  set(WHISPER_SDL2 OFF)
  # SYSTEM: their headers do not trip corun's -Wall -Wextra -Werror either.
  add_subdirectory("${CORUN_LLAMA_CPP_DIR}" "${CMAKE_BINARY_DIR}/engines/llama.cpp"
    EXCLUDE_FROM_ALL SYSTEM)
  add_subdirectory("${CORUN_WHISPER_CPP_DIR}" "${CMAKE_BINARY_DIR}/engines/whisper.cpp"
    EXCLUDE_FROM_ALL SYSTEM)

  set_directory_properties(PROPERTIES COMPILE_OPTIONS "${corun_options}")
endfunction()
corun_add_genai_engines()
