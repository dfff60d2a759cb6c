# vccsync — the two commands of the README, and a few more.
GO ?= go

.PHONY: run test build vet fmt-check bench sandbox

## run: start syncworker on the embedded default (JetStream + VCC sandbox),
## feed the demo story and print per-user results; Ctrl-C stops it.
run:
	$(GO) run ./cmd/syncworker --demo --data-dir "$$(mktemp -d -t vccsync-demo.XXXXXX)"

## test: formatting, vet, and every test with the race detector.
test: fmt-check vet
	$(GO) test -race -count=1 ./...

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

build:
	$(GO) build -o bin/ ./cmd/...

## bench: benchmarks that print their figures (ratios against a baseline in the same run).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

## sandbox: the VCC sandbox on its own (127.0.0.1:8090, demo account).
sandbox:
	$(GO) run ./cmd/vcc-sandbox
