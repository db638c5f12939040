# syntax=docker/dockerfile:1
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/rdvsync ./cmd/rdvsync

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/rdvsync /usr/local/bin/rdvsync
COPY config.example.yaml /etc/rdvsync/config.yaml
# The store (bbolt file) and the mail/SMS spools live beside store.path.
VOLUME ["/var/lib/rdvsync"]
WORKDIR /var/lib/rdvsync
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/rdvsync"]
CMD ["serve", "-config", "/etc/rdvsync/config.yaml"]
