# Keyway: `make demo` runs the whole system, `make test` runs every test.
SHELL := /bin/bash
export GOFLAGS := -buildvcs=false
TOOLS := $(CURDIR)/.tools
BUF := $(TOOLS)/buf
STATICCHECK := $(TOOLS)/staticcheck
STATICCHECK_VERSION := v0.8.2
HELM := $(TOOLS)/helm
HELM_VERSION := v4.3.2
MODULES := proto policy controlplane dataplane cli integration

.PHONY: all build proto proto-check tools deps test test-unit test-race fuzz integration lint demo bench bench-fleet compat chaos soak clean tidy test-deploy promtool image manifests

all: build

# Version stamping (keyway.dev/proto/buildinfo): `git describe` and the
# commit when git and a repository are at hand, "dev" and nothing when not
# (a tarball, a machine without git); the date always.
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
BUILDINFO := keyway.dev/proto/buildinfo
LDFLAGS := -X $(BUILDINFO).version=$(VERSION) -X $(BUILDINFO).commit=$(COMMIT) -X $(BUILDINFO).date=$(BUILD_DATE)

## build: the three binaries in bin/, stamped with version, commit and date;
## static (no cgo), so the same files go into the images, which have no libc
build:
	@mkdir -p bin
	cd controlplane && CGO_ENABLED=0 go build -ldflags '$(LDFLAGS)' -o ../bin/keyway-control ./cmd/keyway-control
	cd dataplane && CGO_ENABLED=0 go build -ldflags '$(LDFLAGS)' -o ../bin/keyway-proxy ./cmd/keyway-proxy
	cd cli && CGO_ENABLED=0 go build -ldflags '$(LDFLAGS)' -o ../bin/keyway ./cmd/keyway

## tools: buf and the protoc plugins, pinned by tools/go.mod and proto/go.mod
$(BUF):
	@mkdir -p $(TOOLS)
	cd tools && GOWORK=off go build -o $(BUF) github.com/bufbuild/buf/cmd/buf
$(TOOLS)/protoc-gen-go:
	@mkdir -p $(TOOLS)
	cd proto && GOWORK=off go build -o $@ google.golang.org/protobuf/cmd/protoc-gen-go
$(TOOLS)/protoc-gen-go-grpc:
	@mkdir -p $(TOOLS)
	cd proto && GOWORK=off go build -o $@ google.golang.org/grpc/cmd/protoc-gen-go-grpc
$(STATICCHECK):
	@mkdir -p $(TOOLS)
	GOWORK=off GOBIN=$(TOOLS) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
$(HELM):
	@mkdir -p $(TOOLS)
	GOWORK=off GOBIN=$(TOOLS) go install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION)
tools: $(BUF) $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc $(STATICCHECK) $(HELM)

## promtool: Prometheus's rule tester, from Debian's prometheus package
promtool:
	@command -v promtool >/dev/null 2>&1 || { echo "deps: installing prometheus (for promtool)" >&2; \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq prometheus >/dev/null; \
		if command -v systemctl >/dev/null 2>&1; then systemctl stop prometheus >/dev/null 2>&1 || true; fi; }

## proto: lint and regenerate the committed Go code from proto/
proto: tools
	$(BUF) lint
	$(BUF) generate

## proto-check: fail when the committed generated code is stale
proto-check: proto
	@git diff --exit-code -- proto/ || { echo "proto: generated code is stale; run 'make proto' and commit" >&2; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard -- proto/)" || { echo "proto: untracked generated files" >&2; exit 1; }

## deps: what the tests need on this machine (redis-server, redis-cli)
deps:
	@bash scripts/deps.sh

## test: every test in every module; -race for the data and control planes
## and the policy module below them
test: deps proto-check lint test-race test-unit fuzz integration test-deploy

test-race:
	cd policy && go test -race -count=1 ./...
	cd controlplane && go test -race -count=1 ./...
	cd dataplane && go test -race -count=1 ./...
	cd integration && go test -race -count=1 ./crossplane/...

test-unit:
	cd proto && go test -count=1 ./...
	cd cli && go test -count=1 ./...

FUZZTIME ?= 5s
fuzz:
	@bash scripts/fuzz.sh $(FUZZTIME)

integration: build
	cd integration && go test -count=1 -timeout 10m ./...

## test-deploy: the images, the Helm chart and the alert rules (deploy/ is a
## module of its own, outside go.work, so its Kubernetes dependencies never
## reach the binaries); about half a minute
test-deploy: build $(HELM) promtool
	promtool test rules deploy/prometheus/rules_test.yml deploy/prometheus/control-rules_test.yml
	cd deploy && GOWORK=off HELM=$(HELM) KEYWAY_STATIC_BIN=$(CURDIR)/bin go test -count=1 ./...

