// examples/common/plot.hpp: line charts as standalone SVG files, with the data as CSV beside them.
//
//   LinePlot plot("Loss against w", "w", "loss");
//   plot.add("loss", ws, losses);
//   plot.log_y = true;
//   plot.save("cliff.svg");   // also writes cliff.csv with one column per series
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace examples {

class LinePlot {
 public:
  LinePlot(std::string title, std::string x_label, std::string y_label)
      : title_(std::move(title)), x_label_(std::move(x_label)), y_label_(std::move(y_label)) {}

  bool log_y = false;  // logarithmic y axis (non-positive values are skipped)
  bool log_x = false;

  void add(const std::string& name, const std::vector<double>& x, const std::vector<double>& y) {
    if (x.size() != y.size()) throw std::invalid_argument("LinePlot::add: x and y differ in length for " + name);
    series_.push_back({name, x, y});
  }

  // Writes `path` (SVG) and the same path with .csv: columns series,x,y.
  void save(const std::string& path) const {
    write_svg(path);
    std::string csv = path;
    const size_t dot = csv.rfind('.');
    csv = (dot == std::string::npos ? csv : csv.substr(0, dot)) + ".csv";
    std::ofstream out(csv);
    out << "series,x,y\n";
    for (const auto& s : series_)
      for (size_t i = 0; i < s.x.size(); ++i) out << s.name << ',' << num(s.x[i]) << ',' << num(s.y[i]) << '\n';
    if (!out) throw std::runtime_error("LinePlot: cannot write " + csv);
  }

 private:
  struct Series {
    std::string name;
    std::vector<double> x, y;
  };

  static std::string label(double v) {  // short tick labels: 3 significant digits
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.3g", v);
    return buffer;
  }
  static std::string num(double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.6g", v);
    return buffer;
  }
  bool usable(double x, double y) const {
    return std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0) && (!log_x || x > 0);
  }
  double tx(double v) const { return log_x ? std::log10(v) : v; }
  double ty(double v) const { return log_y ? std::log10(v) : v; }

  void write_svg(const std::string& path) const {
    const double W = 760, H = 440, left = 100, right = 170, top = 40, bottom = 60;
    double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
    for (const auto& s : series_)
      for (size_t i = 0; i < s.x.size(); ++i)
        if (usable(s.x[i], s.y[i])) {
          x0 = std::min(x0, tx(s.x[i])), x1 = std::max(x1, tx(s.x[i]));
          y0 = std::min(y0, ty(s.y[i])), y1 = std::max(y1, ty(s.y[i]));
        }
    if (!(x1 >= x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    if (x1 == x0) x1 = x0 + 1;
    if (y1 == y0) y1 = y0 + 1;
    const double pw = W - left - right, ph = H - top - bottom;
    auto px = [&](double v) { return left + (tx(v) - x0) / (x1 - x0) * pw; };
    auto py = [&](double v) { return top + ph - (ty(v) - y0) / (y1 - y0) * ph; };
    static const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"};
    std::ofstream out(path);
    out << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H << "' font-family='sans-serif' font-size='12'>\n";
    out << "<rect width='100%' height='100%' fill='white'/>\n";
    out << "<text x='" << W / 2 - right / 2 << "' y='22' text-anchor='middle' font-size='15'>" << title_ << "</text>\n";
    out << "<rect x='" << left << "' y='" << top << "' width='" << pw << "' height='" << ph << "' fill='none' stroke='#444'/>\n";
    // ticks: at whole decades on a log axis spanning at least two of them, else 5 evenly spaced
    auto ticks = [](double lo, double hi, bool log) {
      std::vector<double> t;
      if (log && hi - lo >= 2) {
        const double step = std::ceil((hi - lo) / 6);
        for (double e = std::ceil(lo); e <= hi + 1e-9; e += step) t.push_back(e);
      } else {
        for (int i = 0; i <= 4; ++i) t.push_back(lo + (hi - lo) * i / 4);
      }
      return t;
    };
    for (double fx : ticks(x0, x1, log_x)) {
      const double gx = left + (fx - x0) / (x1 - x0) * pw;
      out << "<line x1='" << gx << "' y1='" << top << "' x2='" << gx << "' y2='" << top + ph << "' stroke='#ddd'/>\n";
      out << "<text x='" << gx << "' y='" << top + ph + 18 << "' text-anchor='middle'>" << label(log_x ? std::pow(10, fx) : fx) << "</text>\n";
    }
    for (double fy : ticks(y0, y1, log_y)) {
      const double gy = top + ph - (fy - y0) / (y1 - y0) * ph;
      out << "<line x1='" << left << "' y1='" << gy << "' x2='" << left + pw << "' y2='" << gy << "' stroke='#ddd'/>\n";
      out << "<text x='" << left - 6 << "' y='" << gy + 4 << "' text-anchor='end'>" << label(log_y ? std::pow(10, fy) : fy) << "</text>\n";
    }
    out << "<text x='" << left + pw / 2 << "' y='" << H - 15 << "' text-anchor='middle'>" << x_label_ << "</text>\n";
    out << "<text transform='translate(18," << top + ph / 2 << ") rotate(-90)' text-anchor='middle'>" << y_label_
        << (log_y ? " (log scale)" : "") << "</text>\n";
    for (size_t k = 0; k < series_.size(); ++k) {
      const auto& s = series_[k];
      const char* color = colors[k % 7];
      out << "<polyline fill='none' stroke='" << color << "' stroke-width='1.8' points='";
      for (size_t i = 0; i < s.x.size(); ++i)
        if (usable(s.x[i], s.y[i])) out << px(s.x[i]) << ',' << py(s.y[i]) << ' ';
      out << "'/>\n";
      out << "<line x1='" << W - right + 15 << "' y1='" << top + 10 + 18 * k << "' x2='" << W - right + 35 << "' y2='"
          << top + 10 + 18 * k << "' stroke='" << color << "' stroke-width='3'/>\n";
      out << "<text x='" << W - right + 40 << "' y='" << top + 14 + 18 * k << "'>" << s.name << "</text>\n";
    }
    out << "</svg>\n";
    if (!out) throw std::runtime_error("LinePlot: cannot write " + path);
  }

  std::string title_, x_label_, y_label_;
  std::vector<Series> series_;
};

}  // namespace examples
