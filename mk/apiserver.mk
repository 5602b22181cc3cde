# A real Kubernetes API server for tests/deploy/test_apiserver_apply.py: kube-apiserver and kubectl
# built from k8s.io/kubernetes (wrapper module tools/kube: its go.mod pins every staging module to the
# published v0.<minor>.<patch> tag, since k8s.io/kubernetes's own replace directives point into its
# source tree) and a one-member etcd (tools/etcd, go.etcd.io/etcd/server/v3/embed). From the Go module
# proxy; Go's build cache is ~/.cache/go-build. Cold build on 2 cores (empty build cache, modules
# already downloaded): kube-apiserver + kubectl 5m10s, etcd 1m20s; ~230 MB of binaries, ~2.3 GB of
# build cache. Later runs are make's file targets (instant); a changed ldflag relinks in ~30 s.
KUBE_VERSION := v1.35.4
TOOLS_BIN ?= .marketpipe/tools/bin
KUBE_APISERVER := $(TOOLS_BIN)/kube-apiserver
KUBECTL := $(TOOLS_BIN)/kubectl
ETCD := $(TOOLS_BIN)/etcd
GO_BUILD := GOTOOLCHAIN=local GOFLAGS=-mod=readonly go build -trimpath
# What hack/lib/version.sh stamps, so /version and `kubectl version` say v1.35.4, not v0.0.0-master.
KUBE_VERSION_PARTS := $(subst ., ,$(patsubst v%,%,$(KUBE_VERSION)))
KUBE_LDFLAGS := -s -w $(foreach pkg,k8s.io/component-base/version k8s.io/client-go/pkg/version,\
  -X $(pkg).gitVersion=$(KUBE_VERSION) -X $(pkg).gitMajor=$(word 1,$(KUBE_VERSION_PARTS)) \
  -X $(pkg).gitMinor=$(word 2,$(KUBE_VERSION_PARTS)) -X $(pkg).gitTreeState=clean)

TEST_PREREQS += apiserver

.PHONY: apiserver
apiserver: $(KUBE_APISERVER) $(KUBECTL) $(ETCD)

# One `go build` for both: they share most packages, and Go builds them in parallel.
$(KUBE_APISERVER) $(KUBECTL) &: mk/apiserver.mk tools/kube/go.mod tools/kube/go.sum
	@$(MAKE) --no-print-directory go-toolchain
	@grep -q 'k8s.io/kubernetes $(KUBE_VERSION)' tools/kube/go.mod || \
	  { echo "tools/kube/go.mod does not require k8s.io/kubernetes $(KUBE_VERSION)"; exit 1; }
	mkdir -p $(TOOLS_BIN)
	cd tools/kube && $(GO_BUILD) -ldflags='$(KUBE_LDFLAGS)' -o $(abspath $(TOOLS_BIN))/ \
	  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
	@touch $(KUBE_APISERVER) $(KUBECTL)

$(ETCD): mk/apiserver.mk tools/etcd/go.mod tools/etcd/go.sum tools/etcd/main.go
	@$(MAKE) --no-print-directory go-toolchain
	mkdir -p $(TOOLS_BIN)
	cd tools/etcd && $(GO_BUILD) -ldflags='-s -w' -o $(abspath $(ETCD)) .
	@touch $(ETCD)
