# syntax=docker/dockerfile:1
# Multi-stage build to a small, static, non-root image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/rdvsync ./cmd/rdvsync \
 && mkdir -p /out/data && chown 65532:65532 /out/data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/rdvsync /usr/local/bin/rdvsync
COPY config.example.yaml /etc/rdvsync/config.yaml
# The bbolt store and the mail/SMS spools (mail/, sms/) live in this volume.
COPY --from=build --chown=65532:65532 /out/data /var/lib/rdvsync
VOLUME ["/var/lib/rdvsync"]
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/rdvsync"]
CMD ["serve", "-config", "/etc/rdvsync/config.yaml", "-store", "/var/lib/rdvsync/rdvsync.db", "-listen", "0.0.0.0:8080"]
