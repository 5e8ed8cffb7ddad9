# BPF CO-RE objects with bpftool skeletons (trace-hooks/ebpf, bench).
# The sources are compiled with clang for the BPF target against one vmlinux.h dumped from the
# build machine's kernel BTF: CO-RE, so libbpf relocates field accesses to the running kernel at
# load. Debian's default `clang` (14) is used: its BPF backend does everything CO-RE needs, and
# the objects do not depend on the fuzz toolchain (clang-16). `bpftool gen object` links the
# object and drops its DWARF (650 KB -> 40 KB) before `bpftool gen skeleton` embeds it.
find_program(CT_BPF_CLANG NAMES clang REQUIRED)
find_program(CT_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)
pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf)
set(CT_VMLINUX_BTF /sys/kernel/btf/vmlinux CACHE FILEPATH "Kernel BTF that vmlinux.h for BPF objects is dumped from")

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(CT_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(CT_BPF_ARCH arm64)
else()
  set(CT_BPF_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

set(CT_BPF_GEN ${CMAKE_BINARY_DIR}/bpf-gen)
file(MAKE_DIRECTORY ${CT_BPF_GEN})
add_custom_command(
  OUTPUT ${CT_BPF_GEN}/vmlinux.h
  COMMAND ${CT_BPFTOOL} btf dump file ${CT_VMLINUX_BTF} format c > ${CT_BPF_GEN}/vmlinux.h.tmp
  COMMAND ${CMAKE_COMMAND} -E rename ${CT_BPF_GEN}/vmlinux.h.tmp ${CT_BPF_GEN}/vmlinux.h
  COMMENT "Dumping kernel BTF to vmlinux.h"
  VERBATIM)
add_custom_target(ct_vmlinux_h DEPENDS ${CT_BPF_GEN}/vmlinux.h)

# ct_bpf_skeleton(TARGET NAME SOURCE [DEPENDS files...]): builds SOURCE (relative to the calling
# directory) into ${CT_BPF_GEN}/NAME.skel.h, the skeleton `struct NAME`, and makes TARGET depend
# on it and see it (#include "NAME.skel.h") with libbpf linked. Sources include vmlinux.h and
# project headers by their path from the repository root.
function(ct_bpf_skeleton target name source)
  cmake_parse_arguments(B "" "" "DEPENDS" ${ARGN})
  set(src ${CMAKE_CURRENT_SOURCE_DIR}/${source})
  set(obj ${CT_BPF_GEN}/${name})
  add_custom_command(
    OUTPUT ${obj}.skel.h
    COMMAND ${CT_BPF_CLANG} -target bpf -g -O2 -Wall -D__TARGET_ARCH_${CT_BPF_ARCH}
            -I${CT_BPF_GEN} -I${PROJECT_SOURCE_DIR} -c ${src} -o ${obj}.tmp.o
    COMMAND ${CT_BPFTOOL} gen object ${obj}.bpf.o ${obj}.tmp.o
    COMMAND ${CT_BPFTOOL} gen skeleton ${obj}.bpf.o name ${name} > ${obj}.skel.h
    DEPENDS ${src} ${B_DEPENDS} ${CT_BPF_GEN}/vmlinux.h
    COMMENT "Building BPF object and skeleton ${name}"
    VERBATIM)
  add_custom_target(${name}_skel DEPENDS ${obj}.skel.h)
  add_dependencies(${name}_skel ct_vmlinux_h)
  add_dependencies(${target} ${name}_skel)
  target_include_directories(${target} PRIVATE ${CT_BPF_GEN})
  target_link_libraries(${target} PRIVATE PkgConfig::LIBBPF)
endfunction()
