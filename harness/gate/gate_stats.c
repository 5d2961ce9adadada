/*
 * The statistics of the regression check (gate.h, docs/gates.md): a new
 * run's figure against the figures of the baseline's repeated runs, with
 * the one-sided Student t test Bencher uses for its thresholds. The
 * baseline's runs give a mean and a sample standard deviation; a new run is
 * flagged when it lies beyond the upper (or, for a throughput, lower) bound
 * of the prediction interval of one more run at the rule's confidence,
 *
 *     bound = mean + t(confidence, n - 1) * sd * sqrt(1 + 1/n),
 *
 * and also beyond the rule's minimum effect (mean * (1 + min_effect)), so
 * that a baseline with almost no spread does not flag changes nobody cares
 * about. The t quantile comes from the regularised incomplete beta
 * function (continued fraction, as in Numerical Recipes), inverted by
 * bisection: no table, any confidence and any number of runs.
 */
#include "gate/gate.h"

#include <math.h>

/* Continued fraction of the incomplete beta function (modified Lentz). */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300, eps = 1e-14;
    double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny)
        d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 300; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < eps)
            break;
    }
    return h;
}

/* I_x(a, b), the regularised incomplete beta function. */
static double beta_inc(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(1 - x));
    if (x < (a + 1) / (a + b + 2))
        return front * beta_cf(a, b, x) / a;
    return 1 - front * beta_cf(b, a, 1 - x) / b;
}

double gate_t_cdf(double t, double df)
{
    if (!(df > 0) || isnan(t))
        return NAN;
    double tail = 0.5 * beta_inc(df / 2, 0.5, df / (df + t * t)); /* P(T > |t|) */
    return t >= 0 ? 1 - tail : tail;
}

double gate_t_quantile(double p, double df)
{
    if (!(p > 0 && p < 1) || !(df > 0))
        return NAN;
    if (p < 0.5)
        return -gate_t_quantile(1 - p, df);
    double lo = 0, hi = 1;
    while (gate_t_cdf(hi, df) < p && hi < 1e12)
        hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
        double mid = (lo + hi) / 2;
        if (gate_t_cdf(mid, df) < p)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

int gate_stat_test(const double *base, size_t n, double figure, bool bigger_better,
                   double confidence, double min_effect, gate_stat_t *out)
{
    out->n = n;
    out->mean = out->sd = out->bound = out->t = out->change = NAN;
    out->flagged = false;
    if (n < 2 || isnan(figure))
        return -1;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += base[i];
    double mean = sum / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (base[i] - mean) * (base[i] - mean);
    double sd = sqrt(ss / (double)(n - 1));
    double spread = sd * sqrt(1 + 1 / (double)n); /* of one more run around the mean */
    double tq = gate_t_quantile(confidence, (double)(n - 1));
    double sign = bigger_better ? -1 : 1; /* worse is bigger for a latency, smaller for a rate */
    double stat_bound = mean + sign * tq * spread;
    double effect_bound = mean * (1 + sign * min_effect);
    out->mean = mean;
    out->sd = sd;
    out->tq = tq;
    /* The bound a worse figure must cross: the farther of the two. */
    out->bound = bigger_better ? fmin(stat_bound, effect_bound) : fmax(stat_bound, effect_bound);
    out->t = spread > 0 ? (figure - mean) / spread : (figure == mean ? 0 : sign * INFINITY);
    out->change = mean != 0 ? (figure - mean) / fabs(mean) : 0;
    out->flagged = bigger_better ? figure < out->bound : figure > out->bound;
    return 0;
}
