# Tools for validating deploy/ in `make test` (tests/deploy/): kustomize, built from its Go module
# (the Go module proxy; the build cache is Go's own, ~/.cache/go-build), and kubernetes-validate, a
# dev dependency in pyproject.toml. v5.7.1 is the newest kustomize that builds with Go 1.26.
KUSTOMIZE_VERSION := v5.7.1
TOOLS_BIN := .marketpipe/tools/bin
KUSTOMIZE := $(TOOLS_BIN)/kustomize

TEST_PREREQS += kustomize

.PHONY: kustomize go-toolchain
go-toolchain:
	@if ! command -v go >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing golang-go"; \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null; \
	  else \
	    echo "go is required to build kustomize: apt-get install golang-go"; exit 1; \
	  fi; \
	fi

kustomize: $(KUSTOMIZE)

$(KUSTOMIZE): mk/deploy.mk
	@$(MAKE) --no-print-directory go-toolchain
	mkdir -p $(TOOLS_BIN)
	GOBIN=$(abspath $(TOOLS_BIN)) GOTOOLCHAIN=local go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	@touch $(KUSTOMIZE)
