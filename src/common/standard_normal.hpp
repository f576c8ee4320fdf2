// The standard normal distribution, for draws that must come out the same on every platform
// (the standard library's distributions do not): the capacity model's correlated draws
// (scheduler/virtual_time_simulation.cpp) and the profile's normal scores
// (tools/machine_speed.cpp).
#pragma once

#include <cmath>
#include <numbers>

namespace corun {

// Its CDF, and its inverse (Acklam's rational approximation,
// then one Halley step on the CDF: about 1e-15 relative error).
struct StandardNormal {
    static inline double cdf(double score) { return 0.5 * std::erfc(-score / std::numbers::sqrt2); }
    static inline double inv_cdf(double p) {
        static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                       -2.759285104469687e+02, 1.383577518672690e+02,
                                       -3.066479806614716e+01, 2.506628277459239e+00};
        static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                       -1.556989798598866e+02, 6.680131188771972e+01,
                                       -1.328068155288572e+01};
        static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                       -2.400758277161838e+00, -2.549732539343734e+00,
                                       4.374664141464968e+00,  2.938163982698783e+00};
        static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                       2.445134137142996e+00, 3.754408661907416e+00};
        constexpr double low = 0.02425;
        double x = 0;
        if (p < low) {
            const double q = std::sqrt(-2 * std::log(p));
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
                ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        } else if (p <= 1 - low) {
            const double q = p - 0.5, r = q * q;
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
                (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
        } else {
            const double q = std::sqrt(-2 * std::log1p(-p));
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
                ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        const double e = cdf(x) - p;
        const double u = e * std::sqrt(2 * std::numbers::pi) * std::exp(x * x / 2);
        return x - u / (1 + x * u / 2);
    }
};

}  // namespace corun
