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
import java.util.ArrayList;
import java.util.List;

/**
 * The results chart, drawn with Java2D (headless): on the left the median whole-run throughput of
 * each contender as bars, on the right ours' peak heap, live heap and RSS against the number of
 * keys of the memory sweep.
 */
final class Chart {
    private static final int WIDTH = 1200;
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
        throughput(g, results, 60, 60, 520, 360);
        sweep(g, results, 680, 60, 460, 360);
        g.dispose();
        ImageIO.write(image, "png", file.toFile());
    }

    private static void throughput(Graphics2D g, Runner.Results results, int x, int y, int w, int h) {
        title(g, "Throughput, records/s (median of " + results.runs.values().stream().mapToInt(List::size).max().orElse(0)
                + " runs, whole run)", x, y - 25);
        List<String> names = new ArrayList<>(results.runs.keySet());
        if (names.isEmpty()) {
            return;
        }
        double max = names.stream().mapToDouble(n -> results.medianRate(n, "elapsedMs")).max().orElse(1);
        axes(g, x, y, w, h);
        int slot = w / names.size();
        for (int i = 0; i < names.size(); i++) {
            double rate = results.medianRate(names.get(i), "elapsedMs");
            int barHeight = (int) (h * rate / (max * 1.1));
            int bx = x + i * slot + slot / 6;
            g.setColor(names.get(i).equals("ours") ? OURS : PEER);
            g.fillRect(bx, y + h - barHeight, slot * 2 / 3, barHeight);
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            centered(g, String.format("%,.0f", rate), bx + slot / 3, y + h - barHeight - 6);
            String name = names.get(i);
            int dash = name.indexOf('-');
            centered(g, dash < 0 ? name : name.substring(0, dash), bx + slot / 3, y + h + 18);
            if (dash >= 0) {
                centered(g, name.substring(dash + 1), bx + slot / 3, y + h + 34);
            }
        }
    }

    private static void sweep(Graphics2D g, Runner.Results results, int x, int y, int w, int h) {
        title(g, "Memory of ours vs keys in one snapshot (-Xmx" + results.sweepHeap + ")", x, y - 25);
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
