/*
 * The inline SVG plots of the HTML report, drawn here in C so the page needs
 * nothing from outside: a small chart frame (axes with linear or log scales,
 * ticks at round values, grid lines), and the five plots built on it:
 * latency histogram, percentile spectrum, latency and throughput over time,
 * and circuit-breaker states over time. Colours are few and fixed; every
 * plot carries a <title> for screen readers and a class for the tests.
 */
#include "report_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define W     560.0
#define H     300.0
#define LEFT  64.0
#define RIGHT 34.0
#define TOP   30.0
#define BOT   44.0

#define C_BLUE  "#2563eb"
#define C_RED   "#dc2626"
#define C_AMBER "#d97706"
#define C_GREEN "#16a34a"
#define C_GREY  "#6b7280"

typedef void(fmt_fn)(double v, char *buf, size_t size);

typedef struct axis {
    double min, max;
    int log;
    fmt_fn *fmt;
    const char *label;
} axis_t;

typedef struct chart {
    FILE *fp;
    axis_t x, y;
} chart_t;

static void fmt_plain(double v, char *buf, size_t size)
{
    snprintf(buf, size, "%g", v);
}

static void fmt_latency(double v, char *buf, size_t size)
{
    if (v < 1000)
        snprintf(buf, size, "%g\xC2\xB5s", v);
    else if (v < 1e6)
        snprintf(buf, size, "%gms", v / 1e3);
    else
        snprintf(buf, size, "%gs", v / 1e6);
}

/* The spectrum's x axis counts nines: x = -log10(1 - p). */
static void fmt_nines(double v, char *buf, size_t size)
{
    if (v < 0.5)
        snprintf(buf, size, "0%%");
    else
        snprintf(buf, size, "%.*f%%", (int)v > 2 ? (int)v - 2 : 0, 100.0 * (1.0 - pow(10, -v)));
}

static double scale(const axis_t *a, double v)
{
    if (a->log) {
        v = v < a->min ? a->min : v;
        return (log10(v) - log10(a->min)) / (log10(a->max) - log10(a->min));
    }
    return (v - a->min) / (a->max - a->min);
}

static double px(const chart_t *c, double v)
{
    return LEFT + scale(&c->x, v) * (W - LEFT - RIGHT);
}

static double py(const chart_t *c, double v)
{
    return H - BOT - scale(&c->y, v) * (H - TOP - BOT);
}

/* A round step giving about n ticks over span: 1, 2 or 5 times a power of ten. */
static double nice_step(double span, int n)
{
    double raw = span / n;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

/* Widens a linear axis to round ends; a log axis to whole decades. */
static void axis_round(axis_t *a)
{
    if (a->log) {
        if (a->min < 1)
            a->min = 1;
        if (a->max <= a->min)
            a->max = a->min * 10;
        a->min = pow(10, floor(log10(a->min) + 1e-9));
        a->max = pow(10, ceil(log10(a->max) - 1e-9));
        return;
    }
    if (a->max <= a->min)
        a->max = a->min + 1;
    double step = nice_step(a->max - a->min, 5);
    a->min = floor(a->min / step + 1e-9) * step;
    a->max = ceil(a->max / step - 1e-9) * step;
}

static void tick(chart_t *c, int is_x, double v)
{
    char label[32];
    const axis_t *a = is_x ? &c->x : &c->y;
    a->fmt(v, label, sizeof(label));
    if (is_x) {
        double x = px(c, v);
        fprintf(c->fp,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                x, TOP, x, H - BOT, x, H - BOT + 16, label);
    } else {
        double y = py(c, v);
        fprintf(c->fp,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                LEFT, y, W - RIGHT, y, LEFT - 6, y + 4, label);
    }
}

static void ticks(chart_t *c, int is_x)
{
    const axis_t *a = is_x ? &c->x : &c->y;
    if (a->log) {
        int decades = (int)lround(log10(a->max / a->min));
        for (double d = a->min; d <= a->max * 1.0001; d *= 10) {
            tick(c, is_x, d);
            if (decades <= 2 && d * 2 < a->max)
                tick(c, is_x, d * 2);
            if (decades <= 2 && d * 5 < a->max)
                tick(c, is_x, d * 5);
        }
        return;
    }
    double step = nice_step(a->max - a->min, is_x ? 6 : 5);
    for (double v = a->min; v <= a->max + step * 1e-6; v += step)
        tick(c, is_x, fabs(v) < step * 1e-9 ? 0 : v);
}

static void chart_begin(chart_t *c, FILE *fp, const char *cls, const char *title)
{
    c->fp = fp;
    fprintf(fp,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot %s\" width=\"%.0f\" "
            "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\"><title>",
            cls, W, H, W, H);
    rep_xml_puts(fp, title);
    fprintf(fp, "</title>\n<rect class=\"bg\" x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\"/>\n",
            W, H);
    fprintf(fp, "<text class=\"title\" x=\"%.1f\" y=\"18\">", LEFT);
    rep_xml_puts(fp, title);
    fputs("</text>\n<g class=\"axes\">\n", fp);
    ticks(c, 1);
    ticks(c, 0);
    fprintf(fp, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
            LEFT, TOP, W - LEFT - RIGHT, H - TOP - BOT);
    fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
            LEFT + (W - LEFT - RIGHT) / 2, H - 8, c->x.label);
    fprintf(fp,
            "<text x=\"14\" y=\"%.1f\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 14 %.1f)\">%s</text>\n</g>\n",
            TOP + (H - TOP - BOT) / 2, TOP + (H - TOP - BOT) / 2, c->y.label);
}

