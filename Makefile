# lessllm — see README.md. `make test` is exactly what CI runs.
GO      ?= go
BIN     := bin/lessllm
FUZZTIME ?= 30s
PKGS_NOCGO := ./format/... ./capture/...

.PHONY: build test lint bench fuzz faults demo clean

build:
	$(GO) build -o $(BIN) ./cmd/lessllm

# The full suite: vet + gofmt, every test, and the race detector over the
# cgo-free hot-path packages. Packages run one at a time (-p 1): the
# end-to-end timing tests measure milliseconds through real processes, and
# on two cores the load tests of another package running beside them
# delay first tokens by 10-20 ms (measured) — noise in the measurement,
# not the product.
test: lint
	$(GO) test -p 1 -count=1 ./...
	$(GO) test -count=1 -race $(PKGS_NOCGO)

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Go benchmarks of the hot-path pieces, then the side-by-side harness
# (direct vs bare Go proxy vs lessllm capture, separate processes) and the
# analyzer next to zstd -dc, which rewrite their sections of BENCHMARKS.md.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./format/... ./capture/... ./analyze/...
	$(GO) test -run '^TestCompressionRatio$$' -v -count=1 ./format/ | grep -E 'record|ok'
	$(GO) build -o bin/lessllm-bench ./cmd/lessllm-bench
	./bin/lessllm-bench -lessllm $(BIN) -update BENCHMARKS.md

# The fault suite at full length (RELIABILITY.md); make test runs a short form.
faults:
	LESSLLM_CRASH_ROUNDS=20 $(GO) test -count=1 -v -run '^TestCrashLosesNoCompletedExchange$$' ./cmd/lessllm

# Each fuzz target for FUZZTIME (default 30 s). Crashers land in the
# package's testdata/fuzz/ and become regression tests.
fuzz:
	$(GO) test ./format/ -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME)
	$(GO) test ./format/ -run '^$$' -fuzz '^FuzzDecodeExchange$$' -fuzztime $(FUZZTIME)
	$(GO) test ./format/ -run '^$$' -fuzz '^FuzzDecodeFast$$' -fuzztime $(FUZZTIME)
	$(GO) test ./format/wire/ -run '^$$' -fuzz '^FuzzDecodeChatChunk$$' -fuzztime $(FUZZTIME)
	$(GO) test ./format/wire/ -run '^$$' -fuzz '^FuzzChatFastPath$$' -fuzztime $(FUZZTIME)
	$(GO) test ./format/internal/jsonscan/ -run '^$$' -fuzz '^FuzzValues$$' -fuzztime $(FUZZTIME)
	$(GO) test ./format/internal/jsonscan/ -run '^$$' -fuzz '^FuzzNextSpecial$$' -fuzztime $(FUZZTIME)
	$(GO) test ./format/wire/ -run '^$$' -fuzz '^FuzzSSEParser$$' -fuzztime $(FUZZTIME)
	$(GO) test ./format/wire/ -run '^$$' -fuzz '^FuzzReadStream$$' -fuzztime $(FUZZTIME)
	$(GO) test ./format/wire/ -run '^$$' -fuzz '^FuzzOpenAIChatToAnthropic$$' -fuzztime $(FUZZTIME)
	$(GO) test ./format/wire/ -run '^$$' -fuzz '^FuzzAnthropicStreamToOpenAI$$' -fuzztime $(FUZZTIME)

# The main job end to end: simulator + capture + SDK traffic -> segments.
demo: build
	$(GO) run ./cmd/lessllm-demo -lessllm $(BIN) -dir demo

clean:
	rm -rf bin demo
