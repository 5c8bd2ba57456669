# gastown-operator

SHELL := /usr/bin/env bash -o pipefail
export GOTOOLCHAIN ?= local

CONTROLLER_GEN_VERSION ?= v0.23.0
CONTROLLER_GEN ?= go run sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
CHART_CRDS := charts/gastown-operator/crds

GOTEST_FLAGS ?= -count=1 -timeout 30m
# Flags of the manager for make run.
ARGS ?=

.PHONY: all
all: build

##@ Build

.PHONY: build
build: ## Build the manager, the polecat runner and the kubectl plugin into bin/.
	CGO_ENABLED=0 go build -trimpath -o bin/manager ./cmd/manager
	CGO_ENABLED=0 go build -trimpath -o bin/gastown-polecat ./cmd/polecat
	CGO_ENABLED=0 go build -trimpath -o bin/kubectl-gt ./cmd/kubectl-gt

.PHONY: run
run: generate manifests ## Run the manager against the cluster of the current kubeconfig (its flags in ARGS).
	go run ./cmd/manager $(ARGS)

##@ Code generation

.PHONY: generate
generate: ## Generate deepcopy functions.
	$(CONTROLLER_GEN) object paths=./api/...

.PHONY: manifests
manifests: ## Generate CRDs and RBAC, and copy the CRDs into the chart.
	$(CONTROLLER_GEN) crd rbac:roleName=gastown-operator-manager paths=./api/... paths=./internal/controller/... \
		output:crd:artifacts:config=config/crd/bases output:rbac:dir=config/rbac
	mkdir -p $(CHART_CRDS) && rm -f $(CHART_CRDS)/*.yaml && cp config/crd/bases/*.yaml $(CHART_CRDS)/
	cp config/rbac/role.yaml charts/gastown-operator/files/manager-role.yaml

.PHONY: version
version: ## Write internal/version/VERSION into the chart's version and appVersion, the helm --version of the README and the user guide, and config/manager's image tag.
	@v=$$(cat internal/version/VERSION); \
	sed -i -E "s/^version: .*/version: $$v/; s/^appVersion: .*/appVersion: \"$$v\"/" charts/gastown-operator/Chart.yaml; \
	sed -i -E "s/^(  --version )[^ ]+( \\\\)$$/\1$$v\2/" README.md docs/USER_GUIDE.md; \
	sed -i -E "s|^(          image: ghcr.io/boshu2/gastown-operator:v).*|\1$$v|" config/manager/manager.yaml; \
	grep -qx "version: $$v" charts/gastown-operator/Chart.yaml && grep -qx "appVersion: \"$$v\"" charts/gastown-operator/Chart.yaml \
		|| { echo "version: charts/gastown-operator/Chart.yaml has no version:/appVersion: line to set" >&2; exit 1; }

.PHONY: check-generated
check-generated: ## Fail when regenerating changes any generated file.
	hack/check-generated.sh

##@ Test

.PHONY: testbin
testbin: ## Build the test binaries (etcd, kube-apiserver, kubectl, kubelet, source-controller, flux, helm) into the cache.
	hack/testbin.sh all

.PHONY: test-deps
test-deps: ## Install what the tests run besides the binaries: containerd, runc, CNI plugins, the agent CLIs, the agent images' tools.
	hack/node-deps.sh
	images/local-deps.sh
	hack/agent-clis.sh all

.PHONY: lint-workflows
lint-workflows: ## Lint .github/workflows with actionlint (built from the Go module proxy; with shellcheck when installed).
	actionlint=$$(hack/testbin.sh actionlint) && "$$actionlint" -no-color .github/workflows/*.yml

.PHONY: lint
lint: ## gofmt and go vet.
	@bad=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$bad" ]; then echo "gofmt needed: $$bad" >&2; exit 1; fi
	go vet ./...

# A count of executions, not a duration: with a duration, Go 1.26's fuzz
# coordinator can fail a target with "context deadline exceeded" as the
# time runs out, having found nothing (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 2000x

.PHONY: test
test: testbin test-deps check-generated lint lint-workflows ## Build and install what the tests need (as root: they run a kubelet), check generated files, vet, lint the workflows, and run every test.
	source <(hack/testbin.sh env) && source <(hack/agent-clis.sh env) && go test $(GOTEST_FLAGS) ./...
	$(MAKE) --no-print-directory fuzz

.PHONY: fuzz
fuzz: ## Fuzz the bead parsers and editors briefly (FUZZTIME executions each; longer: make fuzz FUZZTIME=1000000x).
	for target in FuzzParseManifests FuzzParseJSONL FuzzCloseBead; do \
		go test -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) ./internal/beads/ || exit 1; \
	done

.PHONY: bench
bench: ## Run the benchmarks (figures, not pass/fail: ns/bead, MB/s, requests/poll).
	go test -run='^$$' -bench=. -benchmem ./internal/dispatch/ ./internal/beads/ ./internal/refinery/

BENCH_BEADS ?= 1000,10000

.PHONY: bench-scale
bench-scale: ## Measure the operator at scale against a real kube-apiserver and print the figures (BENCH_BEADS=1000,10000; minutes, not in make test).
	hack/testbin.sh envtest >/dev/null
	hack/testbin.sh flux >/dev/null
	source <(hack/testbin.sh env) && BENCH_BEADS=$(BENCH_BEADS) go test -count=1 -timeout 120m -run='^$$' -bench='^BenchmarkScale$$' -benchtime=1x ./test/scale/

##@ Demo

DEMO_ARGS ?=

.PHONY: demo
demo: ## Run the whole loop here with the real claude CLI (DEMO_ARGS: --pods as root for pods on a node, --agent=scripted, --keep).
ifneq ($(findstring --pods,$(DEMO_ARGS)),)
	@if [ "$$(id -u)" -ne 0 ]; then echo "demo: --pods runs containerd and a kubelet, which need root: run as root (sudo make demo DEMO_ARGS=--pods), or drop --pods for local polecats" >&2; exit 1; fi
endif
	@echo "demo: the first run builds etcd, kube-apiserver and kubectl (about 8 minutes on 2 cores), then Flux's"
	@echo "demo: source-controller and the flux CLI (about 4 minutes), from the Go module proxy, into ~/.cache/gastown-operator"
	@echo "demo: (~9 GB of disk); the demo then installs the claude CLI from npm (~370 MB) unless --agent=scripted."
ifneq ($(findstring --pods,$(DEMO_ARGS)),)
	@echo "demo: --pods: the first run also builds the kubelet, kube-scheduler and kube-controller-manager (about 2 minutes),"
	@echo "demo: installs containerd, runc, the CNI plugins and the images' tools (busybox, bash, git, ripgrep) with apt-get,"
	@echo "demo: and builds the runner's and the agent's images locally. Later runs start in seconds."
else
	@echo "demo: later runs start in seconds."
endif
	hack/testbin.sh envtest >/dev/null
	hack/testbin.sh flux >/dev/null
ifneq ($(findstring --pods,$(DEMO_ARGS)),)
	hack/testbin.sh node >/dev/null
	hack/node-deps.sh
	images/local-deps.sh
endif
	go run ./test/demo $(DEMO_ARGS)

include images/images.mk

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-16s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