static void chart_end(chart_t *c)
{
    fputs("</svg>\n", c->fp);
}

static void polyline(chart_t *c, const double *xs, const double *ys, size_t n, const char *color,
                     const char *extra)
{
    if (n == 0)
        return;
    fprintf(c->fp, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" %s points=\"", color,
            extra ? extra : "");
    for (size_t i = 0; i < n; i++)
        fprintf(c->fp, "%s%.1f,%.1f", i ? " " : "", px(c, xs[i]), py(c, ys[i]));
    fputs("\"/>\n", c->fp);
}

static void hline(chart_t *c, double y, const char *color, const char *label)
{
    double yy = py(c, y);
    fprintf(c->fp,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-dasharray=\"6 4\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
            "fill=\"%s\">%s</text>\n",
            LEFT, yy, W - RIGHT, yy, color, W - RIGHT - 4, yy - 4, color, label);
}

static void vline(chart_t *c, double x, const char *color, const char *label, int row)
{
    double xx = px(c, x);
    int right_half = xx > LEFT + (W - LEFT - RIGHT) / 2; /* label on the inner side */
    fprintf(c->fp,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"%s\" "
            "text-anchor=\"%s\">%s</text>\n",
            xx, TOP, xx, H - BOT, color, right_half ? xx - 3 : xx + 3, TOP + 12 + 12 * row, color,
            right_half ? "end" : "start", label);
}

static void legend(chart_t *c, int index, const char *color, const char *label)
{
    double x = W - RIGHT - 150, y = TOP + 14 + 16 * index;
    fprintf(c->fp,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"3\"/><text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
            x, y - 4, x + 18, y - 4, color, x + 24, y, label);
}

static void empty_plot(FILE *fp, const char *cls, const char *title, const char *why)
{
    fprintf(fp,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot %s\" width=\"%.0f\" "
            "height=\"80\" viewBox=\"0 0 %.0f 80\" role=\"img\"><title>",
            cls, W, W);
    rep_xml_puts(fp, title);
    fprintf(fp, "</title><rect class=\"bg\" x=\"0\" y=\"0\" width=\"%.0f\" height=\"80\"/>", W);
    fputs("<text class=\"title\" x=\"16\" y=\"24\">", fp);
    rep_xml_puts(fp, title);
    fprintf(fp, "</text><text x=\"16\" y=\"52\">%s</text></svg>\n", why);
}

/* ------------------------------------------------------------- plots */

#define HIST_BINS 60

