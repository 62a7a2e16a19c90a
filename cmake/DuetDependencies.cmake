# Finds duet's Debian-packaged dependencies: Threads, zlib, OpenBLAS and Eigen (reference
# backends and test oracles), doctest (tests), Google Benchmark (bench), CLI11 and
# nlohmann-json (the example programs' command line and JSON records).
# scripts/bootstrap.sh installs any that are missing.
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)

find_path(OPENBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas openblas-pthread)
find_library(OPENBLAS_LIBRARY NAMES openblas)
find_package(Eigen3 3.3 NO_MODULE)

if(OPENBLAS_INCLUDE_DIR AND OPENBLAS_LIBRARY)
  set(DUET_HAVE_OPENBLAS ON)
  message(STATUS "duet: OpenBLAS ${OPENBLAS_LIBRARY}")
else()
  message(STATUS "duet: OpenBLAS not found; the openblas GEMM backend is disabled (scripts/bootstrap.sh installs it)")
endif()
if(TARGET Eigen3::Eigen)
  set(DUET_HAVE_EIGEN ON)
else()
  message(STATUS "duet: Eigen not found; the eigen GEMM backend is disabled (scripts/bootstrap.sh installs it)")
endif()

function(duet_link_reference_backends target)
  if(DUET_HAVE_OPENBLAS)
    target_include_directories(${target} PRIVATE ${OPENBLAS_INCLUDE_DIR})
    target_link_libraries(${target} PRIVATE ${OPENBLAS_LIBRARY})
    target_compile_definitions(${target} PUBLIC DUET_HAVE_OPENBLAS=1)
  endif()
  if(DUET_HAVE_EIGEN)
    target_link_libraries(${target} PUBLIC Eigen3::Eigen)
    target_compile_definitions(${target} PUBLIC DUET_HAVE_EIGEN=1)
  endif()
endfunction()

if(DUET_BUILD_TESTS)
  find_package(doctest REQUIRED)
endif()
if(DUET_BUILD_BENCH)
  find_package(benchmark QUIET)
  if(NOT benchmark_FOUND)
    message(STATUS "duet: Google Benchmark not found; bench/ is skipped")
  endif()
endif()
if(DUET_BUILD_EXAMPLES)
  # Header-only; Debian's packages ship CMake config files (/usr/share/cmake/...).
  find_package(CLI11 CONFIG QUIET)
  if(NOT TARGET CLI11::CLI11)
    message(FATAL_ERROR "duet: CLI11 not found: the examples' command line needs it. Install Debian's "
                        "libcli11-dev (scripts/bootstrap.sh does), or configure with -DDUET_BUILD_EXAMPLES=OFF.")
  endif()
  find_package(nlohmann_json 3 CONFIG QUIET)
  if(NOT TARGET nlohmann_json::nlohmann_json)
    message(FATAL_ERROR "duet: nlohmann_json not found: the examples' JSON records need it. Install Debian's "
                        "nlohmann-json3-dev (scripts/bootstrap.sh does), or configure with -DDUET_BUILD_EXAMPLES=OFF.")
  endif()
endif()
