#include "app/views/s2attn_view.h"

#include <QHBoxLayout>
#include <QJsonArray>
#include <QPainter>
#include <QVBoxLayout>
#include <algorithm>

#include "app/views/chart_util.h"
#include "core/position/s2attn.h"

namespace ls::app {

namespace {
const QColor kSeen(40, 90, 200), kLeak(235, 120, 20), kMasked(236, 236, 236);
}

S2MaskWidget::S2MaskWidget(QWidget* parent) : QWidget(parent) {
  setAutoFillBackground(true);
  QPalette pal = palette();
  pal.setColor(QPalette::Window, Qt::white);
  setPalette(pal);
}

void S2MaskWidget::set_shape(int n, int group) {
  n_ = n;
  group_ = group;
  update();
}

void S2MaskWidget::paintEvent(QPaintEvent*) {
  QPainter p(this);
  const int fh = fontMetrics().height();
  const int gap = 24, top = fh + 10, bottom = fh + 10;
  const int side = std::max(40, std::min((width() - 4 * gap) / 3, height() - top - bottom));
  const QString titles[3] = {tr("full causal attention"), tr("S2-Attn, heads 0 … H/2−1 (groups of %1)").arg(group_),
                             tr("S2-Attn, heads H/2 … H−1 (shifted by %1)").arg(group_ / 2)};
  for (int panel = 0; panel < 3; ++panel) {
    const int x0 = gap + panel * (side + gap);
    p.setPen(Qt::black);
    p.drawText(QRect(x0, 2, side + gap, fh + 6), Qt::AlignLeft | Qt::AlignVCenter,
               fontMetrics().elidedText(titles[panel], Qt::ElideRight, side + gap - 4));
    QImage img(n_, n_, QImage::Format_RGB32);
    for (int m = 0; m < n_; ++m)
      for (int j = 0; j < n_; ++j) {
        S2Visibility v = panel == 0 ? (j <= m ? S2Visibility::Visible : S2Visibility::Masked)
                                    : s2attn_visibility(n_, group_, panel == 2, m, j);
        img.setPixelColor(j, m, v == S2Visibility::Visible ? kSeen : v == S2Visibility::FutureLeak ? kLeak : kMasked);
      }
    p.drawImage(QRect(x0, top, side, side), img);
    p.setPen(Qt::darkGray);
    p.drawRect(QRect(x0, top, side, side));
    p.drawText(QRect(x0, top + side + 2, side, fh + 4), Qt::AlignCenter, tr("key j → (n = %1)").arg(n_));
  }
  // Legend.
  int x = gap;
  const int y = height() - fh - 2;
  for (auto [c, t] : {std::pair{kSeen, tr("attended")}, std::pair{kLeak, tr("attended, but a future token (wrapped group)")},
                      std::pair{kMasked, tr("not attended")}}) {
    p.fillRect(QRect(x, y + 2, fh - 4, fh - 4), c);
    p.setPen(Qt::black);
    p.drawText(QPoint(x + fh, y + fh - 4), t);
    x += fh + fontMetrics().horizontalAdvance(t) + 18;
  }
}

S2AttnView::S2AttnView(AppState* s, QWidget* parent) : View(s, parent) {
  auto* lay = new QVBoxLayout(this);
  auto* bar = new QHBoxLayout();
  n_ = new QSpinBox();
  n_->setRange(8, 1024);
  n_->setSingleStep(8);
  n_->setValue(64);
  n_->setToolTip(tr("training sequence length shown (a multiple of the group count)"));
  groups_ = new QSpinBox();
  groups_->setRange(1, 64);
  groups_->setValue(4);
  groups_->setToolTip(tr("number of groups (LongLoRA uses group size = n / 4)"));
  bar->addWidget(new QLabel(tr("tokens n")));
  bar->addWidget(n_);
  bar->addWidget(new QLabel(tr("groups")));
  bar->addWidget(groups_);
  bar->addStretch(1);
  lay->addLayout(bar);
  masks_ = new S2MaskWidget();
  lay->addWidget(masks_, 1);
  text_ = new QLabel(tr(
      "<b>S2-Attn is a training-time pattern, not an inference method.</b> LongLoRA (Chen et al., 2023, \"LongLoRA: Efficient Fine-tuning of Long-Context "
      "Large Language Models\") "
      "fine-tunes a model to a longer context cheaply: the sequence is cut into groups, attention runs only inside each "
      "group, and in half of the heads the tokens are first shifted by half a group, so those groups straddle the "
      "borders and information flows from group to group. The cost grows with n·G instead of n². At inference the "
      "fine-tuned model uses ordinary full attention (left), so LongScope offers no S2-Attn method to run; this view "
      "shows the mask the model was trained under. Note the orange block: LongLoRA rolls the shifted heads, so the last "
      "group wraps around and its first half-group of tokens attends to the last half-group — tokens in its future."));
  text_->setWordWrap(true);
  text_->setTextFormat(Qt::RichText);
  lay->addWidget(text_);
  auto apply = [this] {
    int g = groups_->value();
    int n = n_->value();
    int group = std::max(2, n / g);
    group -= group % 2;  // an even group: the shift is G/2
    n = group * g;
    masks_->set_shape(n, group);
  };
  connect(n_, &QSpinBox::valueChanged, this, apply);
  connect(groups_, &QSpinBox::valueChanged, this, apply);
  apply();
}

void S2AttnView::refresh() { masks_->update(); }

void S2AttnView::restore_state(const QJsonObject& o) {
  if (o.contains("n")) n_->setValue(o["n"].toInt());
  if (o.contains("groups")) groups_->setValue(o["groups"].toInt());
}

QJsonObject S2AttnView::data_json() const {
  const int n = masks_->n(), g = masks_->group();
  QJsonArray shifted, plain;
  for (int m = 0; m < n; ++m) {
    QJsonArray a, b;
    for (int j = 0; j < n; ++j) {
      a << (int)s2attn_visibility(n, g, false, m, j);
      b << (int)s2attn_visibility(n, g, true, m, j);
    }
    plain << a;
    shifted << b;
  }
  return {{"view", view_name()}, {"n", n}, {"group", g}, {"legend", "0 not attended, 1 attended, 2 attended future token"},
          {"unshifted_heads", plain}, {"shifted_heads", shifted}};
}

QString S2AttnView::data_csv() const {
  const int n = masks_->n(), g = masks_->group();
  QString out = "query,key,causal,s2_unshifted,s2_shifted\n";
  for (int m = 0; m < n; ++m)
    for (int j = 0; j < n; ++j)
      out += QString("%1,%2,%3,%4,%5\n").arg(m).arg(j).arg(j <= m ? 1 : 0)
                 .arg((int)s2attn_visibility(n, g, false, m, j)).arg((int)s2attn_visibility(n, g, true, m, j));
  return out;
}

}  // namespace ls::app