void rep_svg_histogram(FILE *fp, const dbev_hist_t *hist, const char *title)
{
    if (!hist || dbev_hist_count(hist) == 0) {
        empty_plot(fp, "histogram", title, "no latencies recorded");
        return;
    }
    /* Re-bin the log-linear buckets into equal widths on a log axis, so a
     * bar's height is comparable to its neighbours'. */
    double lo = (double)dbev_hist_min(hist), hi = (double)dbev_hist_max(hist) + 1;
    lo = lo < 1 ? 1 : lo;
    if (hi <= lo * 1.05)
        hi = lo * 1.05;
    double edges[HIST_BINS + 1];
    int64_t counts[HIST_BINS] = {0};
    for (int i = 0; i <= HIST_BINS; i++)
        edges[i] = lo * pow(hi / lo, (double)i / HIST_BINS);
    int cursor = 0, bin = 0;
    dbev_hist_bucket_t b;
    while (dbev_hist_next_bucket(hist, &cursor, &b)) {
        double mid = (double)b.lo_us + (double)(b.hi_us - b.lo_us) / 2.0;
        while (bin < HIST_BINS - 1 && mid >= edges[bin + 1])
            bin++;
        counts[bin] += b.count;
    }
    int64_t peak = 1;
    for (int i = 0; i < HIST_BINS; i++)
        peak = counts[i] > peak ? counts[i] : peak;

    chart_t c = {fp,
                 {lo, hi, 1, fmt_latency, "latency (log scale)"},
                 {0, (double)peak * 1.1, 0, fmt_plain, "requests"}};
    axis_round(&c.x);
    axis_round(&c.y);
    chart_begin(&c, fp, "histogram", title);
    fprintf(fp, "<g fill=\"%s\" fill-opacity=\"0.8\">\n", C_BLUE);
    for (int i = 0; i < HIST_BINS; i++) {
        if (!counts[i])
            continue;
        double x0 = px(&c, edges[i]), x1 = px(&c, edges[i + 1]);
        double y = py(&c, (double)counts[i]);
        fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n", x0, y,
                x1 - x0 > 1.2 ? x1 - x0 - 0.6 : 0.8, H - BOT - y);
    }
    fputs("</g>\n", fp);
    static const double marks[] = {50, 99, 100};
    static const char *names[] = {"p50", "p99", "max"};
    static const char *colors[] = {C_GREEN, C_AMBER, C_RED};
    for (int i = 0; i < 3; i++) {
        char label[48], v[24];
        int64_t value = dbev_hist_percentile(hist, marks[i]);
        dbev_hist_format_us(value, v, sizeof(v));
        snprintf(label, sizeof(label), "%s %s", names[i], v);
        vline(&c, (double)value < c.x.min ? c.x.min : (double)value, colors[i], label, i);
    }
    chart_end(&c);
}

#define SPECTRUM_MAX_NINES 5.0 /* 99.999% */
#define SPECTRUM_POINTS    251

void rep_svg_spectrum(FILE *fp, const dbev_hist_t *hist, const char *title)
{
    if (!hist || dbev_hist_count(hist) == 0) {
        empty_plot(fp, "spectrum", title, "no latencies recorded");
        return;
    }
    double xs[SPECTRUM_POINTS], ys[SPECTRUM_POINTS];
    double ymin = (double)dbev_hist_min(hist), ymax = (double)dbev_hist_max(hist);
    for (int i = 0; i < SPECTRUM_POINTS; i++) {
        xs[i] = SPECTRUM_MAX_NINES * i / (SPECTRUM_POINTS - 1);
        double p = 100.0 * (1.0 - pow(10, -xs[i]));
        ys[i] = (double)dbev_hist_percentile(hist, p);
    }
    int log_y = ymin >= 1 ? ymax / ymin > 50 : ymax > 50;
    chart_t c = {fp,
                 {0, SPECTRUM_MAX_NINES, 0, fmt_nines, "percentile (log scale of 1/(1-p))"},
                 {log_y ? (ymin < 1 ? 1 : ymin) : 0, ymax, log_y, fmt_latency,
                  log_y ? "latency (log scale)" : "latency"}};
    axis_round(&c.y);
    /* One tick per nine reads 0%, 90%, 99%, ...: no rounding on this axis. */
    chart_begin(&c, fp, "spectrum", title);
    if (log_y)
        for (int i = 0; i < SPECTRUM_POINTS; i++)
            ys[i] = ys[i] < c.y.min ? c.y.min : ys[i];
    polyline(&c, xs, ys, SPECTRUM_POINTS, C_BLUE, NULL);
    chart_end(&c);
}

