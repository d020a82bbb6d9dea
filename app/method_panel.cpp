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
  return {{"RoPE (no scaling)", "rope"},
          {"Linear ×4 (PI)", "linear:factor=4"},
          {"NTK-aware α=4", "ntk:alpha=4"},
          {"Dynamic NTK", "dynamic-ntk:alpha=1"},
          {"NTK-by-parts ×4", "ntk-by-parts:factor=4"},
          {"YaRN ×4", "yarn:factor=4"},
          {"Llama 3 ×8", "llama3"},
          {"ReRoPE w=L/2", "rerope:window={L2}"},
          {"ReRoPE w=L/2 + log-n", "rerope:window={L2},logn=1"},
          {"Leaky ReRoPE w=L/2 k=16", "leaky-rerope:window={L2},k=16"},
          {"Self-Extend w=L/4 G=4", "self-extend:window={L4},group=4"},
          {"Sliding window L + 4 sinks", "sliding-window:window={L},sinks=4"},
          {"ALiBi", "alibi"},
          {"ALiBi interpolation a=2", "alibi-linear:a=2"},
          {"NTK-ALiBi a=2", "ntk-alibi:a=2"},
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

QString expand_preset(const QString& spec, int L) {
  QString s = spec;
  s.replace("{L2}", QString::number(std::max(1, L / 2)));
  s.replace("{L4}", QString::number(std::max(1, L / 4)));
  s.replace("{L}", QString::number(std::max(1, L)));
  return s;
}

MethodPanel::MethodPanel(AppState* s, QWidget* parent) : QWidget(parent), state_(s) {
  auto* lay = new QVBoxLayout(this);
  auto* methods = new QGroupBox(tr("Methods to compare"));
  auto* ml = new QVBoxLayout(methods);
  list_ = new QListWidget();
  list_->setMaximumHeight(130);
  ml->addWidget(list_);
  auto* row = new QHBoxLayout();
  presets_ = new QComboBox();
  presets_->addItem(tr("Add preset…"));
  for (const auto& p : method_presets()) {
    presets_->addItem(p.label, p.spec);
    presets_->setItemData(presets_->count() - 1, explain_tooltip(p.spec), Qt::ToolTipRole);
  }
  add_ = new QComboBox();
  add_->addItem(tr("Add method…"));
  for (const auto& m : method_registry()) {
    add_->addItem(QString::fromStdString(m.name));
    add_->setItemData(add_->count() - 1, explain_tooltip(QString::fromStdString(m.name)), Qt::ToolTipRole);
  }
  list_->setToolTip(tr("Tick a method to show it, untick to hide it from every view; Delete removes it."));
  auto* del = new QShortcut(QKeySequence::Delete, list_, nullptr, nullptr, Qt::WidgetShortcut);
  connect(del, &QShortcut::activated, this, [this] { remove_current(); });
  connect(list_, &QListWidget::itemChanged, this, [this](QListWidgetItem* item) {
    state_->set_hidden(item->data(kIdRole).toInt(), item->checkState() != Qt::Checked);
  });
  auto* remove = new QPushButton(tr("Remove"));
  for (auto* box : {presets_, add_}) {  // shrink with the pane instead of widening it
    box->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    box->setMinimumContentsLength(4);
  }
  row->addWidget(presets_, 1);
  row->addWidget(add_, 1);
  row->addWidget(remove);
  ml->addLayout(row);
  lay->addWidget(methods);

  auto* params = new QGroupBox(tr("Parameters of the selected method"));
  auto* pl = new QVBoxLayout(params);
  editor_ = new QWidget();
  form_ = new QFormLayout(editor_);
  pl->addWidget(editor_);
  lay->addWidget(params);

  auto* len = new QGroupBox(tr("Context length n"));
  auto* ll = new QHBoxLayout(len);
  length_slider_ = new QSlider(Qt::Horizontal);
  length_box_ = new QSpinBox();
  length_box_->setRange(2, 1 << 20);
  length_box_->setSuffix(tr(" tokens"));
  ll->addWidget(length_slider_, 1);
  ll->addWidget(length_box_);
  lay->addWidget(len);
  lay->addStretch(1);

  connect(presets_, &QComboBox::activated, this, [this](int i) {
    if (i > 0) add_spec(expand_preset(presets_->itemData(i).toString(), state_->config.train_len));
    presets_->setCurrentIndex(0);
  });
  connect(add_, &QComboBox::activated, this, [this](int i) {
    if (i <= 0) return;
    const MethodInfo* info = find_method(add_->itemText(i).toStdString());
    add_->setCurrentIndex(0);
    if (!info) return;
    // Fill required values with sensible starting points.
    QString spec = QString::fromStdString(info->name), sep = ":";
    const int L = state_->config.train_len;
    for (const auto& p : info->params)
      if (p.default_value.empty()) {
        QString v = p.key == "window" ? QString::number(std::max(1, L / 2)) : p.key == "group" ? "4" : p.key == "k" ? "16" : "4";
        spec += sep + QString::fromStdString(p.key) + "=" + v;
        sep = ",";
      }
    add_spec(spec);
  });
  connect(remove, &QPushButton::clicked, this, [this] { remove_current(); });
  connect(list_, &QListWidget::currentRowChanged, this, [this] { rebuild_editor(); });
  // Length: the slider moves in quarter-octaves; the field is exact.
  length_slider_->setRange(4 * 4, 4 * 20);  // 2^4 … 2^20
  connect(length_slider_, &QSlider::valueChanged, this, [this](int v) {
    const int n = (int)std::lround(std::pow(2.0, v / 4.0));
    if (std::abs(n - length_box_->value()) * 8 > n) length_box_->setValue(n);
  });
  connect(length_box_, &QSpinBox::valueChanged, this, [this](int n) {
    QSignalBlocker b(length_slider_);
    length_slider_->setValue((int)std::lround(4 * std::log2(std::max(2, n))));
    state_->set_length(n);
  });
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
  length_box_->setMaximum(state_->max_length);
  length_slider_->setMaximum((int)std::ceil(4 * std::log2(std::max(16, state_->max_length))));
  length_box_->setValue(state_->length);
  QSignalBlocker b3(length_slider_);
  length_slider_->setValue((int)std::lround(4 * std::log2(std::max(2, state_->length))));
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
  auto p = parse_method_spec(spec.toStdString());  // presets and the Add menu: spec text from the panel itself
  if (!p) return;
  add_item(p.value());
  list_->setCurrentRow(list_->count() - 1);
  commit();
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
    item->setToolTip(explain_tooltip(item->text()));
  }
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
