# Compile flags shared by every duet target, gathered on one interface target.
add_library(duet_compile_flags INTERFACE)
target_compile_options(duet_compile_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>)

# Note [No implicit FMA]: every op rounds as IEEE says, once per operation, whoever
# computes it. With FMA in the target (-march=native) GCC contracts a*b + c into one fused
# multiply-add by default, so the same formula rounds differently in host code (an
# optimizer's decayed rate, 1 + (t-1)*decay) than as a chain of tensor ops in a captured
# graph, and eager and graph mode differ by an ulp (fuzz seed 5234747). Kernels that want
# an FMA say so with intrinsics; nothing is contracted behind their back.
target_compile_options(duet_compile_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-ffp-contract=off>)

include(CheckCXXCompilerFlag)
# Note [GCC 12 SLP miscompile]: GCC 12.2 with AVX-512 enabled (-march=native on an AVX-512
# machine, or -mavx512f) at -O2 stores std::vector<double>{1, 1, 0, 0} as {1, 1, 1, 1}: its
# basic-block (SLP) vectorizer emits a vpbroadcastq of the first value for the whole
# initializer, while later reads it folds to the right constants, so the error shows only
# where memory is read back (tests/test_toolchain.cpp reproduces it). duet's kernels are
# hand-vectorized with intrinsics and loops still vectorize, so GCC before 14 builds without
# SLP vectorization.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 14)
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fno-tree-slp-vectorize>)
endif()
if(DUET_NATIVE)
  check_cxx_compiler_flag(-march=native DUET_HAS_MARCH_NATIVE)
  if(DUET_HAS_MARCH_NATIVE)
    add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-march=native>)
  else()
    message(STATUS "duet: -march=native not supported; portable build (AVX2 picked at run time)")
  endif()
endif()

# C++ sources only: nvcc rejects these flags, and the CUDA kernels' host stubs need no
# instrumenting. The links (g++) still pull in the sanitizer runtimes.
if(DUET_SANITIZE)
  add_compile_options(
    "$<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined;-fno-sanitize-recover=undefined;-fno-omit-frame-pointer>")
  add_link_options(-fsanitize=address,undefined)
endif()
