#!/usr/bin/env bash
# The benchmark, end to end (see bench/README.md):
#   ./bench/run.sh [--commands=N --keys=N --value-size=B --delete-fraction=F --partitions=P --reps=R ...]
#   ./bench/run.sh jmh [JMH options]     only the JMH microbenchmarks of the operator's hot path
# Builds what it needs, then runs io.upsertfeedback.bench.Runner (or JMH). MVN_FLAGS=-o builds offline.
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q ${MVN_FLAGS:-} package -DskipTests -pl bench -am
BENCH_CP="bench/target/classes:$(cat bench/target/classpath.txt)"
KSTREAMS_CP="bench-kstreams/target/classes:$(cat bench-kstreams/target/classpath.txt)"
if [[ "${1:-}" == "jmh" ]]; then
  shift
  exec java -cp "$BENCH_CP" org.openjdk.jmh.Main "${@:-io\.upsertfeedback\.bench\.jmh\..*}"
fi
exec java -Xmx1g -Dbench.classpath="$BENCH_CP" -Dkstreams.classpath="$KSTREAMS_CP" -cp "$BENCH_CP" \
  io.upsertfeedback.bench.Runner "$@"
