// LongLoRA's S2-Attn ([ctx-survey]): the shifted-group attention mask it trains
// with, for the unshifted and the shifted half of the heads, next to the full
// causal mask. A training-time pattern, not an inference method.
#pragma once

#include <QLabel>
#include <QSpinBox>

#include "app/views/view.h"

namespace ls::app {

class S2MaskWidget : public QWidget {
  Q_OBJECT
 public:
  explicit S2MaskWidget(QWidget* parent = nullptr);
  void set_shape(int n, int group);
  int n() const { return n_; }
  int group() const { return group_; }
  QSize minimumSizeHint() const override { return {480, 200}; }

 protected:
  void paintEvent(QPaintEvent*) override;

 private:
  int n_ = 64, group_ = 16;
};

class S2AttnView : public View {
  Q_OBJECT
 public:
  explicit S2AttnView(AppState* s, QWidget* parent = nullptr);
  QString view_name() const override { return "s2attn"; }
  void refresh() override;
  bool has_content() const override { return true; }
  QJsonObject data_json() const override;
  QString data_csv() const override;
  QWidget* export_widget() override { return masks_; }
  QJsonObject view_state() const override { return {{"n", n_->value()}, {"groups", groups_->value()}}; }
  void restore_state(const QJsonObject& o) override;

 private:
  QSpinBox* n_;
  QSpinBox* groups_;
  S2MaskWidget* masks_;
  QLabel* text_;
};

}  // namespace ls::app
