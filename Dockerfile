# syntax=docker/dockerfile:1
# Keyway's two images, keyway-control and keyway-proxy: static binaries on
# an empty base holding only a CA bundle, a non-root user, /tmp and the
# data directory; no shell, no package manager. `make image` builds the
# same file systems without a daemon (deploy/image), as an OCI layout.
#
#   docker build --target control -t keyway-control .
#   docker build --target proxy -t keyway-proxy .
#
# VERSION, COMMIT and BUILD_DATE stamp the binaries (--version, keyway
# version, keyway_build_info), as `make build` does from git; pass them,
# since .git is not in the build context.

FROM golang:1.26-bookworm AS build
ARG VERSION=dev
ARG COMMIT=
ARG BUILD_DATE=
WORKDIR /src
COPY . .
ENV CGO_ENABLED=0
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    make build VERSION="$VERSION" ${COMMIT:+COMMIT="$COMMIT"} ${BUILD_DATE:+BUILD_DATE="$BUILD_DATE"} \
 && mkdir -p /rootfs/etc/ssl/certs /rootfs/tmp /rootfs/var/lib/keyway /rootfs/usr/local/bin \
 && chmod 1777 /rootfs/tmp && chown 65532:65532 /rootfs/var/lib/keyway && chmod 700 /rootfs/var/lib/keyway \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/var/lib/keyway:/sbin/nologin\n' > /rootfs/etc/passwd \
 && printf 'root:x:0:\nnonroot:x:65532:\n' > /rootfs/etc/group

FROM scratch AS base
COPY --from=build /rootfs/ /
USER 65532:65532
WORKDIR /var/lib/keyway
ENV PATH=/usr/local/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
LABEL org.opencontainers.image.licenses="Apache-2.0"

FROM base AS control
ARG VERSION=dev
ARG COMMIT=
COPY --from=build /src/bin/keyway-control /src/bin/keyway /src/bin/keyway-proxy /usr/local/bin/
LABEL org.opencontainers.image.title="keyway-control" \
      org.opencontainers.image.description="Keyway control plane: policy versions in etcd, ADS to proxies, admin API" \
      org.opencontainers.image.version="$VERSION" org.opencontainers.image.revision="$COMMIT"
EXPOSE 7700 9190
ENTRYPOINT ["/usr/local/bin/keyway-control"]

FROM base AS proxy
ARG VERSION=dev
ARG COMMIT=
COPY --from=build /src/bin/keyway-proxy /usr/local/bin/
LABEL org.opencontainers.image.title="keyway-proxy" \
      org.opencontainers.image.description="Keyway data plane: a RESP proxy in front of Redis" \
      org.opencontainers.image.version="$VERSION" org.opencontainers.image.revision="$COMMIT"
EXPOSE 6380 9180
ENTRYPOINT ["/usr/local/bin/keyway-proxy"]
