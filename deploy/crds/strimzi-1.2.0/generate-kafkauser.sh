#!/usr/bin/env bash
# Regenerate 044-Crd-kafkauser.yaml with Strimzi's CRD generator from io.strimzi:api (Maven Central),
# and check that the same run reproduces the three CRDs copied from the release byte for byte.
# Needs mvn and a Java 21+ (the jars are built for Java 21): JAVA=/path/to/java ./generate-kafkauser.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="${here##*strimzi-}"
java="${JAVA:-/usr/lib/jvm/temurin-25-jdk-amd64/bin/java}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cat > "$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>local</groupId><artifactId>crdgen</artifactId><version>1</version><dependencies>
<dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId><version>$version</version></dependency>
<dependency><groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId><version>$version</version></dependency>
</dependencies></project>
POM
(cd "$work" && mvn -q -B dependency:copy-dependencies -DoutputDirectory=lib)
m=io.strimzi.api.kafka.model
"$java" -cp "$work/lib/*" io.strimzi.crdgenerator.CrdGenerator --yaml \
  --label app:strimzi --label strimzi.io/crd-install:true \
  --crd-api-version v1 --api-versions v1 --storage-version v1 \
  "$m.kafka.Kafka=$work/040-Crd-kafka.yaml" "$m.topic.KafkaTopic=$work/043-Crd-kafkatopic.yaml" \
  "$m.user.KafkaUser=$work/044-Crd-kafkauser.yaml" "$m.nodepool.KafkaNodePool=$work/045-Crd-kafkanodepool.yaml"
for f in 040-Crd-kafka.yaml 043-Crd-kafkatopic.yaml 045-Crd-kafkanodepool.yaml; do
  cmp "$work/$f" "$here/$f" && echo "reproduced $f"
done
cp "$work/044-Crd-kafkauser.yaml" "$here/044-Crd-kafkauser.yaml" && echo "wrote 044-Crd-kafkauser.yaml"
