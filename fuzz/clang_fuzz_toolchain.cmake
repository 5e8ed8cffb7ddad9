# Toolchain for the libFuzzer build (make fuzz / fuzz-ci; never the normal g++ build).
# libFuzzer needs clang; Debian 12's clang 14 cannot compile libstdc++ 12's std::expected
# (no conditionally trivial destructors, P0848), so this uses clang-16 (apt: clang-16,
# libclang-rt-16-dev; scripts/deps.sh).
#
# Why the __cpp_concepts override: libstdc++ 12 guards <expected> with
# `__cpp_concepts >= 202002L`. clang 16 implements what <expected> needs from C++20 concepts
# (including P0848, which is the reason for that value) but still advertises 201907L until
# clang 19, so without the override std::expected (common/result.h) does not exist. The override
# only changes which libstdc++ headers are enabled; it is confined to this build, and the
# fuzzers exercise the same code g++ compiles.
set(CMAKE_C_COMPILER clang-16)
set(CMAKE_CXX_COMPILER clang++-16)

# Every library is built with coverage feedback + ASan + UBSan (a finding aborts, so libFuzzer
# reports it); the fuzz targets add -fsanitize=fuzzer for libFuzzer's main.
set(CT_FUZZ_SANITIZE "-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer")
set(CMAKE_C_FLAGS_INIT "${CT_FUZZ_SANITIZE}")
set(CMAKE_CXX_FLAGS_INIT "${CT_FUZZ_SANITIZE} -U__cpp_concepts -D__cpp_concepts=202002L")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-fsanitize=address,undefined")
