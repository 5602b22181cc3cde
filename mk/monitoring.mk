# promtool (from Debian's prometheus package) validates and unit-tests deploy/monitoring's alert rules
# in `make test` (tests/ops/test_monitoring.py fails without it).
TEST_PREREQS += promtool

.PHONY: promtool
promtool:
	@if ! command -v promtool >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing promtool (Debian package prometheus)"; \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  else \
	    echo "promtool is required to test the alert rules: apt-get install prometheus"; exit 1; \
	  fi; \
	fi
