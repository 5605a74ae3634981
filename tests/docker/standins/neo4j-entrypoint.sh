#!/bin/bash
# Start the Neo4j test server the way the official image starts Neo4j: NEO4J_AUTH is
# "neo4j/<password>" or "none"; data under /data; Bolt on 0.0.0.0:7687.
set -euo pipefail
auth=(--no-auth)
if [ "${NEO4J_AUTH:-none}" != "none" ]; then
  user="${NEO4J_AUTH%%/*}"
  [ "$user" = neo4j ] || { echo "neo4j stand-in: only the user 'neo4j' is supported" >&2; exit 1; }
  auth=(--password "${NEO4J_AUTH#*/}")
fi
heap="${NEO4J_server_memory_heap_max__size:-768m}"
exec java "-Xmx${heap}" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
  -Dio.netty.tryReflectionSetAccessible=true \
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED \
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED \
  -jar /opt/neo4j/neo4j-test-server.jar --home /data --host 0.0.0.0 --port 7687 "${auth[@]}"
