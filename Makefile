# vccsync — the two commands of the README, and a few more.
GO ?= go

.PHONY: run test build vet fmt-check bench sandbox fuzz

## run: start syncworker on the embedded default (JetStream + VCC sandbox at
## 127.0.0.1:8090 + Salesforce sandbox at 127.0.0.1:8091), feed the demo
## story and print per-user results and a demo.yaml for the operator
## commands; Ctrl-C stops it and removes its temporary directory.
run:
	$(GO) run ./cmd/syncworker --demo --sandbox-listen 127.0.0.1:8090 --sf-sandbox-listen 127.0.0.1:8091

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

## bench: one table, each figure beside a baseline measured in the same
## run (bench/, a Go module of its own): the real syncworker and
## vcc-sandbox on embedded JetStream against raw Consume()+Ack and
## Watermill, the worker's memory and bbolt file at 100k users, leavers
## behind a backlog at VCC's rate limit with and without the priority lane,
## and rows from the in-package Go benchmarks listed in bench/gobench.go.
## Under ten minutes on two cores; progress on stderr, the table on stdout;
## exit 1 if a scenario fails (an unmet goal is a ✗). BENCHFLAGS=-quick
## for a smaller run, BENCHFLAGS='-scenarios throughput,gobench' for some.
BENCHFLAGS ?=
bench:
	cd bench && $(GO) run . $(BENCHFLAGS)

## fuzz: every fuzz target of the repository, one after another, for
## FUZZTIME each; a finding fails it (the input is saved under the
## package's testdata/fuzz/<target>/ and is then run by `make test`). A run
## that ends on Go 1.26's fuzztime deadline race (go.dev/issue/75804: a bare
## "context deadline exceeded", no input written) is run once more.
FUZZTIME ?= 30s
fuzz:
	@set -e; n=0; \
	for dir in $$(find . -name '*_test.go' -not -path './.*' -exec grep -l '^func Fuzz' {} + | xargs -r -n1 dirname | sort -u); do \
	  targets="$$($(GO) test -list '^Fuzz' "$$dir")"; \
	  for t in $$(echo "$$targets" | grep '^Fuzz'); do \
	    n=$$((n+1)); \
	    for try in 1 2; do \
	      echo "fuzz: $$dir $$t for $(FUZZTIME)"; log=$$(mktemp); \
	      if $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime "$(FUZZTIME)" "$$dir" >"$$log" 2>&1; then cat "$$log"; rm -f "$$log"; break; fi; \
	      cat "$$log"; \
	      if [ "$$try" = 1 ] && grep -q 'context deadline exceeded' "$$log" && ! grep -qE 'Failing input written|panic:|_test.go:[0-9]+:' "$$log"; then \
	        echo "fuzz: $$t stopped on Go 1.26's fuzztime deadline race (go.dev/issue/75804), no input found: once more"; rm -f "$$log"; continue; \
	      fi; \
	      rm -f "$$log"; exit 1; \
	    done; \
	  done; \
	done; \
	if [ "$$n" -eq 0 ]; then echo "fuzz: no fuzz targets found"; exit 1; fi; \
	echo "fuzz: $$n targets, $(FUZZTIME) each, no finding"

## sandbox: the VCC sandbox on its own (127.0.0.1:8090, demo account).
sandbox:
	$(GO) run ./cmd/vcc-sandbox