void rep_svg_latency_time(FILE *fp, const dbev_report_load_t *load, const char *title)
{
    if (load->npoints == 0) {
        empty_plot(fp, "latency-time", title, "no time series recorded");
        return;
    }
    double *tx = malloc(load->npoints * sizeof(double));
    double *ty = malloc(load->npoints * sizeof(double));
    if (!tx || !ty) {
        free(tx);
        free(ty);
        empty_plot(fp, "latency-time", title, "out of memory");
        return;
    }
    double xmax = 1, ymax = 1;
    for (size_t i = 0; i < load->npoints; i++) {
        tx[i] = (double)load->points[i].t_us / 1e6;
        ty[i] = (double)load->points[i].p99_us;
        xmax = tx[i] > xmax ? tx[i] : xmax;
        ymax = ty[i] > ymax ? ty[i] : ymax;
    }
    double overall = load->hist ? (double)dbev_hist_percentile(load->hist, 99) : 0;
    if (overall > ymax)
        ymax = overall;
    chart_t c = {fp,
                 {0, xmax, 0, fmt_plain, "seconds since the load started"},
                 {0, ymax * 1.05, 0, fmt_latency, "p99 latency per second"}};
    axis_round(&c.x);
    axis_round(&c.y);
    chart_begin(&c, fp, "latency-time", title);
    if (overall > 0) {
        char v[24], label[48];
        dbev_hist_format_us((int64_t)overall, v, sizeof(v));
        snprintf(label, sizeof(label), "p99 overall %s", v);
        hline(&c, overall, C_GREY, label);
    }
    polyline(&c, tx, ty, load->npoints, C_AMBER, NULL);
    legend(&c, 0, C_AMBER, "p99 per second");
    chart_end(&c);
    free(tx);
    free(ty);
}

void rep_svg_throughput_time(FILE *fp, const dbev_report_load_t *load, const char *title)
{
    if (load->npoints == 0) {
        empty_plot(fp, "throughput-time", title, "no time series recorded");
        return;
    }
    double *tx = malloc(load->npoints * sizeof(double));
    double *ty = malloc(load->npoints * sizeof(double));
    double *te = malloc(load->npoints * sizeof(double));
    if (!tx || !ty || !te) {
        free(tx);
        free(ty);
        free(te);
        empty_plot(fp, "throughput-time", title, "out of memory");
        return;
    }
    double xmax = 1, ymax = 1;
    int any_errors = 0;
    for (size_t i = 0; i < load->npoints; i++) {
        tx[i] = (double)load->points[i].t_us / 1e6;
        ty[i] = isfinite(load->points[i].throughput) ? load->points[i].throughput : 0;
        te[i] = (double)load->points[i].errors;
        any_errors |= load->points[i].errors > 0;
        xmax = tx[i] > xmax ? tx[i] : xmax;
        ymax = ty[i] > ymax ? ty[i] : ymax;
        ymax = te[i] > ymax ? te[i] : ymax;
    }
    double target = load->has_summary ? load->summary.target_rate : 0;
    if (target > ymax)
        ymax = target;
    chart_t c = {fp,
                 {0, xmax, 0, fmt_plain, "seconds since the load started"},
                 {0, ymax * 1.05, 0, fmt_plain, "answers per second"}};
    axis_round(&c.x);
    axis_round(&c.y);
    chart_begin(&c, fp, "throughput-time", title);
    if (target > 0) {
        char label[48];
        snprintf(label, sizeof(label), "target %g/s", target);
        hline(&c, target, C_GREY, label);
    }
    polyline(&c, tx, ty, load->npoints, C_BLUE, NULL);
    legend(&c, 0, C_BLUE, "answers/s");
    if (any_errors) {
        polyline(&c, tx, te, load->npoints, C_RED, NULL);
        legend(&c, 1, C_RED, "errors/s");
    }
    chart_end(&c);
    free(tx);
    free(ty);
    free(te);
}

static const char *state_color(const char *state)
{
    if (strcmp(state, "CLOSED") == 0)
        return C_GREEN;
    if (strcmp(state, "OPEN") == 0)
        return C_RED;
    if (strcmp(state, "HALF_OPEN") == 0)
        return C_AMBER;
    return C_GREY;
}

#define MAX_LANES 6

