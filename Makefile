# lessllm — see README.md. `make test` is exactly what CI runs.
SHELL   := /bin/bash
GO      ?= go
BIN     := bin/lessllm
FUZZTIME ?= 30s
FUZZTIME_CI ?= 30000x
DURATION ?= 10m
PKGS_NOCGO := ./format/... ./capture/...
# The version lessllm reports (lessllm version) and the wheel carries:
# PEP 440, a dev release numbered by commit count unless set
# (make wheel VERSION=0.2.0).
VERSION ?= 0.1.0.dev$(shell git rev-list --count HEAD 2>/dev/null || echo 0)
COMMIT  := $(shell git rev-parse --short=12 HEAD 2>/dev/null)
# The commit's time, not the clock's: the same commit builds the same bytes.
DATE    := $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
# The full build links libstdc++ (DuckDB is C++) and libgcc statically, so
# it needs only glibc: the bindings ask for -lstdc++, and a directory that
# holds just the compiler's libstdc++.a, searched first, makes that the
# static archive (where the compiler has none, the link stays dynamic).
# $(1): GOARCH, $(2): C compiler, $(3): C++ compiler, $(4): output,
# $(5): extra -ldflags.
define full_build
	@mkdir -p bin/.static-$(1) && { a=$$($(3) -print-file-name=libstdc++.a 2>/dev/null); \
		if [ -f "$$a" ]; then ln -sf "$$a" bin/.static-$(1)/libstdc++.a; else rm -f bin/.static-$(1)/libstdc++.a; fi; }
	CGO_ENABLED=1 GOARCH=$(1) CC=$(2) CXX=$(3) CGO_LDFLAGS="-L$(CURDIR)/bin/.static-$(1)" \
		$(GO) build -trimpath -ldflags "$(LDFLAGS) $(5) -extldflags '-static-libgcc'" -o $(4) ./cmd/lessllm
endef
# The Python tests use Debian's python3 where there is one: Debian's
# python3-* packages (pandas for Result.df()) are installed for it.
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)

# Fuzz targets as package:Target, or package:Target:Nx for a fuzz-ci count
# of its own (the segment readers and the config parser run several times
# faster than the rest and get ~20 s too). FUZZ_CI are the ones reading untrusted
# input — segments, SSE streams, translation both ways, the model a request
# is routed by, the request body compacted into its record, the config file —
# which make test runs for FUZZTIME_CI inputs each; make fuzz runs all of them.
FUZZ_CI := ./format:FuzzReader:200000x ./format:FuzzDecodeExchange:200000x \
	./format/wire:FuzzSSEParser ./format/wire:FuzzReadStream ./format/wire:FuzzReadEventStream ./format/wire:FuzzAnthropicToOpenAIFast \
	./format/wire:FuzzOpenAIChatToAnthropic ./format/wire:FuzzAnthropicToOpenAIChatRequest \
	./format/wire:FuzzAnthropicStreamToOpenAI ./format/wire:FuzzOpenAIStreamToAnthropic \
	./format/wire:FuzzOpenAIChatToAnthropicFast ./format/wire:FuzzAnthropicToOpenAIChatFast ./format/wire:FuzzOpenAIToAnthropicFast \
	./format/wire:FuzzDecodeChunks ./format/wire:FuzzRequestModel ./format/wire:FuzzIncludeUsage \
	./format/internal/jsonscan:FuzzAppendCompact \
	./capture/config:FuzzParse:100000x
FUZZ_ALL := $(FUZZ_CI) ./format:FuzzDecodeFast ./format/wire:FuzzDecodeChatChunk ./format/wire:FuzzChatFastPath \
	./format/internal/jsonenc:FuzzAppendString ./format/internal/jsonenc:FuzzAppendFloat \
	./format/internal/jsonscan:FuzzValues ./format/internal/jsonscan:FuzzNextSpecial ./format/internal/jsonscan:FuzzShared \
	./analyze/promptcache:FuzzFingerprint ./analyze/sensitive:FuzzScan ./analyze/sensitive:FuzzAnyShape

.PHONY: build build-node install install-test dist dist-test deb deb-test test lint bench fuzz fuzz-ci faults soak demo clean python-test wheel wheel-test

build:
	$(call full_build,$(shell $(GO) env GOARCH),gcc,g++,$(BIN),)

# The capture-node build: no cgo, no DuckDB (cmd/lessllm/build.go).
build-node:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS) -s -w" -o bin/lessllm-node ./cmd/lessllm

# make install PREFIX=/usr/local (DESTDIR for staging): the binary, and in
# share/doc/lessllm the README, licence, an example config and the help of
# every command (commands.txt).
PREFIX ?= /usr/local
install: build
	install -d -m 0755 $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/lessllm
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/lessllm
	install -m 0644 README.md LICENSE NOTICE docs/lessllm.yaml.example $(DESTDIR)$(PREFIX)/share/doc/lessllm/
	$(BIN) help-all > $(DESTDIR)$(PREFIX)/share/doc/lessllm/commands.txt
	chmod 0644 $(DESTDIR)$(PREFIX)/share/doc/lessllm/commands.txt

