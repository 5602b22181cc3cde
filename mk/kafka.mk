# Apache Kafka broker jars for tests and `marketpipe up --kafka` (docs/kafka-local.md).
# Resolved from Maven Central into .marketpipe/kafka/libs (Maven's ~/.m2 is the download cache).
KAFKA_POM := src/marketpipe/runtime/kafka/pom.xml
KAFKA_LIBS := .marketpipe/kafka/libs

TEST_PREREQS += kafka-jars

.PHONY: kafka-jars kafka-java
kafka-java:
	@if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing openjdk-17-jre-headless and maven"; \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null; \
	  else \
	    echo "java and mvn are required for the Kafka broker: apt-get install openjdk-17-jre-headless maven"; exit 1; \
	  fi; \
	fi

kafka-jars: venv kafka-java
	$(BIN)/python -c "from pathlib import Path; from marketpipe.runtime.kafka import ensure_jars; print('kafka jars:', ensure_jars(Path('$(KAFKA_LIBS)')))"