void rep_svg_breaker(FILE *fp, const dbev_report_t *report, const char *title)
{
    if (report->nbreaker == 0) {
        empty_plot(fp, "breaker", title, "no circuit-breaker transition recorded");
        return;
    }
    /* Lanes: the three known states first (top to bottom OPEN, HALF_OPEN,
     * CLOSED), then any other state names in order of appearance. */
    const char *lanes[MAX_LANES] = {"OPEN", "HALF_OPEN", "CLOSED"};
    int nlanes = 3;
    for (size_t i = 0; i < report->nbreaker && nlanes < MAX_LANES; i++) {
        const char *names[2] = {report->breaker[i].from, report->breaker[i].to};
        for (int k = 0; k < 2; k++) {
            int found = 0;
            for (int l = 0; l < nlanes; l++)
                found |= strcmp(lanes[l], names[k]) == 0;
            if (!found && nlanes < MAX_LANES)
                lanes[nlanes++] = names[k];
        }
    }
    double end = (double)report->duration_us / 1e6;
    double last = (double)report->breaker[report->nbreaker - 1].t_us / 1e6;
    if (end < last * 1.05)
        end = last * 1.05 + 0.001;
    chart_t c = {
        fp, {0, end, 0, fmt_plain, "seconds since the run started"}, {0, 1, 0, fmt_plain, "state"}};
    axis_round(&c.x);
    /* The frame with the x ticks; the y axis is categorical, drawn here. */
    c.fp = fp;
    fprintf(fp,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot breaker\" width=\"%.0f\" "
            "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\"><title>",
            W * 2 + 16, H * 0.7, W * 2 + 16, H * 0.7);
    rep_xml_puts(fp, title);
    fputs("</title>\n", fp);
    /* Draw in a nested coordinate system as wide as two plots. */
    double width = W * 2 + 16, height = H * 0.7, left = 90, right = 16, top = 30, bottom = 40;
    double lane_h = (height - top - bottom) / nlanes;
    fprintf(fp, "<rect class=\"bg\" x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\"/>\n", width,
            height);
    fprintf(fp, "<text class=\"title\" x=\"%.1f\" y=\"18\">", left);
    rep_xml_puts(fp, title);
    fputs("</text>\n<g class=\"axes\">\n", fp);
    double step = nice_step(c.x.max - c.x.min, 10);
#define BX(t) (left + ((t)-c.x.min) / (c.x.max - c.x.min) * (width - left - right))
    for (double t = c.x.min; t <= c.x.max + step * 1e-6; t += step)
        fprintf(fp,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                BX(t), top, BX(t), height - bottom, BX(t), height - bottom + 16, t);
    for (int l = 0; l < nlanes; l++) {
        fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", left - 6,
                top + lane_h * (l + 0.5) + 4);
        rep_xml_puts(fp, lanes[l]);
        fputs("</text>\n", fp);
    }
    fprintf(fp, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
            left, top, width - left - right, height - top - bottom);
    fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n</g>\n",
            left + (width - left - right) / 2, height - 6, c.x.label);
    /* Segments: the first transition's "from" state holds from 0. */
    const char *state = report->breaker[0].from;
    double t0 = 0;
    for (size_t i = 0; i <= report->nbreaker; i++) {
        double t1 = i < report->nbreaker ? (double)report->breaker[i].t_us / 1e6 : end;
        int lane = 0;
        for (int l = 0; l < nlanes; l++)
            if (strcmp(lanes[l], state) == 0)
                lane = l;
        if (t1 > t0)
            fprintf(fp,
                    "<rect class=\"state\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                    "fill=\"%s\"><title>",
                    BX(t0), top + lane_h * lane + 4,
                    BX(t1) - BX(t0) < 2 ? 2 : BX(t1) - BX(t0), /* short spans stay visible */
                    lane_h - 8, state_color(state));
        if (t1 > t0) {
            rep_xml_puts(fp, state);
            fprintf(fp, " %.3f s to %.3f s</title></rect>\n", t0, t1);
        }
        if (i < report->nbreaker) {
            fprintf(fp,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                    "stroke-dasharray=\"3 3\"/>\n",
                    BX(t1), top, BX(t1), height - bottom, C_GREY);
            state = report->breaker[i].to;
            t0 = t1;
        }
    }
#undef BX
    fputs("</svg>\n", fp);
}

void rep_svg_trend(FILE *fp, const dbev_report_t *report, const char *metric, const char *title)
{
    double *xs = malloc((report->ntrend + 1) * sizeof(double));
    double *ys = malloc((report->ntrend + 1) * sizeof(double));
    size_t n = 0;
    double ymax = 0;
    for (size_t i = 0; xs && ys && i < report->ntrend; i++) {
        if (strcmp(report->trend[i].metric, metric) != 0 || !isfinite(report->trend[i].value))
            continue;
        xs[n] = (double)(n + 1);
        ys[n] = report->trend[i].value;
        ymax = ys[n] > ymax ? ys[n] : ymax;
        n++;
    }
    if (n == 0) {
        empty_plot(fp, "trend", title, "no history for this metric");
    } else {
        chart_t c = {
            fp,
            {1, n > 1 ? (double)n : 2, 0, fmt_plain, "run (oldest first; last is this run)"},
            {0, ymax > 0 ? ymax * 1.1 : 1, 0, fmt_plain, metric}};
        axis_round(&c.y);
        chart_begin(&c, fp, "trend", title);
        polyline(&c, xs, ys, n, C_BLUE, NULL);
        chart_end(&c);
    }
    free(xs);
    free(ys);
}
