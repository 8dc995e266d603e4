package io.upsertfeedback.cluster;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shaded job jar against what a Flink cluster provides (the cluster classpath of this module:
 * Flink's runtime, clients, web UI, RocksDB backend, logging and their dependencies), so that a
 * jar that would fail or misbehave on a real cluster fails the build instead:
 * <ul>
 *   <li>it bundles no class the cluster provides (with child-first class loading, a second copy
 *       of a library the cluster also loads is a linkage error or a silent version mix);</li>
 *   <li>every class that the job's code needs is in the jar, on the cluster or in the JDK: the
 *       classes referenced (constant pool) from the job's own classes, followed through the jar's
 *       Flink connector classes ({@code flink-connector-kafka}, {@code flink-connector-base}),
 *       which is where a missing {@code flink-connector-base} shows.</li>
 * </ul>
 */
class JobJarTest {
    private static final Path JOB_JAR = Path.of("../job/target/upsert-feedback-job.jar");
    /** Classes whose references are followed: the job's own and the bundled Flink connectors. */
    private static final List<String> FOLLOWED = List.of("io/upsertfeedback/", "org/apache/flink/");
    /**
     * Local mode only: the embedded broker and emulator, on the launcher's classpath ({@code ./upsert
     * local}), never used on a cluster.
     */
    private static final List<String> LOCAL_ONLY = List.of("io/upsertfeedback/connectors/embedded/");
    private static final Pattern TYPE = Pattern.compile("L([^;<]+)[;<]");

    private static Set<String> jarClasses;
    private static Map<String, String> clusterClasses;
    private static Set<String> jdkPackages;

    @BeforeAll
    static void read() throws IOException {
        assertTrue(Files.isRegularFile(JOB_JAR), JOB_JAR + " is missing: build the job module first (mvn verify builds it)");
        jarClasses = classesOf(JOB_JAR).keySet();
        clusterClasses = new HashMap<>();
        for (String jar : Files.readString(Path.of("target/cluster-classpath.txt")).trim().split(":")) {
            classesOf(Path.of(jar)).forEach(clusterClasses::putIfAbsent);
        }
        jdkPackages = new HashSet<>();
        ModuleLayer.boot().modules().forEach(m -> m.getPackages().forEach(p -> jdkPackages.add(p.replace('.', '/'))));
    }

    @Test
    void bundlesNothingTheClusterProvides() {
        Map<String, TreeSet<String>> duplicates = new TreeMap<>();
        for (String c : jarClasses) {
            String provider = clusterClasses.get(c);
            if (provider != null) {
                duplicates.computeIfAbsent(provider, k -> new TreeSet<>()).add(c);
            }
        }
        List<String> report = new ArrayList<>();
        duplicates.forEach((jar, classes) -> report.add(jar + ": " + classes.size() + " classes, e.g. " + classes.first()));
        assertTrue(report.isEmpty(), "the job jar bundles classes the Flink cluster provides (exclude their artifacts in "
                + "job/pom.xml's shade configuration):\n" + String.join("\n", report));
    }

    @Test
    void everyClassTheJobNeedsIsInTheJarOrOnTheCluster() throws IOException {
        Map<String, String> missing = new TreeMap<>();
        Deque<String> todo = new ArrayDeque<>();
        Set<String> visited = new HashSet<>();
        for (String c : jarClasses) {
            if (c.startsWith("io/upsertfeedback/") && LOCAL_ONLY.stream().noneMatch(c::startsWith)) {
                todo.add(c);
                visited.add(c);
            }
        }
        try (JarFile jar = new JarFile(JOB_JAR.toFile())) {
            while (!todo.isEmpty()) {
                String c = todo.poll();
                for (String ref : references(jar, c)) {
                    if (jarClasses.contains(ref)) {
                        if (FOLLOWED.stream().anyMatch(ref::startsWith) && LOCAL_ONLY.stream().noneMatch(ref::startsWith)
                                && visited.add(ref)) {
                            todo.add(ref);
                        }
                    } else if (!clusterClasses.containsKey(ref) && !jdkPackages.contains(packageOf(ref))) {
                        missing.putIfAbsent(ref, c);
                    }
                }
            }
        }
        List<String> report = new ArrayList<>();
        missing.forEach((ref, from) -> report.add(ref + " (referenced by " + from + ")"));
        assertTrue(report.isEmpty(), "classes the job needs are neither in the job jar nor on the Flink cluster:\n"
                + String.join("\n", report));
        assertTrue(visited.size() > 100, "followed only " + visited.size() + " classes");
    }

    private static String packageOf(String c) {
        int slash = c.lastIndexOf('/');
        return slash < 0 ? "" : c.substring(0, slash);
    }

    /** Class entry -> jar file name, for every {@code .class} of {@code jar} except module descriptors. */
    private static Map<String, String> classesOf(Path jar) throws IOException {
        Map<String, String> classes = new HashMap<>();
        try (JarFile f = new JarFile(jar.toFile())) {
            f.stream().map(JarEntry::getName)
                    .filter(n -> n.endsWith(".class") && !n.endsWith("module-info.class") && !n.startsWith("META-INF/"))
                    .forEach(n -> classes.put(n.substring(0, n.length() - ".class".length()), jar.getFileName().toString()));
        }
        return classes;
    }

    /**
     * The classes a class file refers to: its constant pool's class entries and the types in its
     * method and field descriptors (JVMS 4.4).
     */
    private static Set<String> references(JarFile jar, String c) throws IOException {
        Set<String> refs = new HashSet<>();
        try (InputStream in = jar.getInputStream(jar.getEntry(c + ".class"));
             DataInputStream data = new DataInputStream(in)) {
            data.readInt();
            data.readUnsignedShort();
            data.readUnsignedShort();
            int count = data.readUnsignedShort();
            String[] utf8 = new String[count];
            List<Integer> names = new ArrayList<>();
            List<Integer> descriptors = new ArrayList<>();
            for (int i = 1; i < count; i++) {
                int tag = data.readUnsignedByte();
                switch (tag) {
                    case 1 -> utf8[i] = data.readUTF();
                    case 7 -> names.add(data.readUnsignedShort());
                    case 16 -> descriptors.add(data.readUnsignedShort());
                    case 12 -> {
                        data.readUnsignedShort();
                        descriptors.add(data.readUnsignedShort());
                    }
                    case 8, 19, 20 -> data.readUnsignedShort();
                    case 15 -> {
                        data.readUnsignedByte();
                        data.readUnsignedShort();
                    }
                    case 3, 4, 9, 10, 11, 17, 18 -> data.readInt();
                    case 5, 6 -> {
                        data.readLong();
                        i++;
                    }
                    default -> throw new IOException(c + ": unknown constant pool tag " + tag);
                }
            }
            for (int n : names) {
                String name = utf8[n];
                if (name.startsWith("[")) {
                    addTypes(name, refs);
                } else {
                    refs.add(name);
                }
            }
            for (int d : descriptors) {
                addTypes(utf8[d], refs);
            }
        }
        return refs;
    }

    private static void addTypes(String descriptor, Set<String> refs) {
        Matcher m = TYPE.matcher(descriptor);
        while (m.find()) {
            refs.add(m.group(1));
        }
    }
}
