#include "app/method_panel.h"

#include "app/views/chart_util.h"

#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QIcon>
#include <QLabel>
#include <QPixmap>
#include <QShortcut>
#include <QPushButton>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "core/position/spec.h"

namespace ls::app {

namespace {
constexpr int kParamsRole = Qt::UserRole;      // the row's MethodParams
constexpr int kIdRole = Qt::UserRole + 1;      // its id in AppState
// A slider beside its value box, as one form row.
QWidget* slider_row(QSlider* slider, QWidget* box) {
  auto* row = new QWidget();
  auto* h = new QHBoxLayout(row);
  h->setContentsMargins(0, 0, 0, 0);
  h->addWidget(slider, 1);
  h->addWidget(box);
  return row;
}
}  // namespace

std::vector<Preset> method_presets() {
  // Values relative to the model are templates (AppState::resolve_template): they follow
  // the model's L, and {n/L} the context length.
  return {{"RoPE (no scaling)", "rope"},
          {"Linear (PI) ×n/L", "linear:factor={n/L}"},
          {"Linear ×4 (PI)", "linear:factor=4"},
          {"NTK-aware α=4", "ntk:alpha=4"},
          {"Dynamic NTK", "dynamic-ntk:alpha=1"},
          {"NTK-by-parts ×n/L", "ntk-by-parts:factor={n/L}"},
          {"YaRN ×n/L", "yarn:factor={n/L}"},
          {"YaRN ×4", "yarn:factor=4"},
          {"Llama 3 ×8", "llama3"},
          {"ReRoPE w=L/2", "rerope:window={L/2}"},
          {"ReRoPE w=L/2 + log-n", "rerope:window={L/2},logn=1"},
          {"Leaky ReRoPE w=L/2 k=16", "leaky-rerope:window={L/2},k=16"},
          {"Self-Extend w=L/4 G=4", "self-extend:window={L/4},group=4"},
          {"Sliding window L + 4 sinks", "sliding-window:window={L},sinks=4"},
          {"ALiBi", "alibi"},
          {"ALiBi interpolation a=n/L", "alibi-linear:a={n/L}"},
          {"NTK-ALiBi a=n/L", "ntk-alibi:a={n/L}"},
          {"NTK-ALiBi a=8", "ntk-alibi:a=8"},
          {"Dynamic NTK-ALiBi a0=1", "dynamic-ntk-alibi:a0=1"}};
}

QString explain_tooltip(const QString& spec) {
  const QString name = spec.section(':', 0, 0).trimmed();
  const MethodInfo* info = find_method(name.toStdString());
  if (!info) return {};
  return QString("<p><b>%1</b></p><p>%2</p><p><small>%3</small></p>")
      .arg(spec.toHtmlEscaped(), QString::fromStdString(info->explain).toHtmlEscaped(),
           QString::fromStdString(info->formula).toHtmlEscaped());
}

QString starting_template(const MethodInfo& info) {
  // Required values get sensible starting points, relative to the model where they are lengths.
  QString spec = QString::fromStdString(info.name), sep = ":";
  for (const auto& p : info.params)
    if (p.default_value.empty()) {
      const QString v = p.key == "window" ? "{L/2}" : p.key == "group" ? "4" : p.key == "k" ? "16" : "4";
      spec += sep + QString::fromStdString(p.key) + "=" + v;
      sep = ",";
    }
  return spec;
}

MethodPanel::MethodPanel(AppState* s, QWidget* parent) : QWidget(parent), state_(s) {
  auto* lay = new QVBoxLayout(this);
  // The context length first: the control every demo touches stays above the fold.
  auto* len = new QGroupBox(tr("Context length n"));
  auto* ll = new QVBoxLayout(len);
  length_box_ = new QSpinBox();
  length_box_->setRange(2, 1 << 20);
  length_box_->setSuffix(tr(" tokens"));
  length_box_->setToolTip(tr("The window the model reads; capped at the document's length and at what memory allows."));
  length_slider_ = new QSlider(Qt::Horizontal);
  length_slider_->setToolTip(tr("Stops at powers of two and at multiples of the training length L."));
  ll->addWidget(length_box_);
  ll->addWidget(length_slider_);
  lay->addWidget(len);

  auto* methods = new QGroupBox(tr("Methods to compare"));
  auto* ml = new QVBoxLayout(methods);
  list_ = new QListWidget();
  list_->setMaximumHeight(130);
  ml->addWidget(list_);
  presets_ = new QComboBox();
  add_ = new QComboBox();
  list_->setToolTip(tr("Tick a method to show it, untick to hide it from every view; Delete removes it."));
  auto* del = new QShortcut(QKeySequence::Delete, list_, nullptr, nullptr, Qt::WidgetShortcut);
  connect(del, &QShortcut::activated, this, [this] { remove_current(); });
  connect(list_, &QListWidget::itemChanged, this, [this](QListWidgetItem* item) {
    state_->set_hidden(item->data(kIdRole).toInt(), item->checkState() != Qt::Checked);
  });
  remove_ = new QPushButton(tr("Remove"));
  for (auto* box : {presets_, add_}) {  // shrink with the pane instead of widening it
    box->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    box->setMinimumContentsLength(12);
  }
  ml->addWidget(presets_);
  auto* row = new QHBoxLayout();
  row->addWidget(add_, 1);
  row->addWidget(remove_);
  ml->addLayout(row);
  lay->addWidget(methods);
  fill_choices();

  auto* params = new QGroupBox(tr("Parameters of the selected method"));
  auto* pl = new QVBoxLayout(params);
  editor_ = new QWidget();
  form_ = new QFormLayout(editor_);
  form_->setRowWrapPolicy(QFormLayout::WrapLongRows);
  pl->addWidget(editor_);
  lay->addWidget(params);
  lay->addStretch(1);

  connect(presets_, &QComboBox::activated, this, [this](int i) {
    if (i > 0) add_spec(presets_->itemData(i).toString());
    presets_->setCurrentIndex(0);
  });
  connect(add_, &QComboBox::activated, this, [this](int i) {
    if (i > 0) add_spec(add_->itemData(i).toString());
    add_->setCurrentIndex(0);
  });
  connect(remove_, &QPushButton::clicked, this, [this] { remove_current(); });
  connect(list_, &QListWidget::currentRowChanged, this, [this] { rebuild_editor(); });
  // Length: the slider stops at powers of two and multiples of L; the field is exact.
  connect(length_slider_, &QSlider::valueChanged, this, [this](int v) {
    if (v >= 0 && v < (int)stops_.size()) length_box_->setValue(stops_[(size_t)v]);
  });
  connect(length_box_, &QSpinBox::valueChanged, this, [this](int n) {
    QSignalBlocker b(length_slider_);
    length_slider_->setValue(nearest_stop(n));
    state_->set_length(n);
  });
}

std::vector<int> length_stops(int L, int cap) {
  std::vector<int> out;
  for (int n = 16; n <= cap && n > 0; n *= 2) out.push_back(n);
  if (L > 0)
    for (int k = 1; k <= 64 && (long long)k * L <= cap; ++k) out.push_back(k * L);
  if (cap >= 2) out.push_back(cap);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

int MethodPanel::nearest_stop(int n) const {
  int best = 0;
  for (size_t i = 0; i < stops_.size(); ++i)
    if (std::abs(stops_[i] - n) < std::abs(stops_[(size_t)best] - n)) best = (int)i;
  return best;
}

void MethodPanel::fill_choices() {
  // Only what this model can run: its position family's methods and presets, their
  // tooltips with the values they take on this model.
  const int L = state_->config.train_len;
  auto runs = [this](const QString& spec) {
    auto p = parse_method_spec(AppState::resolve_template(spec, state_->config.train_len, state_->length).toStdString());
    return p && check_method_for_model(p.value(), state_->config);
  };
  auto tip = [this, L](const QString& t) {
    const QString spec = AppState::resolve_template(t, L, state_->length);
    return explain_tooltip(spec) + (spec == t ? QString()
                                              : tr("<p><small>On this model (L = %1): %2. The relative value follows "
                                                   "the model%3.</small></p>")
                                                    .arg(L)
                                                    .arg(spec.toHtmlEscaped())
                                                    .arg(t.contains("{n/L}") ? tr(" and the context length n") : QString()));
  };
  QSignalBlocker b1(presets_), b2(add_);
  presets_->clear();
  presets_->addItem(tr("Add preset…"));
  for (const auto& p : method_presets())
    if (runs(p.spec)) {
      presets_->addItem(p.label, p.spec);
      presets_->setItemData(presets_->count() - 1, tip(p.spec), Qt::ToolTipRole);
    }
  add_->clear();
  add_->addItem(tr("Add method…"));
  for (const auto& m : method_registry()) {
    const QString t = starting_template(m);
    if (!runs(t)) continue;
    add_->addItem(QString::fromStdString(m.name), t);
    add_->setItemData(add_->count() - 1, tip(t), Qt::ToolTipRole);
  }
}

void MethodPanel::remove_current() {
  if (list_->count() > 1 && list_->currentRow() >= 0) delete list_->takeItem(list_->currentRow());
  commit();
}

void MethodPanel::sync_from_state() {
  QSignalBlocker b(list_);
  list_->clear();
  for (const auto& m : state_->methods) add_item(m);
  decorate();
  list_->setCurrentRow(0);
  QSignalBlocker b2(length_box_);
  length_box_->setMaximum(state_->length_cap());  // what runs: typing more is refused by the field
  length_box_->setValue(state_->length);
  QSignalBlocker b3(length_slider_);
  stops_ = length_stops(state_->config.train_len, state_->length_cap());
  length_slider_->setRange(0, std::max(0, (int)stops_.size() - 1));
  length_slider_->setValue(nearest_stop(state_->length));
  fill_choices();
  rebuild_editor();
}

// Each row holds its method's parameters (the text is their label) and, once
// committed, the method's stable id in AppState.
static MethodParams params_of(const QListWidgetItem* item) { return item->data(kParamsRole).value<MethodParams>(); }

static void set_params(QListWidgetItem* item, const MethodParams& m) {
  item->setText(AppState::label(m));
  item->setData(kParamsRole, QVariant::fromValue(m));
}

void MethodPanel::add_item(const MethodParams& m) { set_params(new QListWidgetItem(list_), m); }

void MethodPanel::add_spec(const QString& spec) {
  // Presets and the Add menu: templates from the panel itself, resolved on this model.
  const QString text = AppState::resolve_template(spec, state_->config.train_len, state_->length);
  auto p = parse_method_spec(text.toStdString());
  if (!p) return;
  attach_model_tables(p.value(), state_->config);
  for (int i = 0; i < list_->count(); ++i)
    if (params_of(list_->item(i)) == p.value()) {  // already there: select it
      list_->setCurrentRow(i);
      return;
    }
  add_item(p.value());
  list_->setCurrentRow(list_->count() - 1);
  commit();
  if (!state_->method_ids().empty()) state_->set_template(state_->method_ids().back(), text == spec ? QString() : spec);
  decorate();
}

void MethodPanel::commit() {
  MethodList ms;
  for (int i = 0; i < list_->count(); ++i) ms.push_back(params_of(list_->item(i)));
  state_->set_methods(ms);
  decorate();
}

void MethodPanel::decorate() {
  QSignalBlocker b(list_);
  for (int i = 0; i < list_->count(); ++i) {
    QListWidgetItem* item = list_->item(i);
    const MethodParams m = params_of(item);
    const int id = (size_t)i < state_->method_ids().size() ? state_->method_ids()[(size_t)i] : -1;
    item->setData(kIdRole, id);
    item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
    item->setCheckState(state_->is_hidden(id) ? Qt::Unchecked : Qt::Checked);
    QPixmap swatch(12, 12);
    swatch.fill(state_->colour_of(m));
    item->setIcon(QIcon(swatch));  // the method's colour in every view
    const QString flag = state_->flag_of(id), t = state_->template_of(id);
    item->setText(AppState::label(m) + (flag.isEmpty() ? QString() : QString::fromUtf8("  \u26a0")));
    item->setToolTip(explain_tooltip(AppState::label(m)) +
                     (t.isEmpty() ? QString() : tr("<p><small>From %1: follows the model.</small></p>").arg(t.toHtmlEscaped())) +
                     (flag.isEmpty() ? QString() : "<p><b>" + flag.toHtmlEscaped() + "</b></p>"));
  }
  remove_->setEnabled(list_->count() > 1);
  remove_->setToolTip(list_->count() > 1 ? tr("Remove the selected method (Delete)")
                                         : tr("The last method stays: add another before removing it."));
}

void MethodPanel::rebuild_editor() {
  while (form_->rowCount() > 0) form_->removeRow(0);
  auto* item = list_->currentItem();
  if (!item) return;
  const MethodParams current = params_of(item);
  const MethodInfo& info = method_info(current.method);
  auto* header = (new QLabel(QString("<b>%1</b><br><small>%2<br>%3<br>formula from: %4</small>")
                                       .arg(QString::fromStdString(info.name),
                                            QString::fromStdString(info.explain).toHtmlEscaped(),
                                            QString::fromStdString(info.formula).toHtmlEscaped(),
                                            QString::fromStdString(info.source).toHtmlEscaped())));
  header->setWordWrap(true);
  form_->addRow(header);
  // Every editor rewrites the item's spec from the editors' values.
  auto keys = std::make_shared<std::vector<std::pair<std::string, std::function<QString()>>>>();
  auto update_spec = [this, item, keys, name = info.name] {
    QString spec = QString::fromStdString(name), sep = ":";
    for (const auto& [k, get] : *keys) {
      spec += sep + QString::fromStdString(k) + "=" + get();
      sep = ",";
    }
    auto p = parse_method_spec(spec.toStdString());  // the registry's parser checks the editors' values
    if (!p) return;  // the editors' ranges keep values valid; a cross-check may still refuse
    set_params(item, p.value());
    commit();
    state_->set_template(item->data(kIdRole).toInt(), {});  // the user's own values now
    decorate();
  };
  const std::string canonical = method_spec_string(current);
  auto value_of = [&](const std::string& key, const std::string& fallback) {
    auto pos = canonical.find(key + "=");
    if (pos == std::string::npos || (pos > 0 && canonical[pos - 1] != ':' && canonical[pos - 1] != ',')) return fallback;
    auto end = canonical.find(',', pos);
    return canonical.substr(pos + key.size() + 1, end == std::string::npos ? std::string::npos : end - pos - key.size() - 1);
  };
  for (const auto& prm : info.params) {
    const QString label = QString::fromStdString(prm.key);
    const std::string val = value_of(prm.key, prm.default_value.empty() ? "1" : prm.default_value);
    QWidget* w = nullptr;
    // The editor follows the parameter's kind and range (core/position/spec.h).
    if (prm.kind == ParamKind::Choice) {
      auto* c = new QComboBox();
      for (const auto& choice : prm.choices) c->addItem(QString::fromStdString(choice));
      c->setCurrentText(QString::fromStdString(val));
      connect(c, &QComboBox::currentIndexChanged, this, update_spec);
      keys->push_back({prm.key, [c] { return c->currentText(); }});
      w = c;
    } else if (prm.kind == ParamKind::Flag) {
      auto* c = new QCheckBox();
      c->setChecked(val == "1");
      connect(c, &QCheckBox::toggled, this, update_spec);
      keys->push_back({prm.key, [c] { return QString(c->isChecked() ? "1" : "0"); }});
      w = c;
    } else if (prm.kind == ParamKind::Integer) {
      auto* box = new QSpinBox();
      box->setRange((int)prm.lo, (int)std::min(prm.hi, (double)(1 << 24)));
      box->setValue(std::stoi(val));
      auto* slider = new QSlider(Qt::Horizontal);
      slider->setRange(0, 80);  // quarter-octaves: 1 … 2^20
      slider->setValue((int)std::lround(4 * std::log2(std::max(1, box->value()))));
      connect(slider, &QSlider::valueChanged, box, [box](int v) { box->setValue((int)std::lround(std::pow(2.0, v / 4.0))); });
      connect(box, &QSpinBox::valueChanged, this, update_spec);
      keys->push_back({prm.key, [box] { return QString::number(box->value()); }});
      w = slider_row(slider, box);
    } else {
      auto* box = new QDoubleSpinBox();
      box->setDecimals(4);
      box->setRange(prm.lo, prm.hi);
      const QString special = QString::fromStdString(prm.special);  // the minimum stands for it (0: "auto")
      if (!special.isEmpty()) box->setSpecialValueText(special);
      box->setValue(!prm.special.empty() && val == prm.special ? prm.lo : std::stod(val));
      box->setSingleStep(0.25);
      auto* slider = new QSlider(Qt::Horizontal);
      slider->setRange(0, 64);  // 1 … 2^8 in eighth-octaves, live
      slider->setValue((int)std::lround(8 * std::log2(std::max(1.0, box->value()))));
      connect(slider, &QSlider::valueChanged, box, [box](int v) { box->setValue(std::pow(2.0, v / 8.0)); });
      connect(box, &QDoubleSpinBox::valueChanged, this, update_spec);
      keys->push_back({prm.key, [box, special] {
                         return !special.isEmpty() && box->value() == box->minimum() ? special
                                                                                     : QString::number(box->value(), 'g', 8);
                       }});
      w = slider_row(slider, box);
    }
    w->setToolTip(QString::fromStdString(prm.meaning + "; " + prm.accepted));
    form_->addRow(label, w);
  }
}

}  // namespace ls::app