## image: keyway-control and keyway-proxy as an OCI layout in .image/oci,
## without a container daemon (the Dockerfile builds the same with one)
image: build
	cd deploy && GOWORK=off go run ./cmd/keyway-image --bin ../bin --out ../.image/oci \
		--version $(VERSION) --commit "$(COMMIT)" --created $(BUILD_DATE)

## manifests: the chart's copies of the alert rules and deploy/kubernetes/
## regenerated from the chart
manifests: $(HELM)
	cp deploy/prometheus/rules.yml deploy/prometheus/control-rules.yml deploy/helm/keyway/files/
	cd deploy && GOWORK=off HELM=$(HELM) KEYWAY_UPDATE_MANIFESTS=1 go test -count=1 -run TestPlainManifestsAreCurrent ./chart/

## lint: gofmt, go vet and staticcheck over every module
lint: $(STATICCHECK)
	@test -z "$$(gofmt -l $(MODULES))" || { gofmt -l $(MODULES); echo "gofmt: files above need formatting" >&2; exit 1; }
	for m in $(MODULES); do (cd $$m && go vet ./... && $(STATICCHECK) ./...) || exit 1; done
	cd integration && go vet -tags chaos ./chaos/ && $(STATICCHECK) -tags chaos ./chaos/
	@test -z "$$(gofmt -l deploy)" || { gofmt -l deploy; echo "gofmt: files above need formatting" >&2; exit 1; }
	cd deploy && GOWORK=off go vet ./... && GOWORK=off $(STATICCHECK) ./...

## demo: control plane + embedded etcd, two redis-servers, one proxy, example policy
demo: deps build
	@bash scripts/demo.sh

## bench: keyway-proxy vs direct redis vs twemproxy, one run, ratios
bench: deps build
	@bash scripts/bench.sh

## bench-fleet: keyway-bench xds, keyway-control under 1,000 then 10,000
## simulated proxies: first snapshot, push -> all-ACK p50/p99/max, CPU per
## push, RSS, etcd writes, and a restart storm (SIGTERM at 1k, SIGKILL at
## 10k); minutes, not part of test. FLEET_SIZES lists runs as
## proxies[:signal[:replicas[:connections]]], signal term, kill or none,
## e.g. FLEET_SIZES=50000:none:3:15000 (this machine allows 20,000 open
## files, so 50,000 proxies share connections).
FLEET_SIZES ?= 1000:term 10000:kill
bench-fleet:
	@mkdir -p bin
	cd controlplane && CGO_ENABLED=0 go build -ldflags '$(LDFLAGS)' -o ../bin/keyway-control ./cmd/keyway-control
	@set -e; for run in $(FLEET_SIZES); do \
		set -- $$(echo $$run | tr : ' '); \
		args="--proxies $$1 --replicas $${3:-1} --conns $${4:-0}"; \
		case "$${2:-none}" in none) ;; *) args="$$args --restart $$2";; esac; \
		echo "== keyway-bench xds $$args"; \
		(cd integration && go run ./cmd/keyway-bench xds $$args --control-bin $(CURDIR)/bin/keyway-control); \
	done

## compat: Redis's own Tcl suite and real clients, direct vs through the proxy
## (minutes; not part of test). Results in .compat/results.txt
compat: deps build
	@bash scripts/compat.sh

## chaos: the fault suite (minutes; not part of test): real processes, a
## verifying load, one fault per scenario, a table of what clients saw
chaos: deps build
	@mkdir -p .chaos
	cd integration && KEYWAY_BIN=$(CURDIR)/bin KEYWAY_CHAOS_OUT=$(CURDIR)/.chaos/results.md \
		go test -tags chaos -count=1 -v -timeout 30m -run 'TestChaos' ./chaos/

## soak: one system for an hour (SOAK=1h), the next fault every minute
SOAK ?= 1h
soak: deps build
	@mkdir -p .chaos
	cd integration && KEYWAY_BIN=$(CURDIR)/bin KEYWAY_CHAOS_OUT=$(CURDIR)/.chaos/soak.md \
		go test -tags chaos -count=1 -v -timeout 0 -run 'TestSoak' ./chaos/ -soak $(SOAK)

tidy:
	for m in $(MODULES); do (cd $$m && go mod tidy) || exit 1; done
	cd deploy && GOWORK=off go mod tidy
	go work sync

clean:
	rm -rf bin .tools .image