# make install into a scratch DESTDIR, and the installed binary run.
install-test:
	@d=$$(mktemp -d); set -e; $(MAKE) --no-print-directory install DESTDIR=$$d PREFIX=/usr/local >/dev/null; \
	for f in bin/lessllm share/doc/lessllm/README.md share/doc/lessllm/LICENSE share/doc/lessllm/NOTICE \
		share/doc/lessllm/lessllm.yaml.example share/doc/lessllm/commands.txt; do \
		test -s $$d/usr/local/$$f || { echo "make install did not install $$f"; exit 1; }; done; \
	grep -q '^==== lessllm capture' $$d/usr/local/share/doc/lessllm/commands.txt; \
	$$d/usr/local/bin/lessllm version; $$d/usr/local/bin/lessllm config validate $$d/usr/local/share/doc/lessllm/lessllm.yaml.example; \
	rm -rf $$d; echo "make install: ok"

# Release archives (dist/): the full build for linux amd64 and arm64 (cross-
# compiled with Debian's gcc/g++-aarch64-linux-gnu), the capture-node build
# for linux, macOS and Windows, SHA256SUMS. make dist VERSION=0.2.0.
DIST_NODE := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64
dist:
	rm -rf dist/stage && mkdir -p dist/stage
	$(call full_build,amd64,gcc,g++,dist/stage/full_linux_amd64/lessllm,-s -w)
	$(call full_build,arm64,aarch64-linux-gnu-gcc,aarch64-linux-gnu-g++,dist/stage/full_linux_arm64/lessllm,-s -w)
	@for t in $(DIST_NODE); do os=$${t%/*}; arch=$${t#*/}; exe=lessllm; [ $$os = windows ] && exe=lessllm.exe; \
		echo "capture-node build $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS) -s -w" -o dist/stage/node_$${os}_$${arch}/$$exe ./cmd/lessllm || exit 1; \
	done
	@cd dist/stage && for d in full_* node_*; do \
		kind=$${d%%_*}; plat=$${d#*_}; name=lessllm_$(VERSION)_$$plat; [ $$kind = node ] && name=lessllm-capture_$(VERSION)_$$plat; \
		mkdir -p $$name && mv $$d/* $$name/ && cp ../../README.md ../../LICENSE ../../NOTICE ../../docs/lessllm.yaml.example $$name/; \
		tar --owner=0 --group=0 --numeric-owner --mtime="$(DATE)" -czf ../$$name.tar.gz $$name; \
	done
	rm -rf dist/stage
	cd dist && sha256sum lessllm_$(VERSION)_*.tar.gz lessllm-capture_$(VERSION)_*.tar.gz > SHA256SUMS && cat SHA256SUMS

# The archives checked as a user would use them (cmd/lessllm-pkg/dist_test.go).
dist-test: dist
	LESSLLM_DIST=$(CURDIR)/dist LESSLLM_VERSION=$(VERSION) $(GO) test -count=1 -run '^TestDist' -v ./cmd/lessllm-pkg

# dist/lessllm_<version>_<arch>.deb (nfpm, cmd/lessllm-pkg): the binary,
# /etc/lessllm, a lessllm system user, /var/lib/lessllm/captures, systemd units.
deb:
	$(call full_build,$(shell $(GO) env GOARCH),gcc,g++,bin/deb/lessllm,-s -w)
	$(GO) run ./cmd/lessllm-pkg -binary bin/deb/lessllm -version $(VERSION) -out dist

# Installs the package on this machine (root, Debian), checks it and removes it.
deb-test: deb
	@deb=$$(ls -t $(CURDIR)/dist/lessllm_*.deb | head -1); test -n "$$deb" || { echo "no .deb in dist/"; exit 1; }; \
	echo "LESSLLM_DEB=$$deb go test -run '^TestDeb' ./cmd/lessllm-pkg"; \
	LESSLLM_DEB=$$deb $(GO) test -count=1 -run '^TestDeb' -v ./cmd/lessllm-pkg

# The full suite: vet + gofmt, every test, and the race detector over the
# cgo-free hot-path packages and over analyze (its workers, and loads that
# overlap the next segment's parse). Packages run one at a time (-p 1): the
# end-to-end timing tests measure milliseconds through real processes, and
# on two cores the load tests of another package running beside them
# delay first tokens by 10-20 ms (measured) — noise in the measurement,
# not the product.
test: lint
	$(GO) test -p 1 -count=1 ./...
	$(GO) test -count=1 -race $(PKGS_NOCGO) ./analyze/
	@$(MAKE) --no-print-directory python-test wheel-test install-test dist-test deb-test
	@$(MAKE) --no-print-directory fuzz-ci

# The Python package (python/) against this tree's binary: capture in
# front of the simulator, calls, then every public function.
python-test: build
	cd python/tests && LESSLLM_BIN=$(abspath $(BIN)) PYTHONPATH=$(abspath python) $(PYTHON) -W error::ResourceWarning -m unittest discover -v -t . -s . 2>&1 | tail -40; exit $${PIPESTATUS[0]}

# dist/lessllm-<version>-py3-none-<platform>.whl: the package with the binary inside.
wheel: build
	$(PYTHON) python/build_wheel.py --binary $(BIN) --out dist

# The wheel installed offline into a new venv, and the same tests run from
# there: package and binary from the wheel, nothing from the source tree.
wheel-test: wheel
	@venv=$$(mktemp -d)/venv; set -e; \
	$(PYTHON) -m venv $$venv; \
	$$venv/bin/pip install --quiet --no-index --disable-pip-version-check dist/lessllm-$(VERSION)-py3-none-*.whl; \
	cd python/tests && env -u LESSLLM_BIN LESSLLM_EXPECT_WHEEL=1 $$venv/bin/python -W error::ResourceWarning -m unittest discover -t . -s . 2>&1 | tail -5; \
	status=$${PIPESTATUS[0]}; rm -rf $$(dirname $$venv); exit $$status

# The segment format is read wherever shipped segments go: it must build on
# every OS, not only where capture runs.
lint:
	$(GO) vet ./...
	GOOS=windows $(GO) build ./format/...
	GOOS=darwin $(GO) build ./format/...
	CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/lessllm
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Go benchmarks of the hot-path pieces (with allocations), then the
# side-by-side harness: direct vs bare Go proxy vs lessllm capture (also
# translating, also with recording off) vs nginx vs the Portkey gateway,
# streaming fidelity at 1 and 500 streams, memory with 1,000 slow streams,
# capture cost, and the analyzer next to zstd -dc and DuckDB's read_json.
# Every generated table of BENCHMARKS.md is rewritten. Needs nginx
# (apt-get install nginx-light) and Node.js + npm for the gateway; without
# them those rows say why they are missing. About 25–35 minutes (BENCHMARKS.md).
GOBENCH := WriterAppend|Reader$$|AppendString|ChatEvent|SSEFeed|TranslateChunk|TranslateWhole|Route|CaptureStreamed|CaptureNonStreamed|DirectStreamed|DirectNonStreamed|ScanPlain|ExchangeWork|Compact
bench: build
	$(GO) build -o bin/lessllm-bench ./cmd/lessllm-bench
	$(GO) test -run '^TestCompressionRatio$$' -bench '$(GOBENCH)' -benchmem -count=1 -v ./format/... ./capture/... ./analyze/ ./analyze/sensitive/ 2>&1 \
		| grep -E '^(pkg:|Benchmark)|record\(s\) per frame' | tee bin/gobench.txt
	./bin/lessllm-bench -lessllm $(BIN) -gobench bin/gobench.txt -update BENCHMARKS.md

# The fault suite at full length (RELIABILITY.md); make test runs a short form.
faults:
	LESSLLM_CRASH_ROUNDS=20 $(GO) test -count=1 -v -run '^TestCrashLosesNoCompletedExchange$$' ./cmd/lessllm

# Each fuzz target for FUZZTIME (default 30 s); fuzz-ci: the untrusted-input
# targets for FUZZTIME_CI — a count of inputs, not a duration: Go 1.26's
# fuzzing coordinator can fail a clean run with "context deadline exceeded"
# when a duration ends while a worker is mid-input (golang/go#75804, fixed
# in Go 1.27), which would fail CI on no finding; 30,000 inputs take 3–30 s
# per target here. Crashers land in the package's testdata/fuzz/ and become
# regression tests of every later go test.
fuzz:
	@$(MAKE) --no-print-directory fuzz-run TARGETS="$(FUZZ_ALL)" TIME=$(FUZZTIME)

fuzz-ci:
	@$(MAKE) --no-print-directory fuzz-run TARGETS="$(FUZZ_CI)" TIME=$(FUZZTIME_CI)

fuzz-run:
	@for t in $(TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; time=$(TIME); \
		case "$$rest:$(TIME)" in *:*:*x) time=$${rest#*:};; esac; \
		echo "fuzz $$name ($$time)"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$name$$" -fuzztime $$time >/tmp/lessllm-fuzz.log 2>&1 \
			|| { cat /tmp/lessllm-fuzz.log; exit 1; }; \
		tail -1 /tmp/lessllm-fuzz.log; \
	done

# Soak (not in CI): mixed load with injected faults through one capture
# process for DURATION; RSS, goroutines and open files reported every
# minute and required to stay flat; zero completed exchanges lost.
soak: build
	LESSLLM_SOAK=$(DURATION) $(GO) test -count=1 -v -timeout 0 -run '^TestSoak$$' ./cmd/lessllm

# The main job end to end: simulator + capture + SDK traffic -> segments.
demo: build
	$(GO) run ./cmd/lessllm-demo -lessllm $(BIN) -dir demo

clean:
	rm -rf bin demo dist
