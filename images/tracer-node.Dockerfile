# tracer-node image: built on Debian 12 with the project's own dependency script, shipped on
# debian:12-slim with exactly the shared libraries the binary loads (images/rootfs.sh).
# docker build -f images/tracer-node.Dockerfile -t container-tracer/tracer-node .
FROM debian:12 AS build
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
RUN scripts/deps.sh
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build -j"$(nproc)" --target tracer-node ftrace-manager ebpf-manager ctrace \
 && images/rootfs.sh tracer-node /build /out

FROM debian:12-slim
COPY --from=build /out/ /
# Root: ftrace (tracefs), every process's /proc and the runtime sockets need it.
USER 0:0
ENTRYPOINT ["/usr/bin/tracer-node"]
