# The dashboard's browser test (Debian chromium, driven by Playwright without a browser download) and
# the query API load benchmark (wrk). Installed with apt when missing and we are root.
TEST_PREREQS += browser-tools

.PHONY: browser-tools
browser-tools:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing$$missing"; \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "required:$$missing (apt-get install$$missing)"; exit 1; \
	  fi; \
	fi
