# CUDA support. DUET_CUDA=AUTO turns it on when nvcc is found; no GPU is needed to build
# (the CUDA tests then report that they skipped and why).
# Targets sm_80 (machine code) and sm_90 (machine code + PTX for newer GPUs) unless
# CMAKE_CUDA_ARCHITECTURES says otherwise.
#
# kernels/cuda/ holds three kinds of sources:
#   *.cu                      CUDA kernels (nvcc), built only with CUDA
#   *.cpp                     host code of the backend (the C++ compiler, CUDA headers),
#                             built only with CUDA
#   DUET_CUDA_PORTABLE_SOURCES plain C++ built in EVERY build: the caching allocator's pool
#                             logic (tested on the CPU with a fake device), the stub API
#                             of builds without CUDA, and the softmax backend choice
# cuDNN, when found next to the toolkit, adds the cudnn softmax backend (DUET_HAVE_CUDNN).
# DUET_CUDA_PTXAS_VERBOSE=ON prints registers, spills and stack per kernel (-Xptxas -v).
set(DUET_WITH_CUDA OFF)
if(NOT DUET_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  if(NOT DEFINED CMAKE_CUDA_HOST_COMPILER)
    set(CMAKE_CUDA_HOST_COMPILER ${CMAKE_CXX_COMPILER})
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(DUET_WITH_CUDA ON)
  elseif(DUET_CUDA STREQUAL "ON")
    message(FATAL_ERROR "DUET_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()

set(DUET_CUDA_DIR ${CMAKE_CURRENT_LIST_DIR}/../kernels/cuda)
set(DUET_CUDA_PORTABLE_SOURCES ${DUET_CUDA_DIR}/caching_allocator.cpp ${DUET_CUDA_DIR}/cuda_stub.cpp
    ${DUET_CUDA_DIR}/softmax_backend.cpp)
file(GLOB DUET_CUDA_KERNEL_SOURCES CONFIGURE_DEPENDS ${DUET_CUDA_DIR}/*.cu)
file(GLOB DUET_CUDA_HOST_SOURCES CONFIGURE_DEPENDS ${DUET_CUDA_DIR}/*.cpp)
foreach(src ${DUET_CUDA_PORTABLE_SOURCES})
  get_filename_component(name ${src} NAME)
  list(FILTER DUET_CUDA_HOST_SOURCES EXCLUDE REGEX "/${name}$")
endforeach()

if(DUET_WITH_CUDA AND NOT DUET_CUDA_KERNEL_SOURCES)
  message(STATUS "duet: nvcc found, but kernels/cuda has no .cu sources; CUDA stays off")
  set(DUET_WITH_CUDA OFF)
endif()

option(DUET_CUDA_PTXAS_VERBOSE "Print each CUDA kernel's registers and spills" OFF)

if(DUET_WITH_CUDA)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 80-real 90)
  endif()
  # The same cudart the targets link through CUDA::cudart (one runtime, not two).
  set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
  enable_language(CUDA)
  # CMake 3.25 knows nvcc's dialect flags only up to C++17; nvcc 12+ takes -std=c++20.
  if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  endif()
  # nvcc compiles host code with the C++ compiler, whose own include dirs must stay
  # implicit: passing /usr/include (from ZLIB's target) as -isystem breaks <cmath>.
  list(APPEND CMAKE_CUDA_IMPLICIT_INCLUDE_DIRECTORIES ${CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES})
  set(CMAKE_CUDA_STANDARD 20)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  find_package(CUDAToolkit REQUIRED)
  message(STATUS "duet: CUDA on (${CMAKE_CUDA_COMPILER} ${CMAKE_CUDA_COMPILER_VERSION}, archs ${CMAKE_CUDA_ARCHITECTURES})")
  # cuDNN is optional: the cudnn softmax backend (kernels/cuda/cudnn_softmax.h) exists when
  # it is found; asking for it otherwise is an error that says so.
  find_path(DUET_CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
  find_library(DUET_CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR})
  if(DUET_CUDNN_INCLUDE_DIR AND DUET_CUDNN_LIBRARY)
    message(STATUS "duet: cuDNN ${DUET_CUDNN_LIBRARY}")
  else()
    message(STATUS "duet: cuDNN not found; the cudnn softmax backend is disabled")
  endif()
else()
  message(STATUS "duet: CUDA off")
endif()

function(duet_add_cuda_sources target)
  target_sources(${target} PRIVATE ${DUET_CUDA_PORTABLE_SOURCES})
  if(DUET_WITH_CUDA)
    target_sources(${target} PRIVATE ${DUET_CUDA_KERNEL_SOURCES} ${DUET_CUDA_HOST_SOURCES})
    target_compile_definitions(${target} PUBLIC DUET_HAVE_CUDA=1)
    # Programs must start on machines with no driver (the runtime and the libraries load
    # the driver themselves), so nothing here links the CUDA::cuda_driver stub.
    # cuBLAS, NVRTC and cuDNN are not linked: kernels/cuda/cuda_libs.cpp opens them with
    # dlopen on first use (a CPU-only run of a CUDA build maps none of them), from the
    # paths found here.
    target_link_libraries(${target} PUBLIC CUDA::cudart ${CMAKE_DL_LIBS})
    target_compile_definitions(${target} PRIVATE DUET_CUBLAS_LIBRARY="$<TARGET_FILE:CUDA::cublas>"
                                                 DUET_NVRTC_LIBRARY="$<TARGET_FILE:CUDA::nvrtc>")
    if(DUET_CUDNN_INCLUDE_DIR AND DUET_CUDNN_LIBRARY)
      target_compile_definitions(${target} PRIVATE DUET_HAVE_CUDNN=1 DUET_CUDNN_LIBRARY_PATH="${DUET_CUDNN_LIBRARY}")
      target_include_directories(${target} PRIVATE ${DUET_CUDNN_INCLUDE_DIR})
    endif()
    # Host-side warnings as for C++; constexpr std helpers (numeric_limits) in device code.
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -Xcompiler=-Wall,-Wextra,-Wno-unused-parameter>)
    if(DUET_CUDA_PTXAS_VERBOSE)
      target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xptxas=-v>)
    endif()
    set_target_properties(${target} PROPERTIES CUDA_SEPARABLE_COMPILATION OFF CUDA_RUNTIME_LIBRARY Shared)
  endif()
endfunction()
