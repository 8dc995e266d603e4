package io.upsertfeedback.bench;

import org.apache.flink.configuration.MemorySize;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.function.ToDoubleFunction;

/**
 * The results chart, drawn with Java2D (headless): on the left the median whole-run throughput of
 * each operator-only contender as bars with the stateless ceiling as a line; beside it the
 * end-to-end contenders' commands/s into the store as bars with the emulator ceiling's rows/s as a
 * line (a failed check is marked on its bar); on the right ours' peak heap, live heap and RSS
 * against the number of keys of the memory sweep.
 */
final class Chart {
    static final int WIDTH = 1560;
    private static final int HEIGHT = 520;
    private static final Color OURS = new Color(0x2b6cb0);
    private static final Color PEER = new Color(0x9aa5b1);
    private static final Color HEAP = new Color(0x2b6cb0);
    private static final Color RSS = new Color(0xdd6b20);
    private static final Color LIVE = new Color(0x2f855a);

    private Chart() {
    }

    static void write(Runner.Results results, Path file) throws IOException {
        System.setProperty("java.awt.headless", "true");
        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, WIDTH, HEIGHT);
        List<String> operator = results.operatorContenders().stream().filter(c -> !c.equals("ceiling")).toList();
        bars(g, "Operator only, records/s (median of " + reps(results) + " runs, whole run)", operator,
                c -> results.medianRate(c, "elapsedMs"), results, "ceiling", "stateless ceiling",
                results.runs.containsKey("ceiling") ? results.medianRate("ceiling", "elapsedMs") : Double.NaN, 60, 60, 520, 360);
        List<String> store = results.storeContenders().stream().filter(c -> !c.equals("emulator-ceiling")).toList();
        bars(g, "End to end into the store, commands/s (median)", store, results::commandRate, results,
                "emulator-ceiling", "emulator ceiling, rows/s",
                results.runs.containsKey("emulator-ceiling") ? results.rowRate("emulator-ceiling") : Double.NaN, 640, 60, 420, 360);
        sweep(g, results, 1110, 60, 400, 360);
        g.dispose();
        ImageIO.write(image, "png", file.toFile());
    }

    private static int reps(Runner.Results results) {
        return results.runs.values().stream().mapToInt(List::size).max().orElse(0);
    }

    /** Bars of {@code names}' rates, and the {@code ceiling}'s rate as a dashed line (omitted when NaN). */
    private static void bars(Graphics2D g, String title, List<String> names, ToDoubleFunction<String> rate, Runner.Results results,
                             String ceiling, String ceilingLabel, double ceilingRate, int x, int y, int w, int h) {
        title(g, title, x, y - 25);
        axes(g, x, y, w, h);
        double max = Math.max(Double.isNaN(ceilingRate) ? 0 : ceilingRate,
                names.stream().mapToDouble(rate).filter(r -> !Double.isNaN(r)).max().orElse(0));
        if (max <= 0) {
            return;
        }
        int slot = names.isEmpty() ? w : w / names.size();
        for (int i = 0; i < names.size(); i++) {
            String name = names.get(i);
            double r = rate.applyAsDouble(name);
            int barHeight = Double.isNaN(r) ? 0 : (int) (h * r / (max * 1.1));
            int bx = x + i * slot + slot / 6;
            g.setColor(name.startsWith("ours") || name.startsWith("backlog") ? OURS : PEER);
            g.fillRect(bx, y + h - barHeight, slot * 2 / 3, barHeight);
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            String label = Double.isNaN(r) ? "-" : String.format("%,.0f", r);
            centered(g, results.passes(name) ? label : label + " FAILED", bx + slot / 3, y + h - barHeight - 6);
            int dash = name.indexOf('-');
            centered(g, dash < 0 ? name : name.substring(0, dash), bx + slot / 3, y + h + 18);
            if (dash >= 0) {
                centered(g, name.substring(dash + 1), bx + slot / 3, y + h + 34);
            }
        }
        if (!Double.isNaN(ceilingRate)) {
            int ly = y + h - (int) (h * ceilingRate / (max * 1.1));
            g.setColor(RSS);
            g.setStroke(new BasicStroke(2, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {8, 6}, 0));
            g.drawLine(x, ly, x + w, ly);
            g.setStroke(new BasicStroke(1));
            g.drawString(String.format("%s %,.0f%s", ceilingLabel, ceilingRate, results.passes(ceiling) ? "" : " FAILED"),
                    x + 8, ly - 5);
        }
    }

    private static void sweep(Graphics2D g, Runner.Results results, int x, int y, int w, int h) {
        title(g, "Memory of ours vs keys in a snapshot (-Xmx" + results.sweepHeap + ")", x, y - 25);
        axes(g, x, y, w, h);
        if (results.sweep.isEmpty()) {
            return;
        }
        double max = results.sweep.stream().mapToDouble(p -> Long.parseLong(p.result().getOrDefault("rssBytes", "0")) >> 20)
                .max().orElse(1) * 1.15;
        int n = results.sweep.size();
        int[] px = new int[n];
        int[] heap = new int[n];
        int[] rss = new int[n];
        int[] live = new int[n];
        for (int i = 0; i < n; i++) {
            Runner.Results.SweepPoint p = results.sweep.get(i);
            px[i] = x + (n == 1 ? w / 2 : 30 + i * (w - 60) / (n - 1));
            heap[i] = y + h - (int) (h * (Long.parseLong(p.result().get("heapPeakBytes")) >> 20) / max);
            rss[i] = y + h - (int) (h * (Long.parseLong(p.result().getOrDefault("rssBytes", "0")) >> 20) / max);
            live[i] = y + h - (int) (h * (Long.parseLong(p.result().getOrDefault("retainedHeapPeakBytes", "0")) >> 20) / max);
            g.setColor(Color.BLACK);
            centered(g, String.format("%,d keys", p.keys()), px[i], y + h + 18);
        }
        long limitMb = MemorySize.parse(results.sweepHeap).getMebiBytes();
        if (limitMb < max) {
            int ly = y + h - (int) (h * limitMb / max);
            g.setColor(Color.GRAY);
            g.setStroke(new BasicStroke(1, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {6, 6}, 0));
            g.drawLine(x, ly, x + w, ly);
            g.setStroke(new BasicStroke(1));
            g.drawString("heap limit -Xmx" + results.sweepHeap, x + w - 150, ly - 5);
        }
        series(g, px, heap, HEAP, results.sweep, "heapPeakBytes");
        series(g, px, rss, RSS, results.sweep, "rssBytes");
        series(g, px, live, LIVE, results.sweep, "retainedHeapPeakBytes");
        g.setColor(HEAP);
        g.drawString("peak heap, garbage included (JMX)", x + 10, y + 15);
        g.setColor(RSS);
        g.drawString("peak RSS (/usr/bin/time)", x + 10, y + 32);
        g.setColor(LIVE);
        g.drawString("retained heap (left by a forced full GC)", x + 10, y + 49);
    }

    private static void series(Graphics2D g, int[] px, int[] py, Color color,
                               List<Runner.Results.SweepPoint> points, String field) {
        g.setColor(color);
        g.setStroke(new BasicStroke(2.5f));
        g.drawPolyline(px, py, px.length);
        for (int i = 0; i < px.length; i++) {
            g.fillOval(px[i] - 4, py[i] - 4, 8, 8);
            g.drawString((Long.parseLong(points.get(i).result().getOrDefault(field, "0")) >> 20) + " MB", px[i] + 6, py[i] - 6);
        }
        g.setStroke(new BasicStroke(1));
    }

    private static void axes(Graphics2D g, int x, int y, int w, int h) {
        g.setColor(Color.GRAY);
        g.drawLine(x, y + h, x + w, y + h);
        g.drawLine(x, y, x, y + h);
    }

    private static void title(Graphics2D g, String text, int x, int y) {
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString(text, x, y);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    }

    private static void centered(Graphics2D g, String text, int cx, int y) {
        g.drawString(text, cx - g.getFontMetrics().stringWidth(text) / 2, y);
    }
}
