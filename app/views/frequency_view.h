// Frequencies: θ'_i per rotary pair (log scale) for every selected method with
// unscaled RoPE as reference, the wavelength λ'_i against the training length L
// and the chosen length n, and the turns each pair makes across L vs across
// the chosen length; pairs that rotate beyond anything seen in training are
// highlighted. ALiBi models show per-head slopes and the distance at which the
// bias reaches -1, -5 and -10 instead.
#pragma once

#include <QLabel>
#include <QtCharts/QChartView>

#include "app/views/view.h"

namespace ls::app {

class FrequencyView : public View {
  Q_OBJECT
 public:
  explicit FrequencyView(AppState* s, QWidget* parent = nullptr);
  QString view_name() const override { return "frequencies"; }
  void refresh() override;
  bool has_content() const override { return !series_.empty(); }
  QJsonObject data_json() const override;
  QString data_csv() const override;

 private:
  struct Curve {
    QString name;
    std::vector<double> x, y;
  };
  void fill_rope();
  void fill_alibi();
  QChartView* top_;
  QChartView* middle_;  // wavelengths against L and n
  QChartView* bottom_;
  QLabel* legend_;
  std::vector<Curve> series_;  // everything plotted, for export
};

}  // namespace ls::app
