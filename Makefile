# rdvsync — the two commands a new machine needs: `make run` and `make test`.
GO ?= go
CONFIG ?= config.example.yaml
PKGS := ./...

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# VERSION: what `rdvsync version` and rdvsync_build_info report (default: the go command's VCS stamp)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: run test test-deps build lint check-docker bench bench-national fuzz check-config docker

## run: start the daemon on the example configuration (store and mail/SMS spools under data/)
run:
	$(GO) run ./cmd/rdvsync serve -config $(CONFIG)

## test: install what the tests need, then run vet, staticcheck and the whole suite with the race detector
test: test-deps lint check-docker
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

## lint: go vet and staticcheck (pinned version, fetched by the go command)
lint:
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

## check-docker: build the image when a Docker engine answers, else lint the Dockerfile (RDVSYNC_SKIP_DOCKER=1 skips)
check-docker:
	@./scripts/check-docker.sh

## test-deps: system packages used by the tests (real peers), installed only when missing
test-deps:
	@./scripts/test-deps.sh radicale xandikos python3-caldav vdirsyncer python3-icalendar chromium curl jq postgresql

## fuzz: run each fuzz target for FUZZTIME (seeds alone run in `make test`); a crash lands in the package's testdata/fuzz/
FUZZTIME ?= 30s
FUZZ_TARGETS := \
	./internal/booking/:FuzzBook \
	./internal/config/:FuzzParse \
	./caldav/:FuzzEventCalendar \
	./internal/webhook/:FuzzMappingApply \
	./internal/webhook/:FuzzVerify \
	./internal/served/:FuzzDAVBody
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg; \
	done

## build: a static binary in bin/; VERSION=v1.2.0 sets what `rdvsync version` says
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/rdvsync ./cmd/rdvsync

check-config:
	$(GO) run ./cmd/rdvsync check-config -config $(CONFIG)

## bench: the benchmarks whose figures are in BENCHMARKS.md (the daemon's own path first:
## bookings with every effect through newDaemon, then the store's size per RDV booked,
## the rate of spooled confirmations;
## bench-national: the national-size slot search, minutes)
bench:
	$(GO) test -run '^$$' -bench DaemonBook -benchtime 3000x -count 3 ./cmd/rdvsync/
	$(GO) test -run '^$$' -bench StoreSizePerRDV -benchtime 20000x ./cmd/rdvsync/
	$(GO) test -run '^$$' -bench SpoolEmails -benchtime 2000x -count 3 ./internal/notify/
	$(GO) test -run '^$$' -bench . -benchmem ./internal/slots/ ./internal/store/
	$(GO) test -run '^$$' -bench 'BenchmarkSlotSearch$$' -benchmem -benchtime 50x -count 3 ./internal/httpapi/

bench-national:
	$(GO) test -run '^$$' -bench 'BenchmarkSlotSearchNational' -benchmem -benchtime 10x -count 3 -timeout 60m ./internal/httpapi/

docker:
	docker build --build-arg VERSION=$(VERSION) -t rdvsync .
