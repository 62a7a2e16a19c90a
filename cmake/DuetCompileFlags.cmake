# Compile flags shared by every duet target, gathered on one interface target.
add_library(duet_compile_flags INTERFACE)
target_compile_options(duet_compile_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>)

include(CheckCXXCompilerFlag)
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
