# syntax=docker/dockerfile:1
# Multi-stage build to a small, static, non-root image. The image has no
# configuration of its own: mount yours at /etc/rdvsync/config.yaml (see
# compose.yaml), with server.listen "0.0.0.0:8080" and store.path
# "/var/lib/rdvsync/rdvsync.db", so that admin commands run with
# `docker exec` find the daemon's store through the same file.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION: what `rdvsync version` and rdvsync_build_info report
# (docker build --build-arg VERSION=v1.2.0 .); the VCS revision is not
# available here, .git being left out of the build context.
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/rdvsync ./cmd/rdvsync \
 && mkdir -p /out/data && chown 65532:65532 /out/data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/rdvsync /usr/local/bin/rdvsync
# The bbolt store and the mail/SMS spools (mail/, sms/) live in this volume.
COPY --from=build --chown=65532:65532 /out/data /var/lib/rdvsync
VOLUME ["/var/lib/rdvsync"]
USER 65532:65532
EXPOSE 8080
# No shell nor curl in a scratch image: the binary asks its own /readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/rdvsync", "healthcheck", "-config", "/etc/rdvsync/config.yaml"]
ENTRYPOINT ["/usr/local/bin/rdvsync"]
CMD ["serve", "-config", "/etc/rdvsync/config.yaml"]
