# tracer-svc image: built on Debian 12 with the project's own dependency script, shipped on
# debian:12-slim with exactly the shared libraries the binary loads (images/rootfs.sh).
# docker build -f images/tracer-svc.Dockerfile -t container-tracer/tracer-svc .
FROM debian:12 AS build
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
RUN scripts/deps.sh
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build -j"$(nproc)" --target tracer-svc ctrace \
 && images/rootfs.sh tracer-svc /build /out

FROM debian:12-slim
COPY --from=build /out/ /
USER 65532:65532
ENTRYPOINT ["/usr/bin/tracer-svc"]
