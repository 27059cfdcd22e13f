# elector's container image:
#   docker build --build-arg ELECTOR_GIT_COMMIT=$(git rev-parse --short=12 HEAD) -t REGISTRY/elector:TAG .
#
# Build stage: Debian 12, the packages and commands of README.md's "Building
# from source" block, exactly (tests/install/check-build-commands.sh keeps the
# two equal). Nothing of this stage ships, so its apt lists need no cleanup.
FROM debian:12 AS build
ARG DEBIAN_FRONTEND=noninteractive
# The packages before the source: this layer stays cached across code changes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ cmake make pkg-config libcurl4-openssl-dev nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libssl-dev libcpp-httplib-dev
COPY . /src
WORKDIR /src
# The commit `elector --version` names (the build context has no .git):
#   docker build --build-arg ELECTOR_GIT_COMMIT=$(git rev-parse --short=12 HEAD) ...
ARG ELECTOR_GIT_COMMIT=unknown
RUN cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DELECTOR_BUILD_TESTS=OFF \
 && cmake --build build/release -j"$(nproc)"
# /rootfs: the stripped binary and the shared libraries ldd lists, nothing else.
RUN scripts/runtime-rootfs build/release/operator/elector /rootfs

# Runtime stage: no shell, no package manager, no files to write (elector runs
# with readOnlyRootFilesystem). The kubelet and the container runtime provide
# /proc, /etc/hosts and /etc/resolv.conf; in a pod elector finds the API server
# through the service account (/var/run/secrets/kubernetes.io/serviceaccount).
FROM scratch
LABEL org.opencontainers.image.title="elector" \
      org.opencontainers.image.description="Leader election for unchanged Kubernetes Deployments"
COPY --from=build /rootfs/ /
# 65532: the conventional "nonroot" UID/GID; it needs no /etc/passwd entry.
USER 65532:65532
ENTRYPOINT ["/elector"]
