# rdvsync — the two commands a new machine needs: `make run` and `make test`.
GO ?= go
CONFIG ?= config.example.yaml
PKGS := ./...

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run test test-deps build lint bench fuzz check-config docker

## run: start the daemon on the example configuration (store and mail/SMS spools under data/)
run:
	$(GO) run ./cmd/rdvsync serve -config $(CONFIG)

## test: install what the tests need, then run vet, staticcheck and the whole suite with the race detector
test: test-deps lint
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

## lint: go vet and staticcheck (pinned version, fetched by the go command)
lint:
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

## test-deps: system packages used by the tests (real peers), installed only when missing
test-deps:
	@./scripts/test-deps.sh radicale xandikos python3-caldav vdirsyncer python3-icalendar chromium curl jq

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

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/rdvsync ./cmd/rdvsync

check-config:
	$(GO) run ./cmd/rdvsync check-config -config $(CONFIG)

## bench: the benchmarks whose figures are in BENCHMARKS.md
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/slots/ ./internal/store/

docker:
	docker build -t rdvsync .
