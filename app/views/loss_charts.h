// The two charts that tell the long-context story, shared by the Story and Loss
// vs length views: mean NLL by position in the window (averaged over windows,
// the region beyond L shaded) and mean NLL against context length. Only the
// methods selected now are drawn, each in its own colour (AppState::colour_of).
#pragma once

#include <QColor>
#include <QString>
#include <QtCharts/QChart>
#include <utility>
#include <vector>

#include "app/app_state.h"

namespace ls::app {

using Legend = std::vector<std::pair<QString, QColor>>;

// Mean NLL per position bucket of `bucket` tokens for each method of the current
// PPL snapshot. Returns the per-method means inside and beyond L (NaN if none).
struct PositionCurve {
  MethodParams method;
  std::vector<double> centre, mean;  // bucket centres (positions) and mean NLL
  double inside_l = 0, beyond_l = 0;
};
std::vector<PositionCurve> nll_by_position(const AppState& s, int bucket);

// Draws the curves with the region beyond L shaded; y range from the bucket means.
void draw_nll_by_position(QChart* c, const AppState& s, const std::vector<PositionCurve>& curves, Legend& legend);

// Draws the sweep's mean NLL against context length (log₂ axis), L dashed.
// Returns false (and titles the chart) when there is nothing to draw.
bool draw_loss_vs_length(QChart* c, const AppState& s, Legend& legend);

}  // namespace ls::app
