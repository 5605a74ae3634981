package hololoom.testserver;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.ConnectorPortRegister;
import org.neo4j.configuration.connectors.ConnectorType;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.QueryExecutionException;
import org.neo4j.graphdb.config.Setting;
import org.neo4j.internal.helpers.HostnamePort;
import org.neo4j.kernel.internal.GraphDatabaseAPI;
import org.neo4j.logging.Level;
import org.neo4j.logging.log4j.Log4jLogProvider;

/**
 * A throwaway Neo4j Community server for integration tests: embedded DBMS + Bolt.
 *
 * <pre>
 * java -Xmx512m -jar target/neo4j-test-server.jar --home DIR [--port 0] [--host 127.0.0.1]
 *      [--password PW | --no-auth] [--pagecache-mb 64] [--watch-stdin]
 * </pre>
 *
 * Prints exactly one line {@code NEO4J_READY bolt://HOST:PORT} on stdout once clients
 * may connect (password already set). Everything else goes to stderr, so a parent
 * process can block on stdout for that single line.
 */
public final class Neo4jTestServer {

    private Neo4jTestServer() {}

    public static void main(String[] args) throws Exception {
        Path home = null;
        String host = "127.0.0.1";
        int port = 0;
        String password = "testpassword";
        boolean auth = true;
        long pageCacheMb = 64;
        boolean watchStdin = false;

        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--home" -> home = Path.of(args[++i]);
                case "--host" -> host = args[++i];
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--password" -> { password = args[++i]; auth = true; }
                case "--no-auth" -> auth = false;
                case "--pagecache-mb" -> pageCacheMb = Long.parseLong(args[++i]);
                case "--watch-stdin" -> watchStdin = true;
                default -> usage("unknown argument: " + args[i]);
            }
        }
        if (home == null) {
            usage("--home is required");
        }
        Files.createDirectories(home);

        // stdout is reserved for the READY line; route Neo4j's user log to stderr so
        // a failing start shows up in the harness's log tail instead of a file.
        PrintStream out = System.out;
        Log4jLogProvider userLog = new Log4jLogProvider(System.err, Level.INFO);

        long t0 = System.nanoTime();
        try {
            DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                    .setUserLogProvider(userLog)
                    .setConfig(settings(host, port, auth, pageCacheMb))
                    .build();

            // SIGTERM/SIGINT and System.exit all run this, so the store is checkpointed and
            // a restart on the same directory starts without recovery.
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                System.err.println("neo4j-test-server: shutting down");
                dbms.shutdown();
                System.err.println("neo4j-test-server: stopped");
                userLog.close();
            }, "neo4j-test-server-shutdown"));

            GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
            if (!db.isAvailable(TimeUnit.MINUTES.toMillis(2))) {
                throw new IllegalStateException("default database did not become available");
            }
            if (auth) {
                setPassword(dbms, password);
            }

            // With --port 0 the kernel picked the port; the register is the only place that knows it.
            HostnamePort bolt = ((GraphDatabaseAPI) db).getDependencyResolver()
                    .resolveDependency(ConnectorPortRegister.class)
                    .getLocalAddress(ConnectorType.BOLT);
            System.err.printf("neo4j-test-server: started in %d ms%n",
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
            out.println("NEO4J_READY bolt://" + host + ":" + bolt.getPort());
            out.flush();
        } catch (Throwable t) {
            // Neo4j leaves non-daemon threads behind on a failed start; without an explicit
            // exit the process would hang and the harness would only see a timeout.
            System.err.println("neo4j-test-server: start failed");
            t.printStackTrace();
            System.exit(1);
        }

        if (watchStdin) {
            // The parent holds our stdin open; EOF means it went away without stopping us,
            // so don't linger as an orphan holding the port and the data directory.
            Thread watcher = new Thread(() -> {
                try (InputStream in = System.in) {
                    byte[] buf = new byte[256];
                    while (in.read(buf) >= 0) {
                        // discard
                    }
                } catch (IOException ignored) {
                    // treat a broken stdin like EOF
                }
                System.err.println("neo4j-test-server: stdin closed");
                System.exit(0);
            }, "neo4j-test-server-stdin");
            watcher.setDaemon(true);
            watcher.start();
        }

        // Neo4j's own threads keep the JVM alive; park main until a signal ends it.
        new CountDownLatch(1).await();
    }

    private static Map<Setting<?>, Object> settings(String host, int port, boolean auth, long pageCacheMb) {
        Map<Setting<?>, Object> cfg = new HashMap<>();
        cfg.put(BoltConnector.enabled, true);
        cfg.put(BoltConnector.listen_address, new SocketAddress(host, port));
        // Tests talk plain bolt://; TLS would need certificates for nothing.
        cfg.put(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED);
        cfg.put(GraphDatabaseSettings.auth_enabled, auth);
        // Let tests pick short passwords; the default minimum is 8.
        cfg.put(GraphDatabaseSettings.auth_minimum_password_length, 1);
        // The machine is small (2 cores) and shared with the test-suite itself.
        cfg.put(GraphDatabaseSettings.pagecache_memory, pageCacheMb * 1024 * 1024);
        // Preallocating large transaction log files on every start wastes disk and time.
        cfg.put(GraphDatabaseSettings.preallocate_logical_logs, false);
        // A stop mid-test should not hang for long on transactions clients left open.
        cfg.put(GraphDatabaseSettings.shutdown_transaction_end_timeout, Duration.ofSeconds(2));
        // No network here; don't even try to phone home.
        cfg.put(GraphDatabaseSettings.udc_enabled, false);
        // Bolt otherwise waits 5 s twice on shutdown for connections that are already gone;
        // tests stop and restart servers, so that adds up.
        cfg.put(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofMillis(500));
        cfg.put(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofMillis(500));
        return cfg;
    }

    /**
     * Sets the password in-process, so there is no "change required" first login and no
     * separate neo4j-admin step. On a restart of the same store the password is usually
     * already right, which Neo4j refuses as "old and new password cannot be the same";
     * that case is exactly the state we want, so it is not an error.
     */
    private static void setPassword(DatabaseManagementService dbms, String password) {
        try {
            dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME).executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
        } catch (QueryExecutionException e) {
            if (e.getMessage() == null || !e.getMessage().contains("cannot be the same")) {
                throw e;
            }
        }
    }

    private static void usage(String problem) {
        System.err.println("neo4j-test-server: " + problem);
        System.err.println("usage: --home DIR [--port N] [--host ADDR] [--password PW | --no-auth]"
                + " [--pagecache-mb N] [--watch-stdin]");
        System.exit(64);
    }
}
